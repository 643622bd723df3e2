"""Load test: many concurrent clients against ``kg serve``, in rounds, with a mixed workload.

One run:

1. a server is started on a copy of the curated store (``kg load`` into a temporary
   folder, or ``--store``) with a short time limit (``--query-timeout``, 5 s); or ``--url``
   points at a running server (then memory is measured only if ``--pid`` gives its
   supervisor's process id);
2. reference: one client alone sends each cheap, REST and page request in turn for
   ``--baseline-seconds``; the figures under load are divided by its latencies;
3. ``--rounds`` rounds of ``--round-seconds``: ``--clients`` closed-loop clients (asyncio,
   one ``httpx.AsyncClient`` with one keep-alive connection each, like browsers or
   scripts) each send a request, wait for its answer and send the next, drawn from
   :data:`MIX` by class weight (:data:`WEIGHTS`): cheap SPARQL queries, heavy ones that
   run into a time limit (the server's, or a shorter one they ask for), REST calls and
   HTML pages. At most ``--heavy-in-flight`` (1) heavy queries run at once: a client that
   draws a heavy one while that many run draws again from the others. Each holds a CPU
   until its limit and costs a reader process (stopped, then replaced), so on a small
   machine more of them would make the test measure only that;
4. after each round (requests in flight finish first) the server is given time to be
   back to its readers (:func:`settle`), then the memory of its whole process tree
   (supervisor, readers, query workers) is read from /proc: RSS and PSS (RSS counts pages
   shared between processes once per process, PSS splits them), in all and by role;
   also the server's /ready, its /metrics counters and the files of its runtime folder.

Why 5 s and not less: the REST calls and pages run in the supervisor's two query workers,
and the wait for a free worker counts against the same limit, so at 2 s valid REST calls
and pages already get 503s (``server-busy``, ``query-timeout``) under 16 clients on two
CPUs. ``--query-timeout 2`` shows it.

An *error* is a transport error (refused, reset, timed out after ``--request-timeout``), a
5xx that was not expected, any other status than the one expected for the request, or an
expected status whose body is wrong (:class:`Request` ``check``). A heavy query's expected
answer is the time-limit problem: 503 ``application/problem+json`` with type
``.../query-timeout``. Per round and class: count, throughput, p50/p90/p99/max latency,
error count and rate, with examples of the errors.

The result (all figures, the settings, the machine) goes to ``--out`` as JSON::

    PYTHONPATH=. .venv/bin/python -m bench.load --clients 32 --rounds 5 --round-seconds 30 \\
        --out bench/results/load.json

tests/test_load.py runs the same code with small bounds and checks the outcomes (no
latency is asserted there: speed depends on the machine).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.load_mix import CLASSES, MIX, WEIGHTS, Request
from bench.proc_tree import kib_field, process_tree, role_of, runtime_files, tree_memory

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
HOST = "127.0.0.1"


# ---------------------------------------------------------------- statistics
def quantile(xs: list[float], q: float) -> float:
    """The ``q`` quantile of ``xs`` by linear interpolation (as numpy's default)."""
    xs = sorted(xs)
    k = (len(xs) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def latency_summary(seconds: list[float]) -> dict[str, float | None]:
    if not seconds:
        return {"p50_ms": None, "p90_ms": None, "p99_ms": None, "max_ms": None}
    return {
        "p50_ms": round(quantile(seconds, 0.5) * 1000, 2),
        "p90_ms": round(quantile(seconds, 0.9) * 1000, 2),
        "p99_ms": round(quantile(seconds, 0.99) * 1000, 2),
        "max_ms": round(max(seconds) * 1000, 2),
    }


@dataclass
class Outcome:
    request: Request
    seconds: float
    status: int | None  # None: no HTTP answer
    error: str | None


def summarise(outcomes: list[Outcome], wall: float) -> dict[str, Any]:
    """Per class: count, throughput, latency quantiles, errors (with a few examples)."""
    out: dict[str, Any] = {}
    for kind in (*CLASSES, "all"):
        mine = [o for o in outcomes if kind in ("all", o.request.kind)]
        errors = [o for o in mine if o.error]
        statuses: dict[str, int] = {}
        for o in mine:
            key = str(o.status) if o.status is not None else "none"
            statuses[key] = statuses.get(key, 0) + 1
        examples: dict[str, int] = {}
        for o in errors:
            key = f"{o.request.name}: {o.error}"
            examples[key] = examples.get(key, 0) + 1
        out[kind] = {
            "count": len(mine),
            "throughput_rps": round(len(mine) / wall, 2) if wall > 0 else None,
            **latency_summary([o.seconds for o in mine]),
            "errors": len(errors),
            "error_rate": round(len(errors) / len(mine), 5) if mine else None,
            "statuses": dict(sorted(statuses.items())),
            "error_examples": dict(sorted(examples.items(), key=lambda kv: -kv[1])[:10]),
        }
        if kind != "all":
            by_name: dict[str, list[float]] = {}
            for o in mine:
                by_name.setdefault(o.request.name, []).append(o.seconds)
            out[kind]["by_request"] = {
                name: {
                    "count": len(xs),
                    "p50_ms": round(quantile(xs, 0.5) * 1000, 2),
                    "max_ms": round(max(xs) * 1000, 2),
                }
                for name, xs in sorted(by_name.items())
            }
    return out


# ---------------------------------------------------------------- clients
async def send(client: httpx.AsyncClient, request: Request) -> Outcome:
    start = time.perf_counter()
    try:
        r = await client.request(
            request.method,
            request.path,
            params=request.params or None,
            data=request.data,
            content=request.content,
            headers=request.headers,
        )
    except httpx.HTTPError as exc:
        return Outcome(request, time.perf_counter() - start, None, type(exc).__name__)
    seconds = time.perf_counter() - start
    return Outcome(request, seconds, r.status_code, request.verdict(r))


class Mix:
    """Draws requests by class weight; heavy ones only while fewer than the cap run."""

    def __init__(self, weights: dict[str, float], heavy_in_flight: int) -> None:
        self.by_kind = {k: [r for r in MIX if r.kind == k] for k in CLASSES}
        self.weights = {k: w for k, w in weights.items() if w > 0 and self.by_kind[k]}
        self.heavy_cap = heavy_in_flight
        self.heavy_running = 0

    def draw(self, rng: random.Random) -> Request:
        kinds = list(self.weights)
        if self.heavy_running >= self.heavy_cap:
            kinds = [k for k in kinds if k != "heavy"]
        kind = rng.choices(kinds, [self.weights[k] for k in kinds])[0]
        return rng.choice(self.by_kind[kind])


async def _client(
    base: str, mix: Mix, rng: random.Random, until: float, timeout: float, out: list[Outcome]
) -> None:
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(base_url=base, timeout=timeout, limits=limits) as client:
        while time.monotonic() < until:
            request = mix.draw(rng)
            heavy = request.kind == "heavy"
            mix.heavy_running += heavy  # one event loop: no lock needed
            try:
                out.append(await send(client, request))
            finally:
                mix.heavy_running -= heavy


async def run_round(
    base: str,
    clients: int,
    seconds: float,
    *,
    weights: dict[str, float] | None = None,
    heavy_in_flight: int = 1,
    request_timeout: float = 30.0,
    seed: int = 0,
) -> tuple[list[Outcome], float]:
    """``clients`` closed-loop clients for ``seconds``; requests in flight at the end finish
    (each within ``request_timeout``). Returns the outcomes and the round's wall time."""
    mix = Mix(weights or WEIGHTS, heavy_in_flight)
    outcomes: list[Outcome] = []
    start = time.monotonic()
    until = start + seconds
    tasks = [
        _client(base, mix, random.Random(seed * 1000 + i), until, request_timeout, outcomes)
        for i in range(clients)
    ]
    # Bounded twice: each request by request_timeout, the whole by this.
    await asyncio.wait_for(asyncio.gather(*tasks), seconds + request_timeout + 30)
    return outcomes, time.monotonic() - start


async def baseline(base: str, seconds: float, request_timeout: float) -> dict[str, Any]:
    """One client alone, each request of the mix but the heavy ones in turn, for ``seconds``."""
    plain = [r for r in MIX if r.kind != "heavy"]
    outcomes: list[Outcome] = []
    async with httpx.AsyncClient(base_url=base, timeout=request_timeout) as client:
        for r in plain:  # warm-up: caches, first imports in the workers
            await send(client, r)
        until = time.monotonic() + seconds
        i = 0
        while time.monotonic() < until:
            outcomes.append(await send(client, plain[i % len(plain)]))
            i += 1
    summary: dict[str, Any] = {
        k: v for k, v in summarise(outcomes, seconds).items() if k != "heavy"
    }
    by_name: dict[str, list[float]] = {}
    for o in outcomes:
        by_name.setdefault(f"{o.request.kind}/{o.request.name}", []).append(o.seconds)
    summary["p50_ms_by_request"] = {
        name: round(quantile(xs, 0.5) * 1000, 2) for name, xs in by_name.items()
    }
    return summary


async def ready(base: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        try:
            r = await client.get("/ready")
        except httpx.HTTPError as exc:
            return {"status": None, "error": type(exc).__name__}
    return {"status": r.status_code, "body": r.json() if r.status_code == 200 else r.text[:300]}


async def settle(base: str, pid: int | None, readers: int, limit: float) -> dict[str, Any]:
    """Wait (at most ``limit`` s) until ``readers`` readers are ready and no reader that
    was stopped at a time limit is still on its way out, so that memory is read on the
    server at rest; returns how long that took and whether it happened."""
    start = time.monotonic()
    while True:
        answer = await ready(base)
        body = answer.get("body")
        up = answer["status"] == 200 and isinstance(body, dict) and body["workers"] == readers
        if up and pid:
            up = sum(role_of(p, pid) == "readers" for p in process_tree(pid)) == readers
        waited = time.monotonic() - start
        if up or waited > limit:
            return {"settled": up, "seconds": round(waited, 2)}
        await asyncio.sleep(0.25)


async def server_counters(base: str) -> dict[str, float]:
    """The server's own counts of time-limit stops and replaced processes (/metrics), and
    how long /metrics took to answer (it reads a file per process that ever ran)."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        start = time.perf_counter()
        text = (await client.get("/metrics")).text
        seconds = time.perf_counter() - start
    wanted = ("geokg_query_timeouts_total", "geokg_worker_restarts_total")
    out = {"metrics_ms": round(seconds * 1000, 1)}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in wanted:
            out[name.removeprefix("geokg_")] = float(value)
    return out


async def load_test(
    base: str,
    *,
    pid: int | None,
    clients: int,
    rounds: int,
    round_seconds: float,
    baseline_seconds: float = 10.0,
    weights: dict[str, float] | None = None,
    heavy_in_flight: int = 1,
    request_timeout: float = 30.0,
    seed: int = 0,
    settle_limit: float = 30.0,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """The reference, then the rounds; every figure, as a JSON-ready dict.

    ``pid`` is the server's supervisor (None: memory is not measured). After each round
    the server is given up to ``settle_limit`` s to be back to its readers (see
    :func:`settle`) before its memory is read.
    """
    first = await ready(base)
    if first["status"] != 200:
        raise RuntimeError(f"the server is not ready: {first}")
    readers = first["body"]["workers"]
    result: dict[str, Any] = {"memory_before": tree_memory(pid) if pid else None}
    progress(f"reference: one client for {baseline_seconds:g} s")
    result["reference"] = await baseline(base, baseline_seconds, request_timeout)
    result["rounds"] = []
    for n in range(1, rounds + 1):
        progress(f"round {n}/{rounds}: {clients} clients for {round_seconds:g} s")
        outcomes, wall = await run_round(
            base,
            clients,
            round_seconds,
            weights=weights,
            heavy_in_flight=heavy_in_flight,
            request_timeout=request_timeout,
            seed=seed * 100 + n,
        )
        entry: dict[str, Any] = {"round": n, "wall_s": round(wall, 2)}
        entry["classes"] = summarise(outcomes, wall)
        entry["ready_after"] = await ready(base)
        entry["settle"] = await settle(base, pid, readers, settle_limit)
        if pid:
            entry["memory"] = tree_memory(pid)
            entry["runtime_folder"] = runtime_files(pid)
        entry["server_counters"] = await server_counters(base)
        result["rounds"].append(entry)
        line = entry["classes"]["all"]
        mem = f", tree RSS {entry['memory']['rss_mib']} MiB" if pid else ""
        progress(
            f"  {line['count']} requests, {line['throughput_rps']} req/s, "
            f"p99 {line['p99_ms']} ms, {line['errors']} errors{mem}"
        )
    result["totals"] = totals(result)
    return result


def totals(result: dict[str, Any]) -> dict[str, Any]:
    """Over all rounds: counts, errors, p99 ratios to the reference, memory growth."""
    rounds = result["rounds"]
    out: dict[str, Any] = {"classes": {}}
    for kind in (*CLASSES, "all"):
        count = sum(r["classes"][kind]["count"] for r in rounds)
        errors = sum(r["classes"][kind]["errors"] for r in rounds)
        wall = sum(r["wall_s"] for r in rounds)
        entry: dict[str, Any] = {
            "count": count,
            "throughput_rps": round(count / wall, 2) if wall else None,
            "errors": errors,
            "error_rate": round(errors / count, 5) if count else None,
            "p50_ms_median_of_rounds": _median([r["classes"][kind]["p50_ms"] for r in rounds]),
            "p99_ms_median_of_rounds": _median([r["classes"][kind]["p99_ms"] for r in rounds]),
        }
        ref = result["reference"].get(kind)
        if ref and ref["p50_ms"] and entry["p99_ms_median_of_rounds"] is not None:
            entry["p50_ratio_to_reference_p50"] = round(
                entry["p50_ms_median_of_rounds"] / ref["p50_ms"], 2
            )
            entry["p99_ratio_to_reference_p50"] = round(
                entry["p99_ms_median_of_rounds"] / ref["p50_ms"], 2
            )
        out["classes"][kind] = entry
    memories = [r["memory"] for r in rounds if r.get("memory")]
    if memories:
        out["memory"] = memory_growth(memories)
    return out


def _median(xs: list[float | None]) -> float | None:
    values = [x for x in xs if x is not None]
    return round(statistics.median(values), 2) if values else None


def memory_growth(memories: list[dict[str, Any]]) -> dict[str, Any]:
    """Per round RSS/PSS of the tree and of the long-lived supervisor; growth after round 1.

    Round 1 is the warm-up (caches fill, first imports, the first readers replaced); a
    leak shows as growth from there to the last round.
    """

    def series(get: Callable[[dict[str, Any]], float]) -> dict[str, Any]:
        values = [get(m) for m in memories]
        return {
            "per_round_mib": values,
            "growth_after_first_mib": round(values[-1] - values[0], 1),
            "max_minus_first_mib": round(max(values) - values[0], 1),
        }

    supervisor = lambda m: m["by_role"].get("supervisor", {}).get("rss_mib", 0.0)  # noqa: E731
    return {
        "tree_rss": series(lambda m: m["rss_mib"]),
        "tree_pss": series(lambda m: m["pss_mib"]),
        "supervisor_rss": series(supervisor),
    }


# ---------------------------------------------------------------- the server
def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(store: Path, work: Path, workers: int, settings: dict[str, str]) -> Iterator[Any]:
    """``kg serve`` on a copy of ``store`` under ``work``: yields (base URL, process)."""
    copy = work / "store"
    shutil.copytree(store, copy)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KG_")}
    env.update({f"KG_{k.upper()}": v for k, v in settings.items()})
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    cmd = [sys.executable, "-c", "from api.cli import app; app()", "serve", "--store", str(copy)]
    cmd += ["--host", HOST, "--port", str(port), "--workers", str(workers), "--root", str(ROOT)]
    log_path = work / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            cmd, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=work
        )
    base = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError("the server exited:\n" + log_path.read_text(errors="replace"))
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("the server was not ready within 120 s")
            time.sleep(0.2)
        yield base, process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def curated_store(work: Path) -> Path:
    """The curated data loaded with ``kg load`` into ``work/curated``."""
    path = work / "curated"
    cmd = [sys.executable, "-c", "from api.cli import app; app()", "load", "--store", str(path)]
    subprocess.run(
        [*cmd, "--root", str(ROOT)], check=True, capture_output=True, timeout=600, cwd=ROOT
    )
    return path


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "machine": platform.machine(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    total = kib_field(Path("/proc/meminfo"), "MemTotal")
    if total:
        info["mem_gib"] = round(total / 1024**2, 1)
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description="Mixed load on kg serve, in rounds.")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--round-seconds", type=float, default=30.0)
    parser.add_argument("--baseline-seconds", type=float, default=15.0)
    parser.add_argument("--heavy-in-flight", type=int, default=1, help="most heavy at once")
    parser.add_argument("--weights", help="class weights, e.g. cheap=5,rest=2,page=2,heavy=1")
    parser.add_argument("--workers", type=int, default=3, help="the server's readers")
    parser.add_argument("--query-timeout", type=float, default=5.0, help="the server's limit")
    parser.add_argument("--request-timeout", type=float, default=30.0, help="client side (s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--store", type=Path, help="a store to copy (default: kg load)")
    parser.add_argument("--url", help="a running server instead of starting one")
    parser.add_argument("--pid", type=int, help="with --url: its supervisor (for memory)")
    parser.add_argument("--out", type=Path, default=RESULTS / "load.json")
    args = parser.parse_args()
    if min(args.clients, args.rounds, args.heavy_in_flight + 1) < 1 or args.round_seconds <= 0:
        parser.error("--clients and --rounds must be at least 1, --round-seconds > 0")
    weights = dict(WEIGHTS)
    if args.weights:
        for part in args.weights.split(","):
            name, _, value = part.partition("=")
            if name not in CLASSES:
                parser.error(f"--weights: unknown class {name!r}")
            weights[name] = float(value)
    settings = {"query_timeout": f"{args.query_timeout:g}", "max_rows": "1000"}
    info = machine()

    def progress(line: str) -> None:
        print(line, flush=True)

    def run(base: str, pid: int | None) -> dict[str, Any]:
        return asyncio.run(
            load_test(
                base,
                pid=pid,
                clients=args.clients,
                rounds=args.rounds,
                round_seconds=args.round_seconds,
                baseline_seconds=args.baseline_seconds,
                weights=weights,
                heavy_in_flight=args.heavy_in_flight,
                request_timeout=args.request_timeout,
                seed=args.seed,
                progress=progress,
            )
        )

    if args.url:
        figures = run(args.url.rstrip("/"), args.pid)
        server: dict[str, Any] = {"url": args.url, "started_here": False}
    else:
        with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
            work = Path(tmp)
            store = args.store
            if store is None:
                progress("loading the curated data (kg load)...")
                store = curated_store(work)
            with serve(store, work, args.workers, settings) as (base, process):
                figures = run(base, process.pid)
            log_tail = (work / "server.log").read_text(errors="replace").splitlines()[-30:]
        server = {
            "started_here": True,
            "readers": args.workers,
            "settings": settings,
            "log_tail": log_tail,
        }
    result = {
        "what": "bounded closed-loop load on kg serve: cheap and heavy SPARQL, REST, pages",
        "clients": args.clients,
        "rounds": args.rounds,
        "round_seconds": args.round_seconds,
        "weights": weights,
        "heavy_in_flight": args.heavy_in_flight,
        "request_timeout_s": args.request_timeout,
        "server": server,
        "mix": [
            {
                "kind": r.kind,
                "name": r.name,
                "method": r.method,
                "path": r.path,
                "params": r.params,
                "form": r.data,
                "body": r.content.decode() if r.content else None,
                "expect": r.status,
            }
            for r in MIX
        ],
        **figures,
        "machine": {**info, "loadavg_at_end": [round(x, 2) for x in os.getloadavg()]},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print_table(result)
    print(f"wrote {args.out}")


def print_table(result: dict[str, Any]) -> None:
    head = f"{'class':<7} {'count':>7} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}"
    print(head)
    print("-" * len(head))
    for kind, t in result["totals"]["classes"].items():
        print(
            f"{kind:<7} {t['count']:>7} {t['throughput_rps']!s:>7} "
            f"{t['p50_ms_median_of_rounds']!s:>8} {t['p99_ms_median_of_rounds']!s:>8} "
            f"{t['errors']:>7}"
        )
    memory = result["totals"].get("memory")
    if memory:
        print("tree RSS per round (MiB):", memory["tree_rss"]["per_round_mib"])
        print("tree PSS per round (MiB):", memory["tree_pss"]["per_round_mib"])


if __name__ == "__main__":
    main()
