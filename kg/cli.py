"""The ``kg`` command: load, query, export and describe the knowledge graph store."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table

from kg.errors import KGError
from kg.formats import RdfFormat
from kg.loading import load_dataset
from kg.namespaces import DERIVED_GRAPH, sparql_prologue
from kg.statistics import count_by_class, count_by_graph
from kg.store import GraphStore, open_store

app = typer.Typer(
    help="Geopolitical knowledge graph: load, query and export the store.",
    no_args_is_help=True,
    add_completion=False,
)
err = Console(stderr=True)


def _default_store() -> Path:
    env = os.environ.get("KG_STORE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "geokg" / "store"


def _default_root() -> Path:
    here = Path(__file__).resolve().parent.parent
    return here if (here / "data" / "manifest.toml").is_file() else Path.cwd()


StoreOption = Annotated[
    Path,
    typer.Option(
        "--store",
        help="Store directory (env KG_STORE; default: user data dir).",
        default_factory=_default_store,
        show_default=False,
    ),
]


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class ExportFormat(StrEnum):
    trig = "trig"
    nquads = "nquads"
    turtle = "turtle"


def _open(path: Path) -> GraphStore:
    try:
        return open_store(path)
    except KGError as exc:
        _fail(exc)


def _fail(exc: KGError) -> None:
    err.print(f"[red]error:[/red] {exc}", highlight=False, markup=True)
    raise typer.Exit(code=1)


@app.command()
def load(
    store: StoreOption,
    root: Annotated[
        Path,
        typer.Option(
            help="Project folder holding ontology/ and data/.",
            default_factory=_default_root,
            show_default=False,
        ),
    ],
) -> None:
    """Load the ontology and the curated data (atomically; loading twice changes nothing)."""
    s = _open(store)
    try:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            console=err,
            transient=True,
            disable=not err.is_terminal,
        ) as bar:
            task = bar.add_task("loading", total=None)

            def progress(desc: str, done: int, total: int) -> None:
                bar.update(task, description=desc, completed=done, total=total)

            report = load_dataset(s, root, progress)
    except KGError as exc:
        _fail(exc)
    finally:
        s.close()
    for graph, n in report.graphs.items():
        err.print(f"{n:>7}  {graph}", highlight=False)
    err.print(f"loaded {report.total} triples into {store}", highlight=False)


@app.command()
def query(
    store: StoreOption,
    sparql: Annotated[str | None, typer.Argument(help="The query text (or use --file).")] = None,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="Read the query from a file.")
    ] = None,
    output: Annotated[OutputFormat, typer.Option("--output", "-o")] = OutputFormat.table,
    asserted_only: Annotated[bool, typer.Option(help="Leave out derived triples.")] = False,
) -> None:
    """Run a SPARQL query (the standard prefixes gp:, gpd:, rdfs:, ... are predeclared)."""
    if (sparql is None) == (file is None):
        err.print("[red]error:[/red] give the query as an argument or with --file, not both")
        raise typer.Exit(code=2)
    text = sparql if sparql is not None else _read(file)
    s = _open(store)
    try:
        graphs = [g for g in s.named_graphs() if g != DERIVED_GRAPH] if asserted_only else None
        result = s.query(sparql_prologue() + text, default_graphs=graphs)
    except KGError as exc:
        _fail(exc)
    finally:
        s.close()
    _print_result(result, output)


def _read(file: Path | None) -> str:
    assert file is not None
    try:
        return file.read_text(encoding="utf-8")
    except OSError as exc:
        err.print(f"[red]error:[/red] cannot read {file}: {exc.strerror}")
        raise typer.Exit(code=2) from exc


def _print_result(result: object, output: OutputFormat) -> None:
    out = sys.stdout
    if isinstance(result, bool):
        out.write(("true" if result else "false") + "\n")
        return
    if not isinstance(result, tuple):  # a graph
        out.write(result.serialize(format="turtle"))  # type: ignore[attr-defined]
        return
    variables, rows = result
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    if output is OutputFormat.json:
        out.write(
            json.dumps(
                [dict(zip(variables, r, strict=True)) for r in cells], indent=2, ensure_ascii=False
            )
            + "\n"
        )
    elif output is OutputFormat.csv:
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(variables)
        w.writerows(cells)
        out.write(buf.getvalue())
    else:
        table = Table(*variables)
        for r in cells:
            table.add_row(*r)
        Console(width=200).print(table)
        Console(stderr=True).print(f"{len(cells)} rows")


@app.command()
def export(
    store: StoreOption,
    fmt: Annotated[ExportFormat, typer.Option("--format", "-t")] = ExportFormat.trig,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="File to write (default stdout).")
    ] = None,
) -> None:
    """Export the store: TriG or N-Quads (with graphs) or Turtle (union of all graphs)."""
    s = _open(store)
    try:
        data = s.export(RdfFormat.from_name(fmt.value))
    except KGError as exc:
        _fail(exc)
    finally:
        s.close()
    if out is None:
        sys.stdout.buffer.write(data)
    else:
        out.write_bytes(data)


@app.command()
def stats(store: StoreOption) -> None:
    """Counts of triples by named graph and of instances by class."""
    s = _open(store)
    try:
        graphs = count_by_graph(s)
        classes = count_by_class(s)
    except KGError as exc:
        _fail(exc)
    finally:
        s.close()
    console = Console(width=160)
    t = Table("graph", "triples")
    for g, n in graphs:
        t.add_row(g, str(n))
    console.print(t)
    t = Table("class", "instances")
    for c, n in classes:
        t.add_row(c, str(n))
    console.print(t)


if __name__ == "__main__":
    app()
