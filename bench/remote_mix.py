"""Benchmark: the query mix through our API on Virtuoso, against Virtuoso's own endpoint.

Issue 8 asks for the query mix through our API on the embedded store and on Virtuoso. For
each size (``--triples``), in one run and on the same data:

1. our store: ``kg load --bulk`` of the synthetic file (bench.generate, fixed seed; the
   file bench.scale caches in ``--work`` is reused), so the store holds everything a served
   store holds: ontology, curated data, the file, the derived and inferred graphs;
2. every graph of that store is dumped as N-Quads and bulk-loaded into a Virtuoso started
   by ``tests.engines`` on 127.0.0.1 (``ld_dir`` + ``rdf_loader_run``), so Virtuoso holds
   the same quads;
3. the mix of bench.sparql, each query ``--warmup`` times untimed then ``--repeats``
   times timed, sequentially, against:

   - ``virtuoso-direct``: Virtuoso's own /sparql (the reference of the ratio);
   - ``ours-on-virtuoso``: ``kg serve --store <Virtuoso's URL>`` (our remote-store mode,
     ``KG_STORE_*`` as tests.backends gives them), through our /sparql;
   - ``ours-embedded``: ``kg serve --store <our store>``, through our /sparql.

Reported per query: median and p95 (ms) and the number of results, which is compared
across the three (Virtuoso rewrites some values, docs/deployment.md, so counts are
compared, not values). The summary is the median of the per-query medians, and the ratio
of ours-on-virtuoso to virtuoso-direct (our layer's cost: the protocol hop, query
rewriting, dataset parameters) and to ours-embedded.

    PYTHONPATH=. .venv/bin/python -m bench.remote_mix --triples 100000 1000000

Results: bench/results/remote-mix.json (one entry per size, replaced as sizes are rerun).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.scale import size_label

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
OUT = RESULTS / "remote-mix.json"
HOST = "127.0.0.1"

Result = dict[str, Any]


def _kg() -> list[str]:
    script = Path(sys.executable).parent / "kg"
    return [str(script)] if script.exists() else [sys.executable, "-m", "kg.cli"]


def data_file(size: int, work: Path) -> Path:
    """The synthetic file of ``size`` triples, generated once (bench.scale's cache)."""
    path = work / f"data-{size_label(size)}.nt"
    if not path.exists():
        subprocess.run(
            [sys.executable, "-m", "bench.generate", "--triples", str(size), "--out", str(path)],
            check=True,
            cwd=ROOT,
        )
    return path


def our_store(data: Path, store: Path, log: Path) -> Result:
    if store.exists():
        return {"status": "reused", "path": str(store)}
    start = time.perf_counter()
    with log.open("wb") as out:
        subprocess.run(
            [*_kg(), "load", "--store", str(store), "--root", str(ROOT), "--bulk", str(data)],
            check=True,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    return {"status": "built", "seconds": round(time.perf_counter() - start, 1)}


def dump_quads(store: Path, target: Path) -> int:
    """Every named graph of ``store`` as N-Quads into ``target``; return the quad count."""
    import pyoxigraph as ox

    source = ox.Store.read_only(str(store))
    count = 0
    with target.open("wb") as out:
        for graph in source.named_graphs():
            quads = list(source.quads_for_pattern(None, None, None, graph))
            count += len(quads)
            ox.serialize(quads, out, ox.RdfFormat.N_QUADS)
    return count


def load_virtuoso(engine: Any, directory: Path, timeout: float) -> float:
    from tests import engines

    start = time.perf_counter()
    # The graph argument is only the fallback of triple files: N-Quads name their graphs.
    engines.isql(
        engine,
        f"ld_dir('{directory}', 'all.nq', 'urn:x-geokg:bench:unused');\n"
        "rdf_loader_run();\ncheckpoint;\n",
        timeout=timeout,
    )
    return time.perf_counter() - start


def run_mix(url: str, args: argparse.Namespace) -> Result:
    """bench.sparql's queries at ``url``: bench.scale's measurement, so figures compare."""
    from bench.scale import _mix_over_http

    return _mix_over_http(url, args, None)


def serve(store: str, env: dict[str, str], work: Path, args: argparse.Namespace) -> Any:
    from bench.sparql import Server, free_port

    port = free_port()
    cmd = [*_kg(), "serve", "--store", store, "--host", HOST, "--port", str(port)]
    cmd += ["--workers", str(args.workers), "--query-timeout", "300", "--root", str(ROOT)]
    full_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("KG_")},
        **env,
        "PYTHONPATH": str(ROOT),
        "KG_MAX_ROWS": str(args.max_rows),
    }
    return Server("ours", cmd, port, "/sparql", "/ready", work / f"serve-{port}.log", full_env)


def served_mix(store: str, env: dict[str, str], work: Path, args: argparse.Namespace) -> Result:
    server = serve(store, env, work, args)
    server.start()
    try:
        ready_s = server.wait_ready(args.ready_timeout)
        return {"status": "ok", "ready_s": round(ready_s, 2), **run_mix(server.url, args)}
    except (RuntimeError, TimeoutError, OSError) as exc:
        return {"status": "error", "message": str(exc)[-2000:], "log": server.log_tail(30)}
    finally:
        server.stop()


def compare(results: dict[str, Result]) -> Result:
    """Ratios of medians and the queries whose result counts differ between runs."""
    ok = {k: v for k, v in results.items() if v.get("status") == "ok"}
    out: Result = {}
    base = ok.get("virtuoso-direct")
    ours = ok.get("ours-on-virtuoso")
    embedded = ok.get("ours-embedded")
    if base and ours:
        out["ours_on_virtuoso_over_direct"] = round(
            ours["median_of_medians_ms"] / base["median_of_medians_ms"], 2
        )
    if embedded and ours:
        out["ours_on_virtuoso_over_embedded"] = round(
            ours["median_of_medians_ms"] / embedded["median_of_medians_ms"], 2
        )
    if ok:
        names = next(iter(ok.values()))["queries"].keys()
        out["result_counts_differ"] = {
            name: {k: v["queries"][name]["results"] for k, v in ok.items()}
            for name in names
            if len({v["queries"][name]["results"] for v in ok.values()}) > 1
        }
    return out


def run_size(size: int, args: argparse.Namespace) -> Result:
    from tests import engines
    from tests.backends import remote_config
    from tests.server import remote_environment

    label = size_label(size)
    work = args.work / f"remote-mix-{label}"
    work.mkdir(parents=True, exist_ok=True)
    data = data_file(size, args.work)
    store = work / "store"
    result: Result = {"triples": size, "label": label}
    result["our_store"] = our_store(data, store, work / "load.log")
    directory = work / "virtuoso"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir()
    result["quads"] = dump_quads(store, directory / "all.nq")
    engine = engines.start("virtuoso", directory, timeout=300)
    try:
        result["virtuoso_load_s"] = round(load_virtuoso(engine, directory, args.timeout), 1)
        runs: dict[str, Result] = {}
        try:
            runs["virtuoso-direct"] = {"status": "ok", **run_mix(engine.query_url, args)}
        except (RuntimeError, OSError) as exc:
            runs["virtuoso-direct"] = {"status": "error", "message": str(exc)[-2000:]}
        env = remote_environment(remote_config(engine))
        runs["ours-on-virtuoso"] = served_mix(engine.query_url, env, work, args)
    finally:
        engine.stop()
        shutil.rmtree(directory, ignore_errors=True)
    runs["ours-embedded"] = served_mix(str(store), {}, work, args)
    result["runs"] = runs
    result["comparison"] = compare(runs)
    if not args.keep_store:
        shutil.rmtree(store, ignore_errors=True)
    return result


def machine() -> Result:
    import platform

    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triples", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--work", type=Path, default=Path("/tmp/scale-work"))
    parser.add_argument("--repeats", type=int, default=10, help="timed runs per query")
    parser.add_argument("--warmup", type=int, default=2, help="untimed runs per query")
    parser.add_argument("--workers", type=int, default=2, help="kg serve query workers")
    parser.add_argument("--max-rows", type=int, default=100_000, help="kg serve row limit")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds for a load")
    parser.add_argument("--ready-timeout", type=float, default=1800, help="kg serve start (s)")
    parser.add_argument("--keep-store", action="store_true", help="keep our store for reruns")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    previous: Result = json.loads(OUT.read_text()) if OUT.exists() else {}
    sizes: dict[str, Result] = previous.get("sizes", {})
    for size in args.triples:
        result = run_size(size, args)
        result["machine"] = machine()
        sizes[result["label"]] = result
        OUT.write_text(json.dumps({"sizes": sizes}, indent=2) + "\n")
        print(json.dumps({"size": result["label"], **result["comparison"]}, indent=2))
        with contextlib.suppress(KeyError):
            for name, run in result["runs"].items():
                print(f"  {name}: {run.get('median_of_medians_ms')} ms ({run['status']})")


if __name__ == "__main__":
    main()
