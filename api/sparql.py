"""The SPARQL 1.1 Protocol at ``/sparql``: query (GET, POST form, POST direct), update (POST).

``GET /sparql`` without a query answers the service description.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.requests import ClientDisconnect

from api.dependencies import EndpointDep, SettingsDep, require_writer
from api.problems import Problem
from api.protocol import (
    ROW_LIMIT_HEADER,
    TRUNCATED_HEADER,
    check_one_operation,
    check_services,
    one,
    parse_query_string,
    prepare_query,
    refuse_update_by_get,
    split_post,
    timeout_of,
    too_large,
)
from api.service import service_description
from api.settings import Settings
from api.writes import write_summary
from kg.sparql import inspect_update

__all__ = ["ROW_LIMIT_HEADER", "TRUNCATED_HEADER", "router"]

router = APIRouter()


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 beyond ``limit`` bytes (checked while reading)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
            chunks.append(chunk)
    except ClientDisconnect:
        raise Problem(400, "malformed-request", "Incomplete body", "the client went away") from None
    return b"".join(chunks)


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


@router.get("/sparql", summary="SPARQL query (or the service description without a query)")
async def get_sparql(request: Request, endpoint: EndpointDep, settings: SettingsDep) -> Response:
    params = parse_query_string(request.url.query)
    refuse_update_by_get(params)
    query = one(params, "query")
    if query is None:
        return await service_description(request, endpoint, settings)
    return await _run_query(request, endpoint, settings, query, params)


@router.post("/sparql", summary="SPARQL query or update")
async def post_sparql(request: Request, endpoint: EndpointDep, settings: SettingsDep) -> Response:
    url_params = parse_query_string(request.url.query)
    body = await read_body(request, settings.max_body_bytes)
    params, query, update = split_post(_media_type(request), body, url_params)
    check_one_operation(query, update)
    if query is not None:
        return await _run_query(request, endpoint, settings, query, params)
    assert update is not None
    return await _run_update(request, endpoint, settings, update, params)


async def _run_query(
    request: Request,
    endpoint: EndpointDep,
    settings: Settings,
    query: str,
    params: dict[str, list[str]],
) -> Response:
    prepared = prepare_query(query, params, request.headers.get("accept"), settings)
    out = await endpoint.query(prepared.job, prepared.timeout)
    if prepared.media is None:
        raise prepared.not_acceptable()
    if out.truncated:
        request.app.state.metrics.truncated.inc()
    # The negotiated type, even an alias (application/json): the client may have refused
    # the canonical one with q=0.
    return Response(out.body, media_type=prepared.media, headers=prepared.headers(out, settings))


async def _run_update(
    request: Request,
    endpoint: EndpointDep,
    settings: Settings,
    update: str,
    params: dict[str, list[str]],
) -> Response:
    agent = require_writer(request, settings)
    if not update.strip():
        raise Problem(400, "malformed-request", "Empty update", "the update is empty")
    info = inspect_update(update)
    if info.loads:
        raise Problem(
            403,
            "load-refused",
            "LOAD is not allowed",
            "this server never fetches documents; load curated data with `kg load`",
        )
    check_services(info.services, settings)
    using = tuple(params.get("using-graph-uri", ()))
    using_named = tuple(params.get("using-named-graph-uri", ()))
    result = await endpoint.update(
        update, timeout_of(params, settings), using, using_named, agent=agent
    )
    return write_summary(result)
