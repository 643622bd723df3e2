"""The owlready2 adapter: the only module that imports owlready2 (HermiT).

HermiT rejects ``xsd:date`` (in range axioms and in literals), so date-typed and other
datatypes HermiT does not support are projected out before reasoning; SHACL checks them.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import owlready2
from rdflib import OWL, Graph, Literal
from rdflib.namespace import XSD

from kg.errors import KGError

__all__ = ["ConsistencyReport", "ReasonerError", "check_consistency"]

#: Datatypes HermiT cannot read; literals of these types are left out of what it sees.
UNSUPPORTED_DATATYPES = {XSD.date, XSD.gYear, XSD.gYearMonth, XSD.duration}


class ReasonerError(KGError):
    """The reasoner could not run (Java missing, unreadable input)."""


@dataclass
class ConsistencyReport:
    consistent: bool
    unsatisfiable: list[str] = field(default_factory=list)
    projected_out: int = 0
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.consistent and not self.unsatisfiable


def check_consistency(graph: Graph) -> ConsistencyReport:
    """Run HermiT on ``graph`` (ontology, optionally with instance data)."""
    g = Graph()
    dropped = 0
    for s, p, o in graph:
        if p == OWL.imports:
            continue
        if isinstance(o, Literal) and o.datatype in UNSUPPORTED_DATATYPES:
            dropped += 1
            continue
        g.add((s, p, o))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "input.nt"
        g.serialize(path, format="nt", encoding="utf-8")
        world = owlready2.World()
        try:
            onto = world.get_ontology(path.as_uri()).load(format="ntriples")
            with onto:
                owlready2.sync_reasoner_hermit(world, infer_property_values=False, debug=0)
        except owlready2.OwlReadyInconsistentOntologyError as exc:
            return ConsistencyReport(False, [], dropped, f"inconsistent: {exc}")
        except (owlready2.OwlReadyJavaError, OSError, ValueError) as exc:
            raise ReasonerError(f"HermiT could not run: {exc}") from exc
        unsat = sorted(c.iri for c in world.inconsistent_classes() if c is not owlready2.Nothing)
        world.close()
    return ConsistencyReport(True, unsat, dropped)
