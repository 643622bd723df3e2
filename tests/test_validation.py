"""Validation of changes, the write gate, reports and the ``kg validate`` command."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF, RDFS, SH, XSD
from typer.testing import CliRunner

from kg.cli import app
from kg.errors import ValidationError
from kg.formats import RdfFormat
from kg.loading import load_dataset
from kg.namespaces import DERIVED_GRAPH, GP, GPD, GPS, graph_iri
from kg.store import GraphStore, open_store
from kg.validation import Change, Shapes, labels_for, validate_change
from kg.writes import apply_change

ENTITIES = URIRef(graph_iri("entities"))
A004 = URIRef(graph_iri("article/004"))
HOLDING = GPD["holding-assad-president-syria-2019-07"]


def _holder(store: GraphStore) -> URIRef:
    _v, rows = store.query(f"SELECT ?h WHERE {{ <{HOLDING}> <{GP.holder}> ?h }}")
    return rows[0][0]


@pytest.fixture()
def writable(root: Path, shapes: Shapes) -> GraphStore:
    """A fresh store with the curated data, for tests that write."""
    s = open_store(None)
    load_dataset(s, root, shapes=shapes)
    return s


def _dump(store: GraphStore) -> set[str]:
    return set(store.export(RdfFormat.NQUADS).decode().splitlines())


# ---------------------------------------------------------------- what validation catches
def test_a_state_in_a_persons_slot_is_caught(store: GraphStore, shapes: Shapes) -> None:
    change = Change.of(
        add=[(HOLDING, GP.holder, GPD.turkey, A004)],
        remove=[(HOLDING, GP.holder, _holder(store), A004)],
    )
    report = validate_change(store, change, shapes)
    assert not report.conforms
    (result,) = report.violations
    assert result.focus == HOLDING
    assert result.component == SH.ClassConstraintComponent
    assert result.shape == GPS["OfficeHolding-holder"]
    assert result.value == GPD.turkey


@pytest.mark.parametrize(
    ("triples", "component"),
    [
        ([(GP.startDate, Literal("2019-07-01"))], SH.DatatypeConstraintComponent),
        (
            [
                (GP.startDate, Literal("2019-07-01", datatype=XSD.date)),
                (GP.startDatePrecision, GP.DayPrecision),
                (GP.endDate, Literal("2018-01-01", datatype=XSD.date)),
                (GP.endDatePrecision, GP.DayPrecision),
            ],
            SH.SPARQLConstraintComponent,
        ),
        ([(GP.certainty, GP.Actual)], SH.InConstraintComponent),
    ],
    ids=["date as a string", "end before start", "value from the wrong list"],
)
def test_ordinary_mistakes_are_caught(
    store: GraphStore, shapes: Shapes, triples: list, component: URIRef
) -> None:
    change = Change.of(add=[(HOLDING, p, o, A004) for p, o in triples])
    report = validate_change(store, change, shapes)
    assert component in {r.component for r in report.violations}, report.to_text()


def test_a_statement_without_evidence_is_caught(store: GraphStore, shapes: Shapes) -> None:
    _v, rows = store.query(
        f"SELECT ?e WHERE {{ <{HOLDING}> <http://www.w3.org/ns/prov#wasDerivedFrom> ?e }}"
    )
    change = Change.of(
        remove=[
            (HOLDING, URIRef("http://www.w3.org/ns/prov#wasDerivedFrom"), r[0], A004) for r in rows
        ]
    )
    report = validate_change(store, change, shapes)
    assert {(r.focus, r.shape) for r in report.violations} == {(HOLDING, GPS["evidence-required"])}


def test_a_type_change_reaches_the_nodes_that_point_at_it(
    store: GraphStore, shapes: Shapes
) -> None:
    # Assad retyped as a state: his office holdings now have a state as holder.
    assad = _holder(store)
    change = Change.of(
        add=[(assad, RDF.type, GP.State, ENTITIES)],
        remove=[(assad, RDF.type, GP.Person, ENTITIES)],
    )
    report = validate_change(store, change, shapes)
    assert HOLDING in {r.focus for r in report.violations}
    assert report.focus_nodes is not None and report.focus_nodes > 1


def test_a_valid_change_conforms_and_examines_few_nodes(store: GraphStore, shapes: Shapes) -> None:
    change = Change.of(add=[(HOLDING, GP.note, Literal("checked", lang="en"), A004)])
    report = validate_change(store, change, shapes)
    assert report.conforms and not report.results
    assert report.focus_nodes == 1


# ---------------------------------------------------------------- the write gate
def test_a_violating_write_is_rejected_whole_and_changes_nothing(
    writable: GraphStore, shapes: Shapes
) -> None:
    before = _dump(writable)
    change = Change.of(
        add=[
            (GPD["new-state"], RDF.type, GP.State, ENTITIES),
            (GPD["new-state"], RDFS.label, Literal("Newland", lang="en"), ENTITIES),
            (HOLDING, GP.holder, GPD.turkey, A004),  # the one bad triple
        ],
        remove=[(HOLDING, GP.holder, _holder(writable), A004)],
    )
    with pytest.raises(ValidationError) as info:
        apply_change(writable, change, shapes)
    assert info.value.report.violations
    assert _dump(writable) == before


def test_a_valid_write_is_applied_and_the_derived_graph_follows(
    writable: GraphStore, shapes: Shapes
) -> None:
    new = GPD["holding-test"]
    evidence = GPD["holding-test-evidence"]
    selector = GPD["holding-test-selector"]
    g = A004
    change = Change.of(
        add=[
            (new, RDF.type, GP.OfficeHolding, g),
            (
                new,
                RDFS.label,
                Literal("Erdoğan as Chancellor of Germany (a test fixture)", lang="en"),
                g,
            ),
            (new, GP.holder, GPD["recep-tayyip-erdogan"], g),
            (new, GP.office, GPD["chancellor-of-germany"], g),
            (new, URIRef("http://www.w3.org/ns/prov#wasDerivedFrom"), evidence, g),
            (evidence, RDF.type, GP.Evidence, g),
            (evidence, URIRef("http://www.w3.org/ns/oa#hasSource"), GPD["article-004"], g),
            (evidence, URIRef("http://www.w3.org/ns/oa#hasSelector"), selector, g),
            (selector, RDF.type, URIRef("http://www.w3.org/ns/oa#TextQuoteSelector"), g),
            (selector, URIRef("http://www.w3.org/ns/oa#exact"), Literal("a test quote"), g),
        ]
    )
    report = apply_change(writable, change, shapes)
    assert report.conforms
    assert writable.query(
        f"ASK {{ GRAPH <{DERIVED_GRAPH}> {{ <{GPD['recep-tayyip-erdogan']}> "
        f"<{GP.holdsOffice}> <{GPD['chancellor-of-germany']}> }} }}",
        union_default_graph=False,
    )
    # and removing it again removes the derived triple
    apply_change(writable, Change.of(remove=change.add), shapes)
    assert not writable.query(
        f"ASK {{ GRAPH <{DERIVED_GRAPH}> {{ <{GPD['recep-tayyip-erdogan']}> "
        f"<{GP.holdsOffice}> <{GPD['chancellor-of-germany']}> }} }}",
        union_default_graph=False,
    )


def test_warnings_are_reported_but_do_not_block(writable: GraphStore, shapes: Shapes) -> None:
    _v, rows = writable.query(
        f"SELECT ?d WHERE {{ <{GPD.turkey}> <https://schema.org/description> ?d }}"
    )
    change = Change.of(
        remove=[(GPD.turkey, URIRef("https://schema.org/description"), rows[0][0], ENTITIES)]
    )
    report = apply_change(writable, change, shapes)
    assert report.conforms
    assert [r.shape for r in report.warnings] == [GPS["description-expected"]]


def test_computed_graphs_cannot_be_written(writable: GraphStore, shapes: Shapes) -> None:
    change = Change.of(add=[(GPD.turkey, GP.note, Literal("x"), URIRef(DERIVED_GRAPH))])
    with pytest.raises(ValueError, match="computed graphs"):
        apply_change(writable, change, shapes)


def test_the_loader_rejects_violating_data_and_leaves_the_store_as_it_was(
    root: Path, tmp_path: Path, shapes: Shapes
) -> None:
    project = tmp_path / "project"
    for folder in ("ontology", "data", "shapes"):
        shutil.copytree(root / folder, project / folder)
    s = open_store(tmp_path / "store")
    load_dataset(s, project, shapes=shapes)
    before = _dump(s)
    entities = project / "data" / "entities.ttl"
    entities.write_text(
        entities.read_text(encoding="utf-8")
        + '\ngpd:nowhere a gp:City ; rdfs:label "Nowhere"@en ; gp:capitalOf gpd:nato .\n',
        encoding="utf-8",
    )
    with pytest.raises(ValidationError) as info:
        load_dataset(s, project, shapes=shapes)
    bad = info.value.report.violations
    assert {(r.focus, r.shape) for r in bad} == {(GPD.nowhere, GPS["City-capitalOf"])}
    assert _dump(s) == before


def test_a_change_cannot_hold_blank_nodes() -> None:
    from rdflib import BNode

    with pytest.raises(ValueError, match="blank"):
        Change.of(add=[(BNode(), RDF.type, GP.State, ENTITIES)])


# ---------------------------------------------------------------- reports
def _bad_report(store: GraphStore, shapes: Shapes):
    change = Change.of(
        add=[(HOLDING, GP.holder, GPD.turkey, A004)],
        remove=[(HOLDING, GP.holder, _holder(store), A004)],
    )
    return validate_change(store, change, shapes)


def test_the_text_report_names_focus_label_path_value_message_and_severity(
    store: GraphStore, shapes: Shapes
) -> None:
    report = _bad_report(store, shapes)
    text = report.to_text(labels_for(store, [HOLDING, GPD.turkey]))
    assert "Violation" in text
    assert "gpd:holding-assad-president-syria-2019-07" in text
    assert '("Bashar al-Assad, President of Syria' in text
    assert 'gp:holder = gpd:turkey ("Turkey")' in text
    assert "exactly one holder, who is a person" in text
    assert "sh:ClassConstraintComponent" in text


def test_the_report_is_a_shacl_validation_report_in_turtle_and_json_ld(
    store: GraphStore, shapes: Shapes
) -> None:
    report = _bad_report(store, shapes)
    for fmt, name in ((RdfFormat.TURTLE, "turtle"), (RdfFormat.JSONLD, "json-ld")):
        g = Graph().parse(data=report.serialize(fmt), format=name)
        (node,) = g.subjects(RDF.type, SH.ValidationReport)
        assert g.value(node, SH.conforms) == Literal(False)
        (result,) = g.objects(node, SH.result)
        assert g.value(result, SH.focusNode) == HOLDING
        assert g.value(result, SH.resultPath) == GP.holder
        assert g.value(result, SH.value) == GPD.turkey
        assert g.value(result, SH.resultSeverity) == SH.Violation
        assert g.value(result, SH.sourceConstraintComponent) == SH.ClassConstraintComponent
    json.loads(report.serialize(RdfFormat.JSONLD))


# ---------------------------------------------------------------- kg validate
runner = CliRunner()


def test_kg_validate_the_store_exits_zero_when_it_conforms(store_path: Path) -> None:
    result = runner.invoke(app, ["validate", "--store", str(store_path)])
    assert result.exit_code == 0, result.output
    assert "conforms: 0 violations" in result.stdout


def test_kg_validate_files_exits_non_zero_on_violations(tmp_path: Path, store_path: Path) -> None:
    bad = tmp_path / "bad.ttl"
    bad.write_text(
        "@prefix gp: <https://w3id.org/geokg/ontology#> .\n"
        "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
        "<https://w3id.org/geokg/id/x> a gp:State ; gp:capital <https://w3id.org/geokg/id/x> .\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 1
    assert "label-en" in result.stdout and "State-capital" in result.stdout
    turtle = runner.invoke(app, ["validate", str(bad), "--format", "turtle"])
    assert turtle.exit_code == 1
    assert (None, RDF.type, SH.ValidationReport) in Graph().parse(
        data=turtle.stdout, format="turtle"
    )
    # the same file as an addition to the store: the label is still missing
    against = runner.invoke(
        app, ["validate", str(bad), "--against-store", "--store", str(store_path)]
    )
    assert against.exit_code == 1
    assert "1 focus node" in against.stdout
