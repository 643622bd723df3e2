"""Loading is atomic (a broken file leaves the store as it was), idempotent, and strict
about the manifest."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kg.errors import ManifestError, RDFSyntaxError
from kg.formats import RdfFormat
from kg.loading import load_dataset
from kg.namespaces import DERIVED_GRAPH, ONTOLOGY_GRAPH, graph_iri
from kg.store import GraphStore, Location, open_store
from kg.validation import Shapes
from tests.backends import Backend


@pytest.fixture
def project(tmp_path: Path, root: Path) -> Path:
    """A copy of the project's ontology and data that a test may break."""
    shutil.copytree(root / "ontology", tmp_path / "ontology")
    shutil.copytree(root / "data", tmp_path / "data")
    shutil.copytree(root / "shapes", tmp_path / "shapes")
    return tmp_path


pytestmark = pytest.mark.backends


@pytest.fixture
def store(backend_store: GraphStore) -> GraphStore:
    """The curated data on each backend in turn."""
    return backend_store


@pytest.fixture
def empty(backend: Backend, tmp_path: Path) -> Location:
    """Where an empty store of the backend is (a directory, or the emptied engine)."""
    return backend.empty(tmp_path)


def _quads(store) -> set[str]:
    return set(store.export(RdfFormat.NQUADS).decode().splitlines())


def test_load_writes_every_listed_graph(store) -> None:
    graphs = store.named_graphs()
    for name in (
        "ontology",
        "entities",
        "sources",
        "article/000",
        "article/002",
        "article/003",
        "article/004",
        "derived",
        "load",
    ):
        assert graph_iri(name) in graphs
    assert store.count(ONTOLOGY_GRAPH) > 2000
    assert store.count(DERIVED_GRAPH) > 100


def test_loading_twice_gives_the_same_store(
    empty: Location, project: Path, tmp_path: Path, shapes: Shapes
) -> None:
    s = open_store(empty)
    load_dataset(s, project, shapes=shapes)
    first = _quads(s)
    load_dataset(s, project, shapes=shapes)
    assert _quads(s) == first
    assert len(first) > 3000


def test_a_broken_file_is_reported_with_line_and_column_and_changes_nothing(
    empty: Location, project: Path, tmp_path: Path, shapes: Shapes
) -> None:
    s = open_store(empty)
    load_dataset(s, project, shapes=shapes)
    before = _quads(s)
    broken = project / "data" / "articles" / "a003.ttl"
    lines = broken.read_text(encoding="utf-8").splitlines()
    lines.insert(20, 'gpd:x gp:y "unterminated .')
    broken.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (project / "data" / "entities.ttl").write_text(
        (project / "data" / "entities.ttl").read_text(encoding="utf-8")
        + '\ngpd:new-thing a gp:State ; rdfs:label "New"@en .\n',
        encoding="utf-8",
    )
    with pytest.raises(RDFSyntaxError) as info:
        load_dataset(s, project, shapes=shapes)
    assert info.value.path == broken
    assert info.value.line is not None and info.value.line >= 21
    assert info.value.column is not None
    assert _quads(s) == before  # the valid change to entities.ttl was not written either


def test_an_unlisted_data_file_is_an_error(empty: Location, project: Path) -> None:
    (project / "data" / "articles" / "a999.ttl").write_text("<a:b> <a:c> <a:d> .\n")
    with pytest.raises(ManifestError, match="not listed"):
        load_dataset(open_store(empty), project)


def test_a_missing_or_empty_listed_file_is_an_error(empty: Location, project: Path) -> None:
    target = project / "data" / "articles" / "a002.ttl"
    target.write_text("")
    with pytest.raises(ManifestError, match="empty"):
        load_dataset(open_store(empty), project)
    target.unlink()
    with pytest.raises(ManifestError, match="missing"):
        load_dataset(open_store(empty), project)


def test_an_ontology_module_missing_from_the_catalog_is_an_error(
    empty: Location, project: Path
) -> None:
    (project / "ontology" / "modules" / "extra.ttl").write_text("<a:b> <a:c> <a:d> .\n")
    with pytest.raises(ManifestError, match="catalog"):
        load_dataset(open_store(empty), project)


def test_the_store_survives_reopening(
    empty: Location, project: Path, tmp_path: Path, shapes: Shapes
) -> None:
    s = open_store(empty)
    load_dataset(s, project, shapes=shapes)
    n = s.count()
    s.close()
    again = open_store(empty)
    assert again.count() == n


def test_a_reload_drops_unlisted_files_but_keeps_what_was_written_through_the_server(
    empty: Location, project: Path, shapes: Shapes
) -> None:
    import pyoxigraph as ox

    from kg.namespaces import API_GRAPH, CHANGES_GRAPH

    manifest = project / "data" / "manifest.toml"
    original = manifest.read_text()
    (project / "data" / "extra.ttl").write_text(
        "<https://w3id.org/geokg/id/turkey> <http://www.w3.org/2004/02/skos/core#altLabel> "
        '"Türkiye"@en .\n'
    )
    manifest.write_text(
        original + '\n[[file]]\npath = "extra.ttl"\ngraph = "extra"\nkind = "registry"\n'
    )
    store = open_store(empty)
    load_dataset(store, project, shapes=shapes)
    assert graph_iri("extra") in store.named_graphs()
    # a write through the server: a change record and a graph uploaded by a user
    for graph in (CHANGES_GRAPH, API_GRAPH, graph_iri("uploads/mine")):
        store.raw.add(
            ox.Quad(
                ox.NamedNode("https://w3id.org/geokg/id/x"),
                ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label"),
                ox.Literal("kept"),
                ox.NamedNode(graph),
            )
        )
    # the next load's manifest no longer lists the extra file
    manifest.write_text(original)
    (project / "data" / "extra.ttl").unlink()
    load_dataset(store, project, shapes=shapes)
    graphs = store.named_graphs()
    assert graph_iri("extra") not in graphs
    assert {CHANGES_GRAPH, API_GRAPH, graph_iri("uploads/mine")} <= set(graphs)
