"""Benchmark: full SHACL validation of a bulk load inside the store (validate_in_store).

For each size, synthetic data (bench.generate, fixed seed, valid under the shapes) is
bulk-loaded with the ontology into a store on disk (the engine's bulk loader, as
``kg load --bulk`` stages a load), and the derived graph is computed in the store, so
that the store holds graphs that validation must leave out. Then, each in a fresh
process so that its peak memory is its own:

- ``validate_in_store`` of the store (the shapes compiled to SPARQL, run by Oxigraph);
- with ``--pyshacl`` (default at sizes up to 100k), pyshacl's full validation of the same
  store (``validate_store``, an rdflib copy of the validated graphs), for the ratio.

Both must conform. The figures go to bench/results/validation-bulk-<size>.json.

    python -m bench.validation_bulk --triples 100000 1000000
    python -m bench.validation_bulk --triples 10000000 --keep-going
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import platform
import resource
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
SYNTHETIC_GRAPH = "https://w3id.org/geokg/graph/bench/synthetic"


def _label(size: int) -> str:
    return f"{size // 1_000_000}M" if size >= 1_000_000 else f"{size // 1000}k"


def _peak_mib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def _cpu() -> float:
    """CPU seconds of this process (the machine is shared: wall time includes waiting)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# ---------------------------------------------------------------- tasks (child processes)
def task_prepare(work: str, size: int, memory: bool) -> dict[str, Any]:
    """Generate the data and build the store: ontology, synthetic data, derived graph."""
    from bench.generate import write
    from kg._oxigraph import OxigraphStore, bulk_load_file, compact, graph_sizes
    from kg.derivation import derivation_update
    from kg.formats import RdfFormat
    from kg.loading import parse_dataset
    from kg.manifest import read_manifest
    from kg.namespaces import ONTOLOGY_GRAPH

    folder = Path(work)
    data = folder / "data.nt"
    start = time.perf_counter()
    generated = write(data, size)
    generate_s = time.perf_counter() - start
    ontology = [g for g in parse_dataset(read_manifest(ROOT)) if g.graph_iri == ONTOLOGY_GRAPH]
    start = time.perf_counter()
    store = OxigraphStore(folder / "store")
    store.replace_graphs(ontology)
    bulk_load_file(store, data, RdfFormat.NTRIPLES, SYNTHETIC_GRAPH)
    store.update(derivation_update([ONTOLOGY_GRAPH, SYNTHETIC_GRAPH]))
    compact(store)
    load_s = time.perf_counter() - start
    sizes = graph_sizes(store)
    store.close()
    data.unlink()
    return {
        "generated_triples": generated,
        "graphs": sizes,
        "generate_s": round(generate_s, 2),
        "load_s": round(load_s, 2),
        "prepare_peak_rss_mib": _peak_mib(),
    }


def _open(work: str, memory: bool):
    from kg._oxigraph import OxigraphStore, copy_graphs

    disk = OxigraphStore(Path(work) / "store")
    if not memory:
        return disk
    store = OxigraphStore(None)  # an in-memory copy: lookups instead of seeks
    copy_graphs(disk, store, disk.named_graphs())
    return store


def task_in_store(work: str, size: int, memory: bool) -> dict[str, Any]:
    from kg.validation import load_shapes, validate_in_store, validated_graphs

    shapes = load_shapes(ROOT)
    store = _open(work, memory)
    start, cpu = time.perf_counter(), _cpu()
    if memory:  # lookups: the faster plan in memory
        from kg.shacl_sparql import validate_in_store as with_plan

        report = with_plan(store, shapes, scan=False)
    else:
        report = validate_in_store(store, shapes)
    seconds = time.perf_counter() - start
    return {
        "validated_graphs": validated_graphs(store),
        "in_store_s": round(seconds, 2),
        "in_store_cpu_s": round(_cpu() - cpu, 2),
        "in_store_conforms": report.conforms,
        "in_store_results": len(report.results),
        "in_store_peak_rss_mib": _peak_mib(),
    }


def task_pyshacl(work: str, size: int, memory: bool) -> dict[str, Any]:
    from kg.validation import load_shapes, validate_store

    shapes = load_shapes(ROOT)
    store = _open(work, False)
    start, cpu = time.perf_counter(), _cpu()
    report = validate_store(store, shapes)
    seconds = time.perf_counter() - start
    return {
        "pyshacl_s": round(seconds, 2),
        "pyshacl_cpu_s": round(_cpu() - cpu, 2),
        "pyshacl_conforms": report.conforms,
        "pyshacl_results": len(report.results),
        "pyshacl_peak_rss_mib": _peak_mib(),
    }


def _child(task: str, work: str, size: int, memory: bool, out: Any) -> None:
    out.put(globals()[task](work, size, memory))


def _in_child(task: str, work: str, size: int, memory: bool = False) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(task, work, size, memory, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


# ---------------------------------------------------------------- driver
def run(size: int, pyshacl: bool, memory: bool, workdir: Path | None) -> dict[str, Any]:
    work = tempfile.mkdtemp(prefix="validation-bulk-", dir=workdir)
    try:
        result: dict[str, Any] = {"size": size, "store": "memory" if memory else "disk"}
        result |= _in_child("task_prepare", work, size)
        result["validated_triples"] = sum(
            n for g, n in result["graphs"].items() if g in (SYNTHETIC_GRAPH, _ontology())
        )
        print(f"{_label(size)}: prepared {result['graphs']} in {result['load_s']} s", flush=True)
        result |= _in_child("task_in_store", work, size, memory)
        print(
            f"{_label(size)}: validate_in_store {result['in_store_s']} s "
            f"({result['in_store_cpu_s']} s CPU), "
            f"peak {result['in_store_peak_rss_mib']} MiB, conforms {result['in_store_conforms']}",
            flush=True,
        )
        if pyshacl:
            result |= _in_child("task_pyshacl", work, size)
            result["ratio_pyshacl_over_in_store"] = round(
                result["pyshacl_s"] / max(result["in_store_s"], 1e-9), 1
            )
            result["ratio_cpu_pyshacl_over_in_store"] = round(
                result["pyshacl_cpu_s"] / max(result["in_store_cpu_s"], 1e-9), 1
            )
            print(
                f"{_label(size)}: pyshacl {result['pyshacl_s']} s, "
                f"peak {result['pyshacl_peak_rss_mib']} MiB "
                f"(x{result['ratio_pyshacl_over_in_store']})",
                flush=True,
            )
        result["machine"] = f"{platform.machine()}, {platform.python_version()}"
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _ontology() -> str:
    from kg.namespaces import ONTOLOGY_GRAPH

    return ONTOLOGY_GRAPH


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triples", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument(
        "--pyshacl",
        choices=("auto", "yes", "no"),
        default="auto",
        help="also time pyshacl's full validation (auto: at sizes up to 100k)",
    )
    parser.add_argument(
        "--memory",
        action="store_true",
        help="validate an in-memory copy of the store instead of the store on disk",
    )
    parser.add_argument("--workdir", type=Path, default=None, help="where to build the stores")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    for size in args.triples:
        pyshacl = args.pyshacl == "yes" or (args.pyshacl == "auto" and size <= 100_000)
        result = run(size, pyshacl, args.memory, args.workdir)
        suffix = "-memory" if args.memory else ""
        out = RESULTS / f"validation-bulk-{_label(size)}{suffix}.json"
        out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {out.relative_to(ROOT)}", flush=True)


if __name__ == "__main__":
    main()
