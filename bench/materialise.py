"""Benchmark: the full OWL RL materialisation (:func:`kg.reasoning.materialise`) by size.

For each size (``--triples``), the synthetic data of bench.generate (fixed seed; the file
is shared with bench.scale through ``--work``) is loaded as ``kg load --bulk`` loads it,
up to the inference: the ontology and curated data, the file with the bulk loader, the
derived graph; no SHACL gate (bench.validation_bulk times it). Then, each in its own child
process (its peak RSS is its own, from ``wait4``), in the same run:

- reference: ``oxigraph load`` of the same file into an empty directory (wall time);
- ours: :func:`kg.reasoning.materialise` on a copy of that store: wall time, peak RSS,
  triples inferred, rounds of the property rules;
- old, up to ``--old-max`` triples: the materialisation as it was at ``--old-commit``
  (read from git), on another copy, and whether both inferred graphs are equal.

Ratios: ours against ``oxigraph load`` of the same file and against the old algorithm.
Results go to bench/results/materialise-<size>.json and a table is printed.

    PYTHONPATH=. .venv/bin/python -m bench.materialise --triples 100000 1000000 \\
        --work /tmp/scale-work
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.scale import GIB, du, generate, oxigraph_load, run_process, size_label

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
SYNTHETIC_GRAPH = "https://w3id.org/geokg/graph/bench/synthetic"
#: The last commit with the CONSTRUCT ... FILTER NOT EXISTS materialisation.
OLD_COMMIT = "c592c4ea244dcb60a0905ce1a0aeb2ac0f4e40ce"

Result = dict[str, Any]


# ---------------------------------------------------------------- child tasks
def task_prepare(p: Result) -> Result:
    """The staging store of a bulk load before its infer phase (no gate)."""
    from kg._oxigraph import OxigraphStore, bulk_load_file, compact, construct_into
    from kg.derivation import derivation_query
    from kg.formats import RdfFormat
    from kg.loading import parse_dataset
    from kg.manifest import read_manifest
    from kg.namespaces import DERIVED_GRAPH, LOAD_GRAPH, NON_ASSERTED_GRAPHS

    target = Path(p["store"])
    shutil.rmtree(target, ignore_errors=True)
    start = time.perf_counter()
    store = OxigraphStore(target)
    parsed = parse_dataset(read_manifest(ROOT))
    store.replace_graphs([g for g in parsed if g.graph_iri not in (DERIVED_GRAPH, LOAD_GRAPH)])
    bulk_load_file(store, Path(p["data"]), RdfFormat.NTRIPLES, SYNTHETIC_GRAPH)
    asserted = [g for g in store.named_graphs() if g not in NON_ASSERTED_GRAPHS]
    construct_into(store, derivation_query(), DERIVED_GRAPH, asserted)
    compact(store)
    triples = store.count()
    store.close()
    return {"seconds": round(time.perf_counter() - start, 1), "store_triples": triples}


def _old_module(commit: str) -> Any:
    text = subprocess.run(
        ["git", "show", f"{commit}:kg/reasoning.py"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    spec = importlib.util.spec_from_loader("kg_reasoning_old", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    exec(compile(text, f"{commit[:8]}:kg/reasoning.py", "exec"), module.__dict__)
    return module


def task_materialise(p: Result) -> Result:
    import resource

    import pyoxigraph as ox

    from kg.namespaces import INFERRED_GRAPH

    if p["algorithm"] == "old":
        materialise = _old_module(p["commit"]).materialise
    else:
        from kg.reasoning import materialise
    store = ox.Store(p["store"])
    start = time.perf_counter()
    stats = materialise(store)
    store.flush()
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # An order-free digest of the inferred graph, to compare the two algorithms.
    digest = 0
    for q in store.quads_for_pattern(None, None, None, ox.NamedNode(INFERRED_GRAPH)):
        h = hashlib.blake2b(str(q.triple).encode(), digest_size=8).digest()
        digest ^= int.from_bytes(h, "big")
    return {
        "seconds": round(seconds, 1),
        "peak_rss_mib": round(peak / 1024),
        "inferred": stats.inferred,
        "rounds": stats.rounds,
        "digest": f"{digest:016x}",
    }


TASKS = {"prepare": task_prepare, "materialise": task_materialise}


def child_main(task: str, params: str, result: str) -> None:
    Path(result).write_text(json.dumps(TASKS[task](json.loads(params))), encoding="utf-8")


def run_child(task: str, params: Result, work: Path, args: argparse.Namespace, name: str) -> Result:
    result = work / f"{name}.json"
    result.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "bench.materialise", "_child", task, json.dumps(params)]
    out = run_process(
        [*cmd, str(result)],
        work / f"{name}.log",
        timeout=args.timeout,
        cap=int(args.memory_cap_gib * GIB),
    )
    if out["status"] == "ok" and result.exists():
        out = {k: v for k, v in out.items() if k != "returncode"}
        out.update(json.loads(result.read_text(encoding="utf-8")))
    return out


# ---------------------------------------------------------------- one size
def run_size(size: int, args: argparse.Namespace) -> Result:
    label = size_label(size)
    work = args.work / f"materialise-{label}"
    work.mkdir(parents=True, exist_ok=True)
    data = generate(size, args.work)
    out: Result = {"size": size, "label": label, "generated_triples": data["triples"]}
    log(f"[{label}] oxigraph load")
    out["oxigraph_load"] = oxigraph_load(Path(data["file"]), work, args)
    shutil.rmtree(work / "oxigraph-store", ignore_errors=True)
    log(f"[{label}] prepare")
    prepared = work / "prepared"
    out["prepare"] = run_child(
        "prepare", {"store": str(prepared), "data": data["file"]}, work, args, "prepare"
    )
    out["prepared_disk_bytes"] = du(prepared)
    algorithms = ["ours"] + (["old"] if size <= args.old_max else [])
    for algorithm in algorithms:
        store = work / f"store-{algorithm}"
        shutil.rmtree(store, ignore_errors=True)
        shutil.copytree(prepared, store)
        log(f"[{label}] materialise, {algorithm}")
        params = {"store": str(store), "algorithm": algorithm, "commit": args.old_commit}
        out[algorithm] = run_child("materialise", params, work, args, f"materialise-{algorithm}")
        shutil.rmtree(store, ignore_errors=True)
        got = out[algorithm]
        log(f"[{label}] {algorithm}: {got.get('status')}, {got.get('wall_s')} s")
    if "old" not in out:
        out["old"] = {"status": f"skipped above --old-max {args.old_max}"}
    shutil.rmtree(prepared, ignore_errors=True)
    ref, ours, old = out["oxigraph_load"], out["ours"], out["old"]
    if ours.get("status") == "ok" and ref.get("status") == "ok":
        out["ours_over_oxigraph_load"] = round(ours["seconds"] / ref["wall_s"], 2)
    if ours.get("status") == "ok" and old.get("status") == "ok":
        out["old_over_ours"] = round(old["seconds"] / ours["seconds"], 2)
        out["same_inferred_graph"] = (ours["inferred"], ours["digest"]) == (
            old["inferred"],
            old["digest"],
        )
    out["machine"] = {"load_average": [round(x, 2) for x in os.getloadavg()]}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"materialise-{label}.json").write_text(json.dumps(out, indent=2) + "\n")
    return out


def log(text: str) -> None:
    print(time.strftime("%H:%M:%S"), text, flush=True)


def table(runs: list[Result]) -> str:
    head = "| size | oxigraph load | ours | peak RSS | ours / oxigraph load | old | old peak RSS"
    rows = [head + " | old / ours | same graph |", "|---" * 9 + "|"]
    for r in runs:
        ours, old, ref = r["ours"], r["old"], r["oxigraph_load"]
        rows.append(
            f"| {r['label']} | {ref.get('wall_s')} s | {ours.get('seconds', ours.get('status'))} s"
            f" | {ours.get('peak_rss_mib')} MiB | {r.get('ours_over_oxigraph_load')}"
            f" | {old.get('seconds', old.get('status'))} | {old.get('peak_rss_mib')}"
            f" | {r.get('old_over_ours')} | {r.get('same_inferred_graph')} |"
        )
    return "\n".join(rows)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        child_main(*sys.argv[2:5])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triples", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--work", type=Path, default=Path("/tmp/geokg-scale"))
    parser.add_argument("--old-max", type=int, default=1_000_000, help="largest size for old")
    parser.add_argument("--old-commit", default=OLD_COMMIT)
    parser.add_argument("--timeout", type=float, default=2400, help="seconds per child")
    parser.add_argument("--memory-cap-gib", type=float, default=16, help="RLIMIT_AS per child")
    args = parser.parse_args()
    runs = [run_size(size, args) for size in args.triples]
    print(table(runs))


if __name__ == "__main__":
    main()
