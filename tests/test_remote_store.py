"""The remote store on real engines: atomicity, chunked idempotent loads, retries, auth.

Runs on each external engine (the embedded store has its own tests). What each engine
guarantees is written down in docs/deployment.md; :data:`ATOMIC_UPDATES` is the same
table, and the test below holds the engines to it.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from rdflib import URIRef

from kg._oxigraph import parse_rdf_bytes
from kg._remote import STAGING, RemoteConfig, RemoteStore
from kg.errors import QueryError, StoreError
from kg.formats import RdfFormat
from tests.backends import Backend

G = "https://w3id.org/geokg/graph/test/remote/"
EX = "https://w3id.org/geokg/id/test-remote-"
LABEL = "http://www.w3.org/2000/01/rdf-schema#label"

#: Whether one SPARQL Update request (several operations) is all or nothing.
ATOMIC_UPDATES = {"oxigraph": True, "virtuoso": False}


@pytest.fixture
def remote(backend: Backend, tmp_path) -> Iterator[RemoteStore]:
    if not backend.remote:
        pytest.skip("the embedded store is not a remote store (tests/test_loading.py)")
    assert backend.config is not None
    backend.empty(tmp_path)
    store = RemoteStore(backend.config)
    yield store
    store.close()


def _graph(name: str, n: int) -> object:
    body = "".join(f'<{EX}{name}-{i}> <{LABEL}> "{name} {i}" .\n' for i in range(n)).encode()
    return parse_rdf_bytes(body, G + name, RdfFormat.NTRIPLES)


class _Flaky(httpx.BaseTransport):
    """A transport that fails chosen requests: ``fail(request) -> status or None``."""

    def __init__(self, fail) -> None:
        self._inner = httpx.HTTPTransport()
        self._fail = fail
        self.requests = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        status = self._fail(request, self.requests)
        if status is not None:
            return httpx.Response(status, text="injected failure")
        return self._inner.handle_request(request)


def _use_transport(store: RemoteStore, transport: httpx.BaseTransport) -> None:
    client = store.raw.client
    old = client._http
    client._http = httpx.Client(auth=old.auth, headers=old.headers, transport=transport)
    old.close()


def test_one_update_request_is_atomic_where_the_engine_says_so(
    backend: Backend, remote: RemoteStore
) -> None:
    """A request whose second operation fails at run time: does the first one stay?"""
    g = G + "atomic"
    with pytest.raises((QueryError, StoreError)):
        remote.update(
            f'INSERT DATA {{ GRAPH <{g}> {{ <{EX}a> <{LABEL}> "a" }} }} ;\n'
            f"DROP GRAPH <{G}never-existed>"  # not SILENT: an error, as SPARQL 1.1 says
        )
    kept = remote.count(g)
    if ATOMIC_UPDATES[backend.name]:
        assert kept == 0, "the engine applied part of a failed request"
    else:  # the operations before the failing one stay applied (docs/deployment.md)
        assert kept == 1, "the engine is atomic after all: update ATOMIC_UPDATES and the docs"
        remote.update(f"DROP SILENT GRAPH <{g}>")


def test_a_request_the_engine_rejects_whole_changes_nothing(remote: RemoteStore) -> None:
    """An error found before running (a bad literal for its datatype) writes nothing."""
    g = G + "rejected"
    with pytest.raises((QueryError, StoreError)):
        remote.update(
            f'INSERT DATA {{ GRAPH <{g}> {{ <{EX}a> <{LABEL}> "a" }} }} ;\n'
            f"INSERT DATA {{ GRAPH <{g}> {{ <{EX}b> <{LABEL}> ) }} }}"
        )
    assert remote.count(g) == 0


def test_bulk_replace_is_chunked_idempotent_and_switched_in_one_request(
    remote: RemoteStore,
) -> None:
    small = RemoteConfig(**{**vars(remote.config), "chunk": 7})
    store = RemoteStore(small)
    graphs = [_graph("one", 50), _graph("two", 20)]
    store.replace_graphs(graphs)
    assert store.count(G + "one") == 50 and store.count(G + "two") == 20
    before = store.export(RdfFormat.NQUADS)
    store.replace_graphs(graphs)  # again: the same store
    assert store.export(RdfFormat.NQUADS) == before
    # staging graphs never stay behind
    assert not [g for g in store.raw.our_graphs() if g.startswith(STAGING)]
    store.close()


def test_a_failed_bulk_load_leaves_the_live_graphs_as_they_were(remote: RemoteStore) -> None:
    remote.replace_graphs([_graph("live", 30)])
    before = remote.export(RdfFormat.NQUADS)
    small = RemoteStore(RemoteConfig(**{**vars(remote.config), "chunk": 10, "retries": 1}))
    # the third chunk of the upload fails for good (after its retry)
    chunks = {"n": 0}

    def fail(request: httpx.Request, _count: int) -> int | None:
        body = request.content or b""
        if b"test-remote-live" in body and request.method == "POST":
            chunks["n"] += 1
            if chunks["n"] >= 3:
                return 503
        return None

    _use_transport(small, _Flaky(fail))
    with pytest.raises(StoreError, match="503"):
        small.replace_graphs([_graph("live", 80)])
    small.close()
    assert remote.export(RdfFormat.NQUADS) == before
    remote.raw.forget_graphs()
    assert not [g for g in remote.raw.our_graphs() if g.startswith(STAGING)]


def test_transient_failures_are_retried(remote: RemoteStore) -> None:
    """Every other request first gets a 503: the load still completes, once."""
    flaky = RemoteStore(RemoteConfig(**{**vars(remote.config), "chunk": 5, "retries": 2}))
    transport = _Flaky(lambda _r, n: 503 if n % 2 == 1 else None)
    _use_transport(flaky, transport)
    flaky.replace_graphs([_graph("retried", 23)])
    flaky.close()
    assert remote.count(G + "retried") == 23
    assert transport.requests >= 10


def test_an_unreachable_store_is_a_clear_error(remote: RemoteStore) -> None:
    dead = RemoteStore(
        RemoteConfig("http://127.0.0.1:9/sparql", retries=1, timeout=2)  # discard port
    )
    with pytest.raises(StoreError, match="cannot reach the store"):
        dead.count()
    dead.close()


def test_wrong_credentials_are_a_clear_error(backend: Backend, remote: RemoteStore) -> None:
    if remote.config.auth == "none":
        pytest.skip(f"{backend.name} is run without authentication")
    wrong = RemoteStore(RemoteConfig(**{**vars(remote.config), "password": "not-it"}))
    with pytest.raises(StoreError, match="credentials"):
        wrong.update(f'INSERT DATA {{ GRAPH <{G}x> {{ <{EX}x> <{LABEL}> "x" }} }}')
    wrong.close()
    anonymous = RemoteStore(
        RemoteConfig(**{**vars(remote.config), "auth": "none", "user": None, "password": None})
    )
    with pytest.raises(StoreError):
        anonymous.update(f'INSERT DATA {{ GRAPH <{G}x> {{ <{EX}x> <{LABEL}> "x" }} }}')
    anonymous.close()
    assert remote.count(G + "x") == 0


def test_the_engines_own_graphs_are_not_ours(remote: RemoteStore) -> None:
    remote.replace_graphs([_graph("mine", 3)])
    assert remote.named_graphs() == [G + "mine"]
    assert remote.count() == 3


def test_a_result_the_store_cut_is_an_error_not_a_short_answer() -> None:
    from kg._remote import _refuse_partial

    with pytest.raises(StoreError, match="row limit"):
        _refuse_partial(httpx.Response(200, headers={"X-SPARQL-MaxRows": "10000"}))
    with pytest.raises(StoreError, match="time limit"):
        _refuse_partial(httpx.Response(200, headers={"X-SQL-State": "S1TAT"}))
    _refuse_partial(httpx.Response(200))  # a whole answer passes


def test_the_store_is_chosen_by_giving_a_url_instead_of_a_directory(tmp_path) -> None:
    from pydantic import ValidationError

    from api.settings import Settings
    from kg.store import store_location

    remote = Settings(store="http://127.0.0.1:7878/query", store_dialect="oxigraph")
    assert isinstance(remote.store_location(), RemoteConfig)
    assert remote.store is None and remote.store_url == "http://127.0.0.1:7878/query"
    assert Settings(store=tmp_path / "s").store_location() == tmp_path / "s"
    with pytest.raises(ValidationError, match="directory"):
        Settings(store=tmp_path / "s", store_url="http://127.0.0.1:1/q")
    with pytest.raises(ValidationError, match="password"):
        Settings(store="http://127.0.0.1:1/q", store_auth="digest", store_user="u")
    config = store_location(
        "https://db.example/sparql",
        env={"KG_STORE_AUTH": "bearer", "KG_STORE_TOKEN": "t0k", "KG_STORE_CHUNK": "500"},
    )
    assert isinstance(config, RemoteConfig) and config.chunk == 500
    assert "t0k" not in repr(config)
    with pytest.raises(StoreError, match="KG_STORE_CHUNK"):
        store_location("https://db.example/sparql", env={"KG_STORE_CHUNK": "many"})


def test_the_kg_command_works_on_a_remote_store(backend: Backend, tmp_path) -> None:
    from typer.testing import CliRunner

    from kg.cli import app
    from tests.server import remote_environment

    if not backend.remote:
        pytest.skip("the kg command on the embedded store: tests/test_cli.py")
    config = backend.curated()
    assert isinstance(config, RemoteConfig)
    env = {"KG_STORE": config.query_url, **remote_environment(config)}
    result = CliRunner().invoke(
        app, ["query", "SELECT (COUNT(*) AS ?n) WHERE { ?s a gp:State }"], env=env
    )
    assert result.exit_code == 0, result.output
    assert "13" in result.output


def test_asking_about_a_missing_graph_says_no(remote: RemoteStore) -> None:
    """Virtuoso answers ASK true whenever a dataset is given: we ask with a SELECT there."""
    remote.replace_graphs([_graph("present", 2)])
    missing = G + "missing"
    assert remote.has_graph(G + "present") and not remote.has_graph(missing)
    assert remote.query(f"ASK {{ GRAPH <{missing}> {{ ?s ?p ?o }} }}") is False
    assert remote.query(f"ASK {{ GRAPH <{G}present> {{ ?s ?p ?o }} }}") is True
    assert remote.count(missing) == 0
    s, p = f"{EX}present-0", LABEL
    assert remote.query(f'ASK {{ GRAPH <{G}present> {{ <{s}> <{p}> "present 0" }} }}') is True
    assert not list(remote.match(*(URIRef(x) for x in (s, p, EX + "nothing", missing))))


def test_ask_is_turned_into_a_select_by_the_lexer_not_by_a_search() -> None:
    from kg._remote import _ask_as_select

    turned = _ask_as_select('PREFIX ask: <http://x/ask> ASK { ?s ?p "ask" }')
    assert turned == 'PREFIX ask: <http://x/ask> SELECT * { ?s ?p "ask" } LIMIT 1'
    assert _ask_as_select("ASK { <a:b> <a:c> <a:d> }") is None  # nothing to project
    assert _ask_as_select("ASK { ?s ?p ?o } VALUES ?s { <a:b> }") is None
    assert _ask_as_select("SELECT * { ?s ?p ?o }") is None


def test_an_update_reads_its_where_clause_in_batches_and_keeps_nothing(
    remote: RemoteStore,
) -> None:
    """rdflib evaluates WHERE one lookup at a time; on a remote store they are batched.

    Forty subjects, each looked up for its label: a request per subject without the
    cache, a handful with it. The cache is gone afterwards, so a later update sees
    writes made meanwhile.
    """
    from kg.updates import compute_change

    remote.replace_graphs([_graph("batched", 40)])
    counting = RemoteStore(remote.config)
    transport = _Flaky(lambda _r, _n: None)
    _use_transport(counting, transport)
    update = (
        f"INSERT {{ GRAPH <{G}marks> {{ ?s <{EX}seen> ?l }} }} WHERE {{ "
        f"GRAPH <{G}batched> {{ ?s <{LABEL}> ?l }} ?s <{LABEL}> ?again }}"
    )
    change = compute_change(counting, update)
    assert len(change.add) == 40
    assert transport.requests < 15
    assert counting.raw._cache is None
    remote.replace_graphs([_graph("batched", 41)])
    assert len(compute_change(counting, update).add) == 41
    counting.close()
