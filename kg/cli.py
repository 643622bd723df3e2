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

from kg._oxigraph import parse_rdf_file
from kg.errors import KGError, ValidationError
from kg.formats import RdfFormat
from kg.loading import load_dataset
from kg.manifest import read_manifest
from kg.namespaces import GRAPH, NON_ASSERTED_GRAPHS, PREFIXES, sparql_prologue
from kg.statistics import count_by_class, count_by_graph
from kg.store import GraphStore, open_store, store_location
from kg.validation import (
    Change,
    ValidationReport,
    graph_labels,
    labels_for,
    load_shapes,
    validate_change,
    validate_graph,
    validate_store,
)

app = typer.Typer(
    help="Geopolitical knowledge graph: load, query and export the store.",
    no_args_is_help=True,
    add_completion=False,
)
err = Console(stderr=True)


def _default_store() -> str:
    env = os.environ.get("KG_STORE")
    if env:
        return env  # a path or a URL
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(base) / "geokg" / "store")


def _default_root() -> Path:
    here = Path(__file__).resolve().parent.parent
    return here if (here / "data" / "manifest.toml").is_file() else Path.cwd()


StoreOption = Annotated[
    str,
    typer.Option(
        "--store",
        help="Store directory, or the SPARQL query URL of an external store (env KG_STORE; "
        "default: user data dir; an external store's other settings: KG_STORE_* variables).",
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


def _open(location: str) -> GraphStore:
    try:
        return open_store(store_location(location))
    except KGError as exc:
        _fail(exc)


def _fail(exc: KGError) -> None:
    err.print(f"[red]error:[/red] {exc}", highlight=False, markup=True)
    if isinstance(exc, ValidationError):
        err.print(exc.report.to_text(), highlight=False, markup=False)
    raise typer.Exit(code=1)


RootOption = Annotated[
    Path,
    typer.Option(
        help="Project folder holding ontology/, shapes/ and data/.",
        default_factory=lambda: _default_root(),
        show_default=False,
    ),
]


@app.command()
def load(
    store: StoreOption,
    root: RootOption,
    bulk: Annotated[
        list[Path] | None,
        typer.Option(
            "--bulk",
            help="A big RDF file (N-Triples, Turtle...; no blank nodes) to load with the "
            "bulk loader into --bulk-graph, besides the ontology and curated data; "
            "repeatable. The store is rebuilt beside the old one and swapped in.",
        ),
    ] = None,
    bulk_graph: Annotated[
        str | None,
        typer.Option(help="Named graph of the --bulk files [https://w3id.org/geokg/graph/bulk]."),
    ] = None,
) -> None:
    """Load the ontology and the curated data, validated against the shapes.

    Atomic: a syntax error or a SHACL violation leaves the store as it was. Loading
    twice changes nothing. With --bulk, big files too (kg.bulk): the new store is built
    and checked beside the old one, then swapped in; the server must not be running on it.
    Bulk graphs are file graphs: a later load that does not name the file drops its graph.
    """
    if bulk:
        _load_bulk(store, root, bulk, bulk_graph)
        return
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
    err.print(f"validation: {report.validation.summary()}", highlight=False)
    for w in report.validation.warnings:
        err.print(f"  warning: {w.focus} {w.message}", highlight=False)
    if report.inference is not None:
        err.print(
            f"inferred {report.inference.inferred} triples (OWL 2 RL) "
            f"in {report.inference.seconds:.1f} s",
            highlight=False,
        )


def _load_bulk(store: Path, root: Path, files: list[Path], graph: str | None) -> None:
    """``kg load --bulk``: :func:`kg.bulk.bulk_load`, with a progress bar and the report."""
    from kg.bulk import DEFAULT_BULK_GRAPH, bulk_load

    if "://" in str(store):
        err.print("[red]error:[/red] --bulk builds an embedded store: give its directory")
        raise typer.Exit(code=2)
    store = Path(store)
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

            report = bulk_load(
                store, files, graph or DEFAULT_BULK_GRAPH, root=root, progress=progress
            )
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(code=2) from exc
    except KGError as exc:
        _fail(exc)
    for g, n in report.graphs.items():
        err.print(f"{n:>9}  {g}", highlight=False)
    err.print(
        f"loaded {report.total} triples into {store} ({report.bulk_triples} from "
        f"{len(files)} bulk file{'s' if len(files) != 1 else ''} into {report.bulk_graph})",
        highlight=False,
    )
    for g in report.kept:
        err.print(f"  kept from the old store: {g}", highlight=False)
    for g in report.dropped:
        err.print(f"  dropped (a file graph this load does not name): {g}", highlight=False)
    err.print(f"validation ({report.validator}): {report.validation.summary()}", highlight=False)
    for w in report.validation.warnings:
        err.print(f"  warning: {w.focus} {w.message}", highlight=False)
    if report.inference is not None:
        err.print(f"inferred {report.inference.inferred} triples (OWL 2 RL)", highlight=False)
    err.print(
        "phases: " + ", ".join(f"{k} {v:.1f} s" for k, v in report.phases.items()),
        highlight=False,
    )


class ReportFormat(StrEnum):
    text = "text"
    turtle = "turtle"
    jsonld = "jsonld"


@app.command()
def validate(
    store: StoreOption,
    root: RootOption,
    files: Annotated[
        list[Path] | None,
        typer.Argument(help="RDF files to validate (Turtle, TriG, N-Triples, N-Quads...)."),
    ] = None,
    against_store: Annotated[
        bool,
        typer.Option(
            help="Validate the files as an addition to the store (incrementally), "
            "instead of on their own with the ontology."
        ),
    ] = False,
    fmt: Annotated[ReportFormat, typer.Option("--format", "-t")] = ReportFormat.text,
) -> None:
    """Validate the store, or FILES, against the SHACL shapes; exit 1 on violations."""
    try:
        shapes = load_shapes(root)
        if not files:
            s = _open(store)
            try:
                report = validate_store(s, shapes)
                labels = labels_for(s, _nodes(report))
            finally:
                s.close()
        elif against_store:
            change = Change.of(add=_file_quads(files))
            s = _open(store)
            try:
                report = validate_change(s, change, shapes)
                labels = labels_for(s, _nodes(report))
            finally:
                s.close()
        else:
            data = _file_graph([f.path for f in read_manifest(root).ontology] + list(files))
            report = validate_graph(data, shapes)
            labels = graph_labels(data, _nodes(report))
    except KGError as exc:
        _fail(exc)
    if fmt is ReportFormat.text:
        sys.stdout.write(report.to_text(labels))
    else:
        sys.stdout.write(report.serialize(RdfFormat.from_name(fmt.value)))
    raise typer.Exit(code=0 if report.conforms else 1)


def _nodes(report: ValidationReport) -> list:
    return [r.focus for r in report.results] + [r.value for r in report.results if r.value]


def _file_format(path: Path) -> RdfFormat:
    try:
        return RdfFormat.from_name(path.suffix.lstrip(".") or "ttl")
    except ValueError:
        return RdfFormat.TURTLE


def _file_graph(paths: list[Path]):
    from rdflib import Graph

    g = Graph()
    for path in paths:
        g += parse_rdf_file(path, str(GRAPH["validate"]), _file_format(path)).to_rdflib()
    return g


def _file_quads(paths: list[Path]) -> list:
    from rdflib import URIRef

    quads = []
    for path in paths:
        graph = URIRef(GRAPH["validate/" + path.stem])
        for s, p, o in parse_rdf_file(path, str(graph), _file_format(path)).to_rdflib():
            quads.append((s, p, o, graph))
    return quads


@app.command()
def query(
    store: StoreOption,
    sparql: Annotated[str | None, typer.Argument(help="The query text (or use --file).")] = None,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="Read the query from a file.")
    ] = None,
    output: Annotated[OutputFormat, typer.Option("--output", "-o")] = OutputFormat.table,
    asserted_only: Annotated[
        bool,
        typer.Option(help="Only stated triples: leave out derived shortcuts and inferences."),
    ] = False,
) -> None:
    """Run a SPARQL query (the standard prefixes gp:, gpd:, rdfs:, ... are predeclared)."""
    if (sparql is None) == (file is None):
        err.print("[red]error:[/red] give the query as an argument or with --file, not both")
        raise typer.Exit(code=2)
    text = sparql if sparql is not None else _read(file)
    s = _open(store)
    try:
        graphs = (
            [g for g in s.named_graphs() if g not in NON_ASSERTED_GRAPHS] if asserted_only else None
        )
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


@app.command()
def reason(
    store: StoreOption,
    check: Annotated[
        bool, typer.Option(help="Run the HermiT consistency check (slow on big stores).")
    ] = True,
) -> None:
    """Recompute the inferred graph (OWL 2 RL) and check consistency with HermiT.

    Exits with status 1 if the ontology and data are inconsistent or a class is
    unsatisfiable, and says why: the axioms and stated triples involved.
    """
    from kg import reasoning
    from kg._oxigraph import OxigraphStore
    from kg.consistency import check as check_consistency
    from kg.consistency import label_of

    s = _open(store)
    try:
        assert isinstance(s, OxigraphStore)
        rules = reasoning.rules_of(s.raw)
        stats = reasoning.materialise(s.raw, rules)
        s.flush()
        err.print(
            f"inferred graph: {stats.inferred} triples in {stats.seconds:.2f} s "
            f"({stats.rounds} rounds of the property rules)",
            highlight=False,
        )
        for note in stats.unsupported:
            err.print(f"  not applied: {note}", highlight=False)
        if not check:
            return
        result = check_consistency(s, rules)
        sys.stdout.write(result.to_text(label_of(s.raw)) + "\n")
        err.print(f"consistency check: {result.seconds:.1f} s", highlight=False)
    except KGError as exc:
        _fail(exc)
    finally:
        s.close()
    if not result.ok:
        raise typer.Exit(code=1)


def _parse_term(text: str, position: str) -> object:
    import pyoxigraph as ox

    if position == "predicate" and text == "a":
        return ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
    if text.startswith("<") and text.endswith(">"):
        return ox.NamedNode(text[1:-1])
    prefix, colon, local = text.partition(":")
    if colon and prefix in PREFIXES and "/" not in local:
        return ox.NamedNode(PREFIXES[prefix] + local)
    if text.startswith(("http://", "https://")):
        return ox.NamedNode(text)
    err.print(
        f"[red]error:[/red] the {position} {text!r} is not an IRI: write <iri>, a full "
        "http(s) IRI or a prefixed name such as gpd:turkey (and `a` for rdf:type)"
    )
    raise typer.Exit(code=2)


@app.command()
def explain(
    store: StoreOption,
    subject: Annotated[str, typer.Argument(help="e.g. gpd:s-400")],
    predicate: Annotated[str, typer.Argument(help="e.g. a, or gp:locatedIn")],
    obj: Annotated[str, typer.Argument(metavar="OBJECT", help="e.g. gp:AirDefenceSystem")],
) -> None:
    """Say why a triple holds: the rules, axioms and stated triples that give it."""
    from kg import reasoning
    from kg._oxigraph import OxigraphStore
    from kg.consistency import label_of

    t = (
        _parse_term(subject, "subject"),
        _parse_term(predicate, "predicate"),
        _parse_term(obj, "object"),
    )
    s = _open(store)
    try:
        assert isinstance(s, OxigraphStore)
        why = reasoning.explain(s.raw, t)
        text = "\n".join(why.lines(label_of(s.raw))) if why else None
    except KGError as exc:
        _fail(exc)
    finally:
        s.close()
    if text is None:
        err.print("the store neither states nor infers this triple", highlight=False)
        raise typer.Exit(code=1)
    sys.stdout.write(text + "\n")
