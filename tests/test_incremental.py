"""Incremental validation gives the verdict and the results of full validation.

Hypothesis applies random edits to the curated data: removing triples, adding triples
with existing or literal objects, retyping nodes, pointing a property elsewhere. Many
are invalid, some are not. For each, full validation of the edited graph is compared
with incremental validation of the change: the same verdict, the same results for the
nodes incremental validation examined, and no change in the results of any other node.
The run is bounded (a fixed number of examples, derandomised so CI sees the same ones).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdflib import Literal, URIRef
from rdflib.namespace import RDF, XSD

from kg.namespaces import GP, NON_ASSERTED_GRAPHS, ONTOLOGY_GRAPH
from kg.store import GraphStore
from kg.validation import (
    Change,
    Shapes,
    ValidationReport,
    store_graph,
    validate_change,
    validate_graph,
)

PREDICATES = [
    GP.holder,
    GP.office,
    GP.buyer,
    GP.seller,
    GP.system,
    GP.eventParticipant,
    GP.eventPlace,
    GP.eventType,
    GP.date,
    GP.startDate,
    GP.endDate,
    GP.datePrecision,
    GP.certainty,
    GP.factuality,
    GP.claimant,
    GP.stanceHolder,
    GP.locatedIn,
    GP.capital,
    GP.officeOf,
    GP.quantity,
    GP.opposingParty,
    GP.party,
    GP.statementSubject,
    GP.statementPredicate,
    URIRef("http://www.w3.org/2000/01/rdf-schema#label"),
    URIRef("http://www.w3.org/ns/prov#wasDerivedFrom"),
    URIRef("http://www.w3.org/ns/oa#hasSource"),
    URIRef("https://schema.org/publisher"),
    GP.organisation,
    GP.member,
]
LITERALS = [
    Literal("2020-05-01", datatype=XSD.date),
    Literal("2020-05-01"),
    Literal("Somewhere", lang="en"),
    Literal("Somewhere", lang="fr"),
    Literal(3),
    Literal(-3),
    Literal(""),
]
CLASSES = [
    GP.State,
    GP.Person,
    GP.City,
    GP.Event,
    GP.OfficeHolding,
    GP.Organisation,
    GP.MilitaryAlliance,
    GP.WeaponSystemModel,
    GP.Evidence,
    GP.NewsArticle,
    GP.Conflict,
]


@pytest.fixture(scope="module")
def material(store: GraphStore, shapes: Shapes) -> dict:
    graph = store_graph(store)
    _v, rows = store.query(
        "SELECT ?s ?p ?o ?g WHERE { GRAPH ?g { ?s ?p ?o } }", union_default_graph=False
    )
    asserted = sorted(
        (
            r
            for r in rows
            if str(r[3]).startswith("https://w3id.org/geokg/graph/")
            and str(r[3]) not in NON_ASSERTED_GRAPHS
            and str(r[3]) != ONTOLOGY_GRAPH
        ),
        key=str,
    )
    nodes = sorted({q[0] for q in asserted}, key=str)
    return {
        "graph": graph,
        "quads": asserted,
        "nodes": nodes,
        "graphs": sorted({q[3] for q in asserted}, key=str),
        "before": validate_graph(graph, shapes),
    }


@st.composite
def edits(draw: st.DrawFn, material: dict) -> Change:
    quads, nodes, graphs = material["quads"], material["nodes"], material["graphs"]
    add, remove = [], []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["remove", "add", "retype", "repoint"]))
        if kind == "remove":
            remove.append(draw(st.sampled_from(quads)))
        elif kind == "add":
            obj = draw(st.one_of(st.sampled_from(nodes), st.sampled_from(LITERALS)))
            add.append(
                (
                    draw(st.sampled_from(nodes)),
                    draw(st.sampled_from(PREDICATES)),
                    obj,
                    draw(st.sampled_from(graphs)),
                )
            )
        elif kind == "retype":
            node = draw(st.sampled_from(nodes))
            add.append((node, RDF.type, draw(st.sampled_from(CLASSES)), graphs[0]))
        else:
            s, p, o, g = draw(st.sampled_from([q for q in quads if isinstance(q[2], URIRef)]))
            remove.append((s, p, o, g))
            add.append((s, p, draw(st.sampled_from(nodes)), g))
    return Change.of(add=add, remove=remove)


def _full_after(material: dict, change: Change, shapes: Shapes) -> ValidationReport:
    graph = material["graph"]
    after = type(graph)()
    after += graph
    for s, p, o, g in change.remove:
        # a triple stays if another graph still asserts it
        if not any(q[:3] == (s, p, o) and q[3] != g for q in material["quads"]):
            after.remove((s, p, o))
    for s, p, o, _g in change.add:
        after.add((s, p, o))
    return validate_graph(after, shapes)


def test_the_curated_data_is_the_starting_point(material: dict) -> None:
    assert material["before"].conforms
    assert len(material["quads"]) > 5000


@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_incremental_validation_agrees_with_full_validation(
    data: st.DataObject, store: GraphStore, shapes: Shapes, material: dict
) -> None:
    change = data.draw(edits(material))
    incremental = validate_change(store, change, shapes)
    full = _full_after(material, change, shapes)
    assert incremental.conforms == full.conforms, (incremental.to_text(), full.to_text())
    examined = incremental.examined
    assert examined is not None
    assert {r.key for r in incremental.results} == {
        r.key for r in full.results if r.focus in examined
    }
    untouched_after = {r.key for r in full.results if r.focus not in examined}
    untouched_before = {r.key for r in material["before"].results if r.focus not in examined}
    assert untouched_after == untouched_before
