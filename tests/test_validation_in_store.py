"""In-store validation (kg.shacl_sparql, through validate_in_store) gives pyshacl's verdict.

Differential: on the curated data, on the fixture world (every shape has a conforming
focus node there) and on every violating fixture (tests/fixtures/shapes/cases_*.toml),
the report of ``validate_in_store`` equals pyshacl's (``validate_store``): the same
conforms flag and the same results, compared on focus node, path, value, constraint
component, source shape, severity and message.

pyshacl takes about 3 s per validation of the fixture world, so the violating cases are
applied in batches: the cases of a batch edit disjoint sets of nodes, and each case's own
result is checked to be reported in its batch (by both validators), so no case hides
another.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import Graph, URIRef
from rdflib.namespace import RDF

from kg._oxigraph import graph_from_rdflib
from kg.loading import parse_dataset
from kg.manifest import read_manifest
from kg.namespaces import DERIVED_GRAPH, GP, INFERRED_GRAPH, ONTOLOGY_GRAPH, PREFIXES
from kg.shacl_sparql import UnsupportedShapeError, compile_shapes
from kg.shacl_sparql import validate_in_store as validate_with
from kg.store import GraphStore, open_store
from kg.validation import (
    Shapes,
    ValidationReport,
    validate_in_store,
    validate_store,
    validated_graphs,
)
from tests.test_shape_fixtures import CASES, FIXTURES, WORLD_GRAPH, Case

_PROLOGUE = "".join(f"@prefix {p}: <{iri}> .\n" for p, iri in PREFIXES.items())


def _keys(report: ValidationReport) -> set[tuple[str, ...]]:
    return {r.key for r in report.results}


def _both_plans(store: GraphStore, shapes: Shapes) -> ValidationReport:
    """The in-store report (scans: the plan for stores on disk), checked to be the same
    with lookups (the faster plan in memory)."""
    mine = validate_in_store(store, shapes)
    lookups = validate_with(store, shapes, scan=False)
    assert _keys(lookups) == _keys(mine)
    return mine


def _same_verdict(mine: ValidationReport, reference: ValidationReport) -> None:
    missing = _keys(reference) - _keys(mine)
    extra = _keys(mine) - _keys(reference)
    assert not missing and not extra, (
        f"in-store validation differs from pyshacl\nmissing: {sorted(missing)}\n"
        f"extra: {sorted(extra)}"
    )
    assert mine.conforms == reference.conforms
    assert mine.full


@pytest.fixture(scope="module")
def ontology(root: Path):
    return [g for g in parse_dataset(read_manifest(root)) if g.graph_iri == ONTOLOGY_GRAPH]


@pytest.fixture(scope="module")
def world() -> Graph:
    g = Graph()
    for path in sorted(FIXTURES.glob("world_*.ttl")):
        g.parse(path, format="turtle")
    return g


def _store(ontology, world: Graph, ontology_edits: tuple[Graph, Graph] | None = None):
    """A store with the ontology (maybe edited) and the world graph."""
    s = open_store(None)
    graphs = [graph_from_rdflib(world, str(WORLD_GRAPH), "fixture world")]
    if ontology_edits is None:
        graphs += ontology
    else:
        onto = ontology[0].to_rdflib()
        remove, add = ontology_edits
        onto -= remove
        onto += add
        graphs.append(graph_from_rdflib(onto, ONTOLOGY_GRAPH, "edited ontology"))
    s.replace_graphs(graphs)
    return s


def test_the_shapes_compile_without_unsupported_features(shapes: Shapes) -> None:
    compiled = compile_shapes(shapes)
    assert len(compiled.queries) > 300
    assert compile_shapes(shapes) is compiled  # compiled once per Shapes object


def test_curated_data_same_verdict_as_pyshacl(store: GraphStore, shapes: Shapes) -> None:
    _same_verdict(_both_plans(store, shapes), validate_store(store, shapes))


def test_the_world_conforms_in_the_store(ontology, world: Graph, shapes: Shapes) -> None:
    s = _store(ontology, world)
    report = _both_plans(s, shapes)
    assert report.results == (), report.to_text()
    _same_verdict(report, validate_store(s, shapes))


# ---------------------------------------------------------------- every violating fixture
def _touched(case: Case) -> set:
    """The nodes a case edits (subjects, and objects outside the ontology's vocabulary)."""
    nodes = {case.focus}
    for g in (case.add, case.remove):
        for s, p, o in g:
            nodes.add(s)
            if isinstance(o, URIRef) and p != RDF.type and not str(o).startswith(str(GP)):
                nodes.add(o)
    return nodes


def _batches(cases: list[Case]) -> list[list[Case]]:
    """Cases grouped so that the cases of a group edit disjoint sets of nodes."""
    batches: list[tuple[set, list[Case]]] = []
    for case in cases:
        nodes = _touched(case)
        for taken, members in batches:
            if not taken & nodes and all(m.graph == case.graph for m in members):
                taken |= nodes
                members.append(case)
                break
        else:
            batches.append((set(nodes), [case]))
    return [members for _taken, members in batches]


BATCHES = _batches(CASES)


def test_every_case_is_in_a_batch() -> None:
    assert sum(len(b) for b in BATCHES) == len(CASES) > 50


@pytest.mark.parametrize(
    "batch", BATCHES, ids=[f"batch{i}-{len(b)}cases" for i, b in enumerate(BATCHES)]
)
def test_violating_fixtures_same_verdict_as_pyshacl(
    batch: list[Case], ontology, world: Graph, shapes: Shapes
) -> None:
    if batch[0].graph == URIRef(ONTOLOGY_GRAPH):
        remove, add = Graph(), Graph()
        for case in batch:
            remove += case.remove
            add += case.add
        s = _store(ontology, world, (remove, add))
    else:
        edited = Graph()
        edited += world
        for case in batch:
            missing = [t for t in case.remove if t not in world]
            assert not missing, f"{case.id} removes triples that are not in the world: {missing}"
            edited -= case.remove
            edited += case.add
        s = _store(ontology, edited)
    mine = _both_plans(s, shapes)
    reference = validate_store(s, shapes)
    _same_verdict(mine, reference)
    assert not mine.conforms or all(r.severity.name != "VIOLATION" for r in mine.results)
    for case in batch:
        hits = [
            r
            for r in mine.results
            if r.focus == case.focus and r.component == case.component and r.shape == case.source
        ]
        assert hits, f"{case.id}: expected result not found in\n{mine.to_text()}"


# ---------------------------------------------------------------- graphs
def test_only_the_validated_graphs_by_default(ontology, world: Graph, shapes: Shapes) -> None:
    """Triples of the derived and inferred graphs are not validated (unless asked for)."""
    s = _store(ontology, world)
    bad = "gpd:w-core-fact-capital gp:certainty gp:Actual ."  # not a certainty value
    g = Graph().parse(data=_PROLOGUE + bad, format="turtle")
    s.replace_graphs(
        [
            graph_from_rdflib(g, INFERRED_GRAPH, "inferred"),
            graph_from_rdflib(g, DERIVED_GRAPH, "derived"),
        ]
    )
    assert INFERRED_GRAPH not in validated_graphs(s)
    assert validate_in_store(s, shapes).conforms
    every = [*validated_graphs(s), INFERRED_GRAPH]
    report = validate_in_store(s, shapes, every)
    assert not report.conforms
    assert {str(r.shape).rsplit("#", 1)[-1] for r in report.violations} == {"Statement-certainty"}
    assert validate_in_store(s, shapes, []).results == ()


# ---------------------------------------------------------------- unsupported features
_UNSUPPORTED = {
    "sh:closed": "gps:T a sh:NodeShape ; sh:targetClass gp:State ; sh:closed true .",
    "sh:equals": """gps:T a sh:NodeShape ; sh:targetClass gp:State ; sh:property gps:T-p .
        gps:T-p a sh:PropertyShape ; sh:path rdfs:label ; sh:equals skos:prefLabel .""",
    "solution modifiers": """gps:T a sh:NodeShape ; sh:targetClass gp:State ;
        sh:sparql [ a sh:SPARQLConstraint ; gps:readsFocusOnly true ;
            sh:select "SELECT $this WHERE { $this rdfs:label ?l } GROUP BY $this" ] .""",
    "sh:node": """gps:T a sh:NodeShape ; sh:targetClass gp:State ;
        sh:node [ sh:class gp:City ] .""",
    "sh:uniqueLang in a nested shape": """gps:T a sh:NodeShape ; sh:targetClass gp:State ;
        sh:or ( [ sh:path rdfs:label ; sh:uniqueLang true ] [ sh:class gp:City ] ) .""",
}


@pytest.mark.parametrize("feature", sorted(_UNSUPPORTED))
def test_an_unsupported_feature_is_an_error_naming_the_shape(
    feature: str, ontology, world: Graph
) -> None:
    g = Graph().parse(data=_PROLOGUE + _UNSUPPORTED[feature], format="turtle")
    shapes = Shapes(g)
    with pytest.raises(UnsupportedShapeError) as info:
        validate_in_store(_store(ontology, world), shapes)
    assert "gps:T" in str(info.value)


def test_a_supported_small_shape_reports_like_pyshacl(ontology, world: Graph) -> None:
    """Features the project's shapes do not use but the compiler supports."""
    text = """
    gps:T a sh:NodeShape ; sh:targetSubjectsOf gp:capital ; sh:targetNode gpd:w-core-turkey ;
        sh:property gps:T-name , gps:T-capital ; sh:message "t"@en ;
        sh:not [ sh:class gp:Person ] ; sh:and ( [ sh:nodeKind sh:IRI ] [ sh:hasValue gp:X ] ) ;
        sh:or ( [ sh:path rdfs:label ; sh:maxCount 2 ] [ sh:path skos:altLabel ; sh:minCount 3 ] ) .
    gps:T-name a sh:PropertyShape ; sh:path rdfs:label ; sh:maxLength 3 ; sh:minCount 2 ;
        sh:maxCount 2 ; sh:severity sh:Info ; sh:message "name"@en .
    gps:T-capital a sh:PropertyShape ; sh:path [ sh:zeroOrOnePath gp:capital ] ;
        sh:maxExclusive 5 ; sh:minExclusive "a" ;
        sh:or ( [ sh:in ( 1 "x" ) ] [ sh:datatype xsd:date ] ) ;
        sh:message "capital"@en .
    """
    g = Graph().parse(data=_PROLOGUE + text, format="turtle")
    shapes = Shapes(g)
    s = _store(ontology, world)
    mine = _both_plans(s, shapes)
    assert mine.results
    _same_verdict(mine, validate_store(s, shapes))
