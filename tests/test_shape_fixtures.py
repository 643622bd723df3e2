"""Every shape has a conforming and a violating fixture.

The conforming fixtures are a small world (``tests/fixtures/shapes/world_*.ttl``) in
which every shape has at least one focus node, and which conforms with no result at
all. The violating fixtures are edits of that world (``cases_*.toml``): each removes
and adds a few triples and names the focus node, the constraint component and the shape
that must report it. Each case is checked by full and by incremental validation.

The full validation of each case is the in-store validator's (kg.shacl_sparql): pyshacl
over the whole world took about 1.4 s a case, two thirds of this suite's time in CI.
That the in-store validator reports what pyshacl reports, on every one of these cases
(applied in batches), is tests/test_validation_in_store.py's check; and the incremental
validation checked here is pyshacl's, so both validators meet every case.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox
import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF, SH

from kg._oxigraph import _to_ox, graph_from_rdflib, to_rdflib
from kg.loading import parse_dataset
from kg.manifest import read_manifest
from kg.namespaces import GRAPH, ONTOLOGY_GRAPH, PREFIXES
from kg.store import GraphStore, open_store
from kg.validation import (
    Change,
    Shapes,
    store_graph,
    validate_change,
    validate_in_store,
    validate_store,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "shapes"
WORLD_GRAPH = URIRef(GRAPH["test/world"])
_PROLOGUE = "".join(f"@prefix {p}: <{iri}> .\n" for p, iri in PREFIXES.items())


def _expand(curie: str) -> URIRef:
    prefix, local = curie.split(":", 1)
    return URIRef(PREFIXES[prefix] + local)


def _triples(snippet: str) -> Graph:
    return Graph().parse(data=_PROLOGUE + snippet, format="turtle")


@dataclass(frozen=True)
class Case:
    file: str
    name: str
    shape: URIRef
    source: URIRef
    focus: URIRef
    component: URIRef
    add: Graph
    remove: Graph
    graph: URIRef

    @property
    def id(self) -> str:
        return f"{self.file}:{self.name}"


def _cases() -> list[Case]:
    out = []
    for path in sorted(FIXTURES.glob("cases_*.toml")):
        for c in tomllib.loads(path.read_text(encoding="utf-8")).get("case", []):
            graph = c.get("graph", "world")
            out.append(
                Case(
                    file=path.stem,
                    name=c["name"],
                    shape=_expand(c["shape"]),
                    source=_expand(c.get("source", c["shape"])),
                    focus=_expand(c["focus"]),
                    component=_expand(c["component"]),
                    add=_triples(c.get("add", "")),
                    remove=_triples(c.get("remove", "")),
                    graph=URIRef(ONTOLOGY_GRAPH) if graph == "ontology" else WORLD_GRAPH,
                )
            )
    return out


CASES = _cases()


@pytest.fixture(scope="module")
def world() -> Graph:
    g = Graph()
    for path in sorted(FIXTURES.glob("world_*.ttl")):
        g.parse(path, format="turtle")
    return g


@pytest.fixture(scope="module")
def world_store(root: Path, world: Graph) -> GraphStore:
    """The ontology and the fixture world, in a store of their own."""
    s = open_store(None)
    ontology = [g for g in parse_dataset(read_manifest(root)) if g.graph_iri == ONTOLOGY_GRAPH]
    s.replace_graphs([*ontology, graph_from_rdflib(world, str(WORLD_GRAPH), "fixture world")])
    return s


def test_fixtures_exist() -> None:
    assert list(FIXTURES.glob("world_*.ttl")), "no fixture world"
    assert len(CASES) > 50


def test_the_world_conforms_without_any_result(world_store: GraphStore, shapes: Shapes) -> None:
    report = validate_store(world_store, shapes)
    assert report.results == (), report.to_text()


def _focus_nodes(store: GraphStore, shapes: Shapes, shape: URIRef) -> set:
    g = shapes.graph
    found: set = set()
    for cls in g.objects(shape, SH.targetClass):
        _v, rows = store.query(
            f"SELECT ?x WHERE {{ ?x a/<http://www.w3.org/2000/01/rdf-schema#subClassOf>* <{cls}> }}"
        )
        found |= {r[0] for r in rows}
    for p in g.objects(shape, SH.targetSubjectsOf):
        _v, rows = store.query(f"SELECT ?x WHERE {{ ?x <{p}> ?o }}")
        found |= {r[0] for r in rows}
    for p in g.objects(shape, SH.targetObjectsOf):
        _v, rows = store.query(f"SELECT ?x WHERE {{ ?s <{p}> ?x }}")
        found |= {r[0] for r in rows}
    return found


def _node_shapes(shapes: Shapes) -> list[URIRef]:
    return [s for s in shapes.node_shapes if isinstance(s, URIRef)]


def _named_property_shapes(shapes: Shapes) -> list[URIRef]:
    return sorted(
        {p for p in shapes.graph.objects(None, SH.property) if isinstance(p, URIRef)}, key=str
    )


def test_every_node_shape_has_a_conforming_focus_node(
    world_store: GraphStore, shapes: Shapes
) -> None:
    empty = [
        s.split("#")[-1] for s in _node_shapes(shapes) if not _focus_nodes(world_store, shapes, s)
    ]
    assert not empty, f"shapes without a focus node in the fixture world: {empty}"


def test_every_shape_has_a_violating_case(shapes: Shapes) -> None:
    covered = {c.shape for c in CASES} | {c.source for c in CASES}
    missing = [
        s.split("#")[-1]
        for s in _node_shapes(shapes) + _named_property_shapes(shapes)
        if s not in covered
    ]
    assert not missing, f"shapes without a violating case: {missing}"


def test_every_case_names_a_shape_that_exists(shapes: Shapes) -> None:
    for case in CASES:
        assert (case.shape, RDF.type, SH.NodeShape) in shapes.graph, case.id
        assert (case.source, None, None) in shapes.graph, case.id


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_violating_case_is_reported(case: Case, world_store: GraphStore, shapes: Shapes) -> None:
    change = Change.of(
        add=[(s, p, o, case.graph) for s, p, o in case.add],
        remove=[(s, p, o, case.graph) for s, p, o in case.remove],
    )
    missing = [
        (s, p, o) for s, p, o, g in change.remove if (s, p, o) not in _world_view(world_store)
    ]
    assert not missing, f"the case removes triples that are not in the world: {missing}"
    incremental = validate_change(world_store, change, shapes)
    post = store_graph(world_store)
    for s, p, o, _g in change.remove:
        post.remove((s, p, o))
    for s, p, o, _g in change.add:
        post.add((s, p, o))
    # The world with the case applied, as one graph (terms as written: a store fed SPARQL
    # Update would canonicalise "12.0"^^xsd:decimal, and the reports name values as given).
    after = open_store(None)
    after.replace_graphs([graph_from_rdflib(post, str(WORLD_GRAPH), "the case applied")])
    full = validate_in_store(after, shapes)
    for report in (incremental, full):
        hits = [
            r
            for r in report.results
            if r.focus == case.focus and r.component == case.component and r.shape == case.source
        ]
        assert hits, f"{case.id}: expected result not found in\n{report.to_text()}"
    mine = _stored_keys(incremental.results)
    focus = {r.focus for r in incremental.results}
    affected_full = _stored_keys(r for r in full.results if r.focus in focus)
    assert mine <= _stored_keys(full.results)
    assert mine == affected_full


def _stored_keys(results) -> set[tuple[str, ...]]:
    """Result keys with each value as a store holds it: the incremental report names a
    value as the change wrote it, the full one (validated in a store) as stored, and the
    store canonicalises literals ("12.0"^^xsd:decimal is "12"^^xsd:decimal)."""
    keys = set()
    for r in results:
        key = list(r.key)
        if isinstance(r.value, Literal):
            scratch = ox.Store()
            node = ox.NamedNode("urn:x-test:n")
            scratch.add(ox.Quad(node, node, _to_ox(r.value), node))
            key[2] = to_rdflib(next(iter(scratch)).object).n3()
        keys.add(tuple(key))
    return keys


_VIEW: dict[int, Graph] = {}


def _world_view(store: GraphStore) -> Graph:
    if id(store) not in _VIEW:
        _VIEW[id(store)] = store_graph(store)
    return _VIEW[id(store)]
