"""Errors as RFC 9457 problem details: the one place that maps our errors to HTTP.

Every error response of the server is ``application/problem+json`` with ``type``,
``title``, ``status`` and ``detail``, plus members that say more (``line`` and
``column`` of a syntax error, the SHACL ``violations`` of a rejected write). A 500
never echoes a library's message.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from kg.errors import (
    KGError,
    QueryError,
    RDFSyntaxError,
    StoreError,
    ValidationError,
    WriteRefused,
)
from kg.pool import PoolBusy, QueryTimeout, WorkerCrashed

__all__ = [
    "MEDIA_TYPE",
    "PROBLEMS",
    "PROBLEM_SCHEMA",
    "Problem",
    "install_problem_handlers",
    "problem_body",
    "problem_from_error",
    "problem_response",
]

log = logging.getLogger(__name__)

#: Problem type IRIs are this base plus a slug.
PROBLEMS = "https://w3id.org/geokg/problems/"
MEDIA_TYPE = "application/problem+json"


class Problem(Exception):
    """An HTTP error to answer with a problem body."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


def problem_body(problem: Problem, instance: str | None = None) -> dict[str, Any]:
    """The RFC 9457 members of ``problem``."""
    body: dict[str, Any] = {
        "type": PROBLEMS + problem.slug,
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
    }
    if instance:
        body["instance"] = instance
    body.update(problem.extra)
    return body


def problem_response(problem: Problem, instance: str | None = None) -> JSONResponse:
    return JSONResponse(
        problem_body(problem, instance),
        problem.status,
        headers=problem.headers,
        media_type=MEDIA_TYPE,
    )


def problem_from_error(exc: KGError) -> Problem:
    """The problem a domain error means for an HTTP client."""
    if isinstance(exc, ValidationError):
        return Problem(
            422,
            "shacl-violation",
            "The write violates the SHACL shapes",
            f"{exc}. " + exc.report.summary(),
            violations=[
                {
                    "focusNode": str(r.focus),
                    "path": r.path,
                    "value": None if r.value is None else str(r.value),
                    "constraint": str(r.component),
                    "shape": str(r.shape),
                    "severity": r.severity.name.capitalize(),
                    "message": r.message,
                }
                for r in exc.report.results
            ],
            report=exc.report.to_text(),
        )
    if isinstance(exc, WriteRefused):
        return Problem(403, "write-refused", "This cannot be written", str(exc))
    if isinstance(exc, QueryTimeout):
        return Problem(503, "query-timeout", "Query time limit reached", str(exc))
    if isinstance(exc, PoolBusy):
        return Problem(
            503, "server-busy", "No query worker was free", str(exc), headers={"Retry-After": "1"}
        )
    if isinstance(exc, QueryError):
        extra = {k: v for k, v in (("line", exc.line), ("column", exc.column)) if v is not None}
        where = f" (line {exc.line}, column {exc.column})" if exc.line is not None else ""
        return Problem(400, "malformed-request", "Malformed SPARQL", f"{exc}{where}", **extra)
    if isinstance(exc, RDFSyntaxError):
        extra = {k: v for k, v in (("line", exc.line), ("column", exc.column)) if v is not None}
        return Problem(400, "malformed-rdf", "Malformed RDF", exc.detail, **extra)
    if isinstance(exc, WorkerCrashed):
        log.error("query worker failed: %s", exc)
        return Problem(500, "internal-error", "Internal error", "the query engine failed")
    if isinstance(exc, StoreError):
        log.error("store error: %s", exc)
        return Problem(500, "internal-error", "Internal error", "the store could not be read")
    log.error("unexpected domain error: %r", exc)
    return Problem(500, "internal-error", "Internal error", "an unexpected error happened")


PROBLEM_SCHEMA = {
    "type": "object",
    "description": "An RFC 9457 problem.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
    },
}
_GET_ERRORS = {
    "400": "Invalid parameters",
    "404": "Not found",
    "406": "No acceptable format",
    "503": "Time limit reached or server busy",
}


def document_problems(app: FastAPI) -> None:
    """Describe the error answers in the OpenAPI document as they are sent: problem bodies.

    FastAPI documents a 422 validation error for every operation with parameters; this
    server answers invalid parameters with a 400 problem instead (a 422 only for a body
    that breaks the SHACL shapes or the request model), so a GET's 422 is replaced.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        ref = {"$ref": "#/components/schemas/Problem"}
        for operations in schema.get("paths", {}).values():
            for method, op in operations.items():
                responses = op.setdefault("responses", {})
                if method in ("get", "head"):
                    responses.pop("422", None)
                    errors = dict(_GET_ERRORS)
                else:
                    errors = {"400": "Invalid request", "401": "No valid token", **_GET_ERRORS}
                for status, text in errors.items():
                    responses.setdefault(
                        status,
                        {"description": text, "content": {MEDIA_TYPE: {"schema": ref}}},
                    )
                for status, answer in responses.items():
                    if status.startswith(("4", "5")) and "content" in answer:
                        content = answer["content"]
                        if "application/json" in content and MEDIA_TYPE not in content:
                            content[MEDIA_TYPE] = {"schema": ref}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc, request.url.path)

    @app.exception_handler(KGError)
    async def _domain(request: Request, exc: KGError) -> JSONResponse:
        return problem_response(problem_from_error(exc), request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        slugs = {404: "not-found", 405: "method-not-allowed"}
        problem = Problem(
            exc.status_code,
            slugs.get(exc.status_code, "http-error"),
            str(exc.detail) if exc.status_code != 404 else "Not found",
            str(exc.detail),
            headers=dict(exc.headers or {}),
        )
        return problem_response(problem, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"where": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "")}
            for e in exc.errors()
        ]
        problem = Problem(
            400,
            "invalid-parameters",
            "Invalid parameters",
            "; ".join(f"{e['where']}: {e['message']}" for e in errors),
            errors=errors,
        )
        return problem_response(problem, request.url.path)

    @app.exception_handler(Exception)
    async def _last_resort(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        problem = Problem(500, "internal-error", "Internal error", "an unexpected error happened")
        return problem_response(problem, request.url.path)
