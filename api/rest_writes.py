"""REST writes of facts with their evidence, and the change log, under ``/api/v1``.

* ``POST /api/v1/facts`` (bearer token): a fact statement with the quote that supports
  it (:mod:`kg.facts`), through the SHACL gate like every write: 201 with its
  ``Location``, or 422 with the violations and nothing written.
* ``GET /api/v1/facts/{id}``: the statement with its evidence; ``DELETE`` (bearer
  token) retracts it, statement and evidence nodes, from the API graph.
* ``GET /api/v1/changes``: the change log, newest first, a page at a time;
  ``GET /api/v1/changes/{id}``: one record with its patch (:mod:`kg.changes`).

Every write is recorded in the change log under the writer's name, in the same
transaction as the write. Reads run in the query workers over the current snapshot.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal
from urllib.parse import urlencode, urlsplit

import pyoxigraph as ox
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic import ValidationError as ModelError
from rdflib import Literal as RdfLiteral
from rdflib import URIRef

from api.dependencies import EndpointDep, SettingsDep, require_writer
from api.problems import PROBLEM_SCHEMA, Problem
from api.sparql import read_body
from api.writes import CHANGE_HEADER, warnings_of
from kg.changes import AGENT_NAME, CHANGE_BASE, ChangeJob, ChangeListJob
from kg.facts import FactJob, fact_change, fact_iri, fact_json
from kg.namespaces import API_GRAPH

__all__ = ["FactIn", "router"]

PREFIX = "/api/v1"
router = APIRouter(prefix=PREFIX, tags=["writes"])

_NOT_IN_IRI = set('<>"{}|^`\\')
_MAX_IRI = 4096


# ---------------------------------------------------------------- the request body
def _check_iri(value: str) -> str:
    if (
        len(value) > _MAX_IRI
        or not urlsplit(value).scheme
        or any(c in _NOT_IN_IRI or c.isspace() or ord(c) < 0x20 for c in value)
    ):
        raise ValueError("not an absolute IRI")
    try:
        ox.NamedNode(value)
    except ValueError as exc:
        raise ValueError(f"not an absolute IRI: {exc}") from None
    return value


Iri = Annotated[str, AfterValidator(_check_iri)]
Precision = Literal["day", "month", "year"]


class IriObject(BaseModel):
    """The object is a resource."""

    model_config = ConfigDict(extra="forbid")
    iri: Iri


class LiteralObject(BaseModel):
    """The object is a value, typed or language-tagged (a plain string by default)."""

    model_config = ConfigDict(extra="forbid")
    value: str = Field(max_length=10_000)
    datatype: Iri | None = None
    lang: str | None = Field(default=None, max_length=35)

    @model_validator(mode="after")
    def _check(self) -> LiteralObject:
        if self.datatype is not None and self.lang is not None:
            raise ValueError("a value has a datatype or a language, not both")
        if self.lang is not None:
            try:
                ox.Literal(self.value, language=self.lang)
            except ValueError:
                raise ValueError(f"not a language tag: {self.lang!r}") from None
        return self


class FactIn(BaseModel):
    """A fact and the exact sentence of the article that states it."""

    model_config = ConfigDict(extra="forbid")
    subject: Iri = Field(description="What the fact is about.")
    predicate: Iri = Field(description="An object property of the ontology.")
    object: IriObject | LiteralObject = Field(
        description='{"iri": ...} or {"value": ..., "datatype": ..., "lang": ...}'
    )
    source: Iri = Field(description="The article (a gp:Document) the quote is from.")
    quote: str = Field(min_length=1, max_length=2000, description="The exact sentence.")
    label: str | None = Field(
        default=None, min_length=1, max_length=500, description="English label."
    )
    date: dt.date | None = None
    datePrecision: Precision = "day"
    startDate: dt.date | None = None
    startDatePrecision: Precision = "day"
    endDate: dt.date | None = None
    endDatePrecision: Precision = "day"

    @model_validator(mode="after")
    def _check(self) -> FactIn:
        if not self.quote.strip():
            raise ValueError("the quote is blank")
        if self.label is not None and not self.label.strip():
            raise ValueError("the label is blank")
        return self

    def object_term(self) -> URIRef | RdfLiteral:
        o = self.object
        if isinstance(o, IriObject):
            return URIRef(o.iri)
        if o.lang is not None:
            return RdfLiteral(o.value, lang=o.lang)
        return RdfLiteral(o.value, datatype=URIRef(o.datatype) if o.datatype else None)

    def default_label(self) -> str:
        o = self.object
        parts = [self.subject, self.predicate, o.iri if isinstance(o, IriObject) else o.value]
        return " ".join(_local(p) for p in parts)

    def dates(self) -> dict[str, tuple[dt.date, str]]:
        given = {
            "date": (self.date, self.datePrecision),
            "startDate": (self.startDate, self.startDatePrecision),
            "endDate": (self.endDate, self.endDatePrecision),
        }
        return {k: (d, p) for k, (d, p) in given.items() if d is not None}


def _local(iri: str) -> str:
    return iri.rstrip("/#").rsplit("#", 1)[-1].rsplit("/", 1)[-1] or iri


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON schema with its ``$defs`` inlined (for the OpenAPI request body)."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return walk(dict(defs[ref.removeprefix("#/$defs/")]))
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(schema)


_FACT_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": _inline(FactIn.model_json_schema())}},
    }
}


def _check_json(request: Request) -> None:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media and media != "application/json" and not media.endswith("+json"):
        raise Problem(
            415, "unsupported-media-type", "Unsupported media type", "send the fact as JSON"
        )


def _parse_fact(body: bytes) -> FactIn:
    try:
        return FactIn.model_validate_json(body)
    except ModelError as exc:
        errors = [
            {"where": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "")}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise Problem(
                400, "malformed-request", "Malformed JSON", "the body is not valid JSON"
            ) from None
        raise Problem(
            422,
            "invalid-fact",
            "Invalid fact",
            "; ".join(f"{e['where'] or 'body'}: {e['message']}" for e in errors),
            errors=errors,
        ) from None


def _change_ref(iri: str | None) -> dict[str, str] | None:
    if iri is None:
        return None
    change_id = iri.removeprefix(CHANGE_BASE)
    return {"id": change_id, "iri": iri, "href": f"{PREFIX}/changes/{change_id}"}


def _canonical(some_id: str, what: str) -> str:
    """A UUID in its canonical form; a 404 for anything else (no such thing)."""
    try:
        return str(uuid.UUID(some_id))
    except ValueError:
        raise Problem(404, "not-found", f"No such {what}", f"no {what} {some_id!r}") from None


# ---------------------------------------------------------------- response models
class ObjectOut(BaseModel):
    """An IRI (``iri``) or a value (``value`` with ``datatype`` or ``lang``)."""

    iri: str | None = None
    value: str | None = None
    datatype: str | None = None
    lang: str | None = None


class EvidenceOut(BaseModel):
    iri: str
    source: str | None
    quote: str | None


class ChangeRef(BaseModel):
    id: str
    iri: str
    href: str


class WarningOut(BaseModel):
    focusNode: str
    path: str | None
    message: str


class FactOut(BaseModel):
    """A fact statement of the API graph with its evidence."""

    id: str
    iri: str
    graph: str
    label: str | None
    subject: str | None
    predicate: str | None
    object: ObjectOut | None
    date: str | None = None
    datePrecision: str | None = None
    startDate: str | None = None
    startDatePrecision: str | None = None
    endDate: str | None = None
    endDatePrecision: str | None = None
    evidence: list[EvidenceOut]
    changes: list[str] = Field(
        default=[], description="The change records that created or retracted it (GET)."
    )
    change: ChangeRef | None = Field(default=None, description="The write's record (POST).")
    warnings: list[WarningOut] = Field(default=[], description="Shape warnings (POST).")


class ChangeSummary(BaseModel):
    """One write: who, when, what kind, how many quads, which graphs."""

    id: str
    iri: str
    href: str
    agent: str | None
    agentIri: str | None
    kind: str | None
    time: str | None = Field(description="When the write was committed (xsd:dateTime, UTC).")
    started: str | None
    added: int
    removed: int
    graphs: list[str]
    generated: list[str] = Field(description="Statement nodes the write created.")
    invalidated: list[str] = Field(description="Statement nodes the write retracted.")


class PatchOut(BaseModel):
    format: str
    omitted: bool = Field(description="True when the write was too large to keep its quads.")
    added: str | None = Field(description="The added quads, as N-Quads.")
    removed: str | None = Field(description="The removed quads, as N-Quads.")


class ChangeOut(ChangeSummary):
    patch: PatchOut


class ChangePage(BaseModel):
    items: list[ChangeSummary]
    total: int
    limit: int
    offset: int
    next: str | None = Field(description="The next page, or null on the last one.")


_PROBLEM_TEXT = {
    400: "Malformed request or invalid parameters.",
    401: "No valid bearer token.",
    403: "Writes are disabled on this server.",
    404: "No such thing.",
    413: "The body is too large.",
    415: "The body is not JSON.",
    422: "The fact is invalid or violates the shapes (with the violations); nothing written.",
    503: "The read ran out of time or no worker was free.",
}


def _problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {
        code: {
            "description": _PROBLEM_TEXT[code],
            "content": {"application/problem+json": {"schema": PROBLEM_SCHEMA}},
        }
        for code in codes
    }


# ---------------------------------------------------------------- facts
@router.post(
    "/facts",
    status_code=201,
    summary="Add a fact with its evidence (bearer token)",
    openapi_extra=_FACT_BODY,
    response_model=FactOut,
    responses={
        201: {"description": "The fact was written; Location names it."},
        **_problems(400, 401, 403, 413, 415, 422, 503),
    },
)
async def add_fact(request: Request, endpoint: EndpointDep, settings: SettingsDep) -> Response:
    agent = require_writer(request, settings)
    _check_json(request)
    body = await read_body(request, settings.max_body_bytes)
    fact = _parse_fact(body)
    fact_id = str(uuid.uuid4())
    change = fact_change(
        fact_id,
        fact.subject,
        fact.predicate,
        fact.object_term(),
        fact.source,
        fact.quote,
        fact.label or fact.default_label(),
        fact.dates(),
    )
    iri = fact_iri(fact_id)
    result = await endpoint.write(change, agent=agent, kind="rest-add-fact", generated=[iri])
    out = fact_json(change)
    out["change"] = _change_ref(result.change)
    out["warnings"] = warnings_of(result)
    headers = {"Location": f"{PREFIX}/facts/{fact_id}"}
    if result.change is not None:
        headers[CHANGE_HEADER] = result.change
    return JSONResponse(out, 201, headers=headers)


@router.get(
    "/facts/{fact_id}",
    summary="A fact added through the API, with its evidence",
    response_model=FactOut,
    responses=_problems(400, 404, 503),
)
async def get_fact(fact_id: str, endpoint: EndpointDep, settings: SettingsDep) -> Response:
    fact_id = _canonical(fact_id, "fact")
    out = await endpoint.read(FactJob(fact_id), settings.query_timeout)
    if out is None:
        raise Problem(404, "not-found", "No such fact", f"no fact {fact_id} in the API graph")
    return JSONResponse(out)


@router.delete(
    "/facts/{fact_id}",
    status_code=204,
    summary="Retract a fact and its evidence (bearer token)",
    responses=_problems(400, 401, 403, 404, 422, 503),
)
async def delete_fact(
    fact_id: str, request: Request, endpoint: EndpointDep, settings: SettingsDep
) -> Response:
    agent = require_writer(request, settings)
    fact_id = _canonical(fact_id, "fact")
    result = await endpoint.retract(
        fact_iri(fact_id), API_GRAPH, agent=agent, kind="rest-retract-fact"
    )
    if result is None:
        raise Problem(404, "not-found", "No such fact", f"no fact {fact_id} in the API graph")
    headers = {"X-GeoKG-Warnings": str(len(result.report.warnings))}
    if result.change is not None:
        headers[CHANGE_HEADER] = result.change
    return Response(status_code=204, headers=headers)


# ---------------------------------------------------------------- the change log
@router.get(
    "/changes",
    summary="The change log, newest first",
    response_model=ChangePage,
    responses=_problems(400, 503),
)
async def list_changes(
    request: Request,
    endpoint: EndpointDep,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    agent: Annotated[str | None, Query(pattern=f"^{AGENT_NAME.pattern}$")] = None,
    since: Annotated[
        dt.datetime | None,
        Query(description="Committed at or after this time (UTC if no zone)."),
    ] = None,
) -> Response:
    since_text = None
    if since is not None:
        if since.tzinfo is None:
            since = since.replace(tzinfo=dt.UTC)
        try:
            since_text = since.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
        except (OverflowError, ValueError):
            where = {"where": "query.since", "message": "out of range"}
            raise Problem(
                400,
                "invalid-parameters",
                "Invalid parameters",
                "since: out of range",
                errors=[where],
            ) from None
    job = ChangeListJob(limit, offset, agent, since_text)
    page = await endpoint.read(job, settings.query_timeout)
    total = page["total"]
    following = None
    if offset + len(page["items"]) < total:
        params = {"limit": limit, "offset": offset + limit}
        params |= {k: v for k, v in (("agent", agent), ("since", since_text)) if v is not None}
        following = f"{request.url.path}?{urlencode(params)}"
    for item in page["items"]:
        item["href"] = f"{PREFIX}/changes/{item['id']}"
    return JSONResponse(
        {
            "items": page["items"],
            "total": total,
            "limit": limit,
            "offset": offset,
            "next": following,
        }
    )


@router.get(
    "/changes/{change_id}",
    summary="One change, with its patch",
    response_model=ChangeOut,
    responses=_problems(400, 404, 503),
)
async def get_change(change_id: str, endpoint: EndpointDep, settings: SettingsDep) -> Response:
    change_id = _canonical(change_id, "change")
    out = await endpoint.read(ChangeJob(change_id), settings.query_timeout)
    if out is None:
        raise Problem(404, "not-found", "No such change", f"no change {change_id} in the log")
    out["href"] = f"{PREFIX}/changes/{change_id}"
    return JSONResponse(out)
