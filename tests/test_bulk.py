"""Bulk loading (kg.bulk): a new store built beside the live one, gated, then swapped in."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.generate import ID, write
from kg._oxigraph import OxigraphStore
from kg.bulk import bulk_load
from kg.cli import app
from kg.errors import RDFSyntaxError, StoreError, ValidationError
from kg.formats import RdfFormat
from kg.namespaces import (
    API_GRAPH,
    DERIVED_GRAPH,
    INFERRED_GRAPH,
    LOAD_GRAPH,
    ONTOLOGY_GRAPH,
    graph_iri,
)
from kg.validation import Shapes

BULK = "https://w3id.org/geokg/graph/bench/synthetic"
GP = "https://w3id.org/geokg/ontology#"


def _quads(path: Path) -> set[str]:
    store = OxigraphStore.open_read_only(path)
    try:
        return set(store.export(RdfFormat.NQUADS).decode().splitlines())
    finally:
        del store


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bulk") / "small.nt"
    write(path, 2500)
    return path


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory, data: Path, root: Path, shapes: Shapes):
    """A store bulk-loaded once (read it, or copy it to change it), and the report."""
    path = tmp_path_factory.mktemp("bulk-store") / "store"
    report = bulk_load(path, [data], BULK, root=root, shapes=shapes)
    return path, report


def test_a_bulk_file_is_loaded_gated_derived_and_inferred(loaded, data: Path) -> None:
    path, report = loaded
    lines = sum(1 for _ in data.open())
    assert report.bulk_triples == lines
    assert report.validation.conforms
    assert set(report.phases) == {
        "write",
        "gate",
        "derive",
        "describe",
        "infer",
        "compact",
        "swap",
    }
    assert not any(p.name.startswith(".store.bulk") for p in path.parent.iterdir())
    store = OxigraphStore.open_read_only(path)
    graphs = store.named_graphs()
    for g in (ONTOLOGY_GRAPH, graph_iri("entities"), BULK, DERIVED_GRAPH, INFERRED_GRAPH):
        assert g in graphs
    assert report.graphs[BULK] == store.count(BULK)
    # Queryable: a shortcut from an office holding of the bulk file, and an inference from
    # it (gp:holdsOffice has a domain: the holder is typed by the reasoner).
    person, office = f"<{ID}person-3>", f"<{ID}office-3>"
    assert store.query(
        f"ASK {{ GRAPH <{DERIVED_GRAPH}> {{ {person} <{GP}holdsOffice> {office} }} }}"
    )
    assert store.query(
        f"ASK {{ GRAPH <{INFERRED_GRAPH}> {{ <{ID}weapon-0> a <{GP}AirDefenceSystem> }} }}"
    )
    # The load graph describes the bulk file like a manifest file, with its digest.
    _vars, rows = store.query(
        f"SELECT ?n ?note WHERE {{ GRAPH <{LOAD_GRAPH}> {{ <{BULK}> "
        "<http://rdfs.org/ns/void#triples> ?n ; <https://w3id.org/geokg/ontology#note> ?note }}"
    )
    assert int(rows[0][0]) == lines and "sha256" in str(rows[0][1])


def test_a_rerun_gives_the_same_store_and_keeps_what_the_server_wrote(
    loaded, data: Path, root: Path, shapes: Shapes, tmp_path: Path
) -> None:
    path, _ = loaded
    copy = tmp_path / "store"
    shutil.copytree(path, copy)
    store = OxigraphStore(copy)
    store.update(f"INSERT DATA {{ GRAPH <{API_GRAPH}> {{ <{ID}state-1> <{GP}note> 'kept' }} }}")
    store.close()
    before = _quads(copy)
    # Through the command line this time: `kg load --bulk`.
    out = CliRunner().invoke(
        app,
        [
            "load",
            "--store",
            str(copy),
            "--root",
            str(root),
            "--bulk",
            str(data),
            "--bulk-graph",
            BULK,
        ],
    )
    assert out.exit_code == 0, out.output
    assert "kept from the old store" in out.output
    assert _quads(copy) == before


def test_a_file_violating_the_shapes_leaves_the_store_as_it_was(
    loaded, data: Path, root: Path, shapes: Shapes, tmp_path: Path
) -> None:
    path, _ = loaded
    copy = tmp_path / "store"
    shutil.copytree(path, copy)
    before = _quads(copy)
    bad = tmp_path / "bad.nt"
    shutil.copy(data, bad)
    with bad.open("a") as f:  # a holder must be a person, not a state
        f.write(f"<{ID}holding-0> <{GP}holder> <{ID}state-0> .\n")
    with pytest.raises(ValidationError) as caught:
        bulk_load(copy, [bad], BULK, root=root, shapes=shapes)
    assert any(str(r.focus) == f"{ID}holding-0" for r in caught.value.report.violations)
    assert _quads(copy) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.nt", "store"]


def test_a_syntax_error_names_file_and_line(root: Path, shapes: Shapes, tmp_path: Path) -> None:
    bad = tmp_path / "broken.nt"
    bad.write_text(
        f'<{ID}state-0> <http://www.w3.org/2000/01/rdf-schema#label> "A"@en .\n'
        f'<{ID}state-0> <http://www.w3.org/2000/01/rdf-schema#label> "B"@en .\n'
        f'<{ID}state-0> <http://www.w3.org/2000/01/rdf-schema#label> "C .\n'
    )
    with pytest.raises(RDFSyntaxError) as caught:
        bulk_load(tmp_path / "store", [bad], BULK, root=root, shapes=shapes)
    assert caught.value.path == bad and caught.value.line == 3
    assert f"{bad}:3" in str(caught.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.nt"]


def test_a_blank_node_is_refused_with_its_line(root: Path, shapes: Shapes, tmp_path: Path) -> None:
    bad = tmp_path / "blank.nt"
    bad.write_text(
        f'<{ID}state-0> <{GP}note> "not a _:blank node"@en .\n<{ID}state-0> <{GP}note> _:b0 .\n'
    )
    with pytest.raises(RDFSyntaxError, match="blank node") as caught:
        bulk_load(tmp_path / "store", [bad], BULK, root=root, shapes=shapes)
    assert caught.value.line == 2


def test_a_store_open_in_another_process_is_refused_untouched(
    loaded, data: Path, root: Path, shapes: Shapes, tmp_path: Path
) -> None:
    path, _ = loaded
    copy = tmp_path / "store"
    shutil.copytree(path, copy)
    before = _quads(copy)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, pyoxigraph; s = pyoxigraph.Store(sys.argv[1]); print('open', flush=True);"
            " sys.stdin.read()",
            str(copy),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        with pytest.raises(StoreError, match="another process has it open"):
            bulk_load(copy, [data], BULK, root=root, shapes=shapes)
        out = CliRunner().invoke(
            app, ["load", "--store", str(copy), "--root", str(root), "--bulk", str(data)]
        )
        assert out.exit_code == 1
        assert "another process has it open" in " ".join(out.output.split())
    finally:
        holder.communicate("", timeout=30)
    assert _quads(copy) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]


def test_a_directory_that_is_not_a_store_is_not_replaced(
    data: Path, root: Path, shapes: Shapes, tmp_path: Path
) -> None:
    target = tmp_path / "store"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(StoreError, match="not a store"):
        bulk_load(target, [data], BULK, root=root, shapes=shapes)
    assert (target / "notes.txt").read_text() == "mine"


def test_a_bulk_load_already_building_is_left_alone(
    data: Path, root: Path, shapes: Shapes, tmp_path: Path
) -> None:
    staging = tmp_path / ".store.bulk-staging"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, pyoxigraph; s = pyoxigraph.Store(sys.argv[1]); print('open', flush=True);"
            " sys.stdin.read()",
            str(staging),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        with pytest.raises(StoreError, match="another process has it open"):
            bulk_load(tmp_path / "store", [data], BULK, root=root, shapes=shapes)
        assert (staging / "CURRENT").is_file()
    finally:
        holder.communicate("", timeout=30)
    assert not (tmp_path / "store").exists()


def test_the_derived_graph_is_what_the_write_path_derives(loaded, tmp_path: Path) -> None:
    from kg.derivation import derivation_update
    from kg.namespaces import NON_ASSERTED_GRAPHS

    path, _ = loaded
    copy = tmp_path / "store"
    shutil.copytree(path, copy)
    store = OxigraphStore(copy)
    try:
        bulk = set(store.export(RdfFormat.NTRIPLES, DERIVED_GRAPH).decode().splitlines())
        store.update(
            derivation_update(g for g in store.named_graphs() if g not in NON_ASSERTED_GRAPHS)
        )
        again = set(store.export(RdfFormat.NTRIPLES, DERIVED_GRAPH).decode().splitlines())
    finally:
        store.close()
    assert len(bulk) > 100
    assert bulk == again
