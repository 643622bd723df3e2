"""The pyshacl adapter: the only module that imports pyshacl.

Validation always runs with inference 'none': RDFS inference would type a state put in
a person's slot as a person, and the mistake would pass. The shapes are compiled once
per :class:`ShaclEngine` and reused for every validation, and the SPARQL text of
SPARQL-based constraints is parsed once (pyshacl hands rdflib the query text for every
focus node, and parsing dominated the run time).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Collection
from contextvars import ContextVar

from pyshacl import Validator
from pyshacl.entrypoints import meta_validate
from pyshacl.errors import ReportableRuntimeError, ValidationFailure
from pyshacl.graph_abstraction import DataGraph
from pyshacl.shape import Shape
from pyshacl.shapes_graph import ShapesGraph
from rdflib import Graph
from rdflib.plugins.sparql import prepareQuery
from rdflib.plugins.sparql.sparql import Query

from kg.errors import ShapesError

__all__ = ["QueryCachingGraph", "ShaclEngine", "check_shapes_graph"]

_LOG = logging.getLogger("kg.validation")


# Restricting validation to some focus nodes. pyshacl's own ``focus_nodes`` option also
# filters the value nodes of nested shapes (sh:not, sh:or, qualified shapes), which then
# pass or fail wrongly (pyshacl 0.40). Instead, the targets of the top-level shapes are
# intersected with the wanted nodes: ``Shape.focus_nodes`` computes exactly those
# targets and is not used for nested evaluation. The restriction is per call (a context
# variable), so concurrent validations do not see each other's focus.
_FOCUS: ContextVar[Collection | None] = ContextVar("kg_shacl_focus", default=None)
_targets = Shape.focus_nodes


def _restricted_targets(self, data_graph, debug=False):  # type: ignore[no-untyped-def]
    found = _targets(self, data_graph, debug=debug)
    wanted = _FOCUS.get()
    return found if wanted is None else type(found)(n for n in found if n in wanted)


Shape.focus_nodes = _restricted_targets


@functools.lru_cache(maxsize=512)
def _prepared(text: str) -> Query:
    return prepareQuery(text)


class QueryCachingGraph(Graph):
    """An rdflib graph that parses each distinct SPARQL text only once."""

    def query(self, query_object, *args, **kwargs):  # type: ignore[no-untyped-def, override]
        if isinstance(query_object, str):
            query_object = _prepared(query_object)
        return super().query(query_object, *args, **kwargs)


class ShaclEngine:
    """Validates rdflib graphs against one shapes graph, compiled once."""

    def __init__(self, shapes: Graph) -> None:
        self._shapes_graph = shapes
        try:
            self._compiled = ShapesGraph(shapes, False, _LOG)
            self._compiled.shapes  # noqa: B018 - harvests and caches the shapes now
        except (ReportableRuntimeError, ValueError, TypeError) as exc:
            raise ShapesError(f"the shapes do not compile: {exc}") from exc

    def validate(self, data: Graph, focus: Collection | None = None) -> Graph:
        """Validate ``data`` (only the nodes in ``focus``, if given); return the report."""
        options = {
            "inference": "none",
            "allow_warnings": True,
            "allow_infos": True,
            "logger": _LOG,
        }
        validator = Validator(
            DataGraph.from_rdflib(data), shacl_graph=self._shapes_graph, options=options
        )
        validator.shacl_graph = self._compiled  # reuse the compiled shapes
        token = _FOCUS.set(None if focus is None else frozenset(focus))
        try:
            _conforms, report, _text = validator.run()
        except (ReportableRuntimeError, ValidationFailure) as exc:
            raise ShapesError(f"validation failed: {exc}") from exc
        finally:
            _FOCUS.reset(token)
        return report


def check_shapes_graph(shapes: Graph) -> tuple[bool, str]:
    """Validate a shapes graph against SHACL-for-SHACL; (conforms, report text)."""
    conforms, _graph, text = meta_validate(shapes, inference="none")
    return bool(conforms), str(text)
