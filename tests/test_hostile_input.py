"""Hostile input: what the server promises about it, and the test that holds each promise.

Every answer to a malformed, huge, deeply nested, wrongly encoded or malicious request is
a 2xx (a valid if odd input) or a 4xx with an RFC 9457 ``application/problem+json`` body:
never a 5xx (but the 503 of a valid query that reached its time limit), never a dropped
connection, never a hang (the client's time limit); and the server never fetches what a
request points at, nor writes without a bearer token. Each promise, and where it is held
(``here`` is this module):

* SPARQL query text (malformed, huge, nested 20,000 deep, long chains, invalid UTF-8, NUL,
  odd content types and parameters): here ``test_fuzz_sparql_queries``;
  test_sparql_protocol.py ``test_malformed_query_by_get``, ``test_malformed_query_by_post``,
  ``test_unsupported_post_content_type``, ``test_bad_timeout``; the limits of the engine,
  test_sparql_text.py ``test_the_engine_limits``.
* SPARQL update text, the same: here ``test_fuzz_sparql_updates``; test_sparql_writes.py
  ``test_update_refusals``.
* Every upload format (Turtle, N-Triples, RDF/XML, JSON-LD; others 415), malformed, binary,
  wrongly encoded, nested: here ``test_fuzz_rdf_uploads``; test_sparql_writes.py
  ``test_graph_store_rejects_bad_bodies``; deep blank nodes, test_parsing.py
  ``test_deep_blank_node_structures_are_named``.
* An upload the parser cannot read within the time limit: 413, and the server answers
  meanwhile: here ``test_a_document_too_costly_to_parse_is_stopped``.
* REST parameters (quotes, ``>``, ``}``, newlines, ``#``, SPARQL keywords): here
  ``test_fuzz_rest_parameters``; every parameter with 26 payloads, no widening, pages
  escaped, test_rest_injection.py ``test_every_rest_parameter_resists_injection``,
  ``test_html_and_linked_data_routes_resist_injection``; the schemathesis run (positive and
  negative), test_rest_schema.py ``test_rest_api_conforms_to_its_openapi_document``.
* Fact bodies (``POST /api/v1/facts``) and ids: here ``test_fuzz_fact_bodies``.
* Oversized bodies: 413 on every upload path, with a Content-Length, chunked without one,
  or a declared length never sent: here ``test_oversized_bodies_get_413``; test_changes.py
  ``test_a_rejected_fact_writes_nothing_and_records_nothing``.
* Too many header fields: 431; HTTP the parser rejects (request smuggling, bad chunk sizes
  and lengths, control bytes): a 400 problem: here ``test_too_many_header_fields``,
  ``test_malformed_http_gets_a_problem``; test_rest_schema.py
  ``test_a_request_the_http_parser_rejects_gets_a_problem_body``.
* RDF/XML entity expansion (billion laughs, quadratic blowup) bounded, external entities
  (file:///etc/passwd, the canary, XInclude) never read: here
  ``test_xml_entity_expansion``; test_parsing.py
  ``test_rdf_xml_entities_expand_within_bounds``; test_sparql_writes.py
  ``test_rdf_xml_entities_are_never_resolved``.
* JSON-LD remote contexts never loaded: a string, a list, ``@import``, a nested node,
  test_sparql_writes.py ``test_json_ld_remote_contexts_are_never_loaded``; a term's or a
  type's scoped context, here ``test_json_ld_scoped_remote_contexts``.
* SERVICE, LOAD, FROM, FROM NAMED, USING, USING NAMED, WITH and the protocol's dataset
  parameters at a canary on 127.0.0.1: never contacted: here ``test_nothing_is_fetched``
  (and every fuzz target points at the canary); test_sparql_safety.py
  ``test_service_from_and_dataset_parameters_never_contact_anyone``,
  ``test_workers_have_no_network``; test_sparql_writes.py ``test_update_refusals``,
  ``test_using_graph_uri_works_like_using``; test_sparql_protocol.py
  ``test_dataset_iris_are_never_fetched``.
* Writes without a token, with a wrong one, or with it anywhere but the Authorization
  header: 401 (403 on a read-only server), nothing written: test_sparql_writes.py
  ``test_writes_need_the_bearer_token_in_the_authorization_header``,
  ``test_read_only_server_refuses_every_write``; test_changes.py
  ``test_writes_need_a_token``.
* Cross-origin form posts (urlencoded, multipart, text/plain; cookies; the token in a
  field) never write: here ``test_cross_origin_form_posts_never_write``.
* CORS: never ``Access-Control-Allow-Credentials``; with listed origins no other origin is
  named; a refused preflight is a problem: here ``test_cors_never_allows_credentials``;
  test_sparql_protocol.py ``test_cors_preflight_for_a_post_with_authorization``,
  ``test_cors_actual_request_never_allows_credentials``.
* Time limits that stop work, a busy server that still answers: test_sparql_safety.py.

What the server promises about cross-origin writes: writes need ``Authorization: Bearer``,
which a browser never adds by itself (no cookie, form field or query parameter counts), so
a form or a page on another site cannot write. A script that holds the token can write
from anywhere the CORS policy lets it send that header: with the default policy (``*``)
any origin; with listed origins (``KG_CORS_ORIGINS``), only those. No response ever allows
credentials, so no browser sends cookies along with a cross-origin request here.

The fuzz targets run ``GEOKG_FUZZ_EXAMPLES`` examples each (Hypothesis, derandomised);
``GEOKG_FUZZ_REPORT=path.json`` writes the inputs tried per target (see tests/hostile.py).
A failure does not stop a target: each reports every distinct failure with its input.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_from_bytes, urlencode, urlsplit

import httpx
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests import hostile
from tests.canary import canary as start_canary
from tests.hostile import SETTINGS, Tally, judge, problem_error, shown
from tests.server import TOKEN, running_server

FUZZ = pytest.mark.timeout(hostile.FUZZ_TIMEOUT)
MAX_BODY = 2 * 1024 * 1024
QUERY_TIMEOUT = 3  # seconds: also the time an upload may take to parse
ORIGIN = "https://app.example.org"  # the one origin the hostile server lists
FOREIGN = "http://evil.example"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CLIENT_TIMEOUT = 60  # a hang is an answer slower than this
COUNT_QUADS = "SELECT (COUNT(*) AS ?n) { GRAPH ?g { ?s ?p ?o } }"


@dataclass
class Canary:
    url: str
    seen: list[str]


# ---------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def canary() -> Iterator[Canary]:
    body = b'{"@context": {"x": "urn:CANARY-CONTENT"}} <urn:a> <urn:b> "CANARY-CONTENT" .'
    with start_canary(body, "application/ld+json") as (url, seen):
        yield Canary(url, seen)


@pytest.fixture(scope="module")
def hostile_server(store_path: Path) -> Iterator[str]:
    """A writable server with a 2 MiB body limit, a 3 s time limit and one CORS origin."""
    with running_server(
        store_path,
        workers=2,
        writable=True,
        max_body_bytes=str(MAX_BODY),
        query_timeout=str(QUERY_TIMEOUT),
        cors_origins=json.dumps([ORIGIN]),
    ) as base:
        yield base


@pytest.fixture(scope="module")
def h(hostile_server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=hostile_server, timeout=CLIENT_TIMEOUT) as c:
        yield c


@pytest.fixture(scope="module")
def tally(canary: Canary) -> Iterator[Tally]:
    t = Tally()
    t.notes["server"] = {
        "max_body_bytes": MAX_BODY,
        "query_timeout_s": QUERY_TIMEOUT,
        "cors_origins": [ORIGIN],
        "readers": 2,
    }
    yield t
    t.notes["canary_requests"] = len(canary.seen)
    t.write()


def quads(c: httpx.Client) -> int:
    r = c.get("/sparql", params={"query": COUNT_QUADS}, headers={"Accept": "application/json"})
    assert r.status_code == 200, r.text
    return int(r.json()["results"]["bindings"][0]["n"]["value"])


def assert_problem(r: httpx.Response, *statuses: int) -> dict[str, Any]:
    assert r.status_code in statuses, f"{r.status_code} not in {statuses}: {r.text[:300]}"
    wrong = problem_error(r)
    assert wrong is None, wrong
    return r.json()


def assert_no_failures(tally: Tally, *targets: str) -> None:
    failures = tally.failures(*targets)
    tried = {t: tally.target(t).inputs for t in targets}
    assert not failures, f"{len(failures)} distinct failures ({tried}):\n\n" + "\n\n".join(failures)


# ---------------------------------------------------------------- fuzz: SPARQL
FORM = "application/x-www-form-urlencoded"
ACCEPTS = st.sampled_from(
    [None, "*/*", "application/sparql-results+json", "text/turtle", "text/csv", "image/png",
     ";;;q=abc, */*;q=NaN", "application/ld+json;q=0.5, text/html"]
)  # fmt: skip


def _sparql_request(
    c: httpx.Client,
    field: str,
    text: str,
    transport: tuple[str, str | None],
    extra: dict[str, str],
    bad: bytes,
    headers: dict[str, str],
) -> tuple[Callable[[], httpx.Response], str]:
    """The request for ``text`` sent as ``field`` (query or update) the way ``transport``
    says, with ``bad`` bytes (not UTF-8) appended, and how to show it."""
    method, media = transport
    data = text.encode("utf-8", "surrogatepass") + bad
    if method == "GET":
        target = "/sparql?" + urlencode(extra) + f"&{field}=" + quote_from_bytes(data)
        if len(target) > LONG_URL:  # past what httpx sends: sent as it is
            return (lambda: _long_get(c, target, headers)), f"GET {shown(target)}"
        return (lambda: c.get(target, headers=headers)), f"GET {shown(target)}"
    if media is not None and media.startswith("application/x-www-form-urlencoded"):
        body = urlencode({field: text, **extra}).encode() + bad
    else:
        body = data
    sent = {**headers, "Content-Type": media} if media is not None else headers
    url = "/sparql?" + urlencode(extra)
    return (
        lambda: c.post(url, content=body, headers=sent),
        f"POST {shown(url)} [{media}] {shown(body)}",
    )


# Inputs every run tries first, whatever the number of examples: shapes that once
# killed the process answering them (see test_sparql_text.py: test_the_engine_limits).
DEEP_QUERIES = [
    ("ASK { " + "FILTER EXISTS { " * 1000 + "}" * 1000 + " }", "application/sparql-query"),
    ("SELECT (" + "SUM(" * 1000 + "1" + ")" * 1000 + " AS ?x) {}", FORM),
    ("SELECT * { ?s ?p ?o " + "MINUS { ?s ?p ?o } " * 3000 + "}", "application/sparql-query"),
    ("ASK { FILTER(" + "(" * 5000 + "1" + ")" * 5000 + ") }", None),
]


LONG_URL = 60_000


def _long_get(c: httpx.Client, target: str, headers: dict[str, str]) -> httpx.Response:
    """GET a target longer than httpx allows, with http.client; the answer as httpx's."""
    parts = urlsplit(str(c.base_url))
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=CLIENT_TIMEOUT)
    try:
        connection.request("GET", target, headers=headers)
        answer = connection.getresponse()
        return httpx.Response(answer.status, headers=answer.getheaders(), content=answer.read())
    except TimeoutError as exc:
        raise httpx.ReadTimeout(str(exc)) from exc
    except (OSError, http.client.HTTPException) as exc:
        raise httpx.RemoteProtocolError(str(exc)) from exc
    finally:
        connection.close()


@FUZZ
def test_fuzz_sparql_queries(h: httpx.Client, canary: Canary, tally: Tally) -> None:
    @SETTINGS
    @given(
        text=hostile.sparql_texts(canary.url, update=False),
        transport=st.sampled_from(hostile.SPARQL_TRANSPORTS),
        extra=hostile.sparql_extras(canary.url),
        bad=st.sampled_from([b"", b"", b"", *hostile.BAD_BYTES]),
        accept=ACCEPTS,
    )
    def run(text, transport, extra, bad, accept) -> None:
        headers = {"Accept": accept} if accept else {}
        request, show = _sparql_request(h, "query", text, transport, extra, bad, headers)
        tally.send("sparql-query", request, show, timeouts=True)

    for text, media in DEEP_QUERIES:
        transport = ("GET", None) if media is None else ("POST", media)
        run = example(text=text, transport=transport, extra={}, bad=b"", accept=None)(run)
    run()
    assert_no_failures(tally, "sparql-query")
    assert canary.seen == []


@FUZZ
def test_fuzz_sparql_updates(h: httpx.Client, canary: Canary, tally: Tally) -> None:
    tokens = st.sampled_from([AUTH, AUTH, AUTH, {}, {"Authorization": "Bearer wrong"}])

    @SETTINGS
    @given(
        text=hostile.sparql_texts(canary.url, update=True),
        transport=st.sampled_from(hostile.SPARQL_TRANSPORTS[1:]),
        extra=hostile.sparql_extras(canary.url),
        bad=st.sampled_from([b"", b"", b"", *hostile.BAD_BYTES]),
        auth=tokens,
    )
    def run(text, transport, extra, bad, auth) -> None:
        request, show = _sparql_request(h, "update", text, transport, extra, bad, auth)
        tally.send("sparql-update", request, show, timeouts=True)

    run()
    assert_no_failures(tally, "sparql-update")
    assert canary.seen == []


# ---------------------------------------------------------------- fuzz: uploads
@FUZZ
@pytest.mark.parametrize("fmt", sorted(hostile.UPLOAD_TYPES))
def test_fuzz_rdf_uploads(h: httpx.Client, canary: Canary, tally: Tally, fmt: str) -> None:
    media = hostile.UPLOAD_TYPES[fmt]
    types = st.sampled_from(
        [media, media, media, f"{media}; charset=utf-8", f"{media}; charset=latin-1",
         media.upper(), *hostile.REFUSED_TYPES]
    )  # fmt: skip
    graphs = st.one_of(
        st.integers(0, 10**6).map(lambda n: {"graph": f"urn:fuzz:{fmt}:{n}"}),
        st.just({}),
        st.just({"default": ""}),
        hostile.injections(canary.url).map(lambda v: {"graph": v}),
    )

    @SETTINGS
    @given(
        body=hostile.rdf_bodies(fmt, canary.url),
        content_type=types,
        method=st.sampled_from(["PUT", "POST"]),
        params=graphs,
    )
    def run(body: bytes, content_type: str, method: str, params: dict[str, str]) -> None:
        headers = {**AUTH, "Content-Type": content_type}
        tally.send(
            f"upload-{fmt}",
            lambda: h.request(method, "/store", params=params, content=body, headers=headers),
            f"{method} /store {params} [{content_type}] {shown(body)}",
        )

    run()
    assert_no_failures(tally, f"upload-{fmt}")
    assert canary.seen == []


# ---------------------------------------------------------------- fuzz: REST
@pytest.fixture(scope="module")
def rest_operations(h: httpx.Client) -> list[tuple[str, dict[str, Any], dict[str, str]]]:
    """(path, parameter, harmless values of the others) of every GET parameter under
    /api/v1, and of the HTML and linked-data routes, from the server's own document."""
    document = h.get("/openapi.json").raise_for_status().json()
    found = []
    for path, item in document["paths"].items():
        get = item.get("get")
        if get is None or not (path.startswith("/api/v1/") or path in ("/search",)):
            continue
        parameters = [p for p in get.get("parameters", []) if p["in"] in ("query", "path")]
        for p in parameters:
            others = {
                q["name"]: "turkey"
                for q in parameters
                if q is not p and (q["in"] == "path" or q.get("required"))
            }
            found.append((path, p, others))
    for path in ("/browse/{kind}", "/id/{path}", "/doc/{path}"):
        found.append((path, {"name": path.split("{")[1][:-1], "in": "path"}, {}))
    assert any(path == "/api/v1/search" for path, _, _ in found), "no search in the document"
    return found


@FUZZ
def test_fuzz_rest_parameters(
    h: httpx.Client, canary: Canary, tally: Tally, rest_operations: list
) -> None:
    before = quads(h)

    @SETTINGS
    @given(operation=st.sampled_from(rest_operations), value=hostile.injections(canary.url))
    def run(operation: tuple[str, dict[str, Any], dict[str, str]], value: str) -> None:
        path, parameter, others = operation
        values = {**others, parameter["name"]: value}
        url, params = path, {}
        for name, v in values.items():
            if "{" + name + "}" in url:
                url = url.replace("{" + name + "}", quote(v, safe=""))
            else:
                params[name] = v
        tally.send("rest-parameters", lambda: h.get(url, params=params), f"GET {url} {params}")

    run()
    assert_no_failures(tally, "rest-parameters")
    assert quads(h) == before, "a REST read wrote something"
    assert canary.seen == []


VALID_FACT = {
    "subject": "https://w3id.org/geokg/id/iran",
    "predicate": "https://w3id.org/geokg/ontology#borders",
    "object": {"iri": "https://w3id.org/geokg/id/armenia"},
    "source": "https://w3id.org/geokg/id/article-004",
    "quote": "Iran shares a short border with Armenia (a fuzz quote).",
}


@FUZZ
def test_fuzz_fact_bodies(h: httpx.Client, canary: Canary, tally: Tally) -> None:
    types = st.sampled_from(
        ["application/json", "application/json", "application/ld+json", "text/plain",
         "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""]
    )  # fmt: skip

    @SETTINGS
    @given(body=hostile.fact_bodies(canary.url, VALID_FACT), content_type=types)
    def run(body: bytes, content_type: str) -> None:
        headers = {**AUTH, "Content-Type": content_type}
        tally.send(
            "facts-body",
            lambda: h.post("/api/v1/facts", content=body, headers=headers),
            f"POST /api/v1/facts [{content_type}] {shown(body)}",
        )

    @SETTINGS
    @given(value=hostile.injections(canary.url))
    def delete(value: str) -> None:
        url = "/api/v1/facts/" + quote(value, safe="")
        tally.send("facts-body", lambda: h.delete(url, headers=AUTH), f"DELETE {url}")

    run()
    delete()
    assert_no_failures(tally, "facts-body")
    assert canary.seen == []


# ---------------------------------------------------------------- sizes and HTTP
def _chunks(total: int, size: int = 256 * 1024) -> Iterator[bytes]:
    """A body sent with chunked transfer encoding (no Content-Length)."""
    while total > 0:
        yield b"#" * min(size, total)
        total -= size


UPLOAD_PATHS = [
    ("POST", "/sparql", "application/sparql-query", {}),
    ("POST", "/sparql", "application/x-www-form-urlencoded", {}),
    ("POST", "/sparql", "application/sparql-update", {}),
    ("PUT", "/store?graph=urn:fuzz:big", "text/turtle", {}),
    ("POST", "/store?graph=urn:fuzz:big", "application/rdf+xml", {}),
    ("POST", "/store", "application/ld+json", {}),
    ("POST", "/api/v1/facts", "application/json", {}),
]


@pytest.mark.parametrize(("method", "path", "media", "_"), UPLOAD_PATHS)
def test_oversized_bodies_get_413(
    h: httpx.Client, hostile_server: str, tally: Tally, method: str, path: str, media: str, _
) -> None:
    """Past the body limit: 413, with a Content-Length, chunked without one, and when the
    declared length is never sent (the answer does not wait for it)."""
    headers = {**AUTH, "Content-Type": media}
    before = quads(h)
    over = MAX_BODY + 1
    for name, request in (
        ("length", lambda: h.request(method, path, content=b"#" * over, headers=headers)),
        ("chunked", lambda: h.request(method, path, content=_chunks(over), headers=headers)),
    ):
        r = tally.send("oversized-bodies", request, f"{method} {path} {name}")
        assert r is not None
        assert_problem(r, 413)
    # A declared length far past the limit, and a body that never comes.
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
        f"Content-Type: {media}\r\nContent-Length: {10**12}\r\nConnection: close\r\n\r\n"
    )
    status, body = _raw(hostile_server, head.encode() + b"#" * 100)
    assert status == 413, body
    assert json.loads(body)["status"] == 413
    assert quads(h) == before


def _raw(base: str, data: bytes, timeout: float = 20) -> tuple[int, bytes]:
    """Send raw bytes; (status, body) of the answer, read until the server closes."""
    parts = urlsplit(base)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(data)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def test_too_many_header_fields(hostile_server: str) -> None:
    """431: forwarding 20,000 header fields took the server 16 s (quadratic in httpx)."""
    fields = b"".join(b"X-Field-%d: a\r\n" % i for i in range(20_000))
    for path in (b"/health", b"/sparql?query=ASK%7B%7D", b"/store?graph=urn:x"):
        head = b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        status, body = _raw(hostile_server, head + fields + b"\r\n")
        assert status == 431, body
        assert json.loads(body)["type"].endswith("/too-many-header-fields")


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\n"
        b"Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nASK {}\r\n0\r\n\r\n",
        b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\n"
        b"Transfer-Encoding: chunked\r\n\r\nzz\r\nASK {}\r\n0\r\n\r\n",
        b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\nASK {}",
        b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\nASK {}",
        b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
        b"G\x01T / HTTP/1.1\r\nHost: x\r\n\r\n",
    ],
    ids=["smuggling-cl-te", "bad-chunk-size", "negative-length", "bad-length", "nul", "method"],
)
def test_malformed_http_gets_a_problem(hostile_server: str, request_bytes: bytes) -> None:
    status, body = _raw(hostile_server, request_bytes)
    assert status == 400
    assert json.loads(body)["type"].endswith("/malformed-http-request")


def test_a_document_too_costly_to_parse_is_stopped(h: httpx.Client) -> None:
    """RDF/XML nested 40,000 deep (1.8 MB; 20,000 took the parser 13 s, and the time
    grows faster than the depth) is parsed in a worker, stopped at the 3 s time limit
    (413), and the server answers meanwhile."""
    depth = 40_000
    body = (
        f'<rdf:RDF xmlns:rdf="{hostile.RDF}" xmlns:e="urn:fuzz:">'
        '<rdf:Description rdf:about="urn:fuzz:a">'
        + "<e:p><rdf:Description>" * depth
        + "<e:q>1</e:q>"
        + "</rdf:Description></e:p>" * depth
        + "</rdf:Description></rdf:RDF>"
    ).encode()
    answers: list[httpx.Response] = []
    upload = threading.Thread(
        target=lambda: answers.append(
            h.put(
                "/store",
                params={"graph": "urn:fuzz:costly"},
                content=body,
                headers={**AUTH, "Content-Type": "application/rdf+xml"},
            )
        )
    )
    upload.start()
    try:
        for _ in range(20):  # the server answers while the parse runs
            assert h.get("/health").status_code == 200
            assert h.get("/store", params={"graph": "urn:fuzz:costly"}).status_code == 404
            if not upload.is_alive():
                break
            time.sleep(0.1)
    finally:
        upload.join(CLIENT_TIMEOUT)
    assert answers, "the upload got no answer"
    assert_problem(answers[0], 413)["type"].endswith("/body-too-complex")


# ---------------------------------------------------------------- nothing is fetched
def test_xml_entity_expansion(h: httpx.Client, canary: Canary, tally: Tally) -> None:
    """Entities are never expanded: a billion laughs is refused or stored unexpanded, and
    external entities (a file, the canary, XInclude) are never read."""
    headers = {**AUTH, "Content-Type": "application/rdf+xml"}
    xinclude = (
        f'<rdf:RDF xmlns:rdf="{hostile.RDF}" xmlns:e="urn:fuzz:" '
        'xmlns:xi="http://www.w3.org/2001/XInclude">'
        '<rdf:Description rdf:about="urn:fuzz:xi"><e:p rdf:parseType="Literal">'
        f'<xi:include href="{canary.url}/xi.xml" parse="text"/></e:p>'
        "</rdf:Description></rdf:RDF>"
    ).encode()
    bodies = {
        # Each would expand to 20 MB: refused by the bounds, harmless without them.
        "billion-laughs": hostile.billion_laughs(7, 10),
        "quadratic-blowup": (
            f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "{"x" * 5_000}">]>'
            f'<rdf:RDF xmlns:rdf="{hostile.RDF}" xmlns:e="urn:fuzz:">'
            f'<rdf:Description rdf:about="urn:fuzz:q"><e:p>{"&a;" * 4_000}</e:p>'
            "</rdf:Description></rdf:RDF>"
        ).encode(),
        "xinclude": xinclude,
    }
    for name, body in bodies.items():
        for method in ("PUT", "POST"):
            graph = f"urn:fuzz:xml:{name}"
            r = tally.send(
                "xml-entities",
                lambda m=method, b=body, g=graph: h.request(
                    m, "/store", params={"graph": g}, content=b, headers=headers
                ),
                f"{method} {name}",
            )
            assert r is not None and judge(r) is None, r and r.text[:300]
            stored = h.get("/store", params={"graph": graph}, headers={"Accept": "text/turtle"})
            assert len(stored.content) < 200_000, f"{name}: {len(stored.content)} bytes stored"
    assert canary.seen == []


def test_json_ld_scoped_remote_contexts(h: httpx.Client, canary: Canary, tally: Tally) -> None:
    """Remote contexts in a term's scoped context, a type-scoped context and a property
    value are never loaded (the document is refused)."""
    headers = {**AUTH, "Content-Type": "application/ld+json"}
    remote = f"{canary.url}/scoped.jsonld"
    bodies = [
        {"@context": {"t": {"@id": "urn:fuzz:t", "@context": remote}}, "@id": "urn:fuzz:a",
         "t": {"urn:fuzz:x": 1}},
        {"@context": {"T": {"@id": "urn:fuzz:T", "@context": remote}}, "@id": "urn:fuzz:a",
         "@type": "T", "urn:fuzz:x": 1},
        {"@context": [{"@version": 1.1}, remote], "@id": "urn:fuzz:a"},
        {"@id": "urn:fuzz:a", "urn:fuzz:p": [{"@context": remote, "@id": "urn:fuzz:b"}]},
        {"@context": {"@propagate": True, "@import": remote}, "@id": "urn:fuzz:a"},
    ]  # fmt: skip
    for body in bodies:
        r = tally.send(
            "jsonld-contexts",
            lambda b=body: h.put(
                "/store", params={"graph": "urn:fuzz:ctx"}, content=json.dumps(b), headers=headers
            ),
            json.dumps(body),
        )
        assert r is not None
        assert_problem(r, 400)
    assert canary.seen == []


def test_nothing_is_fetched(h: httpx.Client, canary: Canary, tally: Tally) -> None:
    """Every way a request can name a location at the canary: the canary sees nothing."""
    c = canary.url
    queries = [
        f"SELECT * WHERE {{ SERVICE <{c}/sparql> {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ SERVICE SILENT <{c}/sparql> {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ {{ SELECT * WHERE {{ SERVICE <{c}/s> {{ ?s ?p ?o }} }} }} }}",
        f"ASK {{ FILTER EXISTS {{ SERVICE <{c}/s> {{ ?s ?p ?o }} }} }}",
        f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ SERVICE <{c}/s> {{ ?s ?p ?o }} }}",
        f"SELECT * FROM <{c}/default> WHERE {{ ?s ?p ?o }}",
        f"SELECT * FROM NAMED <{c}/named> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}",
        f"DESCRIBE <{c}/thing>",
        f"SELECT * WHERE {{ GRAPH <{c}/graph> {{ ?s ?p ?o }} }}",
        f"SELECT (IRI(<{c}/iri>) AS ?x) WHERE {{}}",
    ]
    updates = [
        f"LOAD <{c}/data.ttl>",
        f"LOAD SILENT <{c}/data.ttl> INTO GRAPH <urn:fuzz:load>",
        f"INSERT {{ GRAPH <urn:fuzz:u> {{ ?s ?p ?o }} }} USING <{c}/u> WHERE {{ ?s ?p ?o }}",
        f"INSERT {{ GRAPH <urn:fuzz:u> {{ ?s ?p ?o }} }} USING NAMED <{c}/n> "
        "WHERE { GRAPH ?g { ?s ?p ?o } }",
        f"WITH <{c}/with> DELETE {{ ?s ?p ?o }} WHERE {{ ?s ?p ?o }}",
        f"DELETE {{ GRAPH <urn:fuzz:u> {{ ?s ?p ?o }} }} "
        f"WHERE {{ SERVICE <{c}/s> {{ ?s ?p ?o }} }}",
    ]
    dataset = {"default-graph-uri": f"{c}/d", "named-graph-uri": f"{c}/n"}
    using = {"using-graph-uri": f"{c}/u", "using-named-graph-uri": f"{c}/un"}
    sends: list[tuple[Callable[[], httpx.Response], str]] = []
    for q in queries:
        sends += [
            (lambda q=q: h.get("/sparql", params={"query": q}), f"GET {q}"),
            (lambda q=q: h.post("/sparql", data={"query": q, **dataset}), f"form {q}"),
            (
                lambda q=q: h.post(
                    "/sparql",
                    params=dataset,
                    content=q,
                    headers={"Content-Type": "application/sparql-query"},
                ),
                f"direct {q}",
            ),
        ]
    for u in updates:
        sends += [
            (lambda u=u: h.post("/sparql", data={"update": u}, headers=AUTH), f"form {u}"),
            (
                lambda u=u: h.post(
                    "/sparql",
                    params=using,
                    content=u,
                    headers={**AUTH, "Content-Type": "application/sparql-update"},
                ),
                f"direct {u}",
            ),
        ]
    sends.append((lambda: h.get("/store", params={"graph": f"{c}/g"}), "GET /store canary"))
    for request, show in sends:
        r = tally.send("canary-locations", request, show, timeouts=True)
        assert r is not None and judge(r, timeouts=True) is None, (show, r and r.text[:300])
    assert canary.seen == []


# ---------------------------------------------------------------- writes from elsewhere
WRITES = [
    ("POST", "/sparql", "update"),
    ("PUT", "/store?graph=urn:fuzz:csrf", "turtle"),
    ("POST", "/store?graph=urn:fuzz:csrf", "turtle"),
    ("POST", "/store", "turtle"),
    ("DELETE", "/store?graph=https://w3id.org/geokg/graph/entities", None),
    ("POST", "/api/v1/facts", "fact"),
    ("DELETE", "/api/v1/facts/00000000-0000-4000-8000-000000000000", None),
]
PAYLOADS = {
    "update": "INSERT DATA { GRAPH <urn:fuzz:csrf> { <urn:fuzz:a> <urn:fuzz:b> 'c' } }",
    "turtle": "<urn:fuzz:a> <urn:fuzz:b> 'c' .",
    "fact": json.dumps(VALID_FACT),
}
COOKIES = f"access_token={TOKEN}; token={TOKEN}; Authorization=Bearer%20{TOKEN}"


def _form(kind: str | None, enctype: str) -> tuple[bytes, str]:
    """A body a browser form could send (the payload, plus the token in a field)."""
    fields = {"update" if kind == "update" else "data": PAYLOADS.get(kind or "", "")}
    fields |= {"access_token": TOKEN, "authorization": f"Bearer {TOKEN}"}
    if enctype == "text/plain":  # the classic way to post JSON from a form
        return (PAYLOADS.get(kind or "", "") or "x=y").encode(), "text/plain"
    if enctype == "multipart/form-data":
        parts = "".join(
            f'--b\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
            for k, v in fields.items()
        )
        return (parts + "--b--\r\n").encode(), "multipart/form-data; boundary=b"
    return urlencode(fields).encode(), "application/x-www-form-urlencoded"


def test_cross_origin_form_posts_never_write(h: httpx.Client, tally: Tally) -> None:
    """What a page on another site can make a browser send (a form's three encodings,
    the site's cookies, the token in a field) never writes: no Authorization header."""
    before = quads(h)
    for method, path, kind in WRITES:
        for enctype in ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain"):
            body, media = _form(kind, enctype)
            headers = {
                "Origin": FOREIGN,
                "Referer": f"{FOREIGN}/page.html",
                "Content-Type": media,
                "Cookie": COOKIES,
                "Sec-Fetch-Site": "cross-site",
            }
            r = tally.send(
                "cross-origin-forms",
                lambda m=method, p=path, b=body, hd=headers: h.request(m, p, content=b, headers=hd),
                f"{method} {path} [{enctype}]",
            )
            assert r is not None
            # 401 (no bearer token), or 415 where the media type is checked first.
            assert_problem(r, 401, 415)
            assert "access-control-allow-origin" not in r.headers
    assert quads(h) == before


def test_cors_never_allows_credentials(h: httpx.Client, client: httpx.Client) -> None:
    """Both policies: the default (any origin, ``*``) and a listed origin. No answer
    allows credentials; with listed origins, another origin is never named; a refused
    preflight is a problem."""
    paths = ["/sparql", "/store?graph=urn:fuzz:cors", "/api/v1/facts", "/api/v1/states", "/"]
    origins = [FOREIGN, ORIGIN, "null", "http://127.0.0.1:1", "https://app.example.org.evil"]
    for c, listed in ((h, True), (client, False)):
        for path in paths:
            for origin in origins:
                allowed = origin == ORIGIN or not listed
                for request_headers in ("authorization, content-type", "cookie", None):
                    preflight = {
                        "Origin": origin,
                        "Access-Control-Request-Method": "POST",
                        **({"Access-Control-Request-Headers": request_headers}
                           if request_headers else {}),
                    }  # fmt: skip
                    r = c.options(path, headers=preflight)
                    _check_cors(r, origin, listed)
                    if allowed and request_headers != "cookie":
                        assert r.status_code == 200, (path, origin, r.text)
                    else:
                        assert_problem(r, 400)["type"].endswith("/cors-refused")
                for r in (
                    c.get(path, headers={"Origin": origin, "Cookie": "session=1"}),
                    c.post(path, headers={"Origin": origin, "Cookie": "session=1"}, content=b"x"),
                ):
                    _check_cors(r, origin, listed)
                    assert judge(r) is None, (path, origin, r.status_code, r.text[:200])
        r = c.options(
            "/sparql",
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Private-Network": "true",
            },
        )
        assert_problem(r, 400)
        assert "access-control-allow-private-network" not in r.headers


def _check_cors(r: httpx.Response, origin: str, listed: bool) -> None:
    allow = r.headers.get("access-control-allow-origin")
    assert r.headers.get("access-control-allow-credentials", "").lower() != "true", r.headers
    if listed:
        assert allow in (None, ORIGIN), (origin, allow)
        assert allow != origin or origin == ORIGIN
    else:
        assert allow in (None, "*", origin), (origin, allow)


def test_the_canary_was_never_contacted(canary: Canary, tally: Tally) -> None:
    """Run last: nothing in this module made the server fetch anything."""
    assert canary.seen == []
    assert sum(t.inputs for t in tally.targets.values()) > 0
