"""Benchmark: full SHACL validation against incremental validation of a small change.

For each size, a synthetic graph (bench.generate, fixed seed) is loaded with the
ontology into an in-memory store. Then, in the same run:

- full validation of the store (pyshacl over everything, the reference);
- incremental validation (kg.validation.validate_change) of a 100-triple change that
  touches 10 existing nodes (10 triples added to each of 10 meetings), repeated and
  reported as the median, plus the same change with one bad triple (it must fail).

The figures go to bench/results/validation-<size>.json and the ratio full/incremental
is printed. Targets (issue 3): incremental under 0.2 s at 1M triples, and at least 500
times faster than full validation in the same run.

    python -m bench.validation --triples 100000 1000000
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import tempfile
import time
from pathlib import Path

from rdflib import Literal, URIRef
from rdflib.namespace import XSD

from bench.generate import ID, write
from kg._oxigraph import parse_rdf_file
from kg.formats import RdfFormat
from kg.loading import parse_dataset
from kg.manifest import read_manifest
from kg.namespaces import GP, GRAPH, ONTOLOGY_GRAPH
from kg.store import open_store
from kg.validation import Change, load_shapes, validate_change, validate_store

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def _change(graph: URIRef, clusters: int, bad: bool = False) -> Change:
    add = []
    for k in range(10):
        c = (k * 7919) % clusters
        node = URIRef(f"{ID}meeting-{c}")
        other = URIRef(f"{ID}state-{(c + 2) % clusters}")
        third = URIRef(f"{ID}state-{(c + 3) % clusters}")
        add += [
            (node, GP.note, Literal(f"checked {k}", lang="en"), graph),
            (node, GP.note, Literal(f"second note {k}"), graph),
            (node, GP.eventParticipant, other, graph),
            (node, GP.eventParticipant, third, graph),
            (node, GP.attestedDate, Literal("2020-01-01", datatype=XSD.date), graph),
            (node, GP.attestedDate, Literal("2020-02-01", datatype=XSD.date), graph),
            (node, GP.outcome, Literal(f"outcome {k}", lang="en"), graph),
            (node, GP.eventType, GP.Talks, graph),
            (node, GP.certainty, GP.Stated, graph),
            (node, GP.dateResolution, Literal("synthetic"), graph),
        ]
    if bad:
        node = URIRef(f"{ID}holding-0")
        add.append((node, GP.holder, URIRef(f"{ID}state-0"), graph))
    return Change.of(add=add)


def run(size: int, repeats: int, full: bool) -> dict:
    shapes = load_shapes(ROOT)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data.nt"
        triples = write(data, size)
        clusters = max(1, size // 51)
        store = open_store(None)
        graph = URIRef(GRAPH["bench/synthetic"])
        ontology = [g for g in parse_dataset(read_manifest(ROOT)) if g.graph_iri == ONTOLOGY_GRAPH]
        t = time.perf_counter()
        store.replace_graphs([*ontology, parse_rdf_file(data, str(graph), RdfFormat.NTRIPLES)])
        load_s = time.perf_counter() - t
    change = _change(graph, clusters)
    assert len(change) == 100
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        report = validate_change(store, change, shapes)
        times.append(time.perf_counter() - t)
        assert report.conforms, report.to_text()
    bad = validate_change(store, _change(graph, clusters, bad=True), shapes)
    assert not bad.conforms
    result = {
        "triples": store.count(),
        "generated_triples": triples,
        "load_s": round(load_s, 2),
        "incremental_change_triples": len(change),
        "incremental_focus_nodes": report.focus_nodes,
        "incremental_median_s": round(statistics.median(times), 4),
        "incremental_max_s": round(max(times), 4),
        "incremental_runs": repeats,
        "machine": f"{platform.machine()}, {platform.python_version()}",
    }
    if full:
        t = time.perf_counter()
        full_report = validate_store(store, shapes)
        result["full_s"] = round(time.perf_counter() - t, 2)
        result["full_conforms"] = full_report.conforms
        result["ratio_full_over_incremental"] = round(
            result["full_s"] / result["incremental_median_s"]
        )
    result["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description="Full against incremental SHACL validation.")
    parser.add_argument("--triples", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument(
        "--no-full", action="store_true", help="measure incremental validation only"
    )
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    for size in args.triples:
        result = run(size, args.repeats, not args.no_full)
        label = f"{size // 1000}k" if size < 1_000_000 else f"{size // 1_000_000}M"
        out = RESULTS / f"validation-{label}.json"
        out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(json.dumps(result))


if __name__ == "__main__":
    main()
