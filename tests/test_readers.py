"""The reader processes behind ``kg serve``: time limits on both paths, checkpoints, life cycle.

A reader answers a query on its event loop when it holds no other connection (its
watchdog ends it at the deadline), and in a thread when it does (it answers 503, then
retires). Either way the client gets a 503 problem body, the CPU is freed, and a fresh
reader takes the place of the old one.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import httpx

from tests.server import TOKEN, running_server, worker_pids

PATHOLOGICAL = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
SIMPLE = "ASK { ?s ?p ?o }"


def _wait_for(condition, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_a_reader_with_other_clients_answers_them_while_a_query_overruns(
    store_path: Path,
) -> None:
    with running_server(store_path, workers=1, query_timeout="3") as base:
        (reader,) = worker_pids(base.pid)
        with (
            httpx.Client(base_url=base, timeout=30) as other,
            httpx.Client(base_url=base, timeout=30) as slow_client,
        ):
            # `other` holds a connection to the only reader, so the slow query runs in
            # a thread there and the reader keeps serving `other`.
            assert other.get("/sparql", params={"query": SIMPLE}).status_code == 200
            results: list[httpx.Response] = []
            slow = threading.Thread(
                target=lambda: results.append(
                    slow_client.get("/sparql", params={"query": PATHOLOGICAL, "timeout": "2"})
                )
            )
            slow.start()
            time.sleep(0.5)
            started = time.monotonic()
            r = other.get("/sparql", params={"query": SIMPLE})
            assert r.status_code == 200 and r.json()["boolean"] is True
            assert time.monotonic() - started < 1.0, "the busy reader did not answer promptly"
            assert slow.is_alive(), "the slow query ended before the simple one was answered"
            slow.join(30)
            (response,) = results
            assert response.status_code == 503
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["type"].endswith("/query-timeout")
            # The retiring reader does not cut `other`'s idle keep-alive connection: the
            # next request on it is answered, and told that the connection closes.
            r = other.get("/sparql", params={"query": SIMPLE})
            assert r.status_code == 200 and r.headers["connection"] == "close"
            # The reader retires (its CPU with it) and a fresh one takes its place.
            assert _wait_for(lambda: not Path(f"/proc/{reader}").exists())
            assert _wait_for(lambda: len(worker_pids(base.pid) - {reader}) == 1)
        r = httpx.get(f"{base}/sparql", params={"query": SIMPLE}, timeout=30)
        assert r.status_code == 200


def test_a_retiring_reader_exits_by_itself_once_its_clients_are_served(
    store_path: Path,
) -> None:
    """Not by the supervisor's backstop: while the reader waits to be killed, it accepts
    no connection and its query burns a CPU (found by bench.load, where readers retiring
    one after the other left connections waiting seconds in the accept queue)."""
    with running_server(store_path, workers=1, query_timeout="3") as base:
        (reader,) = worker_pids(base.pid)
        with httpx.Client(base_url=base, timeout=30) as other:
            # `other` holds a connection to the only reader: the slow query runs in a thread.
            assert other.get("/sparql", params={"query": SIMPLE}).status_code == 200
            r = httpx.get(
                f"{base}/sparql", params={"query": PATHOLOGICAL, "timeout": "1"}, timeout=30
            )
            assert r.status_code == 503 and r.json()["type"].endswith("/query-timeout")
        # Its clients are gone: the reader ends, and a fresh one takes its place.
        assert _wait_for(lambda: not Path(f"/proc/{reader}").exists())
        assert _wait_for(lambda: len(worker_pids(base.pid) - {reader}) == 1)
        log = (Path(base.store).parent / "server.log").read_text(errors="replace")
        assert "overran its time limit" not in log, log


def test_a_reader_alone_with_an_overrunning_query_is_ended_by_its_watchdog(
    store_path: Path,
) -> None:
    with running_server(store_path, workers=1, query_timeout="30") as base:
        (reader,) = worker_pids(base.pid)
        cpu_before = _cpu_seconds(reader)
        started = time.monotonic()
        r = httpx.get(
            f"{base}/sparql", params={"query": PATHOLOGICAL, "timeout": "1.5"}, timeout=30
        )
        elapsed = time.monotonic() - started
        assert r.status_code == 503, r.text
        assert r.json()["type"].endswith("/query-timeout")
        assert r.json()["status"] == 503
        assert 1.4 < elapsed < 5, elapsed
        assert r.headers["vary"] == "Accept"
        # The process that burnt the CPU is gone, so nothing is still computing.
        assert _wait_for(lambda: not Path(f"/proc/{reader}").exists(), 5)
        assert _wait_for(lambda: len(worker_pids(base.pid)) == 1)
        (fresh,) = worker_pids(base.pid)
        assert fresh != reader
        assert cpu_before < 30  # sanity: the reader was not spinning before
        assert httpx.get(f"{base}/sparql", params={"query": SIMPLE}).status_code == 200
        metrics = httpx.get(f"{base}/metrics").text
        assert "geokg_query_timeouts_total 1.0" in metrics
        assert "geokg_worker_restarts_total 1.0" in metrics


def test_writes_are_seen_by_every_reader_and_old_checkpoints_go(store_path: Path) -> None:
    with running_server(store_path, workers=3, writable=True) as base:
        snapshots = base.store.parent / f".{base.store.name}.snapshots"
        headers = {"Authorization": f"Bearer {TOKEN}"}
        for i in range(6):
            r = httpx.post(
                f"{base}/sparql",
                content=(
                    "INSERT DATA { GRAPH <https://w3id.org/geokg/graph/test-readers> { "
                    f"<https://w3id.org/geokg/id/test-reader-{i}> "
                    f'<http://www.w3.org/2000/01/rdf-schema#comment> "n{i}" }} }}'
                ),
                headers={**headers, "Content-Type": "application/sparql-update"},
                timeout=60,
            )
            assert r.status_code in (200, 204), r.text
            # Read-your-writes on fresh connections, so that every reader is asked.
            for _ in range(6):
                count = httpx.get(
                    f"{base}/sparql",
                    params={
                        "query": "SELECT (COUNT(*) AS ?n) WHERE { GRAPH "
                        "<https://w3id.org/geokg/graph/test-readers> { ?s ?p ?o } }"
                    },
                    headers={"Accept": "text/csv", "Connection": "close"},
                ).text.split()[-1]
                assert count == str(i + 1)

        # Checkpoints nobody reads any more are deleted: what is left is the current one
        # and at most one per reader (an idle reader moves on with its next query).
        def old_ones_gone() -> bool:
            left = sorted(int(p.name) for p in snapshots.iterdir())
            return len(left) <= 4 and left[-1] == 7 and left[0] >= 7 - 3

        assert _wait_for(old_ones_gone, 10), sorted(p.name for p in snapshots.iterdir())


def test_readers_end_with_the_supervisor(store_path: Path) -> None:
    with running_server(store_path, workers=2) as base:
        readers = worker_pids(base.pid)
        assert len(readers) == 2
        os.kill(base.pid, signal.SIGKILL)
        assert _wait_for(lambda: not any(Path(f"/proc/{p}").exists() for p in readers), 10)


def test_requests_other_than_queries_are_forwarded_whole(server: str) -> None:
    # The service description, a Graph Store read, a 404 and a HEAD all come from the
    # supervisor through a reader, status, headers and body intact.
    r = httpx.get(f"{server}/sparql", headers={"Accept": "text/turtle"})
    assert r.status_code == 200 and "sd:Service" in r.text
    assert "Accept" in r.headers["vary"]
    r = httpx.get(f"{server}/no-such-thing")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    r = httpx.head(f"{server}/health")
    assert r.status_code in (200, 405)
    r = httpx.post(
        f"{server}/sparql",
        content="INSERT DATA { <http://x/a> <http://x/b> <http://x/c> }",
        headers={"Content-Type": "application/sparql-update"},
    )
    assert r.status_code == 403  # writes are off on this server: the supervisor says so
    assert r.json()["type"].endswith("/writes-disabled")


def test_nothing_is_answered_before_the_whole_server_is_up(store_path: Path) -> None:
    # Readers open the store before the supervisor listens; they accept only after it,
    # so an early client waits in the backlog instead of getting a 503 for a request
    # that must be forwarded (here the service description).
    with running_server(store_path, workers=2, wait=False) as base:
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"{base}/sparql", headers={"Accept": "text/turtle"}, timeout=60)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server never answered"
                time.sleep(0.02)
        assert r.status_code == 200, r.text


def test_a_temporary_folder_too_deep_for_a_unix_socket_is_not_fatal(
    store_path: Path, tmp_path: Path, monkeypatch
) -> None:
    """The supervisor's socket lives in a folder under TMPDIR; a Unix socket's path must
    fit in 107 bytes, and a deep TMPDIR (a CI's nested temporary folders) made the server
    exit at start with "AF_UNIX path too long". It now falls back to /tmp and says so."""
    deep = tmp_path / ("t" * 60) / ("u" * 60)
    deep.mkdir(parents=True)
    monkeypatch.setenv("TMPDIR", str(deep))
    with running_server(store_path, workers=1) as base:
        r = httpx.post(f"{base}/sparql", data={"query": "ASK { ?s ?p ?o }"}, timeout=30)
        assert r.status_code == 200 and r.json()["boolean"] is True
        log = (Path(base.store).parent / "server.log").read_text(errors="replace")
    assert "TMPDIR is too long a path for a Unix socket" in log, log
    assert not list(deep.iterdir())  # nothing was made there
