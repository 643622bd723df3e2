"""The request mix of bench.load: each request, its class, and what a correct answer is."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

PREFIXES = """\
PREFIX gp: <https://w3id.org/geokg/ontology#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX oa: <http://www.w3.org/ns/oa#>
"""
TURKEY = "https://w3id.org/geokg/id/turkey"
JSON_RESULTS = "application/sparql-results+json"
PROBLEM = "application/problem+json"
HTML = "text/html"
JSON = "application/json"

#: A product of three unbound triple patterns over the curated data (~15,000 triples):
#: about 10^12 rows; no server finishes it within seconds.
CROSS = "{ ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"


@dataclass(frozen=True)
class Request:
    """One request of the mix and what a correct answer to it is."""

    kind: str  # cheap, heavy, rest, page
    name: str
    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    data: dict[str, str] | None = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 200
    media: str | None = None  # the expected content type (its start)
    check: Callable[[httpx.Response], str | None] | None = None  # an error, or None

    def verdict(self, r: httpx.Response) -> str | None:
        """None if ``r`` is the expected answer, else what is wrong with it."""
        if r.status_code != self.status:
            return f"status {r.status_code}" + _problem_type(r)
        if self.media and not r.headers.get("content-type", "").startswith(self.media):
            return f"content-type {r.headers.get('content-type')!r}"
        return self.check(r) if self.check else None


def _problem_type(r: httpx.Response) -> str:
    """`` (type slug)`` of a problem JSON body, else nothing."""
    if not r.headers.get("content-type", "").startswith(PROBLEM):
        return ""
    try:
        return f" ({str(r.json().get('type', '')).rsplit('/', 1)[-1]})"
    except ValueError:
        return ""


def _bindings(r: httpx.Response) -> str | None:
    try:
        rows = r.json()["results"]["bindings"]
    except (ValueError, KeyError, TypeError):
        return "not SPARQL JSON results"
    return None if rows else "no rows"


def _boolean_true(r: httpx.Response) -> str | None:
    try:
        return None if r.json()["boolean"] is True else "ASK gave false"
    except (ValueError, KeyError, TypeError):
        return "not a SPARQL boolean result"


def _time_limit_problem(r: httpx.Response) -> str | None:
    """The documented answer to a query past its time limit (RFC 9457 problem JSON)."""
    try:
        body = r.json()
    except ValueError:
        return "503 without a JSON body"
    if not str(body.get("type", "")).endswith("/query-timeout") or body.get("status") != 503:
        return f"503 of another kind: {body.get('type')}"
    return None


def _json_total(r: httpx.Response) -> str | None:
    try:
        body = r.json()
    except ValueError:
        return "not JSON"
    return None if body.get("total", 1) > 0 else "an empty page"


def _has_text(text: str) -> Callable[[httpx.Response], str | None]:
    def check(r: httpx.Response) -> str | None:
        return None if text in r.text else f"{text!r} missing from the page"

    return check


def _sparql(name: str, query: str, check: Any = _bindings, post: bool = False) -> Request:
    accept = {"Accept": JSON_RESULTS}
    if post:
        return Request(
            "cheap",
            name,
            "POST",
            "/sparql",
            data={"query": query},
            headers=accept,
            media=JSON_RESULTS,
            check=check,
        )
    return Request(
        "cheap",
        name,
        "GET",
        "/sparql",
        params={"query": query},
        headers=accept,
        media=JSON_RESULTS,
        check=check,
    )


def _heavy(name: str, query: str, how: str, timeout: str | None = None) -> Request:
    """A query that runs into the time limit: the server's own, or ``timeout`` (seconds)
    when the client asks for less (the ``timeout`` parameter, in the query string)."""
    accept = {"Accept": JSON_RESULTS}
    params = {"timeout": timeout} if timeout else {}
    common: dict[str, Any] = {"status": 503, "media": PROBLEM, "check": _time_limit_problem}
    if how == "get":
        return Request(
            "heavy", name, "GET", "/sparql", {**params, "query": query}, headers=accept, **common
        )
    if how == "form":
        return Request(
            "heavy",
            name,
            "POST",
            "/sparql",
            params,
            data={"query": query},
            headers=accept,
            **common,
        )
    headers = {**accept, "Content-Type": "application/sparql-query"}
    return Request(
        "heavy", name, "POST", "/sparql", params, content=query.encode(), headers=headers, **common
    )


def _get(kind: str, name: str, path: str, media: str, check: Any = None, **kw: Any) -> Request:
    return Request(kind, name, "GET", path, media=media, check=check, **kw)


MIX: list[Request] = [
    # cheap SPARQL: lookups and small joins, by GET and POST (answered in the readers)
    _sparql("label", PREFIXES + f"SELECT ?l WHERE {{ <{TURKEY}> rdfs:label ?l }}"),
    _sparql(
        "states",
        PREFIXES + "SELECT ?s ?l WHERE { ?s a gp:State ; rdfs:label ?l } ORDER BY ?l LIMIT 50",
        post=True,
    ),
    _sparql("ask_selector", PREFIXES + "ASK { ?x oa:exact ?text }", check=_boolean_true),
    _sparql(
        "count_types",
        "SELECT ?t (COUNT(?s) AS ?n) WHERE { ?s a ?t } GROUP BY ?t ORDER BY DESC(?n) LIMIT 10",
    ),
    _sparql(
        "neighbours",
        PREFIXES + f"SELECT ?p ?o WHERE {{ <{TURKEY}> ?p ?o }} LIMIT 100",
        post=True,
    ),
    # heavy SPARQL: each runs into a time limit, the server's or a shorter one it asks for
    _heavy("cross_count", f"SELECT (COUNT(*) AS ?n) WHERE {CROSS}", "get"),
    _heavy("cross_offset_2s", f"SELECT ?a WHERE {CROSS} OFFSET 1000000000000", "form", "2"),
    _heavy("cross_distinct_1s", f"SELECT (COUNT(DISTINCT ?c) AS ?n) WHERE {CROSS}", "body", "1"),
    # REST (answered by the supervisor's query workers)
    _get("rest", "states", "/api/v1/states", JSON, _json_total),
    _get("rest", "search", "/api/v1/search?q=erdogan", JSON, _json_total),
    _get("rest", "acquisitions", "/api/v1/acquisitions?limit=20", JSON, _json_total),
    _get("rest", "office_holdings", "/api/v1/office-holdings?as_of=2020-01-01", JSON, _json_total),
    _get("rest", "overview", "/api/v1/overview", JSON),
    _get("rest", "entity", "/api/v1/entities/recep-tayyip-erdogan", JSON),
    # pages: home, search, lists, an entity, the UI, a stylesheet, a 303 from a thing's IRI
    _get("page", "home", "/", HTML),
    _get("page", "search", "/search?q=erdogan", HTML, _has_text("Erdoğan")),
    _get("page", "browse_states", "/browse/states", HTML, _has_text("Turkey")),
    _get("page", "entity", "/doc/s-400.html", HTML, _has_text("S-400")),
    _get("page", "query_ui", "/query", HTML),
    _get("page", "timeline_ui", "/timeline", HTML),
    _get("page", "stylesheet", "/assets/ui/ui.css", "text/css"),
    Request("page", "thing_303", "GET", "/id/s-400", headers={"Accept": HTML}, status=303),
]

#: Share of requests by class (heavy is further capped by --heavy-in-flight).
WEIGHTS = {"cheap": 0.5, "rest": 0.2, "page": 0.2, "heavy": 0.1}
CLASSES = ("cheap", "heavy", "rest", "page")
