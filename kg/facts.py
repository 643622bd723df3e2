"""Facts written through the REST API: a statement node with its evidence, and back.

A fact is one ``gp:FactStatement`` with the quote that supports it, in the model of the
curated articles (``data/articles/*.ttl``), in the named graph :data:`API_GRAPH`. Its
nodes are IRIs, not blank nodes, so that retracting it removes exactly its quads::

    <…/id/fact/{uuid}> a gp:FactStatement ;
        rdfs:label "…"@en ;
        gp:statementSubject <s> ; gp:statementPredicate <p> ; gp:statementObject <o> ;
        gp:date "…"^^xsd:date ; gp:datePrecision gp:DayPrecision ;   # if given (also
        prov:wasDerivedFrom <…/id/fact/{uuid}/evidence> .            # start, end date)
    <…/id/fact/{uuid}/evidence> a gp:Evidence ;
        oa:hasSource <article> ;
        oa:hasSelector <…/id/fact/{uuid}/evidence/selector> .
    <…/id/fact/{uuid}/evidence/selector> a oa:TextQuoteSelector ; oa:exact "quote" .

Whether the fact is acceptable (the subject and object of the kinds the predicate
needs, the source a document...) is for the SHACL gate to say, like for every write.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import pyoxigraph as ox
from rdflib import Literal, URIRef
from rdflib.namespace import RDF, RDFS, XSD

from kg._oxigraph import OxigraphStore, _to_ox
from kg.errors import StoreError
from kg.namespaces import API_GRAPH, CHANGES_GRAPH, GP, GPD, PREFIXES
from kg.validation import Change

__all__ = ["FACT_BASE", "PRECISIONS", "FactJob", "fact_change", "fact_iri", "fact_json"]

FACT_BASE = str(GPD["fact/"])
PROV = PREFIXES["prov"]
OA = PREFIXES["oa"]
#: The precision of a date: its gp: individual.
PRECISIONS = {"day": GP.DayPrecision, "month": GP.MonthPrecision, "year": GP.YearPrecision}
#: (JSON member, date property, precision property) of the dates a fact may have.
DATES = (
    ("date", GP.date, GP.datePrecision),
    ("startDate", GP.startDate, GP.startDatePrecision),
    ("endDate", GP.endDate, GP.endDatePrecision),
)


def fact_iri(fact_id: str) -> str:
    return FACT_BASE + str(uuid.UUID(fact_id))


def fact_change(
    fact_id: str,
    subject: str,
    predicate: str,
    obj: URIRef | Literal,
    source: str,
    quote: str,
    label: str,
    dates: dict[str, tuple[dt.date, str]] | None = None,
) -> Change:
    """The quads of a new fact (see the module), to be added to the API graph.

    ``dates`` maps ``date``, ``startDate`` or ``endDate`` to (day, precision name).
    """
    fact = URIRef(fact_iri(fact_id))
    evidence = URIRef(f"{fact}/evidence")
    selector = URIRef(f"{evidence}/selector")
    triples = [
        (fact, RDF.type, GP.FactStatement),
        (fact, RDFS.label, Literal(label, lang="en")),
        (fact, GP.statementSubject, URIRef(subject)),
        (fact, GP.statementPredicate, URIRef(predicate)),
        (fact, GP.statementObject, obj),
        (fact, URIRef(PROV + "wasDerivedFrom"), evidence),
        (evidence, RDF.type, GP.Evidence),
        (evidence, URIRef(OA + "hasSource"), URIRef(source)),
        (evidence, URIRef(OA + "hasSelector"), selector),
        (selector, RDF.type, URIRef(OA + "TextQuoteSelector")),
        (selector, URIRef(OA + "exact"), Literal(quote)),
    ]
    for member, date_property, precision_property in DATES:
        if dates and member in dates:
            day, precision = dates[member]
            triples.append((fact, date_property, Literal(day.isoformat(), datatype=XSD.date)))
            triples.append((fact, precision_property, PRECISIONS[precision]))
    g = URIRef(API_GRAPH)
    return Change.of(add=[(s, p, o, g) for s, p, o in triples])


def term_json(term: Any) -> dict[str, str]:
    """An RDF term as JSON: ``{"iri"}``, or ``{"value", "datatype"}`` / ``{"value", "lang"}``."""
    if isinstance(term, URIRef | ox.NamedNode):
        return {"iri": str(term) if isinstance(term, URIRef) else term.value}
    if isinstance(term, Literal):
        if term.language:
            return {"value": str(term), "lang": term.language}
        return {"value": str(term), "datatype": str(term.datatype or XSD.string)}
    if isinstance(term, ox.Literal):
        if term.language:
            return {"value": term.value, "lang": term.language}
        return {"value": term.value, "datatype": term.datatype.value}
    return {"value": str(term)}


def fact_json(change: Change) -> dict[str, Any]:
    """The JSON description of a fact from its quads (those :func:`fact_change` makes)."""
    store = ox.Store()
    store.extend(ox.Quad(*(_to_ox(t) for t in q)) for q in change.add)
    (node,) = {q.subject for q in store.quads_for_pattern(None, _TYPE, _FACT, None)}
    out = _describe(store, node)
    assert out is not None
    return out


_TYPE = ox.NamedNode(str(RDF.type))
_FACT = ox.NamedNode(str(GP.FactStatement))
_LABEL = ox.NamedNode(str(RDFS.label))
_DERIVED = ox.NamedNode(PROV + "wasDerivedFrom")
_SOURCE = ox.NamedNode(OA + "hasSource")
_SELECTOR = ox.NamedNode(OA + "hasSelector")
_EXACT = ox.NamedNode(OA + "exact")
_GENERATED = ox.NamedNode(PROV + "generated")
_INVALIDATED = ox.NamedNode(PROV + "invalidated")
_API = ox.NamedNode(API_GRAPH)
_CHANGES = ox.NamedNode(CHANGES_GRAPH)
_ROLES = {
    "subject": ox.NamedNode(str(GP.statementSubject)),
    "predicate": ox.NamedNode(str(GP.statementPredicate)),
    "object": ox.NamedNode(str(GP.statementObject)),
}


def _one(store: ox.Store, s: Any, p: Any) -> Any:
    for q in store.quads_for_pattern(s, p, None, _API):
        return q.object
    return None


def _describe(store: ox.Store, node: ox.NamedNode) -> dict[str, Any] | None:
    if ox.Quad(node, _TYPE, _FACT, _API) not in store:
        return None
    label = _one(store, node, _LABEL)
    out: dict[str, Any] = {
        "id": node.value.removeprefix(FACT_BASE),
        "iri": node.value,
        "graph": API_GRAPH,
        "label": label.value if label is not None else None,
    }
    for role, predicate in _ROLES.items():
        term = _one(store, node, predicate)
        out[role] = term_json(term) if term is not None else None
    for member in ("subject", "predicate"):  # IRIs by the shapes: plain strings
        if out[member] is not None:
            out[member] = out[member].get("iri", out[member].get("value"))
    for member, date_property, precision_property in DATES:
        day = _one(store, node, ox.NamedNode(str(date_property)))
        if day is None:
            continue
        precision = _one(store, node, ox.NamedNode(str(precision_property)))
        out[member] = day.value
        name = precision.value.split("#")[-1] if precision is not None else None
        out[member + "Precision"] = name.removesuffix("Precision").lower() if name else None
    evidence = []
    for q in store.quads_for_pattern(node, _DERIVED, None, _API):
        ev = q.object
        source = _one(store, ev, _SOURCE)
        selector = _one(store, ev, _SELECTOR)
        exact = _one(store, selector, _EXACT) if selector is not None else None
        evidence.append(
            {
                "iri": ev.value,
                "source": source.value if source is not None else None,
                "quote": exact.value if exact is not None else None,
            }
        )
    out["evidence"] = sorted(evidence, key=lambda e: e["iri"])
    return out


@dataclass(frozen=True)
class FactJob:
    """A fact of the API graph with its evidence and change records; None if unknown."""

    fact_id: str

    def run(self, store: OxigraphStore) -> dict[str, Any] | None:
        raw = store.raw
        node = ox.NamedNode(fact_iri(self.fact_id))
        try:
            out = _describe(raw, node)
            if out is None:
                return None
            out["changes"] = sorted(
                q.subject.value
                for p in (_GENERATED, _INVALIDATED)
                for q in raw.quads_for_pattern(None, p, node, _CHANGES)
            )
        except OSError as exc:
            raise StoreError(f"cannot read the store: {exc}") from exc
        return out
