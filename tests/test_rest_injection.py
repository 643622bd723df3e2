"""Hostile values through every parameter of the REST API and of the HTML pages.

Every GET operation under ``/api/v1`` and each of its query and path parameters is taken
from the server's ``/openapi.json`` when the test runs, so a new endpoint or parameter is
covered without editing this file. Each parameter in turn gets each of ``PAYLOADS``
(SPARQL fragments, IRI breakers, escapes, control characters, a 10 kB string), the other
parameters keeping harmless values, and every answer must be

* a 2xx, or a 4xx with an RFC 9457 ``application/problem+json`` body: never a 5xx;
* for an integer or enumerated parameter, a 4xx (no payload is a number or a member);
* for a path parameter (an id), a 4xx (no entity has such an id);
* for a list filter (any parameter but ``q``, ``as_of`` and paging), an empty list: an
  injected value matches nothing, it never widens the list;
* for ``q``, no more items than the unfiltered list, each of which does contain the text;
* and the store is unchanged afterwards (its triple count, through ``/sparql``).

The HTML routes (``/search?q=``, ``/browse/{kind}``) and the linked-data routes
(``/id/{id}``, ``/doc/{id}``) get the same values: never a 5xx, an error is a problem
body, and a value shown in a page is HTML-escaped (no markup of ours is reflected raw).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from markupsafe import escape

from kg.resources import normalise

PAYLOADS: dict[str, str] = {
    "union": "} UNION { ?s ?p ?o } #",
    "iri-break": '"> . ?x ?y ?z . <x',
    "drop-all": "<http://example.org/x> } ; DROP ALL ; #",
    "variable": "?value",
    "bare-variable": "?s",
    "boolean": "1) || true || (",
    "string-break": '\\" } LIMIT 1 #',
    "single-quote": "' } UNION { ?s ?p ?o } #",
    "unicode-escape": "\\u003E } UNION { ?s ?p ?o } #",
    "long-unicode-escape": "x\\U0000003E",
    "percent-escape": "%3E%20%7D%20UNION%20%7B%20?s%20?p%20?o%20%7D",
    "bad-percent": "turkey%",
    "newline": "turkey\n} UNION { ?s ?p ?o } #",
    "crlf": "turkey\r\nX-Injected: yes",
    "nul": "turkey\x00} #",
    "control": "turkey\x01",
    "c1-control": "turkey\x85",
    "bidi": "\u202eturkey\ufeff",
    "long": ("} UNION { ?s ?p ?o } " * 500)[:10240],
    "iri-space": "http://example.org/a b",
    "iri-angle": "http://example.org/<x>",
    "iri-close": "http://example.org/x> ?p ?o } UNION { ?s ?p <http://example.org/y",
    "iri-encoded": "http://example.org/x%3E",
    "prefixed-break": "gp:State> } #",
    "script": "<script>alert(1)</script>",
    "attribute": '"><img src=x onerror=alert(1)>',
}

#: Parameters that are not filters: the label text, the date view, paging.
NOT_FILTERS = {"q", "as_of", "limit", "offset"}
#: A harmless value for a required parameter that is not under test.
HARMLESS = "turkey"
THREADS = 4
COUNT = "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }"
COUNT_QUADS = "SELECT (COUNT(*) AS ?n) { GRAPH ?g { ?s ?p ?o } }"


# ---------------------------------------------------------------- the API, from its document
@dataclass
class Operation:
    path: str  # as in the document, e.g. /api/v1/states/{id}
    parameters: list[dict[str, Any]]
    path_values: dict[str, str] = field(default_factory=dict)  # harmless, existing ids
    required: dict[str, str] = field(default_factory=dict)  # harmless required query values
    # Harmless query values the payload goes in among: the required ones, and, when those
    # alone are refused (say "give o or literal"), with the first optional one that makes
    # them acceptable, so that the payload reaches the code after that check.
    contexts: list[dict[str, str]] = field(default_factory=list)
    baseline: int | None = None  # total of the unfiltered list, for lists

    def url(self, path_values: dict[str, str]) -> str:
        url = self.path
        for name, value in path_values.items():
            url = url.replace("{" + name + "}", quote(value, safe=""))
        return url


def _schema_kinds(schema: dict[str, Any]) -> set[str]:
    """The JSON types (and "enum") a parameter schema allows, through anyOf/oneOf."""
    kinds: set[str] = set()
    for alt in [schema, *schema.get("anyOf", []), *schema.get("oneOf", [])]:
        if "type" in alt:
            kinds.update([alt["type"]] if isinstance(alt["type"], str) else alt["type"])
        if "enum" in alt or "const" in alt:
            kinds.add("enum")
    return kinds - {"null"}


def _strict(parameter: dict[str, Any]) -> bool:
    """Whether every payload is invalid for this parameter (an integer or an enum)."""
    kinds = _schema_kinds(parameter.get("schema", {}))
    return bool(kinds & {"integer", "number", "enum", "boolean"})


@pytest.fixture(scope="module")
def api(client: httpx.Client) -> list[Operation]:
    document = client.get("/openapi.json").raise_for_status().json()
    operations = []
    for path, item in document["paths"].items():
        get = item.get("get")
        if not path.startswith("/api/v1/") or get is None:
            continue
        parameters = [p for p in get.get("parameters", []) if p["in"] in ("query", "path")]
        op = Operation(path, parameters)
        for p in parameters:
            if p["in"] == "path":
                op.path_values[p["name"]] = _existing_id(client, path)
            elif p.get("required"):
                op.required[p["name"]] = HARMLESS
        op.contexts = _contexts(client, op)
        if not op.path_values and not op.required:  # a list without parameters: all of it
            answer = client.get(path)
            if answer.status_code == 200 and "total" in answer.json():
                op.baseline = answer.json()["total"]
        operations.append(op)
    assert any(op.path == "/api/v1/search" for op in operations), "no search in the document"
    assert any(op.baseline is not None for op in operations), "no list in the document"
    return operations


def _contexts(client: httpx.Client, op: Operation) -> list[dict[str, str]]:
    url = op.url(op.path_values)
    if not op.required or client.get(url, params=op.required).status_code != 400:
        return [op.required]
    for p in op.parameters:
        if p["in"] == "query" and p["name"] not in op.required and not _strict(p):
            trial = {**op.required, p["name"]: HARMLESS}
            if client.get(url, params=trial).status_code != 400:
                return [op.required, trial]
    return [op.required]


def _existing_id(client: httpx.Client, path: str) -> str:
    """The id of something the list next to ``path`` holds (states for /entities)."""
    collection = path.rsplit("/", 1)[0]
    for candidate in (collection, "/api/v1/states"):
        answer = client.get(candidate, params={"limit": 1})
        if answer.status_code == 200:
            items = answer.json().get("items") or []
            if items and items[0].get("id"):
                return items[0]["id"]
    return "x"


Case = tuple[Operation, dict[str, Any], str, dict[str, Any]]


def _cases(api: list[Operation], payload: str) -> Iterator[Case]:
    """Each (operation, parameter, URL, query) with ``payload`` in that one parameter."""
    for op in api:
        for parameter in op.parameters:
            name = parameter["name"]
            sent = []
            for context in op.contexts:
                if parameter["in"] == "path":
                    url, params = op.url({**op.path_values, name: payload}), dict(context)
                else:
                    url, params = op.url(op.path_values), {**context, name: payload}
                if (url, params) not in sent:
                    sent.append((url, params))
                    yield op, parameter, url, params


# ---------------------------------------------------------------- checks
def _triples(client: httpx.Client) -> tuple[int, int]:
    counts = []
    for query in (COUNT, COUNT_QUADS):
        answer = client.get(
            "/sparql",
            params={"query": query},
            headers={"Accept": "application/sparql-results+json"},
        )
        assert answer.status_code == 200, answer.text
        counts.append(int(answer.json()["results"]["bindings"][0]["n"]["value"]))
    return counts[0], counts[1]


def _problem(answer: httpx.Response) -> str | None:
    """What is wrong with an error answer (None: a proper RFC 9457 problem body)."""
    media = answer.headers.get("content-type", "").split(";")[0].strip()
    if media != "application/problem+json":
        return f"error media type {media!r}, not application/problem+json"
    try:
        body = answer.json()
    except ValueError:
        return "error body is not JSON"
    if not isinstance(body, dict) or body.get("status") != answer.status_code:
        return f"problem body without the status {answer.status_code}"
    if not body.get("type") or not body.get("title"):
        return "problem body without type or title"
    return None


def _contains(needle: str, texts: list[str]) -> bool:
    words = [normalise(w) for w in re.split(r"\W+", needle) if normalise(w)]
    target = normalise(needle)
    for text in texts:
        key = normalise(text)
        if target in key or (len(words) > 1 and all(w in key for w in words)):
            return True
    return False


def _labels(client: httpx.Client, item: dict[str, Any]) -> list[str]:
    """The labels and alternative labels of a list item (the list shows only one)."""
    texts = [item.get("label") or ""]
    if item.get("iri"):
        query = (
            "SELECT ?l { GRAPH ?g { ?s <http://www.w3.org/2000/01/rdf-schema#label>"
            "|<http://www.w3.org/2004/02/skos/core#prefLabel>"
            "|<http://www.w3.org/2004/02/skos/core#altLabel> ?l } }"
        )
        answer = client.get(
            "/sparql",
            params={"query": query.replace("?s", f"<{item['iri']}>")},
            headers={"Accept": "application/sparql-results+json"},
        )
        if answer.status_code == 200:
            texts += [b["l"]["value"] for b in answer.json()["results"]["bindings"]]
    return texts


def _check(
    client: httpx.Client,
    op: Operation,
    parameter: dict[str, Any],
    payload: str,
    answer: httpx.Response,
) -> str | None:
    """What is wrong with ``answer`` to ``payload`` in ``parameter`` of ``op`` (None: fine)."""
    status = answer.status_code
    name, where = parameter["name"], parameter["in"]
    if status >= 500:
        return f"server error {status}: {answer.text[:300]}"
    if 400 <= status < 500:
        return _problem(answer)
    if not 200 <= status < 300:
        return f"status {status}"
    if where == "path":
        return f"{status}: a path value that is an injection found something"
    if _strict(parameter):
        return f"{status}: accepted as a valid {sorted(_schema_kinds(parameter['schema']))}"
    try:
        body = answer.json()
    except ValueError:
        return f"{status} without a JSON body"
    if not isinstance(body, dict) or "items" not in body:
        return None  # not a list (an explanation, the context): no 5xx was the check
    items, total = body["items"], body.get("total", len(body["items"]))
    if name == "q":
        if op.baseline is not None and total > op.baseline:
            return f"q widened the list: {total} items, {op.baseline} unfiltered"
        for item in items:
            texts = [item["matched"]["text"]] if "matched" in item else _labels(client, item)
            if not _contains(payload, texts):
                return f"q returned {item.get('id')!r}, whose labels do not contain it"
        return None
    if name in NOT_FILTERS:  # as_of (paging is strict, refused above)
        if op.baseline is not None and total > op.baseline:
            return f"{name} widened the list: {total} items, {op.baseline} unfiltered"
        return None
    if total or items:
        return f"filter {name} matched {total} items (unfiltered: {op.baseline})"
    return None


def _show(value: str) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:50] + f"...' ({len(value)} characters)"


# ---------------------------------------------------------------- the REST API
@pytest.mark.timeout(240)
@pytest.mark.parametrize("payload_name", list(PAYLOADS))
def test_every_rest_parameter_resists_injection(
    client: httpx.Client, api: list[Operation], payload_name: str
) -> None:
    payload = PAYLOADS[payload_name]
    before = _triples(client)

    def send(case: Case) -> str | None:
        op, parameter, url, params = case
        try:
            answer = client.get(url, params=params)
            if answer.status_code == 503:  # busy (Retry-After): once more, then it counts
                time.sleep(float(answer.headers.get("retry-after", "1")))
                answer = client.get(url, params=params)
        except httpx.HTTPError as exc:
            problem: str | None = f"no answer: {type(exc).__name__}: {exc}"
        else:
            problem = _check(client, op, parameter, payload, answer)
        if problem is None:
            return None
        others = {k: v for k, v in params.items() if k != parameter["name"]}
        where = f" (with {others})" if others else ""
        return f"{parameter['in']} {parameter['name']} of GET {op.path}{where}: {problem}"

    cases = list(_cases(api, payload))
    with ThreadPoolExecutor(THREADS) as pool:
        failures = [f for f in pool.map(send, cases) if f is not None]
    assert _triples(client) == before, "the store changed"
    assert not failures, (
        f"{payload_name} = {_show(payload)}: {len(failures)} of {len(cases)} parameters fail:\n"
        + "\n".join(failures)
    )


# ---------------------------------------------------------------- the HTML and linked-data pages
def _page_problem(answer: httpx.Response, payload: str, shown: bool) -> str | None:
    status = answer.status_code
    if status >= 500:
        return f"server error {status}: {answer.text[:300]}"
    if 400 <= status < 500:
        return _problem(answer)
    if status not in (200, 303):
        return f"status {status}"
    media = answer.headers.get("content-type", "").split(";")[0].strip()
    if status == 200 and media == "text/html":
        if any(c in payload for c in "<>\"'&") and payload.strip() in answer.text:
            return "the value is reflected unescaped"
        if shown and str(escape(payload.strip())) not in answer.text:
            return "the value is not shown HTML-escaped"
    return None


@pytest.mark.timeout(120)
@pytest.mark.parametrize("payload_name", list(PAYLOADS))
def test_html_and_linked_data_routes_resist_injection(
    client: httpx.Client, payload_name: str
) -> None:
    payload = PAYLOADS[payload_name]
    before = _triples(client)
    segment = quote(payload, safe="")
    html_accept = {"Accept": "text/html"}
    requests = [
        ("/search?q=", "/search", {"q": payload}, True),
        ("/browse/{kind}", f"/browse/{segment}", {}, False),
        ("/browse/states?offset=", "/browse/states", {"offset": payload}, False),
        ("/id/{id}", f"/id/{segment}", {}, False),
        ("/doc/{id}.html", f"/doc/{segment}.html", {}, False),
        ("/doc/{id}.ttl", f"/doc/{segment}.ttl", {}, False),
        ("/doc/ontology/{term}.html", f"/doc/ontology/{segment}.html", {}, False),
    ]
    failures = []
    for label, url, params, shown in requests:
        try:
            answer = client.get(url, params=params, headers=html_accept, follow_redirects=False)
        except httpx.HTTPError as exc:
            failures.append(f"{label}: no answer: {type(exc).__name__}: {exc}")
            continue
        problem = _page_problem(answer, payload, shown)
        if problem is not None:
            failures.append(f"{label}: {problem}")
    assert _triples(client) == before, "the store changed"
    assert not failures, f"{payload_name} = {_show(payload)}:\n" + "\n".join(failures)
