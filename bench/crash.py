"""Crash safety: the server is killed (SIGKILL, every process of it) while clients write.

A stream of writes from a few concurrent clients mixes the three write paths (SPARQL
Update, Graph Store Protocol, REST facts; :mod:`bench.crash_writes`), creating,
changing and deleting small items. At a random moment (seeded) every process of the
server gets SIGKILL: the supervisor that holds the store first, then its readers and
query workers. Then, per round:

1. a *deep check* on a copy of the store as the kill left it: the copy opens (RocksDB
   recovers it as the server will), the derived graph equals the derivation rules
   evaluated over the asserted graphs (it is written in the write's own transaction),
   and, unless a write was caught before its inference refresh (the pending mark, which
   the next start heals), the inferred graph equals a full recomputation;
2. the server is restarted on the same store directory (with some probability it is
   killed once more while starting, at a random moment, and started again) and must
   become ready; the time it takes is the restart time;
3. through the restarted server: every item holds exactly its latest acknowledged
   state; every write that got no answer is applied whole or not at all (for a write
   to two graphs: to both or to neither); nothing else was written; the change log
   holds one record per applied write; the inferred types of the items match their
   presence; the inferred graph is not left marked stale.

A round *survives* if all of it holds. The figures go to ``--out`` as JSON.

    python -m bench.crash --rounds 30 --seed 1 --out bench/results/crash.json

``tests/test_crash_safety.py`` runs :func:`run` with a few rounds. Only 127.0.0.1 is used.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from rdflib import URIRef

from bench.crash_writes import WRITER, Observed, Workload, Write, check, observe, send
from bench.scale import machine
from kg import reasoning
from kg.derivation import derivation_query
from kg.errors import KGError
from kg.namespaces import DERIVED_GRAPH, INFERRED_GRAPH
from kg.store import open_store
from kg.validation import validated_graphs
from tests.server import ROOT, free_port, serve_command, server_environment, wait_until_ready

__all__ = ["Config", "run"]

RESULTS = ROOT / "bench" / "results"
#: The bench writer's token (a named writer, so that its change records can be counted).
TOKEN = "crash-bench-token-0123456789"
#: Seconds a start may take before the round fails (a loaded 2-core machine: ~15 s).
START_TIMEOUT = 180.0
#: Seconds one request may take.
REQUEST_TIMEOUT = 60.0

Result = dict[str, Any]


@dataclass(frozen=True)
class Config:
    rounds: int = 30
    seed: int = 1
    clients: int = 3
    readers: int = 2
    #: The kill comes 0 to this many seconds after the round's first acknowledged write
    #: (a write takes 0.3 to 1.5 s on a loaded 2-core machine).
    kill_window: float = 6.0
    #: Share of restarts killed once more while starting.
    start_kill_share: float = 0.2
    #: Deep check (a copy of the store, opened in this process) every this many rounds;
    #: the last round always has one.
    deep_every: int = 1


# ---------------------------------------------------------------- the server
class Server:
    """``kg serve`` on one store directory, started again in place after each kill."""

    def __init__(self, store: Path, work: Path, readers: int) -> None:
        self.store = store
        self.work = work
        self.readers = readers
        self.process: subprocess.Popen | None = None
        self.base = ""
        self.log = work / "server.log"
        self.starts = 0
        self.ready_s = 10.0  # how long the last start took
        #: Every process of the server inherits this variable: how they are all found.
        self.marker = f"GEOKG_CRASH_BENCH_SERVER={uuid.uuid4()}"
        # The server's runtime folder (Unix socket, metrics) goes here: a kill leaves it.
        # In /tmp, not under ``work``: a socket's path must fit in 107 bytes, and ``work``
        # may be deep (pytest's folders, under xdist).
        self.tmp = Path(tempfile.mkdtemp(prefix="geokg-crash-", dir="/tmp"))

    def start(self) -> None:
        assert self.process is None
        self.starts += 1
        self.log = self.work / f"server-{self.starts:03d}.log"
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        env = server_environment(
            write_tokens=json.dumps({WRITER: TOKEN}), max_rows="1000000", query_timeout="60"
        )
        env["TMPDIR"] = str(self.tmp)
        name, value = self.marker.split("=", 1)
        env[name] = value
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                serve_command(self.store, port, self.readers),
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.work,
                start_new_session=True,  # Ctrl-C on the bench does not reach it
            )

    def wait_ready(self) -> float:
        """Seconds from the start until /ready answers 200."""
        assert self.process is not None
        started = time.monotonic()
        wait_until_ready(self.process, self.base, self.log, START_TIMEOUT)
        self.ready_s = time.monotonic() - started
        return self.ready_s

    def healed(self) -> bool:
        """True if this start recomputed a stale inferred graph (kg.endpoint says so)."""
        return "the inferred graph was stale" in self.log.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL every process of the server, the supervisor first; return once none is left.

        The readers and the query workers run in sessions of their own (a signal to the
        supervisor's group does not reach them), so they are found by the variable
        :attr:`marker` that they inherit.
        """
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while left := _marked_processes(self.marker):
            if time.monotonic() > deadline:
                raise RuntimeError(f"processes {left} outlived SIGKILL")
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.02)
        self.process.wait(30)
        self.process = None
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir()

    def stop(self) -> None:
        """Stop the server the normal way (SIGTERM), or kill it if that takes too long."""
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
            self.process = None
        except subprocess.TimeoutExpired:
            self.kill()


def _marked_processes(marker: str) -> list[int]:
    """The live processes whose environment holds ``marker`` (``NAME=value``)."""
    wanted = marker.encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if wanted in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:  # gone, or not ours
            continue
    return found


# ---------------------------------------------------------------- checks
def deep_check(store_dir: Path, scratch: Path) -> Result:
    """The derived and inferred graphs of a copy of ``store_dir``, against recomputation."""
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(store_dir, scratch)
    started = time.perf_counter()
    try:
        store = open_store(scratch)
    except KGError as exc:
        shutil.rmtree(scratch, ignore_errors=True)
        return {"opened": False, "failures": [f"the store does not open: {exc}"]}
    try:
        raw = store.raw  # type: ignore[attr-defined]
        pending = reasoning.is_pending(raw)
        derived = _triples(store, DERIVED_GRAPH)
        expected = set(store.query(derivation_query(), default_graphs=validated_graphs(store)))
        inferred = _triples(store, INFERRED_GRAPH)
        reasoning.materialise(raw)
        recomputed = _triples(store, INFERRED_GRAPH)
    finally:
        store.close()
        shutil.rmtree(scratch, ignore_errors=True)
    failures = []
    if derived != expected:
        failures.append(
            f"derived graph: {len(expected - derived)} triples missing, "
            f"{len(derived - expected)} too many"
        )
    if not pending and inferred != recomputed:
        failures.append(
            f"inferred graph not marked stale but {len(recomputed - inferred)} triples "
            f"missing, {len(inferred - recomputed)} too many"
        )
    return {
        "opened": True,
        "pending": pending,
        "derived_triples": len(derived),
        "inferred_triples": len(inferred),
        "inferred_compared": not pending,
        "seconds": round(time.perf_counter() - started, 2),
        "failures": failures,
    }


def _triples(store: Any, graph: str) -> set[tuple]:
    return {(s, p, o) for s, p, o, _g in store.match(None, None, None, URIRef(graph))}


# ---------------------------------------------------------------- one round
def _write_until_killed(
    server: Server, workload: Workload, kill_after: float
) -> tuple[list[Write], float]:
    """Clients write until the server is killed; every write sent, and when the kill came.

    The kill comes ``kill_after`` s after the first acknowledged write of the round (the
    first writes after a start are slow: warm-up), or after a minute without one.
    """
    stop = threading.Event()
    acknowledged = threading.Event()
    sent: list[list[Write]] = [[] for _ in range(workload.clients)]
    # The clients are made before the clock starts (an httpx client takes a while).
    ready = threading.Barrier(workload.clients + 1, timeout=REQUEST_TIMEOUT)

    def client(c: int) -> None:
        with httpx.Client(base_url=server.base, timeout=REQUEST_TIMEOUT) as http:
            ready.wait()
            while not stop.is_set():
                write = workload.next_write(c)
                sent[c].append(write)
                send(http, write)
                if write.status is None or not 200 <= write.status < 300:
                    return  # in doubt or refused: this client's round ends
                acknowledged.set()

    threads = [threading.Thread(target=client, args=(c,)) for c in range(workload.clients)]
    for t in threads:
        t.start()
    ready.wait()
    started = time.monotonic()
    acknowledged.wait(REQUEST_TIMEOUT)
    stop.wait(kill_after)
    stop.set()
    server.kill()
    killed_at = time.monotonic() - started
    for t in threads:
        t.join(REQUEST_TIMEOUT + 10)
        if t.is_alive():
            raise RuntimeError("a client did not end after the kill")
    return [w for ws in sent for w in ws], killed_at


def _restart(server: Server, config: Config, rng: random.Random) -> Result:
    """Start the server (maybe killing one start part way); the start that got ready."""
    out: Result = {"killed_while_starting_after_s": None}
    healed = False
    if rng.random() < config.start_kill_share:
        server.start()
        delay = rng.uniform(0.0, server.ready_s)
        time.sleep(delay)
        server.kill()
        out["killed_while_starting_after_s"] = round(delay, 2)
        healed = server.healed()  # the killed start may have healed before the kill
    server.start()
    out["restart_s"] = round(server.wait_ready(), 2)
    out["healed_inferences"] = healed or server.healed()
    return out


def _observe(server: Server) -> Observed:
    with httpx.Client(base_url=server.base, timeout=REQUEST_TIMEOUT) as http:
        return observe(http)


# ---------------------------------------------------------------- the run
def run(config: Config, pristine: Path, work: Path) -> Result:
    """Run the bench on a copy of the store ``pristine`` in ``work``; the summary."""
    wall = time.monotonic()
    rng = random.Random(f"{config.seed}-kills")
    store = work / "store"
    shutil.copytree(pristine, store)
    server = Server(store, work, config.readers)
    workload = Workload(config.clients, config.seed, TOKEN)
    control = deep_check(store, work / "scratch")
    rounds: list[Result] = []
    applied = 0
    try:
        server.start()
        server.wait_ready()
        baseline = check(workload, [], _observe(server), 0)
        for number in range(1, config.rounds + 1):
            result, applied = _round(number, server, workload, applied, config, rng)
            rounds.append(result)
            _log(result)
            if "checked" not in result:
                break  # the server did not come back
    finally:
        server.stop()
        shutil.rmtree(server.tmp, ignore_errors=True)
    final = deep_check(store, work / "scratch")
    return _summary(config, control, baseline.failures, rounds, final, time.monotonic() - wall)


def _round(
    number: int,
    server: Server,
    workload: Workload,
    applied: int,
    config: Config,
    rng: random.Random,
) -> tuple[Result, int]:
    """Writes, the kill, the checks; the round's figures and the writes applied so far."""
    kill_after = rng.uniform(0.0, config.kill_window)
    writes, killed_at = _write_until_killed(server, workload, kill_after)
    acknowledged = [w for w in writes if w.status and 200 <= w.status < 300]
    doubtful = [w for w in writes if w.status is None or w.status >= 500]
    refused = [w for w in writes if w.status is not None and 300 <= w.status < 500]
    result: Result = {
        "round": number,
        "killed_after_s": round(killed_at, 2),
        "writes_sent": len(writes),
        "acknowledged": len(acknowledged),
        "acknowledged_by_kind": dict(Counter(w.op for w in acknowledged)),
        "in_flight_at_kill": len(doubtful),
    }
    failures = [f"{w.op} refused with {w.status}: {w.error}" for w in refused]
    if config.deep_every and (number % config.deep_every == 0 or number == config.rounds):
        deep = deep_check(server.store, server.work / "scratch")
        result["deep_check"] = deep
        failures += deep["failures"]
    result["failures"] = failures
    try:
        result.update(_restart(server, config, rng))
    except RuntimeError as exc:  # it exited or did not get ready: the log says why
        failures.append(f"the server did not restart: {str(exc)[-2000:]}")
        result["survived"] = False
        return result, applied
    if result.get("deep_check", {}).get("pending") and not result["healed_inferences"]:
        failures.append("a write was caught before its inference refresh, and no start healed it")
    applied += len(acknowledged)
    checking = time.monotonic()
    outcome = check(workload, doubtful, _observe(server), applied)
    result["check_s"] = round(time.monotonic() - checking, 2)
    result["checked"] = {
        "items": outcome.items,
        "triples": outcome.triples,
        "lost": outcome.lost,
        "half_applied": outcome.half_applied,
    }
    result["in_flight_outcomes"] = dict(outcome.doubtful)
    failures += outcome.failures
    result["survived"] = not failures
    return result, outcome.applied


def _summary(
    config: Config,
    control: Result,
    baseline: list[str],
    rounds: list[Result],
    final: Result,
    wall: float,
) -> Result:
    checked = [r for r in rounds if "checked" in r]  # all, unless a restart failed

    def total(key: str, of: list[Result] = rounds) -> int:
        return sum(r[key] for r in of)

    outcomes: Counter = Counter()
    by_kind: Counter = Counter()
    for r in rounds:
        outcomes.update(r.get("in_flight_outcomes", {}))
        by_kind.update(r["acknowledged_by_kind"])
    restarts = [r["restart_s"] for r in checked]
    deep = [r["deep_check"] for r in rounds if "deep_check" in r]
    opened = [d for d in [control, *deep, final] if d["opened"]]
    failures = [f"before round 1: {f}" for f in baseline + control["failures"]]
    failures += [f"round {r['round']}: {f}" for r in rounds for f in r["failures"]]
    failures += [f"after the last round: {f}" for f in final["failures"]]
    return {
        "bench": "crash-safety",
        "config": asdict(config),
        "rounds": len(rounds),
        "rounds_survived": sum(1 for r in rounds if r["survived"]),
        "writes": {
            "sent": total("writes_sent"),
            "acknowledged": total("acknowledged"),
            "acknowledged_by_kind": dict(sorted(by_kind.items())),
            "in_flight_at_kill": total("in_flight_at_kill"),
            "in_flight_outcomes": dict(sorted(outcomes.items())),
        },
        "checks": {
            "acknowledged_writes_checked": total("acknowledged", checked),
            "item_checks": sum(r["checked"]["items"] for r in checked),
            "triples_compared": sum(r["checked"]["triples"] for r in checked),
            "lost": sum(r["checked"]["lost"] for r in checked),
            "half_applied": sum(r["checked"]["half_applied"] for r in checked),
            "deep_checks": len(deep) + 2,
            "derived_triples_compared": sum(d["derived_triples"] for d in opened),
            "inferred_graphs_compared": sum(1 for d in opened if d["inferred_compared"]),
            "pending_inference_at_kill": sum(1 for d in deep if d.get("pending")),
            "healed_at_restart": sum(1 for r in checked if r["healed_inferences"]),
        },
        "kills": {
            "during_writes": len(rounds),
            "during_start": sum(
                1 for r in checked if r["killed_while_starting_after_s"] is not None
            ),
        },
        "restart_s": {
            "median": round(statistics.median(restarts), 2) if restarts else None,
            "max": max(restarts, default=None),
        },
        "failures": failures,
        "wall_s": round(wall, 1),
        "machine": machine(),
        "code": code_version(),
        "per_round": rounds,
    }


def code_version() -> Result:
    """The commit the server ran from, and its files that differed from it (kg/, api/)."""
    git = ["git", "-C", str(ROOT)]
    try:
        commit = subprocess.run(
            [*git, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=30
        ).stdout.strip()
        changed = subprocess.run(
            [*git, "status", "--porcelain", "--", "kg", "api"],
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.splitlines()
    except (OSError, subprocess.TimeoutExpired):
        return {}
    return {"commit": commit, "uncommitted_in_kg_api": sorted(line[3:] for line in changed)}


def _log(result: Result) -> None:
    print(
        time.strftime("%H:%M:%S"),
        f"round {result['round']}: {result['acknowledged']}/{result['writes_sent']} acknowledged, "
        f"in flight {result.get('in_flight_outcomes')}, restart {result.get('restart_s')} s, "
        f"{'ok' if result['survived'] else 'FAILED: ' + '; '.join(result['failures'][:3])}",
        file=sys.stderr,
        flush=True,
    )


def load_store(target: Path) -> None:
    """``kg load`` of the curated data into ``target``."""
    kg = [sys.executable, "-c", "from kg.cli import app; app()"]
    subprocess.run(
        [*kg, "load", "--store", str(target), "--root", str(ROOT)],
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=600,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=Config.rounds)
    parser.add_argument("--seed", type=int, default=Config.seed)
    parser.add_argument("--clients", type=int, default=Config.clients)
    parser.add_argument("--kill-window", type=float, default=Config.kill_window)
    parser.add_argument("--deep-every", type=int, default=Config.deep_every)
    parser.add_argument("--store", type=Path, help="a store to copy (default: kg load, fresh)")
    parser.add_argument("--work", type=Path, help="work folder (default: a temporary one)")
    parser.add_argument("--out", type=Path, default=RESULTS / "crash.json")
    args = parser.parse_args()
    config = Config(
        rounds=args.rounds,
        seed=args.seed,
        clients=args.clients,
        kill_window=args.kill_window,
        deep_every=args.deep_every,
    )
    work = args.work or Path(tempfile.mkdtemp(prefix="geokg-crash-"))
    work.mkdir(parents=True, exist_ok=True)
    pristine = args.store
    if pristine is None:
        pristine = work / "pristine"
        load_store(pristine)
    summary = run(config, pristine, work / "run")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    print(
        f"{summary['rounds_survived']}/{summary['rounds']} rounds survived, "
        f"{summary['writes']['acknowledged']} acknowledged writes checked, "
        f"in flight: {summary['writes']['in_flight_outcomes']}, "
        f"{len(summary['failures'])} failures -> {args.out}"
    )
    if not summary["failures"] and args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if summary["failures"] else 0)


if __name__ == "__main__":
    main()
