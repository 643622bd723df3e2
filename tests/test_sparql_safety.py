"""Time limits that really stop work, a busy server that still answers, no outbound fetches."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from kg.pool import PoolBusy, QueryJob, QueryTimeout, Snapshots, WorkerPool
from tests.canary import canary
from tests.server import ServerURL, running_server, worker_pids

#: Three unbound triple patterns over ~11,000 triples: about 10^12 rows to count.
PATHOLOGICAL = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
SIMPLE = (
    "SELECT ?l WHERE { <https://w3id.org/geokg/id/turkey> "
    "<http://www.w3.org/2000/01/rdf-schema#label> ?l }"
)


@pytest.fixture(scope="module")
def short_server(store_path: Path) -> Iterator[ServerURL]:
    """A server whose own time limit is 2 s."""
    with running_server(store_path, workers=2, query_timeout="2") as base:
        yield base


def _problem(r: httpx.Response, status: int, slug: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == status
    assert body["type"].endswith("/" + slug)
    assert body["title"] and body["detail"]
    return body


def test_a_query_past_its_time_is_stopped_and_its_worker_killed(short_server: ServerURL) -> None:
    before = worker_pids(short_server.pid)
    assert len(before) == 2
    r = httpx.get(
        f"{short_server}/sparql", params={"query": PATHOLOGICAL, "timeout": "1"}, timeout=60
    )
    _problem(r, 503, "query-timeout")
    # The worker that ran it is gone (its CPU is freed) and a fresh one replaces it.
    for _ in range(100):
        after = worker_pids(short_server.pid)
        if len(after) == 2 and len(after - before) == 1:
            break
        threading.Event().wait(0.1)
    assert len(before - after) == 1
    assert len(after - before) == 1
    assert httpx.get(f"{short_server}/sparql", params={"query": SIMPLE}).status_code == 200
    metrics = httpx.get(f"{short_server}/metrics").text
    assert (
        "geokg_query_timeouts_total 1.0" in metrics or "geokg_query_timeouts_total 2.0" in metrics
    )


def test_a_client_cannot_raise_the_server_time_limit(short_server: ServerURL) -> None:
    r = httpx.post(
        f"{short_server}/sparql", data={"query": PATHOLOGICAL, "timeout": "3600"}, timeout=60
    )
    body = _problem(r, 503, "query-timeout")
    assert "2 s" in body["detail"]


def test_simple_queries_are_answered_while_two_pathological_ones_run(client: httpx.Client) -> None:
    slow_results: list[int] = []

    def slow() -> None:
        r = client.get("/sparql", params={"query": PATHOLOGICAL, "timeout": "20"})
        slow_results.append(r.status_code)

    threads = [threading.Thread(target=slow) for _ in range(2)]
    for t in threads:
        t.start()
    threading.Event().wait(0.5)  # let both reach a worker
    answered = 0
    for _ in range(10):
        r = client.get("/sparql", params={"query": SIMPLE}, headers={"Accept": "text/csv"})
        assert r.status_code == 200 and "Turkey" in r.text
        answered += 1
    # All simple queries were answered while both pathological ones were still running.
    assert answered == 10
    assert slow_results == []
    assert all(t.is_alive() for t in threads)
    for t in threads:
        t.join(60)
    assert slow_results == [503, 503]


# ---------------------------------------------------------------- outbound fetches
def test_service_from_and_dataset_parameters_never_contact_anyone(client: httpx.Client) -> None:
    with canary() as (url, seen):
        for query in (
            f"SELECT * WHERE {{ SERVICE <{url}/sparql> {{ ?s ?p ?o }} }}",
            f"SELECT * WHERE {{ SERVICE SILENT <{url}/sparql> {{ ?s ?p ?o }} }}",
            "SELECT * WHERE { \\u0053ERVICE <" + url + "/x> { ?s ?p ?o } }",
            "SELECT * WHERE { ?x ?y ?z SERVICE ?x { ?s ?p ?o } }",
            "SELECT * WHERE { SERVICE <file:///etc/passwd> { ?s ?p ?o } }",
        ):
            _problem(client.get("/sparql", params={"query": query}), 403, "service-refused")
        r = client.get("/sparql", params={"query": f"SELECT * FROM <{url}/data> {{ ?s ?p ?o }}"})
        assert r.status_code == 200 and r.json()["results"]["bindings"] == []
        r = client.get(
            "/sparql",
            params={"query": "SELECT * { ?s ?p ?o }", "default-graph-uri": f"{url}/g"},
        )
        assert r.status_code == 200 and r.json()["results"]["bindings"] == []
        r = client.get(
            "/sparql",
            params={"query": "SELECT * FROM <file:///etc/passwd> { ?s ?p ?o }"},
        )
        assert r.status_code == 200 and r.json()["results"]["bindings"] == []
        # A keyword in a string or an IRI is not a SERVICE clause.
        r = client.get("/sparql", params={"query": 'ASK { ?s ?p "SERVICE <http://x/> {}" }'})
        assert r.status_code == 200
    assert seen == []


@dataclass(frozen=True)
class _ConnectJob:
    """A job that tries to open a TCP connection from inside a worker."""

    host: str
    port: int

    def run(self, store: object) -> str:
        try:
            socket.create_connection((self.host, self.port), timeout=2).close()
        except OSError as exc:
            return f"refused: {exc}"
        return "connected"


def test_workers_have_no_network(store_path: Path, tmp_path: Path) -> None:
    """Even a query the lexer missed could not reach another host from a worker."""

    async def attempt(port: int) -> tuple[bool, str]:
        snapshots = Snapshots(_Checkpointing(store_path), tmp_path / "snaps")
        pool = WorkerPool(snapshots, size=1, isolate=True)
        await pool.start()
        try:
            return pool.isolated, await pool.run(_ConnectJob("127.0.0.1", port), 10)
        finally:
            await pool.close()
            snapshots.close()

    with canary() as (url, seen):
        port = int(url.rsplit(":", 1)[1])
        isolated, outcome = asyncio.run(attempt(port))
    if not isolated:
        pytest.skip("this kernel does not let a process leave the network namespace")
    assert outcome.startswith("refused")
    assert seen == []


class _Checkpointing:
    """Stands in for the writable store: its 'checkpoint' is a copy of a store directory."""

    def __init__(self, source: Path) -> None:
        self.source = source

    def checkpoint(self, target: Path) -> None:
        import shutil

        shutil.copytree(self.source, target)


def test_pool_timeout_in_process(store_path: Path, tmp_path: Path) -> None:
    async def run() -> str:
        snapshots = Snapshots(_Checkpointing(store_path), tmp_path / "snaps")
        pool = WorkerPool(snapshots, size=1, isolate=False)
        await pool.start()
        try:
            with pytest.raises(QueryTimeout):
                await pool.run(QueryJob(PATHOLOGICAL), 0.5)
            out = await pool.run(QueryJob(SIMPLE), 10)
            return out.body.decode()
        finally:
            await pool.close()
            snapshots.close()

    assert "Turkey" in asyncio.run(run())


@pytest.mark.parametrize("queue_wait", [0.0, 60.0])
def test_waiting_for_a_worker_is_bounded_apart_from_the_run_time(
    store_path: Path, tmp_path: Path, queue_wait: float
) -> None:
    """A job queued behind a slow one waits up to ``queue_wait`` (or its own limit).

    The one worker is held by a pathological query until its 1.5 s limit; a simple query
    with a 1 s limit queued behind it is refused as busy when the pool waits no longer
    than a job's limit, and answered once the worker is replaced when it may wait longer.
    """

    async def run() -> object:
        snapshots = Snapshots(_Checkpointing(store_path), tmp_path / "snaps")
        pool = WorkerPool(snapshots, size=1, isolate=False, queue_wait=queue_wait)
        await pool.start()
        try:
            slow = asyncio.ensure_future(pool.run(QueryJob(PATHOLOGICAL), 1.5))
            await asyncio.sleep(0.2)  # the slow query has the worker
            try:
                out = await pool.run(QueryJob(SIMPLE), 1.0)
            except PoolBusy as exc:
                out = exc
            with pytest.raises(QueryTimeout):
                await slow
            return out
        finally:
            await pool.close()
            snapshots.close()

    out = asyncio.run(run())
    if queue_wait:
        assert "Turkey" in out.body.decode()  # type: ignore[attr-defined]
    else:
        assert isinstance(out, PoolBusy)
