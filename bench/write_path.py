"""Benchmark: the small-write path (a 100-triple write on 10 subjects) as the store grows.

A write through :func:`kg.writes.apply_change` is: incremental SHACL validation of the
change, the candidates of the inference refresh (read before the write), the derived
triples of the written subjects (read before the write), ONE SPARQL Update (the change,
the derived graph brought up to date, the change record, the pending mark), the
incremental OWL RL refresh of the inferred graph, a flush; then the server checkpoints
the store for its readers (:meth:`kg.pool.Snapshots.refresh`). Each stage is timed
(``kg.writes.last_stages``, plus ``checkpoint``), over ``--repeats`` writes and as many
inverse writes, after one unmeasured warm-up pair.

The write (:func:`small_write`) is built from nodes the store holds, so that the same
write applies to any store with states, acquisitions, events with a date and office
holdings: 4 states (a ``gp:locatedIn`` chain with links two ahead, ``gp:borders``, notes
and labels: transitivity and symmetry for the reasoner), 2 acquisitions whose status
flips (their ``gp:acquired`` shortcut appears or goes), an event whose date precision
changes (its date bounds change), and a new office holding with its evidence and quote
(3 new subjects; the holder and office of an existing holding, so its shortcut has two
supports). 100 quads, 3 of them removals; the inverse write undoes it.

With ``--full-repeats N`` the same write is also timed N times with the derived graph
recomputed whole (``full_derivation`` in the JSON), as every write did before the
derived graph was refreshed by subject.

For each size, a synthetic graph (bench.generate, fixed seed) is loaded into a store on
disk with the ontology, its derived graph and its materialised inferred graph (built
once in ``--work`` and reused when it is there). The same write is measured in the same
run on a store with only the curated data (``kg load``); the JSON reports, per stage,
median and max seconds, and the ratio of the medians to the curated store's. Each store
is left to finish the compaction RocksDB starts when it is opened before the writes are
timed (``settle_s``: up to a minute at 10M after a bulk write). Figures go
to bench/results/write-path-<size>.json. Target: the whole path (validation, update,
refresh) under 1 s at 10M triples.

    python -m bench.write_path --triples 1000000 10000000 --work /tmp/w

The scale harness imports :func:`measure_small_write` (an existing store directory).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
SYNTHETIC_GRAPH = "https://w3id.org/geokg/graph/bench/synthetic"
#: The graph the write adds its triples to.
WRITE_GRAPH = "https://w3id.org/geokg/graph/bench/write"
#: Target at 10M triples: validation + update + refresh of the small write, median.
TARGET_S = 1.0
#: The stages that make up the write path the target is about.
PATH_STAGES = ("validate", "derivation", "candidates", "update", "refresh")

Result = dict[str, Any]


def size_label(size: int) -> str:
    return f"{size // 1000}k" if size < 1_000_000 else f"{size // 1_000_000}M"


# ---------------------------------------------------------------- the write
def _first(raw: Any, predicate: Any, obj: Any, n: int, keep: Any = None) -> list[Any]:
    """The first ``n`` subjects with an asserted ``predicate obj`` (index order)."""
    from kg.reasoning import _NOT_INPUT

    out: list[Any] = []
    for q in raw.quads_for_pattern(None, predicate, obj, None):
        if q.graph_name in _NOT_INPUT or q.subject in out:
            continue
        if str(q.graph_name).endswith("/derived>"):
            continue
        if keep is None or keep(q.subject):
            out.append(q.subject)
            if len(out) == n:
                break
    if len(out) < n:
        raise ValueError(f"the store has fewer than {n} nodes with {predicate} {obj}")
    return out


def _one(raw: Any, s: Any, p: Any) -> list[Any]:
    from kg.reasoning import _NOT_INPUT

    return [
        q
        for q in raw.quads_for_pattern(s, p, None, None)
        if q.graph_name not in _NOT_INPUT and not str(q.graph_name).endswith("/derived>")
    ]


def small_write(store: Any) -> tuple[Any, Any]:
    """A 100-quad write on 10 subjects of ``store`` (see the module docstring), and its inverse."""
    import pyoxigraph as ox
    from rdflib import Literal, URIRef
    from rdflib.namespace import PROV, RDF, RDFS, SKOS, XSD

    from kg._oxigraph import to_rdflib
    from kg.namespaces import GP, GPD
    from kg.validation import Change

    raw = store.raw
    gp = str(GP)
    type_ = ox.NamedNode(str(RDF.type))

    def n(local: str) -> ox.NamedNode:
        return ox.NamedNode(gp + local)

    graph = URIRef(WRITE_GRAPH)
    states = [to_rdflib(s) for s in _first(raw, type_, n("State"), 4)]
    acquisitions = _first(
        raw,
        type_,
        n("Acquisition"),
        2,
        keep=lambda s: len(_one(raw, s, n("acquisitionStatus"))) == 1,
    )
    events = _first(
        raw,
        type_,
        n("Event"),
        1,
        keep=lambda s: (
            len(_one(raw, s, n("date"))) == 1
            and len(_one(raw, s, n("datePrecision"))) == 1
            and _one(raw, s, n("datePrecision"))[0].object
            in (n("DayPrecision"), n("MonthPrecision"))
        ),
    )
    holding = _first(
        raw,
        type_,
        n("OfficeHolding"),
        1,
        keep=lambda s: _one(raw, s, n("holder")) and _one(raw, s, n("office")),
    )[0]
    article = to_rdflib(_first(raw, type_, n("NewsArticle"), 1)[0])
    add: list[tuple] = []
    remove: list[tuple] = []

    def notes(s: Any, k: int, count: int) -> list[tuple]:
        texts = [
            (GP.note, Literal(f"write-path note {k}", lang="en")),
            (GP.note, Literal(f"write-path note {k}, plain")),
            (SKOS.altLabel, Literal(f"Write {k}", lang="en")),
            (SKOS.altLabel, Literal(f"Écrit {k}", lang="fr")),
            (SKOS.altLabel, Literal(f"Schreiben {k}", lang="de")),
            (SKOS.altLabel, Literal(f"Scrittura {k}", lang="it")),
            (SKOS.altLabel, Literal(f"Escritura {k}", lang="es")),
            (SKOS.altLabel, Literal(f"Schrijven {k}", lang="nl")),
            (SKOS.altLabel, Literal(f"Kirjoitus {k}", lang="fi")),
        ]
        assert count <= len(texts)
        return [(s, p, o, graph) for p, o in texts[:count]]

    # 4 states: 40 quads (a locatedIn chain two ahead, borders, notes).
    for k, s in enumerate(states):
        ahead = states[k + 1 : k + 3]
        add += [(s, GP.locatedIn, o, graph) for o in ahead]
        add.append((s, GP.borders, states[(k + 2) % 4], graph))
        add += notes(s, k, 10 - len(ahead) - 1)
    # 2 acquisitions: the status flips (12 quads, 2 removed).
    for j, a in enumerate(acquisitions):
        (q,) = _one(raw, a, n("acquisitionStatus"))
        counted = q.object in (n("AcquisitionContracted"), n("AcquisitionDelivered"))
        status = GP.AcquisitionPlanned if counted else GP.AcquisitionDelivered
        node = to_rdflib(a)
        remove.append((node, GP.acquisitionStatus, to_rdflib(q.object), to_rdflib(q.graph_name)))
        add.append((node, GP.acquisitionStatus, status, graph))
        add += notes(node, 10 + j, 4)
    # 1 event: its date precision changes (10 quads, 1 removed).
    (q,) = _one(raw, events[0], n("datePrecision"))
    event = to_rdflib(events[0])
    day = q.object == n("DayPrecision")
    remove.append((event, GP.datePrecision, to_rdflib(q.object), to_rdflib(q.graph_name)))
    add.append((event, GP.datePrecision, GP.MonthPrecision if day else GP.DayPrecision, graph))
    add += notes(event, 20, 8)
    # A new office holding of an existing holder and office, with evidence: 38 quads.
    new = URIRef(str(GPD["bench/write-path/holding"]))
    evidence, quote = URIRef(f"{new}/evidence"), URIRef(f"{new}/quote")
    holder = to_rdflib(_one(raw, holding, n("holder"))[0].object)
    office = to_rdflib(_one(raw, holding, n("office"))[0].object)
    add += [
        (new, RDF.type, GP.OfficeHolding, graph),
        (new, GP.holder, holder, graph),
        (new, GP.office, office, graph),
        (new, GP.startDate, Literal("2001-02-03", datatype=XSD.date), graph),
        (new, GP.startDatePrecision, GP.DayPrecision, graph),
        (new, RDFS.label, Literal("write-path holding", lang="en"), graph),
        (new, PROV.wasDerivedFrom, evidence, graph),
        (evidence, RDF.type, GP.Evidence, graph),
        (evidence, URIRef("http://www.w3.org/ns/oa#hasSource"), article, graph),
        (evidence, URIRef("http://www.w3.org/ns/oa#hasSelector"), quote, graph),
        (quote, RDF.type, URIRef("http://www.w3.org/ns/oa#TextQuoteSelector"), graph),
        (quote, URIRef("http://www.w3.org/ns/oa#exact"), Literal("The holding happened."), graph),
    ]
    add += notes(new, 30, 9) + notes(evidence, 31, 9) + notes(quote, 32, 8)
    change = Change.of(add=add, remove=remove)
    assert len(change) == 100 and len(change.remove) == 3, (len(change), len(change.remove))
    assert len({q[0] for q in change.quads}) == 10
    return change, Change.of(add=remove, remove=add)


# ---------------------------------------------------------------- measuring
def _summary(runs: list[dict[str, float]]) -> Result:
    stages = sorted({k for r in runs for k in r})
    return {
        s: {
            "median_s": round(statistics.median(r.get(s, 0.0) for r in runs), 4),
            "max_s": round(max(r.get(s, 0.0) for r in runs), 4),
        }
        for s in stages
    }


def _settle(timeout: float = 300.0, quiet: float = 0.05) -> float:
    """Wait until this process's background threads (RocksDB compacting the store just
    opened, as after a bulk write) stop using the CPU; return the seconds waited.

    A server meets that work once, when it opens the store; timed writes that overlap it
    measure the compaction (10 s of CPU when the 10M store is first opened).
    """
    start = time.perf_counter()

    def cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    while time.perf_counter() - start < timeout:
        before = cpu()
        time.sleep(1.0)
        if cpu() - before < quiet:
            break
    return round(time.perf_counter() - start, 1)


def measure_small_write(
    store_dir: Path,
    shapes: Any,
    repeats: int,
    *,
    full_derivation: bool = False,
    warmup: bool = True,
) -> Result:
    """Time the small write and its inverse ``repeats`` times on the store at ``store_dir``.

    The store must hold the ontology and data with states, acquisitions, dated events and
    office holdings (bench.generate's, or the curated data), its derived graph and its
    inferred graph (materialised: otherwise the first refresh materialises). It is left
    as it was, but for the change records the writes add to the changes graph. Returns
    per-stage median and max seconds for the write (``change``) and the inverse, the
    stages of the warm-up pair (not counted; none without ``warmup``), and what the
    refresh added and removed. With ``full_derivation`` every write recomputes the whole
    derived graph, as writes did before the derived graph was refreshed by subject.
    The store's background compaction after it is opened is waited for first
    (``settle_s``).
    """
    from kg import writes
    from kg._oxigraph import OxigraphStore
    from kg.changes import ChangeRecord
    from kg.pool import Snapshots

    limit = writes.INCREMENTAL_LIMIT
    if full_derivation:
        writes.INCREMENTAL_LIMIT = -1
    store = OxigraphStore(store_dir)
    settle_s = _settle()
    checkpoints = store_dir.parent / f".{store_dir.name}.write-path-snapshots"
    snapshots = Snapshots(store, checkpoints)
    try:
        triples = len(store.raw)
        change, inverse = small_write(store)
        runs: dict[str, list[dict[str, float]]] = {"change": [], "inverse": []}
        inference: dict[str, set[tuple[int, int]]] = {"change": set(), "inverse": set()}
        first: dict[str, dict[str, float]] = {}
        for i in range(0 if warmup else 1, repeats + 1):
            for name, c in (("change", change), ("inverse", inverse)):
                record = ChangeRecord("bench", "sparql-update")
                start = time.perf_counter()
                report = writes.apply_change(store, c, shapes, record)
                wall = time.perf_counter() - start
                if not report.conforms:
                    raise AssertionError(report.to_text())
                stages = dict(writes.last_stages)
                stages["path"] = sum(stages.get(s, 0.0) for s in PATH_STAGES)
                stages["write"] = wall
                start = time.perf_counter()
                snapshots.refresh()
                snapshots.release(set())
                stages["checkpoint"] = time.perf_counter() - start
                stages["total"] = wall + stages["checkpoint"]
                if i == 0:
                    first[name] = {k: round(v, 4) for k, v in stages.items()}
                    continue
                runs[name].append(stages)
                stats = writes.last_inference[0]
                inference[name].add((stats.added, stats.removed))
        return {
            "store_triples": triples,
            "settle_s": settle_s,
            "change_quads": len(change),
            "change_removed": len(change.remove),
            "subjects": len({q[0] for q in change.quads}),
            "repeats": repeats,
            "change": _summary(runs["change"]),
            "inverse": _summary(runs["inverse"]),
            "derivation": "full recomputation" if full_derivation else "by subject",
            "warmup": first,
            "inferred_added_removed": {k: sorted(v) for k, v in inference.items()},
        }
    finally:
        writes.INCREMENTAL_LIMIT = limit
        snapshots.close()
        store.close()


# ---------------------------------------------------------------- building stores
def build_bench_store(data: Path, store_dir: Path) -> Result:
    """Ontology, synthetic data (bulk loaded), derived graph, inferred graph: on disk."""
    import pyoxigraph as ox

    from kg._oxigraph import OxigraphStore
    from kg.derivation import derivation_query
    from kg.loading import parse_dataset
    from kg.manifest import read_manifest
    from kg.namespaces import DERIVED_GRAPH, ONTOLOGY_GRAPH
    from kg.reasoning import materialise

    shutil.rmtree(store_dir, ignore_errors=True)
    out: Result = {}
    start = time.perf_counter()
    store = OxigraphStore(store_dir)
    raw = store.raw
    (ontology,) = [g for g in parse_dataset(read_manifest(ROOT)) if g.graph_iri == ONTOLOGY_GRAPH]
    raw.extend(ox.Quad(*t, ox.NamedNode(ONTOLOGY_GRAPH)) for t in ontology._triples)
    raw.bulk_load(
        path=str(data), format=ox.RdfFormat.N_TRIPLES, to_graph=ox.NamedNode(SYNTHETIC_GRAPH)
    )
    out["load_s"] = round(time.perf_counter() - start, 1)
    start = time.perf_counter()
    derived = ox.NamedNode(DERIVED_GRAPH)
    results = raw.query(
        derivation_query(),
        default_graph=[ox.NamedNode(ONTOLOGY_GRAPH), ox.NamedNode(SYNTHETIC_GRAPH)],
    )
    raw.bulk_extend(ox.Quad(t.subject, t.predicate, t.object, derived) for t in results)
    out["derive_s"] = round(time.perf_counter() - start, 1)
    start = time.perf_counter()
    stats = materialise(raw)
    out["materialise_s"] = round(time.perf_counter() - start, 1)
    out["inferred"] = stats.inferred
    start = time.perf_counter()
    raw.flush()
    raw.optimize()
    out["optimize_s"] = round(time.perf_counter() - start, 1)
    out["store_triples"] = len(raw)
    store.close()
    return out


def build_curated_store(store_dir: Path, shapes: Any) -> Result:
    from kg._oxigraph import OxigraphStore
    from kg.loading import load_dataset

    shutil.rmtree(store_dir, ignore_errors=True)
    store = OxigraphStore(store_dir)
    load_dataset(store, ROOT, shapes=shapes)
    out = {"store_triples": len(store.raw)}
    store.close()
    return out


def _ready(store_dir: Path) -> Path:
    return store_dir.parent / f"{store_dir.name}.ready.json"


def bench_store(work: Path, size: int, log: Any) -> tuple[Path, Result]:
    """The bench store of ``size`` in ``work``: reused if complete, else built."""
    from bench.generate import write

    label = size_label(size)
    store_dir = work / f"store-{label}"
    ready = _ready(store_dir)
    if ready.exists() and store_dir.exists():
        log(f"[{label}] reusing {store_dir}")
        return store_dir, json.loads(ready.read_text(encoding="utf-8"))
    data = work / f"data-{label}.nt"
    start = time.perf_counter()
    generated = write(data, size)
    info: Result = {
        "generated_triples": generated,
        "generate_s": round(time.perf_counter() - start),
    }
    log(f"[{label}] generated {generated} triples; building the store (long at 10M)")
    info |= build_bench_store(data, store_dir)
    data.unlink()
    ready.write_text(json.dumps(info), encoding="utf-8")
    log(f"[{label}] built: {info}")
    return store_dir, info


# ---------------------------------------------------------------- main
def _ratios(big: Result, base: Result) -> Result:
    out: Result = {}
    for name in ("change", "inverse"):
        out[name] = {
            stage: round(v["median_s"] / base[name][stage]["median_s"], 2)
            for stage, v in big[name].items()
            if stage in base[name] and base[name][stage]["median_s"] > 0
        }
    return out


def _table(label: str, r: Result) -> str:
    lines = [f"{label}: {r['store_triples']} quads in the store"]
    stages = [s for s in (*PATH_STAGES, "flush", "path", "write", "checkpoint", "total")]
    head = f"  {'stage':12} {'median s':>9} {'max s':>8} {'inverse':>9} {'x curated':>10}"
    lines.append(head)
    for s in stages:
        c, i = r["change"].get(s), r["inverse"].get(s)
        if c is None:
            continue
        ratio = r.get("ratio_to_curated", {}).get("change", {}).get(s, "")
        lines.append(
            f"  {s:12} {c['median_s']:9.4f} {c['max_s']:8.4f} {i['median_s']:9.4f} {ratio!s:>10}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="The small-write path as the store grows.")
    parser.add_argument("--triples", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--work", type=Path, default=None, help="keep (and reuse) the stores here; default: temp"
    )
    parser.add_argument(
        "--full-repeats",
        type=int,
        default=0,
        help="also time this many writes that recompute the whole derived graph, as every "
        "write did before (minutes each at 10M; no warm-up)",
    )
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    from kg.validation import load_shapes

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    shapes = load_shapes(ROOT)
    RESULTS.mkdir(parents=True, exist_ok=True)
    temporary = args.work is None
    work = Path(tempfile.mkdtemp(prefix="bench-write-path-")) if temporary else args.work
    work.mkdir(parents=True, exist_ok=True)
    try:
        curated_dir = work / "store-curated"
        curated_info = build_curated_store(curated_dir, shapes)
        log("[curated] measuring")
        curated = measure_small_write(curated_dir, shapes, args.repeats)
        print(_table("curated", curated), flush=True)
        for size in args.triples:
            label = size_label(size)
            store_dir, info = bench_store(work, size, log)
            log(f"[{label}] measuring")
            result = measure_small_write(store_dir, shapes, args.repeats)
            result["ratio_to_curated"] = _ratios(result, curated)
            median = result["change"]["path"]["median_s"]
            result["target"] = {
                "stages": list(PATH_STAGES),
                "path_median_s": median,
                "under_s": TARGET_S,
                "met": median < TARGET_S,
                "applies_at_this_size": size >= 10_000_000,
            }
            if args.full_repeats:
                log(f"[{label}] measuring with the derived graph recomputed whole")
                full = measure_small_write(
                    store_dir, shapes, args.full_repeats, full_derivation=True, warmup=False
                )
                result["full_derivation"] = full
                print(_table(f"{label}, derived graph recomputed whole", full), flush=True)
            result["store"] = info
            result["curated"] = {**curated, "store": curated_info}
            result["machine"] = {
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
                "platform": platform.platform(),
            }
            out = RESULTS / f"write-path-{label}.json"
            out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
            print(_table(label, result), flush=True)
            print(f"-> {out.relative_to(ROOT)}", flush=True)
    finally:
        if temporary:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
