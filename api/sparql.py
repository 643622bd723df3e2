"""The SPARQL 1.1 Protocol at ``/sparql``: query (GET, POST form, POST direct), update (POST).

``GET /sparql`` without a query answers the service description.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import APIRouter, Request, Response

from api.dependencies import EndpointDep, SettingsDep, require_writer
from api.formats import GRAPH_OFFERS, TABLE_OFFERS, by_name
from api.negotiation import choose
from api.problems import Problem
from api.service import service_description
from api.settings import Settings
from api.writes import write_summary
from kg.formats import RdfFormat, ResultFormat
from kg.pool import QueryJob
from kg.sparql import QueryForm, inspect_query, inspect_update

__all__ = ["router"]

router = APIRouter()

TRUNCATED_HEADER = "X-GeoKG-Result-Truncated"
ROW_LIMIT_HEADER = "X-GeoKG-Row-Limit"
_FORM = "application/x-www-form-urlencoded"
_QUERY_BODY = "application/sparql-query"
_UPDATE_BODY = "application/sparql-update"


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 beyond ``limit`` bytes (checked while reading)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> Problem:
    return Problem(413, "body-too-large", "Request body too large", f"the limit is {limit} bytes")


def _decode(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Problem(
            400, "malformed-request", "Body is not UTF-8", f"byte {exc.start} is not UTF-8"
        ) from None


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _params(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k, v in pairs:
        out.setdefault(k, []).append(v)
    return out


def _one(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise Problem(
            400, "malformed-request", f"More than one {name}", f"give one `{name}` parameter"
        )
    return values[0]


def _timeout(params: dict[str, list[str]], settings: Settings) -> float:
    raw = _one(params, "timeout")
    if raw is None:
        return settings.query_timeout
    try:
        asked = float(raw)
    except ValueError:
        asked = -1.0
    if not asked > 0:
        raise Problem(
            400, "invalid-parameters", "Invalid timeout", "timeout is a positive number of seconds"
        )
    return min(asked, settings.query_timeout)


@router.get("/sparql", summary="SPARQL query (or the service description without a query)")
async def get_sparql(request: Request, endpoint: EndpointDep, settings: SettingsDep) -> Response:
    params = _params(parse_qsl(request.url.query, keep_blank_values=True))
    if "update" in params:
        raise Problem(
            400,
            "malformed-request",
            "Updates must be POSTed",
            "send an update with POST (application/sparql-update or a form field `update`)",
        )
    query = _one(params, "query")
    if query is None:
        return await service_description(request, endpoint, settings)
    return await _run_query(request, endpoint, settings, query, params)


@router.post("/sparql", summary="SPARQL query or update")
async def post_sparql(request: Request, endpoint: EndpointDep, settings: SettingsDep) -> Response:
    url_params = _params(parse_qsl(request.url.query, keep_blank_values=True))
    media = _media_type(request)
    body = await read_body(request, settings.max_body_bytes)
    if media == _FORM:
        params = _params(parse_qsl(_decode(body), keep_blank_values=True))
        for k, v in url_params.items():
            params.setdefault(k, v)
        query, update = _one(params, "query"), _one(params, "update")
    elif media == _QUERY_BODY:
        params, query, update = url_params, _decode(body), None
    elif media == _UPDATE_BODY:
        params, query, update = url_params, None, _decode(body)
    else:
        raise Problem(
            415,
            "unsupported-media-type",
            "Unsupported request body",
            f"POST a body of {_FORM}, {_QUERY_BODY} or {_UPDATE_BODY}",
        )
    if query is not None and update is not None:
        raise Problem(
            400,
            "malformed-request",
            "Both query and update",
            "a request carries a query or an update, not both",
        )
    if query is not None:
        return await _run_query(request, endpoint, settings, query, params)
    if update is not None:
        return await _run_update(request, endpoint, settings, update, params)
    raise Problem(400, "malformed-request", "No query", "give a `query` or an `update`")


def _check_services(services: tuple[str | None, ...], settings: Settings) -> None:
    for target in services:
        if target is None or target not in settings.service_allowlist:
            raise Problem(
                403,
                "service-refused",
                "SERVICE is not allowed",
                f"this server does not call {'<' + target + '>' if target else 'variable'} "
                "endpoints; an operator can allow-list endpoints",
            )


async def _run_query(
    request: Request,
    endpoint: EndpointDep,
    settings: Settings,
    query: str,
    params: dict[str, list[str]],
) -> Response:
    if not query.strip():
        raise Problem(400, "malformed-request", "Empty query", "the query is empty")
    info = inspect_query(query)
    _check_services(info.services, settings)
    is_graph = info.form is not None and info.form.is_graph
    offers = GRAPH_OFFERS if is_graph else TABLE_OFFERS
    accept = request.headers.get("accept")
    named_format = _one(params, "format")
    if named_format:
        accept = by_name(named_format, is_graph) or "x-unknown/x-unknown"
    media = choose(accept, list(offers))
    default_graphs = params.get("default-graph-uri")
    named_graphs = params.get("named-graph-uri")
    protocol_dataset = default_graphs is not None or named_graphs is not None
    job = QueryJob(
        query,
        table_format=TABLE_OFFERS.get(media or "", ResultFormat.JSON),
        graph_format=GRAPH_OFFERS.get(media or "", RdfFormat.TURTLE),
        default_graphs=default_graphs if protocol_dataset else None,
        named_graphs=named_graphs if protocol_dataset else None,
        union_default_graph=not info.has_dataset_clause,
        max_rows=settings.max_rows if media is not None else 0,
    )
    timeout = _timeout(params, settings)
    # Without an acceptable format the query is still parsed (not evaluated: no row is
    # read), because a malformed query must get 400 before anything else.
    out = await endpoint.query(job, timeout)
    if media is None:
        raise Problem(
            406,
            "not-acceptable",
            "No acceptable result format",
            f"this {(info.form or QueryForm.SELECT).value} result can be sent as: "
            + ", ".join(offers),
        )
    headers = {}
    if out.truncated:
        headers[TRUNCATED_HEADER] = "true"
        headers[ROW_LIMIT_HEADER] = str(settings.max_rows)
        request.app.state.metrics.truncated.inc()
    # The negotiated type, even an alias (application/json): the client may have refused
    # the canonical one with q=0.
    return Response(out.body, media_type=media, headers=headers)


async def _run_update(
    request: Request,
    endpoint: EndpointDep,
    settings: Settings,
    update: str,
    params: dict[str, list[str]],
) -> Response:
    require_writer(request, settings)
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
    _check_services(info.services, settings)
    using = tuple(params.get("using-graph-uri", ()))
    using_named = tuple(params.get("using-named-graph-uri", ()))
    result = await endpoint.update(update, _timeout(params, settings), using, using_named)
    return write_summary(result)
