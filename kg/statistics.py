"""Counts that describe a store: triples per named graph, instances per class."""

from __future__ import annotations

from kg.namespaces import sparql_prologue
from kg.store import GraphStore

__all__ = ["count_by_class", "count_by_graph"]


def count_by_graph(store: GraphStore) -> list[tuple[str, int]]:
    """Triples in each named graph, largest first."""
    return sorted(((g, store.count(g)) for g in store.named_graphs()), key=lambda x: -x[1])


def count_by_class(store: GraphStore) -> list[tuple[str, int]]:
    """Distinct instances of each asserted class (in the union of all graphs), largest first."""
    _, rows = store.query(  # type: ignore[misc]
        sparql_prologue()
        + "SELECT ?c (COUNT(DISTINCT ?x) AS ?n) WHERE { ?x a ?c } GROUP BY ?c ORDER BY DESC(?n) ?c"
    )
    return [(str(c), int(n)) for c, n in rows]
