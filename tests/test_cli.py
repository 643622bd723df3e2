"""The kg command: load, query (table, JSON, CSV), export and stats against one --store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rdflib import Dataset, Graph
from typer.testing import CliRunner

from kg.cli import app

runner = CliRunner()


def test_query_as_json_and_csv(store_path: Path) -> None:
    q = "SELECT ?l WHERE { gpd:s-400 rdfs:label ?l }"
    out = runner.invoke(app, ["query", "--store", str(store_path), "-o", "json", q])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout) == [{"l": "S-400"}]
    out = runner.invoke(app, ["query", "--store", str(store_path), "-o", "csv", q])
    assert out.stdout.splitlines() == ["l", "S-400"]


def test_query_from_file_and_table_output(store_path: Path, tmp_path: Path) -> None:
    f = tmp_path / "q.rq"
    f.write_text("SELECT ?x WHERE { ?x a gp:StealthFighter }")
    out = runner.invoke(app, ["query", "--store", str(store_path), "--file", str(f)])
    assert out.exit_code == 0
    assert "f-35" in out.stdout


def test_a_malformed_query_exits_non_zero_with_a_message(store_path: Path) -> None:
    out = runner.invoke(app, ["query", "--store", str(store_path), "SELECT ?x WHERE { ?x"])
    assert out.exit_code == 1
    assert "syntax" in out.output.lower()


def test_asserted_only_leaves_out_derived_triples(store_path: Path) -> None:
    q = "ASK { ?p gp:holdsOffice ?o }"
    assert runner.invoke(app, ["query", "--store", str(store_path), q]).stdout.strip() == "true"
    out = runner.invoke(app, ["query", "--store", str(store_path), "--asserted-only", q])
    assert out.stdout.strip() == "false"


@pytest.mark.parametrize(
    ("fmt", "kind"), [("trig", "trig"), ("nquads", "nquads"), ("turtle", "turtle")]
)
def test_export_round_trips(store_path: Path, tmp_path: Path, fmt: str, kind: str) -> None:
    out = tmp_path / f"dump.{fmt}"
    result = runner.invoke(
        app, ["export", "--store", str(store_path), "--format", fmt, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    if kind == "turtle":
        assert len(Graph().parse(out, format="turtle")) > 3000
    else:
        ds = Dataset()
        ds.parse(out, format=kind)
        assert len(list(ds.graphs())) >= 9


def test_stats_lists_graphs_and_classes(store_path: Path) -> None:
    out = runner.invoke(app, ["stats", "--store", str(store_path)])
    assert out.exit_code == 0
    assert "graph/derived" in out.stdout and "ontology#Event" in out.stdout


def test_a_store_open_elsewhere_is_named_as_such(store_path: Path, tmp_path: Path) -> None:
    import shutil
    import subprocess
    import sys

    copy = tmp_path / "store"
    shutil.copytree(store_path, copy)
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
        out = runner.invoke(app, ["stats", "--store", str(copy)])
        assert out.exit_code != 0
        assert "another process has it open" in " ".join(out.output.split())
    finally:
        holder.communicate("", timeout=30)
