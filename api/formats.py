"""Which media types each kind of response offers, from the one format table in kg.formats."""

from __future__ import annotations

from kg.formats import RdfFormat, ResultFormat

__all__ = ["GRAPH_OFFERS", "TABLE_OFFERS", "TRIPLE_OFFERS", "by_name"]

#: SELECT and ASK results; plain JSON and XML are read as the SPARQL result formats.
TABLE_OFFERS: dict[str, ResultFormat] = {
    **{f.media_type: f for f in ResultFormat},
    "application/json": ResultFormat.JSON,
    "application/xml": ResultFormat.XML,
    "text/xml": ResultFormat.XML,
}
#: CONSTRUCT and DESCRIBE results, and the service description.
GRAPH_OFFERS: dict[str, RdfFormat] = {
    **{f.media_type: f for f in RdfFormat},
    "application/x-turtle": RdfFormat.TURTLE,
    "text/plain": RdfFormat.NTRIPLES,
    "application/json": RdfFormat.JSONLD,
    "application/xml": RdfFormat.RDFXML,
}
#: One graph of the Graph Store (dataset formats hold it in its named graph).
TRIPLE_OFFERS = GRAPH_OFFERS


def by_name(name: str, graph: bool) -> str | None:
    """The media type a ``format`` parameter names (``json``, ``ttl``, ``text/csv``...)."""
    try:
        return (RdfFormat.from_name(name) if graph else ResultFormat.from_name(name)).media_type
    except ValueError:
        return None
