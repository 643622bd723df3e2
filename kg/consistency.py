"""Is the ontology, with the data, consistent, and if not, why.

HermiT (through owlready2, :mod:`kg._owlready`) gives the verdict on the ontology
together with the stated data and the derived shortcuts (datatypes it cannot read,
such as ``xsd:date``, are projected out first). HermiT says *that* something is wrong,
not *why*; the why comes from the OWL RL closure (:mod:`kg.reasoning`):

* a node typed with two disjoint classes is reported with the disjointness axiom and,
  for each of the two types, the derivation down to the stated triples and axioms;
* an unsatisfiable class is reported with the two disjoint classes it falls under and
  the subclass axioms that lead there.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pyoxigraph as ox
from rdflib import Graph

from kg._owlready import check_consistency
from kg._oxigraph import OxigraphStore, to_rdflib
from kg.namespaces import PREFIXES
from kg.reasoning import (
    _NOT_INPUT,
    SUBCLASS,
    TYPE,
    Explanation,
    Rules,
    _disjoint_pairs,
    _hierarchy_path,
    clashes,
    explain,
    rules_of,
)

__all__ = ["Clash", "ConsistencyResult", "Unsatisfiable", "check", "label_of"]

_OWL = "http://www.w3.org/2002/07/owl#"
_LABEL = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label")


@dataclass(frozen=True)
class Clash:
    """A node that is an instance of two disjoint classes."""

    node: ox.NamedNode | ox.BlankNode
    classes: tuple[ox.NamedNode, ox.NamedNode]
    why: tuple[Explanation | None, Explanation | None]


@dataclass(frozen=True)
class Unsatisfiable:
    """A class that can have no instance: it falls under two disjoint classes."""

    cls: str
    disjoint: tuple[str, str] | None
    paths: tuple[tuple, tuple] = ((), ())


@dataclass
class ConsistencyResult:
    consistent: bool
    unsatisfiable: list[Unsatisfiable] = field(default_factory=list)
    clashes: list[Clash] = field(default_factory=list)
    projected_out: int = 0
    message: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.consistent and not self.unsatisfiable

    def to_text(self, label: Callable[[object], str] = str) -> str:
        if self.ok:
            return (
                f"consistent (HermiT; {self.projected_out} literals of datatypes HermiT "
                "cannot read were left out)"
            )
        out = ["INCONSISTENT" if not self.consistent else "consistent, with unsatisfiable classes"]
        if self.message:
            out.append(f"HermiT: {self.message}")
        for c in self.clashes:
            a, b = (label(x) for x in c.classes)
            out.append(f"\n{label(c.node)} is both {a} and {b}, which are disjoint:")
            for e in c.why:
                out += [
                    "  " + line for line in (e.lines(label) if e else ["(no derivation found)"])
                ]
        for u in self.unsatisfiable:
            if u.disjoint:
                out.append(
                    f"\nclass {label(u.cls)} can have no instance: it is a subclass of "
                    f"{label(u.disjoint[0])} and of {label(u.disjoint[1])}, which are disjoint"
                )
                for path in u.paths:
                    out += ["  " + " ".join(label(x) for x in t) for t in path]
            else:
                out.append(f"\nclass {label(u.cls)} can have no instance")
        if not self.consistent and not self.clashes:
            out.append("(no disjointness clash found in the OWL RL closure to explain it)")
        return "\n".join(out)


def check(store: OxigraphStore, rules: Rules | None = None) -> ConsistencyResult:
    """Run HermiT on the ontology and the data of ``store``; explain what it finds.

    The inferred graph should be up to date (``kg reason`` refreshes it first): the
    explanations are read from it.
    """
    start = time.perf_counter()
    raw = store.raw
    rules = rules or rules_of(raw)
    g = Graph()
    for q in raw.quads_for_pattern(None, None, None, None):
        if q.graph_name in _NOT_INPUT:  # the derived shortcuts are checked too
            continue
        g.add((to_rdflib(q.subject), to_rdflib(q.predicate), to_rdflib(q.object)))
    report = check_consistency(g)
    found = []
    for node, a, b in clashes(raw, rules):
        n = _term(node)
        ca, cb = ox.NamedNode(a[1:-1]), ox.NamedNode(b[1:-1])
        found.append(
            Clash(
                n,
                (ca, cb),
                (explain(raw, (n, TYPE, ca), rules), explain(raw, (n, TYPE, cb), rules)),
            )
        )
    unsat = [_unsatisfiable(raw, rules, iri) for iri in report.unsatisfiable]
    return ConsistencyResult(
        consistent=report.consistent and not found,
        unsatisfiable=unsat,
        clashes=found,
        projected_out=report.projected_out,
        message=report.message,
        seconds=time.perf_counter() - start,
    )


def _term(text: str) -> ox.NamedNode | ox.BlankNode:
    if text.startswith("_:"):
        return ox.BlankNode(text[2:])
    return ox.NamedNode(text[1:-1])


def _unsatisfiable(raw: ox.Store, rules: Rules, iri: str) -> Unsatisfiable:
    c = ox.NamedNode(iri)
    above = {c} | set(rules.supers.get(c, ()))
    for pair in _disjoint_pairs(raw):
        a, b = sorted(pair, key=str)
        if a in above and b in above:
            paths = tuple(_hierarchy_path(rules, c, x, SUBCLASS) for x in (a, b))
            return Unsatisfiable(iri, (a.value, b.value), paths)  # type: ignore[arg-type]
    return Unsatisfiable(iri, None)


def label_of(raw: ox.Store) -> Callable[[object], str]:
    """A function that shows a term readably: its English label, or a prefixed name."""
    cache: dict[object, str] = {}

    def label(term: object) -> str:
        if isinstance(term, str):
            term = ox.NamedNode(term) if not term.startswith("<") else _term(term)
        if term in cache:
            return cache[term]
        text = str(term)
        if isinstance(term, ox.NamedNode):
            text = _compact(term.value)
            labels = [q.object for q in raw.quads_for_pattern(term, _LABEL, None, None)]
            english = [x for x in labels if isinstance(x, ox.Literal) and x.language == "en"]
            if english:
                text = f'{text} "{english[0].value}"'
        cache[term] = text
        return text

    return label


def _compact(iri: str) -> str:
    for prefix, ns in sorted(PREFIXES.items(), key=lambda kv: -len(kv[1])):
        if iri.startswith(ns) and iri != ns:
            return f"{prefix}:{iri[len(ns) :]}"
    return f"<{iri}>"
