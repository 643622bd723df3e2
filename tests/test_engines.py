"""The external SPARQL engines of the remote-store tests and benchmarks (tests/engines.py).

Each engine runs from a private directory on 127.0.0.1 and answers the SPARQL 1.1 protocols;
Virtuoso writes only with authentication. These tests are not skipped when an engine is
missing: `make install-test` installs both (the test extra has oxigraph, `make engines` runs
scripts/ensure-virtuoso), so a missing one fails with what to run.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.engines import (
    ENGINES,
    EngineError,
    RunningEngine,
    _group_members,
    executable,
    listening_addresses,
    read_state,
    start,
    start_oxigraph,
)

ROOT = Path(__file__).resolve().parent.parent
EX = "http://example.org/engines/"
SELECT_G = f"SELECT ?o WHERE {{ GRAPH <{EX}g> {{ <{EX}s> <{EX}p> ?o }} }}"

#: One test process starts this module's engines once (under ``pytest -n``; conftest.py
#: does the same for the backend-parametrised modules).
pytestmark = [pytest.mark.timeout(600), pytest.mark.xdist_group("engines-module")]


class _Engines:
    """Starts each engine once for the module, when a test first asks for it."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.running: dict[str, RunningEngine] = {}

    def get(self, name: str) -> RunningEngine:
        if name not in self.running:
            try:
                self.running[name] = start(name, self.base / name)
            except EngineError as e:
                pytest.fail(f"{name} could not be started: {e}", pytrace=False)
        return self.running[name]


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Engines]:
    cache = _Engines(tmp_path_factory.mktemp("engines"))
    try:
        yield cache
    finally:
        for running in cache.running.values():
            running.stop()


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, engines: _Engines) -> RunningEngine:
    return engines.get(request.param)


@pytest.fixture
def virtuoso(engines: _Engines) -> RunningEngine:
    return engines.get("virtuoso")


def _select(engine: RunningEngine, query: str) -> list[dict]:
    r = httpx.post(
        engine.query_url,
        data={"query": query},
        headers={"Accept": "application/sparql-results+json"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return r.json()["results"]["bindings"]


def _update(engine: RunningEngine, update: str, auth: httpx.Auth | None = None) -> httpx.Response:
    return httpx.post(
        engine.update_url,
        data={"update": update},
        auth=auth if auth is not None else engine.httpx_auth(),
        timeout=30,
    )


def _assert_gone(engine: RunningEngine) -> None:
    assert not engine.alive(), f"{engine.name} left processes: {_group_members(engine.pid)}"
    assert not (engine.directory / "engine.json").exists()
    assert read_state(engine.directory) is None
    for port in engine.ports:
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still answers"


def test_answers_queries_over_the_protocol(engine: RunningEngine) -> None:
    """ASK and SELECT by GET, by POST of a form and by POST of application/sparql-query."""
    query = "SELECT (1 + 1 AS ?two) WHERE {}"
    accept = {"Accept": "application/sparql-results+json"}
    responses = [
        httpx.get(engine.query_url, params={"query": query}, headers=accept, timeout=30),
        httpx.post(engine.query_url, data={"query": query}, headers=accept, timeout=30),
    ]
    direct = {**accept, "Content-Type": "application/sparql-query"}
    if engine.name == "virtuoso":
        # Virtuoso 7.2 never answers a POST of application/sparql-query
        # (openlink/virtuoso-opensource#842; docs/engines.md): clients must use the form.
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(engine.query_url, content=query.encode(), headers=direct, timeout=3)
    else:
        responses.append(
            httpx.post(engine.query_url, content=query.encode(), headers=direct, timeout=30)
        )
    for r in responses:
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("application/sparql-results+json")
        assert r.json()["results"]["bindings"][0]["two"]["value"] == "2"
    ask = httpx.get(engine.query_url, params={"query": "ASK {}"}, headers=accept, timeout=30)
    assert ask.json()["boolean"] is True


def test_update_and_graph_store(engine: RunningEngine) -> None:
    """INSERT DATA through the update endpoint, then PUT / GET / DELETE of a named graph
    through the Graph Store Protocol, with the engine's authentication."""
    r = _update(engine, f'INSERT DATA {{ GRAPH <{EX}g> {{ <{EX}s> <{EX}p> "written" }} }}')
    assert r.status_code in (200, 204), r.text
    assert [b["o"]["value"] for b in _select(engine, SELECT_G)] == ["written"]

    auth = engine.httpx_auth()
    graph = {"graph": f"{EX}gsp"}
    body = f'<{EX}a> <{EX}b> "put" .\n'.encode()
    put = httpx.put(
        engine.gsp_url,
        params=graph,
        content=body,
        headers={"Content-Type": "application/n-triples"},
        auth=auth,
        timeout=30,
    )
    assert put.status_code in (200, 201, 204), put.text
    got = httpx.get(
        engine.gsp_url,
        params=graph,
        headers={"Accept": "application/n-triples"},
        auth=auth,
        timeout=30,
    )
    assert got.status_code == 200, got.text
    assert '"put"' in got.text
    deleted = httpx.delete(engine.gsp_url, params=graph, auth=auth, timeout=30)
    assert deleted.status_code in (200, 204), deleted.text
    count = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{EX}gsp> {{ ?s ?p ?o }} }}"
    assert _select(engine, count)[0]["n"]["value"] == "0"

    cleared = _update(engine, f"DROP SILENT GRAPH <{EX}g>")
    assert cleared.status_code in (200, 204), cleared.text
    assert _select(engine, SELECT_G) == []


def test_virtuoso_writes_only_with_authentication(virtuoso: RunningEngine) -> None:
    """Oxigraph's server has no authentication; Virtuoso's anonymous endpoints only read."""
    engine = virtuoso
    assert engine.auth is not None and engine.auth[0] == "digest"
    insert = f'INSERT DATA {{ GRAPH <{EX}anon> {{ <{EX}s> <{EX}p> "anonymous" }} }}'
    base = engine.query_url.rsplit("/", 1)[0]
    attempts = {
        "anonymous /sparql": httpx.post(engine.query_url, data={"update": insert}, timeout=30),
        "anonymous /sparql GET": httpx.get(engine.query_url, params={"query": insert}, timeout=30),
        "/sparql-auth without credentials": httpx.post(
            engine.update_url, data={"update": insert}, timeout=30
        ),
        "/sparql-auth with a wrong password": _update(
            engine, insert, httpx.DigestAuth(engine.auth[1], "wrong-password")
        ),
        "/sparql-auth with Basic auth": _update(
            engine, insert, httpx.BasicAuth(engine.auth[1], engine.auth[2])
        ),
        "anonymous Graph Store PUT": httpx.put(
            f"{base}/sparql-graph-crud",
            params={"graph-uri": f"{EX}anon"},
            content=f'<{EX}s> <{EX}p> "anonymous" .'.encode(),
            headers={"Content-Type": "text/turtle"},
            timeout=30,
        ),
        "Graph Store PUT without credentials": httpx.put(
            engine.gsp_url,
            params={"graph": f"{EX}anon"},
            content=f'<{EX}s> <{EX}p> "anonymous" .'.encode(),
            headers={"Content-Type": "text/turtle"},
            timeout=30,
        ),
    }
    for what, r in attempts.items():
        assert r.status_code >= 400, f"{what} was accepted: {r.status_code} {r.text[:300]}"
    ask = f"ASK {{ GRAPH <{EX}anon> {{ ?s ?p ?o }} }}"
    r = httpx.get(
        engine.query_url,
        params={"query": ask},
        headers={"Accept": "application/sparql-results+json"},
        timeout=30,
    )
    assert r.json()["boolean"] is False

    ok = _update(engine, insert)
    assert ok.status_code == 200, ok.text
    assert httpx.get(
        engine.query_url,
        params={"query": ask},
        headers={"Accept": "application/sparql-results+json"},
        timeout=30,
    ).json()["boolean"]
    assert _update(engine, f"DROP SILENT GRAPH <{EX}anon>").status_code == 200


def test_bound_to_loopback_only(engine: RunningEngine) -> None:
    listening = listening_addresses(engine.pid)
    assert listening, f"{engine.name} listens on no TCP port"
    assert {address for address, _ in listening} == {"127.0.0.1"}, listening
    assert {port for _, port in listening} == set(engine.ports)
    for url in (engine.query_url, engine.update_url, engine.gsp_url):
        assert url.startswith("http://127.0.0.1:")


@pytest.mark.parametrize("name", ENGINES)
def test_stop_leaves_nothing_and_data_survives_a_restart(name: str, tmp_path: Path) -> None:
    directory = tmp_path / name
    first = start(name, directory)
    try:
        assert read_state(directory) == first
        with pytest.raises(EngineError, match="already running"):
            start(name, directory)
        r = _update(first, f'INSERT DATA {{ GRAPH <{EX}g> {{ <{EX}s> <{EX}p> "kept" }} }}')
        assert r.status_code in (200, 204), r.text
    finally:
        first.stop()
    _assert_gone(first)
    first.stop()  # stopping twice is harmless

    with start(name, directory) as second:
        assert second.pid != first.pid
        assert second.auth == first.auth  # the credentials are the directory's
        assert [b["o"]["value"] for b in _select(second, SELECT_G)] == ["kept"]
    _assert_gone(second)


def test_command_line_start_and_stop(tmp_path: Path) -> None:
    """`python -m tests.engines start|status|stop`, as benchmarks and the guide use it."""
    directory = tmp_path / "cli"

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tests.engines", *args, "--dir", str(directory)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )

    started = cli("start", "oxigraph")
    assert started.returncode == 0, started.stderr
    env = dict(line.split("=", 1) for line in started.stdout.splitlines())
    engine = read_state(directory)
    try:
        assert engine is not None and env["PID"] == str(engine.pid)
        assert env["ENGINE"] == "oxigraph" and env["QUERY_URL"] == engine.query_url
        assert {"UPDATE_URL", "GSP_URL", "AUTH_SCHEME", "LOG", "DIR"} <= set(env)
        assert engine.alive()
        assert json.loads((directory / "engine.json").read_text())["pid"] == engine.pid
        assert oct((directory / "engine.json").stat().st_mode & 0o777) == "0o600"
        status = cli("status")
        assert status.returncode == 0 and status.stdout == started.stdout
        r = httpx.get(env["QUERY_URL"], params={"query": "ASK {}"}, timeout=30)
        assert r.status_code == 200
    finally:
        stopped = cli("stop")
    assert stopped.returncode == 0, stopped.stderr
    _assert_gone(engine)
    assert cli("status").returncode == 1
    assert cli("stop").returncode == 0  # nothing to stop is not an error


def test_a_failed_start_reports_the_log(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("a file where oxigraph wants its store directory")
    with pytest.raises(EngineError) as failure:
        start_oxigraph(tmp_path, timeout=60)
    message = str(failure.value)
    assert "exited" in message and "oxigraph.log" in message
    assert not (tmp_path / "engine.json").exists()


def test_a_missing_engine_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", os.devnull)
    with pytest.raises(EngineError, match="make engines"):
        executable("virtuoso")
    with pytest.raises(EngineError, match="unknown engine"):
        executable("blazegraph")
