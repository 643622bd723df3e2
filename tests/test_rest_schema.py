"""Property-based run of the REST API against its own OpenAPI document (schemathesis).

The schema is loaded from the running read-only test server (``/openapi.json``), and every
GET operation under ``/api/v1`` is called with values generated from it: valid ones
(positive) and, to look for unhandled errors, invalid ones (negative). Every answer must be

* not a 5xx (``not_a_server_error``),
* a documented status code (``status_code_conformance``),
* of a documented media type (``content_type_conformance``),
* valid against the documented response schema (``response_schema_conformance``).

The write operations (POST, DELETE under ``/api/v1/facts``) are left out: the server is
read-only. The run is bounded (``MAX_EXAMPLES`` cases an operation and mode, a request time
limit) and reproducible (Hypothesis derandomised, no example database). Only the loopback
server is contacted.

Each operation runs to its ``MAX_EXAMPLES`` cases whatever it finds, and the test reports
every distinct failure (operation, failure kind, status) with the first request that showed
it and the response, so that one failure (say an undocumented 400) does not hide another
(a 500) behind it.

Why not ``schemathesis.pytest.from_fixture``: the schema can only be loaded once the session
``server`` fixture runs, which needs the lazy loader, and in schemathesis 4.32 that loader
sets ``request.node._nodeid``, an attribute pytest 9.2 no longer has. So each operation's
Hypothesis strategy (``APIOperation.as_strategy``, the documented way to use schemathesis
from plain Hypothesis tests) is run here.
"""

from __future__ import annotations

import contextlib
import time
from urllib.parse import urlsplit

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

MAX_EXAMPLES = 10  # an operation and mode: ~700 requests in all, generation is most of the time
REQUEST_TIMEOUT = 30  # seconds, one request
BODY_SHOWN = 400  # characters of a failing response's body in the report

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

SETTINGS = hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,  # the same cases on every run and in CI
    database=None,  # no .hypothesis folder replaying old failures
    deadline=None,  # the server's own time limits apply; a slow answer is not a failure
    suppress_health_check=list(hypothesis.HealthCheck),
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    print_blob=False,
)


@pytest.fixture(scope="module")
def api_schema(server: str) -> schemathesis.BaseSchema:
    # The base URL is the server's: the document names no ``servers``.
    schema = schemathesis.openapi.from_url(f"{server}/openapi.json")
    # One include: its conditions must all hold (separate includes would be alternatives).
    return schema.include(path_regex=r"^/api/v1/", method="GET")


def _request_line(request: requests.PreparedRequest) -> str:
    url = urlsplit(request.url or "")
    return f"{request.method} {url.path}" + (f"?{url.query}" if url.query else "")


def _explore(
    operation: schemathesis.APIOperation,
    mode: GenerationMode,
    session: requests.Session,
    found: dict[tuple[str, str, str], str],
) -> int:
    """Run ``operation``'s cases; record each distinct failure once in ``found``."""
    calls = 0

    @SETTINGS
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def explore(case: schemathesis.Case) -> None:
        nonlocal calls
        calls += 1
        try:
            response = case.call(session=session, timeout=REQUEST_TIMEOUT)
        except requests.RequestException as exc:
            key = (operation.label, "transport", type(exc).__name__)
            found.setdefault(key, f"{case.as_curl_command()}\n  -> {type(exc).__name__}: {exc}")
            return
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:
            content_type = response.headers.get("content-type", ["-"])[0]
            body = response.content.decode("utf-8", "replace")
            if len(body) > BODY_SHOWN:
                body = body[:BODY_SHOWN] + f"... ({len(body)} characters)"
            for failure in group.exceptions:
                if failure.code == "ST103" and response.status_code >= 500:
                    continue  # the same answer is reported as a server error (ST101)
                kind = f"{failure.code} {failure.title}"
                key = (operation.label, kind, str(response.status_code))
                message = " / ".join(line for line in failure.message.splitlines() if line.strip())
                found.setdefault(
                    key,
                    f"{_request_line(response.request)}\n"
                    f"  -> {response.status_code} {content_type}\n"
                    f"  -> {body}\n"
                    f"  check: {message[:BODY_SHOWN]}",
                )

    # Unsatisfiable: nothing to generate in this mode (say, negative values for no parameters).
    with contextlib.suppress(Unsatisfiable):
        explore()
    return calls


@pytest.mark.timeout(280)
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
def test_rest_api_conforms_to_its_openapi_document(
    api_schema: schemathesis.BaseSchema, mode: GenerationMode
) -> None:
    operations: list[str] = []
    found: dict[tuple[str, str, str], str] = {}
    started, calls = time.monotonic(), 0
    with requests.Session() as session:
        for result in api_schema.get_all_operations():
            if isinstance(result, Err):  # an operation the document does not describe usably
                error = result.err()
                found[("?", "unusable operation", "-")] = f"{type(error).__name__}: {error}"
                continue
            operation = result.ok()
            operations.append(operation.label)
            calls += _explore(operation, mode, session, found)
    elapsed = time.monotonic() - started
    assert "GET /api/v1/search" in operations, operations
    assert "GET /api/v1/entities/{id}" in operations, operations
    report = "\n\n".join(
        f"[{kind}, status {status}] {label}\n{example}"
        for (label, kind, status), example in sorted(found.items())
    )
    assert not found, (
        f"{len(found)} distinct failures in {len({k[0] for k in found})} of {len(operations)} "
        f"operations ({mode}: {calls} requests, {elapsed:.0f} s):\n\n{report}"
    )


@pytest.mark.parametrize(
    "target",
    [b"/api/v1/explain?lang=\x10", b"/sparql?query=ASK {}", b"/\x7f"],
    ids=["control-byte", "space", "delete"],
)
def test_a_request_the_http_parser_rejects_gets_a_problem_body(server: str, target: bytes) -> None:
    """Below the application: uvicorn's own 400 for unparseable HTTP is a problem body too."""
    import json
    import socket

    parts = urlsplit(server)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0].startswith("HTTP/1.1 400")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    assert headers["content-type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem["status"] == 400
    assert problem["type"].endswith("/malformed-http-request")
