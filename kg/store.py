"""The store interface, and opening the embedded store.

A store holds named graphs and answers SPARQL. The embedded implementation is
pyoxigraph (on disk or in memory); a remote SPARQL 1.1 store can implement the same
protocol.

>>> store = open_store(None)
>>> store.count()
0
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

from rdflib.term import Node

from kg._oxigraph import OxigraphStore, ParsedGraph
from kg.formats import RdfFormat, ResultFormat

__all__ = ["GraphStore", "open_store"]


class GraphStore(Protocol):
    """What the rest of the package needs from a store."""

    def query(
        self,
        sparql: str,
        *,
        union_default_graph: bool = True,
        default_graphs: Sequence[str] | None = None,
    ) -> object: ...

    def query_serialized(
        self, sparql: str, fmt: ResultFormat | RdfFormat, *, union_default_graph: bool = True
    ) -> bytes: ...

    def update(self, sparql: str) -> None: ...

    def replace_graphs(self, graphs: Sequence[ParsedGraph], drop: Iterable[str] = ()) -> None: ...

    def apply_change(
        self,
        add: Iterable[tuple[Node, Node, Node, Node]],
        remove: Iterable[tuple[Node, Node, Node, Node]],
        then: str | None = None,
    ) -> None: ...

    def named_graphs(self) -> list[str]: ...

    def count(self, graph_iri: str | None = None) -> int: ...

    def export(self, fmt: RdfFormat, graph_iri: str | None = None) -> bytes: ...

    def close(self) -> None: ...


def open_store(path: Path | None) -> GraphStore:
    """Open the embedded store at ``path`` (created if missing), or in memory if None."""
    return OxigraphStore(path)
