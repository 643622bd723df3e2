"""RDF and SPARQL result formats: one table of media types and file suffixes for all uses."""

from __future__ import annotations

from enum import Enum
from typing import TypeVar

__all__ = ["RdfFormat", "ResultFormat"]


class RdfFormat(Enum):
    """RDF serialisations: (name, media type, file suffix, holds named graphs)."""

    TURTLE = ("turtle", "text/turtle", "ttl", False)
    NTRIPLES = ("ntriples", "application/n-triples", "nt", False)
    NQUADS = ("nquads", "application/n-quads", "nq", True)
    TRIG = ("trig", "application/trig", "trig", True)
    RDFXML = ("rdfxml", "application/rdf+xml", "rdf", False)
    JSONLD = ("jsonld", "application/ld+json", "jsonld", False)

    def __init__(self, label: str, media_type: str, suffix: str, is_dataset: bool) -> None:
        self.label = label
        self.media_type = media_type
        self.suffix = suffix
        self.is_dataset = is_dataset

    @classmethod
    def from_name(cls, name: str) -> RdfFormat:
        """Look a format up by name, suffix or media type (``turtle``, ``ttl``, ``text/turtle``)."""
        return _lookup(cls, name)


class ResultFormat(Enum):
    """SPARQL query result formats for SELECT and ASK: (name, media type, suffix)."""

    JSON = ("json", "application/sparql-results+json", "srj")
    XML = ("xml", "application/sparql-results+xml", "srx")
    CSV = ("csv", "text/csv", "csv")
    TSV = ("tsv", "text/tab-separated-values", "tsv")

    def __init__(self, label: str, media_type: str, suffix: str) -> None:
        self.label = label
        self.media_type = media_type
        self.suffix = suffix

    @classmethod
    def from_name(cls, name: str) -> ResultFormat:
        """Look a format up by name, suffix or media type (``json``, ``srj``, ``text/csv``)."""
        return _lookup(cls, name)


F = TypeVar("F", RdfFormat, ResultFormat)


def _lookup(cls: type[F], name: str) -> F:
    key = name.strip().lower()
    for f in cls:
        if key in (f.label, f.suffix, f.media_type):
            return f
    raise ValueError(f"unknown format {name!r}; known: {', '.join(f.label for f in cls)}")
