"""Writes over HTTP: SPARQL 1.1 Update, the Graph Store HTTP Protocol, and their guards.

Written from the W3C SPARQL 1.1 Update, Protocol and Graph Store HTTP Protocol
specifications, plus this server's rules: the default graph is the read-only union of
the named graphs, computed graphs cannot be written, every write passes the SHACL gate
atomically, only a bearer token in the Authorization header allows writing, and the
server never fetches anything (LOAD, SERVICE, USING, XML entities, JSON-LD contexts).

Most tests share one writable server (module scope) and use their own graph IRIs;
the one that rewrites curated data gets a fresh server.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urljoin

import httpx
import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import RDFS

from tests.backends import Backend
from tests.canary import canary as start_canary
from tests.server import TOKEN, running_server

GP = "https://w3id.org/geokg/ontology#"
ID = "https://w3id.org/geokg/id/"
GRAPHS = "https://w3id.org/geokg/graph/"
TEST_GRAPHS = GRAPHS + "test/"
ENTITIES = GRAPHS + "entities"
DERIVED = GRAPHS + "derived"
LOAD_GRAPH = GRAPHS + "load"
INFERRED = GRAPHS + "inferred"
TURKEY = ID + "turkey"
SEEN = "urn:geokg-test:seen"

PREFIXES = (
    f"PREFIX gp: <{GP}>\n"
    f"PREFIX gpd: <{ID}>\n"
    "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"
    "PREFIX schema: <https://schema.org/>\n"
)
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SPARQL_UPDATE = "application/sparql-update"
FORM = "application/x-www-form-urlencoded"
PROBLEM = "application/problem+json"
CANARY_MARKER = "CANARY-CONTENT-WAS-FETCHED"

# rdflib's JSON-LD parser (used to read answers back) warns about its own internals.
pytestmark = pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")


# ---------------------------------------------------------------- helpers
def state(name: str, label: str) -> str:
    """Turtle/SPARQL triples of a valid state (it only lacks a description: a warning)."""
    return f'<{ID}{name}> a <{GP}State> ; <{RDFS}label> "{label}"@en .'


def post_update(
    c: httpx.Client,
    update: str,
    *,
    form: bool = False,
    auth: str | None = f"Bearer {TOKEN}",
    headers: dict[str, str] | None = None,
    params: dict[str, str | list[str]] | None = None,
    extra_form: dict[str, str] | None = None,
) -> httpx.Response:
    """POST an update, as an application/sparql-update body or as a form field `update`.

    ``auth`` is the Authorization header to send (None: send none).
    """
    sent = {"Authorization": auth} if auth is not None else {}
    sent.update(headers or {})
    if form:
        return c.post(
            "/sparql",
            data={"update": PREFIXES + update, **(extra_form or {})},
            headers=sent,
            params=params,
        )
    return c.post(
        "/sparql",
        content=(PREFIXES + update).encode(),
        headers={"Content-Type": SPARQL_UPDATE, **sent},
        params=params,
    )


def select(c: httpx.Client, query: str) -> list[dict[str, str]]:
    r = c.get(
        "/sparql",
        params={"query": PREFIXES + query},
        headers={"Accept": "application/sparql-results+json"},
    )
    assert r.status_code == 200, r.text
    return [{k: v["value"] for k, v in b.items()} for b in r.json()["results"]["bindings"]]


def ask(c: httpx.Client, query: str) -> bool:
    r = c.get(
        "/sparql",
        params={"query": PREFIXES + "ASK " + query},
        headers={"Accept": "application/sparql-results+json"},
    )
    assert r.status_code == 200, r.text
    return r.json()["boolean"]


def sizes(c: httpx.Client) -> tuple[int, int]:
    """(triples in the union default graph, quads in all named graphs)."""
    union = select(c, "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }")
    quads = select(c, "SELECT (COUNT(*) AS ?n) { GRAPH ?g { ?s ?p ?o } }")
    return int(union[0]["n"]), int(quads[0]["n"])


def labels(c: httpx.Client, entity: str) -> set[str]:
    return {row["l"] for row in select(c, f"SELECT ?l {{ <{entity}> rdfs:label ?l }}")}


def assert_problem(r: httpx.Response, status: int) -> dict:
    """An RFC 9457 problem answer with ``status``; its parsed body."""
    assert r.status_code == status, f"expected {status}, got {r.status_code}: {r.text}"
    assert r.headers.get("content-type", "").startswith(PROBLEM), r.headers
    body = r.json()
    assert body["status"] == status
    assert body["type"] and body["title"] and body["detail"]
    return body


def assert_summary(r: httpx.Response, status: int = 200) -> dict:
    """A successful update answer: JSON {added, removed, warnings}."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body = r.json()
    assert isinstance(body["added"], int) and isinstance(body["removed"], int)
    assert isinstance(body["warnings"], list)
    return body


def turtle(text: str) -> Graph:
    return Graph().parse(data=text, format="turtle")


def get_graph(c: httpx.Client, iri: str, media: str = "text/turtle") -> Graph:
    r = c.get("/store", params={"graph": iri}, headers={"Accept": media})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].split(";")[0].strip() == media
    fmt = {
        "text/turtle": "turtle",
        "application/n-triples": "nt",
        "application/ld+json": "json-ld",
        "application/rdf+xml": "xml",
    }[media]
    return Graph().parse(data=r.content, format=fmt)


def put(c: httpx.Client, iri: str, body: str | bytes, media: str = "text/turtle", **kw):
    content = body.encode() if isinstance(body, str) else body
    headers = {**AUTH, "Content-Type": media, **kw.pop("headers", {})}
    return c.put("/store", params={"graph": iri}, content=content, headers=headers, **kw)


def graph_absent(c: httpx.Client, iri: str) -> bool:
    return c.get("/store", params={"graph": iri}).status_code == 404


# ---------------------------------------------------------------- fixtures
@dataclass
class Canary:
    """An HTTP server on 127.0.0.1 that records every request it gets."""

    url: str
    requests: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def canary() -> Iterator[Canary]:
    body = ('{"@context": {"x": "urn:' + CANARY_MARKER + '"}}').encode()
    with start_canary(body, "application/ld+json") as (url, seen):
        yield Canary(url, seen)


pytestmark = pytest.mark.backends


@pytest.fixture(scope="module")
def server(backend_server: str) -> str:
    """The read-only server over the curated data, on each backend in turn."""
    return backend_server


@pytest.fixture(scope="module")
def client(backend_client: httpx.Client) -> httpx.Client:
    return backend_client


@pytest.fixture
def writable_server(backend: Backend) -> Iterator[str]:
    """A fresh writable server over the curated data, on each backend in turn."""
    with running_server(backend.writable(), workers=2, writable=True) as base:
        yield base
    backend.restore()  # the module's shared writable server reads the same engine


@pytest.fixture(scope="module")
def w(backend: Backend) -> Iterator[httpx.Client]:
    """A client of one writable server shared by this module's tests (distinct graphs)."""
    with (
        running_server(backend.writable(), workers=2, writable=True) as base,
        httpx.Client(base_url=base, timeout=60) as c,
    ):
        yield c


# ---------------------------------------------------------------- 1. authorisation
def test_read_only_server_refuses_every_write(client: httpx.Client) -> None:
    g = TEST_GRAPHS + "read-only"
    insert = f"INSERT DATA {{ GRAPH <{g}> {{ {state('ro-land', 'Ro-land')} }} }}"
    # Even with a (would-be) valid token: this server has writes disabled.
    assert_problem(post_update(client, insert), 403)
    assert_problem(post_update(client, insert, form=True), 403)
    assert_problem(post_update(client, insert, auth=None), 403)
    body = f"@prefix rdfs: <{RDFS}> . {state('ro-land', 'Ro-land')}"
    assert_problem(put(client, g, body), 403)
    assert_problem(
        client.post(
            "/store",
            params={"graph": g},
            content=body,
            headers={**AUTH, "Content-Type": "text/turtle"},
        ),
        403,
    )
    assert_problem(
        client.post("/store", content=body, headers={**AUTH, "Content-Type": "text/turtle"}), 403
    )
    assert_problem(client.delete("/store", params={"graph": ENTITIES}, headers=AUTH), 403)
    assert not ask(client, f"{{ GRAPH <{g}> {{ ?s ?p ?o }} }}")
    assert ask(client, f'{{ GRAPH <{ENTITIES}> {{ <{TURKEY}> rdfs:label "Turkey"@en }} }}')


def test_writes_need_the_bearer_token_in_the_authorization_header(w: httpx.Client) -> None:
    g = TEST_GRAPHS + "auth"
    entity = ID + "auth-land"
    insert = f"INSERT DATA {{ GRAPH <{g}> {{ {state('auth-land', 'Auth-land')} }} }}"
    body = state("auth-land", "Auth-land")
    ttl = {"Content-Type": "text/turtle"}

    def refused(r: httpx.Response) -> None:
        assert_problem(r, 401)
        assert r.headers.get("www-authenticate", "").lower().startswith("bearer"), r.headers

    # No Authorization header.
    refused(post_update(w, insert, auth=None))
    refused(post_update(w, insert, auth=None, form=True))
    refused(w.put("/store", params={"graph": g}, content=body, headers=ttl))
    refused(w.post("/store", params={"graph": g}, content=body, headers=ttl))
    refused(w.post("/store", content=body, headers=ttl))
    refused(w.delete("/store", params={"graph": ENTITIES}))
    # Wrong tokens and schemes.
    for value in (
        "Bearer wrong-token",
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        "Bearer",
        f"Bearer  {TOKEN} extra",
        f"Basic {TOKEN}",
        TOKEN,
    ):
        refused(post_update(w, insert, auth=value))
        refused(post_update(w, insert, auth=value, form=True))
        refused(
            w.put(
                "/store", params={"graph": g}, content=body, headers={**ttl, "Authorization": value}
            )
        )
        refused(w.delete("/store", params={"graph": ENTITIES}, headers={"Authorization": value}))
    # The token anywhere but the Authorization header does not count.
    for field_name in ("access_token", "token", "authorization"):
        extra = {field_name: TOKEN if field_name != "authorization" else f"Bearer {TOKEN}"}
        refused(post_update(w, insert, auth=None, form=True, extra_form=extra))
        refused(post_update(w, insert, auth=None, params=extra))
        refused(w.put("/store", params={"graph": g, **extra}, content=body, headers=ttl))
    cookie = {"Cookie": f"access_token={TOKEN}; token={TOKEN}; Authorization=Bearer%20{TOKEN}"}
    refused(post_update(w, insert, auth=None, headers=cookie))
    refused(post_update(w, insert, auth=None, form=True, headers=cookie))
    refused(w.put("/store", params={"graph": g}, content=body, headers={**ttl, **cookie}))
    # A form posted by another site (a browser adds cookies, never the Authorization header).
    r = w.post(
        "/sparql",
        content=urlencode({"update": PREFIXES + insert}).encode(),
        headers={
            "Origin": "http://evil.example",
            "Referer": "http://evil.example/page.html",
            "Content-Type": FORM,
            **cookie,
        },
    )
    assert r.status_code in (401, 403), r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    assert not ask(w, f"{{ <{entity}> ?p ?o }}"), "a refused request wrote data"
    assert graph_absent(w, g)
    assert ask(w, f'{{ GRAPH <{ENTITIES}> {{ <{TURKEY}> rdfs:label "Turkey"@en }} }}')
    # The right token works; the scheme name is case-insensitive (RFC 9110, 11.1).
    assert assert_summary(post_update(w, insert))["added"] == 2
    assert labels(w, entity) == {"Auth-land"}
    described = body + f' <{entity}> <https://schema.org/description> "A test state."@en .'
    r = put(w, g, described, headers={"Authorization": f"bearer {TOKEN}"})
    assert r.status_code in (200, 204), r.text
    assert ask(w, f"{{ GRAPH <{g}> {{ <{entity}> <https://schema.org/description> ?d }} }}")


# ---------------------------------------------------------------- 2. SPARQL Update
def test_insert_data_and_delete_data(w: httpx.Client) -> None:
    g1, g2 = TEST_GRAPHS + "insert-body", TEST_GRAPHS + "insert-form"
    a, b = ID + "insert-land", ID + "form-land"
    # application/sparql-update body (with a charset parameter and a non-ASCII label)
    r = post_update(
        w,
        f"INSERT DATA {{ GRAPH <{g1}> {{ {state('insert-land', 'Østërland')} }} }}",
        headers={"Content-Type": SPARQL_UPDATE + "; charset=utf-8"},
    )
    body = assert_summary(r)
    assert (body["added"], body["removed"]) == (2, 0)
    assert ask(w, f"{{ GRAPH <{g1}> {{ <{a}> a gp:State ; rdfs:label ?l }} }}")
    assert labels(w, a) == {"Østërland"}  # also in the union default graph
    # form field `update`
    r = post_update(
        w, f"INSERT DATA {{ GRAPH <{g2}> {{ {state('form-land', 'Form-land')} }} }}", form=True
    )
    assert assert_summary(r)["added"] == 2
    assert labels(w, b) == {"Form-land"}
    # Inserting triples that are there already changes nothing.
    r = post_update(w, f"INSERT DATA {{ GRAPH <{g2}> {{ {state('form-land', 'Form-land')} }} }}")
    assert assert_summary(r)["added"] == 0
    # DELETE DATA, as a body and as a form field
    r = post_update(w, f"DELETE DATA {{ GRAPH <{g2}> {{ {state('form-land', 'Form-land')} }} }}")
    body = assert_summary(r)
    assert (body["added"], body["removed"]) == (0, 2)
    assert not ask(w, f"{{ <{b}> ?p ?o }}")
    assert graph_absent(w, g2)
    r = post_update(
        w, f"DELETE DATA {{ GRAPH <{g1}> {{ {state('insert-land', 'Østërland')} }} }}", form=True
    )
    assert assert_summary(r)["removed"] == 2
    assert not ask(w, f"{{ <{a}> ?p ?o }}")
    # Deleting triples that are not there changes nothing.
    r = post_update(w, f"DELETE DATA {{ GRAPH <{g1}> {{ {state('insert-land', 'Østërland')} }} }}")
    assert assert_summary(r)["removed"] == 0


def test_with_clause_and_sequences_of_operations(w: httpx.Client) -> None:
    g = TEST_GRAPHS + "with"
    a, b, c_, d = (ID + n for n in ("with-land", "seq-land", "atomic-land", "bad-land"))
    assert_summary(
        post_update(w, f"INSERT DATA {{ GRAPH <{g}> {{ {state('with-land', 'Old')} }} }}")
    )
    # WITH <g>: the WHERE reads g and the templates write g.
    r = post_update(
        w,
        f'WITH <{g}> DELETE {{ <{a}> rdfs:label ?l }} INSERT {{ <{a}> rdfs:label "New"@en }} '
        f"WHERE {{ <{a}> rdfs:label ?l }}",
    )
    body = assert_summary(r)
    assert (body["added"], body["removed"]) == (1, 1)
    assert labels(w, a) == {"New"}
    assert ask(w, f'{{ GRAPH <{g}> {{ <{a}> rdfs:label "New"@en }} }}')
    # Operations separated by `;` run in order: the second one sees the first one's data.
    r = post_update(
        w,
        f"INSERT DATA {{ GRAPH <{g}> {{ {state('seq-land', 'First')} }} }} ;\n"
        f"DELETE {{ GRAPH <{g}> {{ ?s rdfs:label ?l }} }} "
        f'INSERT {{ GRAPH <{g}> {{ ?s rdfs:label "Second"@en }} }} '
        f'WHERE {{ GRAPH <{g}> {{ ?s rdfs:label ?l FILTER (?l = "First"@en) }} }}',
    )
    assert r.status_code == 200, r.text
    assert labels(w, b) == {"Second"}
    # ... and atomically: if one operation fails, none is applied.
    before = sizes(w)
    valid = f"INSERT DATA {{ GRAPH <{g}> {{ {state('atomic-land', 'Atomic')} }} }}"
    rename = f'WITH <{g}> DELETE {{ <{a}> rdfs:label ?l }} INSERT {{ <{a}> rdfs:label "Gone"@en }} '
    rename += f"WHERE {{ <{a}> rdfs:label ?l }}"
    violating = f"INSERT DATA {{ GRAPH <{g}> {{ <{d}> a gp:State }} }}"  # no label
    r = post_update(w, f"{valid} ;\n{rename} ;\n{violating}")
    problem = assert_problem(r, 422)
    assert any(v["focusNode"] == d for v in problem["violations"]), problem
    for second, status in (
        (f'INSERT DATA {{ <{d}> rdfs:label "Default"@en }}', 400),  # the default graph
        (f"INSERT DATA {{ GRAPH <{DERIVED}> {{ <{d}> a gp:State }} }}", 403),  # a computed one
    ):
        assert_problem(post_update(w, f"{valid} ;\n{rename} ;\n{second}"), status)
    r = post_update(w, f"{valid} ;\n{rename} ;\n{valid} ; INSERT DATA {{ GRAPH <{g}> {{ <{d}> ")
    assert_problem(r, 400)
    assert sizes(w) == before
    assert not ask(w, f"{{ <{c_}> ?p ?o }}")
    assert not ask(w, f"{{ <{d}> ?p ?o }}")
    assert labels(w, a) == {"New"}


def test_update_refusals(w: httpx.Client, canary: Canary) -> None:
    g = TEST_GRAPHS + "refusals"
    before = sizes(w)
    # The default graph (the union) cannot be written.
    for update in (
        f"INSERT DATA {{ {state('default-land', 'Default-land')} }}",
        f'DELETE DATA {{ <{TURKEY}> rdfs:label "Turkey"@en }}',
        f'INSERT {{ ?s rdfs:comment "x" }} WHERE {{ GRAPH <{ENTITIES}> {{ ?s a gp:State }} }}',
        f"DELETE WHERE {{ <{TURKEY}> rdfs:label ?l }}",
    ):
        assert_problem(post_update(w, update), 400)
        assert_problem(post_update(w, update, form=True), 400)
    # LOAD is refused, whatever its form, and the document is never fetched.
    for update in (
        f"LOAD <{canary.url}/x>",
        f"LOAD SILENT <{canary.url}/x>",
        f"LOAD <{canary.url}/x> INTO GRAPH <{g}>",
        f"load <{canary.url}/x> into graph <{g}>",
        f"INSERT DATA {{ GRAPH <{g}> {{ {state('load-land', 'Load-land')} }} }} ; "
        f"LOAD <{canary.url}/x> INTO GRAPH <{g}>",
    ):
        assert_problem(post_update(w, update), 403)
        assert_problem(post_update(w, update, form=True), 403)
    # SERVICE is refused, and never called.
    for update in (
        f"INSERT {{ GRAPH <{g}> {{ ?s ?p ?o }} }} "
        f"WHERE {{ SERVICE <{canary.url}/sparql> {{ ?s ?p ?o }} }}",
        f"INSERT {{ GRAPH <{g}> {{ ?s ?p ?o }} }} "
        f"WHERE {{ SERVICE SILENT <{canary.url}/sparql> {{ ?s ?p ?o }} }}",
        f"DELETE {{ GRAPH <{g}> {{ ?s ?p ?o }} }} "
        f"WHERE {{ BIND (<{canary.url}/sparql> AS ?e) SERVICE ?e {{ ?s ?p ?o }} }}",
    ):
        assert_problem(post_update(w, update), 403)
    # Malformed updates.
    for update in (
        f"INSERT DATA {{ GRAPH <{g}> {{ <{ID}a> rdfs:label }} }}",
        "INSERT DATA GRAPH",
        "SELECT * WHERE { ?s ?p ?o }",
        f"INSERT DATA {{ GRAPH <{g}> {{ undeclared:x rdfs:label 'x'@en }} }}",
    ):
        assert_problem(post_update(w, update), 400)
    assert_problem(post_update(w, "   "), 400)
    # A query and an update in one request; an unknown body type.
    r = w.post(
        "/sparql",
        data={"query": "ASK {}", "update": f"LOAD <{canary.url}/both>"},
        headers=AUTH,
    )
    assert r.status_code in (400, 403), r.text
    r = w.post(
        "/sparql",
        content=f"INSERT DATA {{ GRAPH <{g}> {{ {state('text-land', 'Text-land')} }} }}",
        headers={**AUTH, "Content-Type": "text/plain"},
    )
    assert_problem(r, 415)
    # Updates are never run by GET.
    r = w.get(
        "/sparql",
        params={"update": f"INSERT DATA {{ GRAPH <{g}> {{ {state('get-land', 'Get-land')} }} }}"},
        headers=AUTH,
    )
    assert r.status_code in (400, 405), r.text
    assert sizes(w) == before
    assert graph_absent(w, g)
    assert canary.requests == []


def test_data_blocks_are_ground_and_deletes_have_no_blank_nodes(w: httpx.Client) -> None:
    """SPARQL 1.1 Update grammar: no variables in INSERT/DELETE DATA, no blank nodes in
    DELETE DATA, DELETE WHERE or a DELETE template; blank nodes in INSERT DATA are fresh."""
    g = TEST_GRAPHS + "ground"
    r = post_update(
        w, f'INSERT DATA {{ GRAPH <{g}> {{ _:b a gp:State ; rdfs:label "Blank"@en }} }}'
    )
    assert assert_summary(r)["added"] == 2
    rows = select(w, f'SELECT ?s {{ GRAPH <{g}> {{ ?s rdfs:label "Blank"@en }} }}')
    assert len(rows) == 1 and rows[0]["s"].startswith(ID + ".well-known/genid/"), rows
    before = sizes(w)
    forbidden = {
        "variable in INSERT DATA": f"INSERT DATA {{ GRAPH <{g}> {{ ?s rdfs:label 'V'@en }} }}",
        "variable in DELETE DATA": f"DELETE DATA {{ GRAPH <{g}> {{ ?s rdfs:label 'Blank'@en }} }}",
        "blank node in DELETE DATA": f"DELETE DATA {{ GRAPH <{g}> {{ _:b rdfs:label 'B'@en }} }}",
        "blank node in DELETE WHERE": f"DELETE WHERE {{ GRAPH <{g}> {{ _:b rdfs:label ?l }} }}",
        "blank node in a DELETE template": f"DELETE {{ GRAPH <{g}> {{ _:b rdfs:label ?l }} }} "
        f"WHERE {{ GRAPH <{g}> {{ ?s rdfs:label ?l }} }}",
    }
    answers = {name: post_update(w, update) for name, update in forbidden.items()}
    assert {n: r.status_code for n, r in answers.items()} == dict.fromkeys(forbidden, 400)
    for r in answers.values():
        assert_problem(r, 400)
    assert sizes(w) == before


def test_using_graph_uri_works_like_using(w: httpx.Client, canary: Canary) -> None:
    ga, gb = TEST_GRAPHS + "using-a", TEST_GRAPHS + "using-b"
    a, b = ID + "using-a-land", ID + "using-b-land"
    assert_summary(
        post_update(
            w,
            f"INSERT DATA {{ GRAPH <{ga}> {{ {state('using-a-land', 'Using-A')} }} "
            f"GRAPH <{gb}> {{ {state('using-b-land', 'Using-B')} }} }}",
        )
    )

    def mark(out: str, *, using: str = "", **kw: Any) -> set[str]:
        """Mark, in graph `out`, the states the WHERE clause sees; return them."""
        update = (
            f"INSERT {{ GRAPH <{out}> {{ ?s <{SEEN}> true }} }} {using} "
            "WHERE { ?s a gp:State ; rdfs:label ?l }"
        )
        r = post_update(w, update, **kw)
        assert r.status_code == 200, r.text
        return {
            row["s"] for row in select(w, f"SELECT ?s {{ GRAPH <{out}> {{ ?s <{SEEN}> ?x }} }}")
        }

    # Without a dataset the WHERE clause reads the union: both states (and the curated ones).
    union = mark(TEST_GRAPHS + "using-out-union")
    assert {a, b, TURKEY} <= union
    # USING <ga> in the update, and the using-graph-uri parameter (query string, form field).
    assert mark(TEST_GRAPHS + "using-out-1", using=f"USING <{ga}>") == {a}
    assert mark(TEST_GRAPHS + "using-out-2", params={"using-graph-uri": gb}) == {b}
    assert mark(TEST_GRAPHS + "using-out-3", form=True, extra_form={"using-graph-uri": ga}) == {a}
    both = mark(TEST_GRAPHS + "using-out-4", params={"using-graph-uri": [ga, gb]})
    assert both == {a, b}
    # The protocol forbids the parameters together with USING or WITH in the update.
    r = post_update(
        w,
        f"WITH <{ga}> INSERT {{ ?s <{SEEN}> true }} WHERE {{ ?s a gp:State }}",
        params={"using-graph-uri": gb},
    )
    assert_problem(r, 400)
    r = post_update(
        w,
        f"INSERT {{ GRAPH <{ga}> {{ ?s <{SEEN}> true }} }} USING <{ga}> WHERE {{ ?s a gp:State }}",
        params={"using-graph-uri": gb},
    )
    assert_problem(r, 400)
    # A USING graph the store does not hold is empty: it is never fetched.
    assert mark(TEST_GRAPHS + "using-out-6", using=f"USING <{canary.url}/using>") == set()
    assert mark(TEST_GRAPHS + "using-out-7", params={"using-graph-uri": f"{canary.url}/p"}) == set()
    assert canary.requests == []

    # USING NAMED and using-named-graph-uri: GRAPH ?g sees only the named graphs given
    # (like FROM NAMED; with no USING the default graph is then empty).
    def mark_named(out: str, *, using: str = "", **kw: Any) -> set[str]:
        update = (
            f"INSERT {{ GRAPH <{out}> {{ ?s <{SEEN}> true }} }} {using} "
            "WHERE { GRAPH ?g { ?s a gp:State } }"
        )
        r = post_update(w, update, **kw)
        assert r.status_code == 200, r.text
        return {
            row["s"] for row in select(w, f"SELECT ?s {{ GRAPH <{out}> {{ ?s <{SEEN}> ?x }} }}")
        }

    named = (
        mark_named(TEST_GRAPHS + "using-out-8", using=f"USING NAMED <{gb}>"),
        mark_named(TEST_GRAPHS + "using-out-9", params={"using-named-graph-uri": gb}),
        mark_named(
            TEST_GRAPHS + "using-out-10",
            form=True,
            extra_form={"using-graph-uri": gb, "using-named-graph-uri": ga},
        ),
    )
    assert named == ({b}, {b}, {a})


# ---------------------------------------------------------------- 3. the SHACL gate
def test_shacl_gate(w: httpx.Client) -> None:
    g = TEST_GRAPHS + "shacl"
    before = sizes(w)
    # A state without a label.
    bad = ID + "unlabelled-land"
    r = post_update(w, f"INSERT DATA {{ GRAPH <{g}> {{ <{bad}> a gp:State }} }}")
    problem = assert_problem(r, 422)
    assert isinstance(problem["report"], str) and problem["report"]
    mine = [v for v in problem["violations"] if v["focusNode"] == bad]
    assert mine, problem
    for v in problem["violations"]:
        assert {"focusNode", "path", "value", "constraint", "severity", "message"} <= v.keys()
    assert any(
        v["constraint"].startswith("http://www.w3.org/ns/shacl#")
        and v["constraint"].endswith("ConstraintComponent")
        and "label" in (v["path"] or "")
        and v["severity"] == "Violation"
        and v["message"]
        for v in mine
    ), mine
    # A second English label for Turkey, in another graph (shapes see the union).
    r = post_update(w, f'INSERT DATA {{ GRAPH <{g}> {{ <{TURKEY}> rdfs:label "Türkiye"@en }} }}')
    problem = assert_problem(r, 422)
    assert any(v["focusNode"] == TURKEY for v in problem["violations"]), problem
    # Deleting Turkey's only English label, and a form-encoded violating update.
    r = post_update(
        w, f'DELETE DATA {{ GRAPH <{ENTITIES}> {{ <{TURKEY}> rdfs:label "Turkey"@en }} }}'
    )
    problem = assert_problem(r, 422)
    assert any(v["focusNode"] == TURKEY for v in problem["violations"]), problem
    r = post_update(w, f"INSERT DATA {{ GRAPH <{g}> {{ <{bad}> a gp:State }} }}", form=True)
    assert_problem(r, 422)
    # A DELETE/INSERT WHERE that gives every state a second English label.
    r = post_update(
        w,
        f'INSERT {{ GRAPH <{g}> {{ ?s rdfs:label "Another name"@en }} }} '
        f"WHERE {{ GRAPH <{ENTITIES}> {{ ?s a gp:State }} }}",
    )
    assert_problem(r, 422)
    assert sizes(w) == before
    assert labels(w, TURKEY) == {"Turkey"}
    assert graph_absent(w, g)
    # A write with warnings only (no description) succeeds and reports them.
    ok = ID + "warned-land"
    r = post_update(w, f"INSERT DATA {{ GRAPH <{g}> {{ {state('warned-land', 'Warned-land')} }} }}")
    body = assert_summary(r)
    assert body["added"] == 2
    assert any(
        x["focusNode"] == ok and "description" in (x["path"] or "") and x["message"]
        for x in body["warnings"]
    ), body
    assert r.headers["X-GeoKG-Warnings"] == str(len(body["warnings"]))
    assert labels(w, ok) == {"Warned-land"}
    # The Graph Store reports warnings too.
    r = put(w, TEST_GRAPHS + "shacl-gsp", state("warned-gsp-land", "Warned-GSP"))
    assert r.status_code == 201, r.text
    assert int(r.headers["X-GeoKG-Warnings"]) >= 1
    assert any(x["focusNode"] == ID + "warned-gsp-land" for x in r.json()["warnings"])


def test_computed_graphs_cannot_be_written(w: httpx.Client) -> None:
    """The derived, load and inferred graphs: 403 for updates and Graph Store writes."""
    before = sizes(w)
    for computed in (DERIVED, LOAD_GRAPH, INFERRED):
        r = post_update(
            w, f"INSERT DATA {{ GRAPH <{computed}> {{ {state('computed-land', 'Computed')} }} }}"
        )
        assert_problem(r, 403)
        assert_problem(put(w, computed, state("computed-land", "Computed")), 403)
        r = w.post(
            "/store",
            params={"graph": computed},
            content=state("computed-land", "Computed"),
            headers={**AUTH, "Content-Type": "text/turtle"},
        )
        assert_problem(r, 403)
    assert_problem(w.delete("/store", params={"graph": DERIVED}, headers=AUTH), 403)
    assert_problem(w.delete("/store", params={"graph": LOAD_GRAPH}, headers=AUTH), 403)
    # Updates that would empty the derived graph.
    assert_problem(post_update(w, f"DELETE WHERE {{ GRAPH <{DERIVED}> {{ ?s ?p ?o }} }}"), 403)
    assert_problem(
        post_update(w, f"WITH <{DERIVED}> DELETE {{ ?s ?p ?o }} WHERE {{ ?s ?p ?o }}"), 403
    )
    assert sizes(w) == before


def test_delete_insert_where_on_curated_data(writable_server: str) -> None:
    with httpx.Client(base_url=writable_server, timeout=60) as c:
        assert labels(c, TURKEY) == {"Turkey"}
        r = post_update(
            c,
            f"DELETE {{ GRAPH ?g {{ ?s rdfs:label ?old }} }} "
            f'INSERT {{ GRAPH ?g {{ ?s rdfs:label "Türkiye"@en }} }} '
            f"WHERE {{ GRAPH ?g {{ ?s rdfs:label ?old }} "
            f'FILTER (?s = <{TURKEY}> && ?old = "Turkey"@en) }}',
        )
        body = assert_summary(r)
        assert (body["added"], body["removed"]) == (1, 1)
        assert labels(c, TURKEY) == {"Türkiye"}
        assert not ask(c, f'{{ GRAPH ?g {{ <{TURKEY}> rdfs:label "Turkey"@en }} }}')
        assert ask(c, f'{{ GRAPH <{ENTITIES}> {{ <{TURKEY}> rdfs:label "Türkiye"@en }} }}')
        # A form post from another site cannot undo it.
        r = c.post(
            "/sparql",
            data={
                "update": PREFIXES + f"WITH <{ENTITIES}> DELETE {{ <{TURKEY}> rdfs:label ?l }} "
                f'INSERT {{ <{TURKEY}> rdfs:label "Turkey"@en }} '
                f"WHERE {{ <{TURKEY}> rdfs:label ?l }}"
            },
            headers={"Origin": "http://evil.example", "Content-Type": FORM},
        )
        assert r.status_code in (401, 403), r.text
        assert labels(c, TURKEY) == {"Türkiye"}
        # The Graph Store shows the entities graph changed.
        for media in ("application/n-triples", "text/turtle"):
            entities = get_graph(c, ENTITIES, media)
            assert (URIRef(TURKEY), RDFS.label, Literal("Türkiye", lang="en")) in entities
            assert (URIRef(TURKEY), RDFS.label, Literal("Turkey", lang="en")) not in entities


# ---------------------------------------------------------------- 4. Graph Store Protocol
GSP_A = f"""@prefix rdfs: <{RDFS}> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
<{ID}gsp-land> a <{GP}State> ; rdfs:label "GSP-land"@en ;
    <https://schema.org/description> "A state for Graph Store tests."@en ;
    <{SEEN}> "1"^^xsd:integer , "plain" ; rdfs:seeAlso <https://example.org/gsp-a> .
"""
GSP_B = f"""@prefix rdfs: <{RDFS}> .
<{ID}gsp-land> a <{GP}State> ; rdfs:label "GSP-land replaced"@en ;
    <https://schema.org/description> "Replaced."@en .
"""
GSP_C = f"""<{ID}gsp-land> <{RDFS}seeAlso> <https://example.org/gsp-c> .
<{ID}gsp-land> <{SEEN}> "merged"@en .
"""


def test_graph_store_put_get_post_delete(w: httpx.Client) -> None:
    g = TEST_GRAPHS + "gsp-crud"
    assert graph_absent(w, g)
    r = put(w, g, GSP_A)
    assert r.status_code == 201, r.text
    for media in ("text/turtle", "application/n-triples", "application/ld+json"):
        assert isomorphic(get_graph(w, g, media), turtle(GSP_A)), media
    # HEAD: the headers of GET, no body.
    got = w.get("/store", params={"graph": g}, headers={"Accept": "text/turtle"})
    r = w.head("/store", params={"graph": g}, headers={"Accept": "text/turtle"})
    assert r.status_code == 200
    assert r.content == b""
    assert r.headers["content-type"].startswith("text/turtle")
    assert r.headers.get("content-length") == str(len(got.content))
    assert w.head("/store", params={"graph": TEST_GRAPHS + "gsp-missing"}).status_code == 404
    # PUT again replaces the graph.
    r = put(w, g, GSP_B)
    assert r.status_code in (200, 204), r.text
    assert isomorphic(get_graph(w, g), turtle(GSP_B))
    assert not ask(w, "{ ?s rdfs:seeAlso <https://example.org/gsp-a> }")
    assert labels(w, ID + "gsp-land") == {"GSP-land replaced"}
    # POST merges into the graph (here N-Triples).
    r = w.post(
        "/store",
        params={"graph": g},
        content=GSP_C,
        headers={**AUTH, "Content-Type": "application/n-triples"},
    )
    assert r.status_code in (200, 204), r.text
    assert isomorphic(get_graph(w, g, "application/n-triples"), turtle(GSP_B) + turtle(GSP_C))
    # PUT in other syntaxes: RDF/XML and JSON-LD.
    xml = Graph().parse(data=GSP_A, format="turtle").serialize(format="xml")
    r = put(w, g, xml, "application/rdf+xml")
    assert r.status_code in (200, 204), r.text
    assert isomorphic(get_graph(w, g, "application/rdf+xml"), turtle(GSP_A))
    jsonld = Graph().parse(data=GSP_B, format="turtle").serialize(format="json-ld")
    r = put(w, g, jsonld, "application/ld+json")
    assert r.status_code in (200, 204), r.text
    assert isomorphic(get_graph(w, g), turtle(GSP_B))
    # DELETE, then the graph is gone; deleting it again is a 404.
    r = w.delete("/store", params={"graph": g}, headers=AUTH)
    assert r.status_code in (200, 204), r.text
    assert_problem(w.get("/store", params={"graph": g}), 404)
    assert not ask(w, f"{{ <{ID}gsp-land> ?p ?o }}")
    assert_problem(w.delete("/store", params={"graph": g}, headers=AUTH), 404)
    assert_problem(
        w.delete("/store", params={"graph": TEST_GRAPHS + "never-was"}, headers=AUTH), 404
    )


def test_graph_store_post_creates_a_new_graph(w: httpx.Client) -> None:
    locations = []
    for body in (GSP_C, GSP_A):
        r = w.post("/store", content=body, headers={**AUTH, "Content-Type": "text/turtle"})
        assert r.status_code == 201, r.text
        assert r.headers.get("location"), r.headers
        locations.append(r.headers["location"])
        url = urljoin(str(w.base_url) + "/store", r.headers["location"])
        got = w.get(url, headers={"Accept": "text/turtle"})
        assert got.status_code == 200, got.text
        assert isomorphic(turtle(got.text), turtle(body))
    assert locations[0] != locations[1]


def test_graph_store_default_graph_and_request_errors(w: httpx.Client) -> None:
    # The default graph (the union) is read-only.
    for method in ("PUT", "POST", "DELETE"):
        r = w.request(
            method,
            "/store?default",
            content=state("default-gsp-land", "Default") if method != "DELETE" else None,
            headers={**AUTH, "Content-Type": "text/turtle"},
        )
        assert_problem(r, 405)
        allowed = {m.strip().upper() for m in r.headers.get("allow", "").split(",")}
        assert "GET" in allowed and not allowed & {"PUT", "POST", "DELETE"}, r.headers
    assert labels(w, ID + "default-gsp-land") == set()
    # Exactly one of ?graph and ?default.
    assert_problem(w.get("/store"), 400)
    assert_problem(w.get("/store", params={"default": "", "graph": ENTITIES}), 400)
    assert_problem(w.get("/store", params={"graph": [ENTITIES, DERIVED]}), 400)
    assert_problem(put(w, "", state("no-graph-land", "No graph")), 400)
    assert_problem(w.get("/store", params={"graph": TEST_GRAPHS + "missing"}), 404)
    # Content negotiation.
    for accept in ("image/png", "application/sparql-results+json"):
        r = w.get("/store", params={"graph": ENTITIES}, headers={"Accept": accept})
        assert_problem(r, 406)
    # Reading the default graph: the union of the named graphs, curated data included.
    for media, fmt in (
        ("application/n-triples", "nt"),
        ("text/turtle", "turtle"),
        ("application/ld+json", "json-ld"),
    ):
        r = w.get("/store", params={"default": ""}, headers={"Accept": media})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith(media)
        union = Graph().parse(data=r.content, format=fmt)
        assert (URIRef(TURKEY), RDFS.label, Literal("Turkey", lang="en")) in union
        assert len(union) > 1000
    r = w.head("/store?default")
    assert r.status_code == 200 and r.content == b""
    assert r.headers.get("content-type")
    turkey = get_graph(w, ENTITIES, "application/ld+json")
    assert (URIRef(TURKEY), RDFS.label, Literal("Turkey", lang="en")) in turkey


def test_graph_store_rejects_bad_bodies(w: httpx.Client) -> None:
    g = TEST_GRAPHS + "gsp-bad"
    fresh = TEST_GRAPHS + "gsp-bad-new"
    assert put(w, g, GSP_B.replace("gsp-land", "gsp-bad-land")).status_code == 201
    kept = get_graph(w, g)
    before = sizes(w)
    # Unsupported media types.
    for media in ("text/plain", "application/trig", "application/n-quads", "application/json"):
        assert_problem(put(w, fresh, GSP_C, media), 415)
        r = w.post(
            "/store", params={"graph": g}, content=GSP_C, headers={**AUTH, "Content-Type": media}
        )
        assert_problem(r, 415)
    r = w.put("/store", params={"graph": fresh}, content=GSP_C.encode(), headers=AUTH)
    assert_problem(r, 415)
    # Malformed Turtle: 400 with the line of the error.
    broken = (
        f'@prefix rdfs: <{RDFS}> .\n<{ID}x> rdfs:label "ok"@en .\n'
        f'<{ID}y> rdfs:label "unterminated .\n'
    )
    problem = assert_problem(put(w, fresh, broken), 400)
    assert isinstance(problem.get("line"), int) and problem["line"] >= 2, problem
    problem = assert_problem(put(w, g, f"<{ID}x> <{SEEN}> ."), 400)
    assert isinstance(problem.get("line"), int), problem
    assert_problem(put(w, fresh, b"\xff\xfe not utf-8 \x80"), 400)
    # A violating PUT or POST changes nothing.
    violating = f"<{ID}gsp-bad-land> a <{GP}State> ."  # replaces the graph: no label left
    problem = assert_problem(put(w, g, violating), 422)
    assert any(v["focusNode"] == ID + "gsp-bad-land" for v in problem["violations"])
    r = w.post(
        "/store",
        params={"graph": g},
        content=f'<{ID}gsp-bad-land> <{RDFS}label> "Second English label"@en .',
        headers={**AUTH, "Content-Type": "text/turtle"},
    )
    assert_problem(r, 422)
    assert_problem(put(w, fresh, f"<{ID}gsp-unlabelled> a <{GP}State> ."), 422)
    assert isomorphic(get_graph(w, g), kept)
    assert graph_absent(w, fresh)
    assert sizes(w) == before


# ---------------------------------------------------------------- 5. outbound fetches
def test_rdf_xml_entities_are_never_resolved(w: httpx.Client, canary: Canary) -> None:
    def rdfxml(dtd: str, literal: str, about: str) -> str:
        return (
            '<?xml version="1.0"?>\n'
            f"<!DOCTYPE rdf:RDF {dtd}>\n"
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"\n'
            f'         xmlns:rdfs="{RDFS}">\n'
            f'  <rdf:Description rdf:about="{ID}{about}">\n'
            f"    <rdfs:comment>{literal}</rdfs:comment>\n"
            "  </rdf:Description>\n"
            "</rdf:RDF>\n"
        )

    cases = {
        "xxe-http": rdfxml(
            f'[ <!ENTITY x SYSTEM "{canary.url}/entity"> ]', "before &x; after", "xxe-http"
        ),
        "xxe-param": rdfxml(
            f'[ <!ENTITY % p SYSTEM "{canary.url}/param.dtd"> %p; ]', "plain", "xxe-param"
        ),
        "xxe-dtd": rdfxml(f'SYSTEM "{canary.url}/external.dtd"', "plain", "xxe-dtd"),
        "xxe-file": rdfxml('[ <!ENTITY x SYSTEM "file:///etc/passwd"> ]', "[&x;]", "xxe-file"),
    }
    for name, body in cases.items():
        g = TEST_GRAPHS + name
        r = put(w, g, body, "application/rdf+xml")
        assert "root:" not in r.text
        if r.status_code == 400:
            assert r.headers["content-type"].startswith(PROBLEM)
        else:  # accepted only with the entity left unexpanded
            assert r.status_code in (200, 201, 204), r.text
            stored = w.get(
                "/store", params={"graph": g}, headers={"Accept": "application/n-triples"}
            )
            assert "root:" not in stored.text
            assert CANARY_MARKER not in stored.text
        r = w.post(
            "/store",
            params={"graph": g},
            content=body,
            headers={**AUTH, "Content-Type": "application/rdf+xml"},
        )
        assert "root:" not in r.text
    for leaked in ("root:", CANARY_MARKER):
        assert not ask(w, f'{{ ?s ?p ?o FILTER (CONTAINS(STR(?o), "{leaked}")) }}'), leaked
    assert canary.requests == []


def test_json_ld_remote_contexts_are_never_loaded(w: httpx.Client, canary: Canary) -> None:
    entity = f'"@id": "{ID}jsonld-land", "@type": "{GP}State"'
    bodies = {
        "string": f'{{"@context": "{canary.url}/context.jsonld", {entity}, "x": "1"}}',
        "list": f'{{"@context": ["{canary.url}/list.jsonld", {{"y": "urn:y"}}], '
        f'{entity}, "x": "1"}}',
        "import": f'{{"@context": {{"@version": 1.1, "@import": "{canary.url}/import.jsonld"}}, '
        f'{entity}, "x": "1"}}',
        "nested": f'{{{entity}, "{GP}partOf": {{"@context": "{canary.url}/nested.jsonld", '
        f'"@id": "{ID}nested"}}}}',
    }
    for name, body in bodies.items():
        g = TEST_GRAPHS + "jsonld-" + name
        assert_problem(put(w, g, body, "application/ld+json"), 400)
        r = w.post(
            "/store", params={"graph": g}, content=body,
            headers={**AUTH, "Content-Type": "application/ld+json"},
        )  # fmt: skip
        assert_problem(r, 400)
        assert graph_absent(w, g)
    assert canary.requests == []


def test_the_canary_was_never_contacted(canary: Canary) -> None:
    """Run last: nothing in this module made the server fetch anything."""
    assert canary.requests == []
