"""The SPARQL 1.1 Graph Store HTTP Protocol at ``/store`` (indirect graph identification).

``?graph=<iri>`` names a graph, ``?default`` the default graph, which here is the
read-only union of all named graphs: it can be read but not written (405). Writes need
the bearer token, pass the SHACL gate, and are atomic.
"""

from __future__ import annotations

import uuid
from urllib.parse import parse_qsl, quote, urlsplit

from fastapi import APIRouter, Request, Response

from api.dependencies import EndpointDep, SettingsDep, require_writer
from api.formats import TRIPLE_OFFERS
from api.negotiation import choose_or_406
from api.problems import Problem
from api.settings import Settings
from api.sparql import read_body
from api.writes import write_summary
from kg.endpoint import Endpoint
from kg.formats import RdfFormat
from kg.namespaces import GRAPH
from kg.pool import QueryTimeout

__all__ = ["router"]

router = APIRouter()

_READ_ONLY_DEFAULT = {"Allow": "GET, HEAD"}


def _target(request: Request, *, required: bool = True) -> tuple[bool, str | None]:
    """(is default graph, graph IRI) from the query string; 400 unless exactly one is given."""
    params = parse_qsl(request.url.query, keep_blank_values=True)
    graphs = [v for k, v in params if k == "graph"]
    default = any(k == "default" for k, _ in params)
    if (default and graphs) or len(graphs) > 1:
        raise Problem(
            400,
            "malformed-request",
            "Ambiguous target",
            "name one graph: either ?default or a single ?graph=<iri>",
        )
    if graphs:
        iri = graphs[0]
        parts = urlsplit(iri)
        if not parts.scheme or any(c in iri for c in '<>"{}|^`\\ '):
            raise Problem(
                400, "malformed-request", "Invalid graph IRI", f"not an absolute IRI: {iri!r}"
            )
        return False, iri
    if default:
        return True, None
    if required:
        raise Problem(400, "malformed-request", "No target graph", "give ?default or ?graph=<iri>")
    return False, None


def _write_target(
    request: Request, settings: Settings, *, required: bool = True
) -> tuple[str, str | None]:
    """The writer's name and the named graph a write goes to (None: POST to the store
    itself, a new graph).

    The caller must hold a write token; the default graph cannot be written.
    """
    agent = require_writer(request, settings)
    default, iri = _target(request, required=required)
    if default:
        raise _refuse_default_write()
    return agent, iri


def _refuse_default_write() -> Problem:
    return Problem(
        405,
        "method-not-allowed",
        "The default graph is read-only",
        "the default graph is the union of all named graphs; write a named graph (?graph=<iri>)",
        headers=_READ_ONLY_DEFAULT,
    )


@router.api_route("/store", methods=["GET", "HEAD"], summary="Read a graph")
async def read_graph(request: Request, endpoint: EndpointDep, settings: SettingsDep) -> Response:
    _default, iri = _target(request)
    media = choose_or_406(request.headers.get("accept"), list(TRIPLE_OFFERS), "a graph")
    fmt = TRIPLE_OFFERS[media]
    body = await endpoint.graph(iri, fmt, settings.query_timeout)
    if body is None:
        raise Problem(404, "not-found", "No such graph", f"the store holds no graph <{iri}>")
    if request.method == "HEAD":
        return Response(
            status_code=200, media_type=fmt.media_type, headers={"Content-Length": str(len(body))}
        )
    return Response(body, media_type=fmt.media_type)


async def _parsed_body(request: Request, endpoint: Endpoint, settings: Settings, iri: str):
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        fmt = RdfFormat.from_name(media) if media else None
    except ValueError:
        fmt = None
    if fmt is None or fmt.is_dataset:
        raise Problem(
            415,
            "unsupported-media-type",
            "Unsupported RDF format",
            "send one graph as " + ", ".join(f.media_type for f in RdfFormat if not f.is_dataset),
        )
    data = await read_body(request, settings.max_body_bytes)
    try:
        return await endpoint.parse(data, iri, fmt, settings.query_timeout, base_iri=iri)
    except QueryTimeout:
        raise Problem(
            413,
            "body-too-complex",
            "Request body too complex",
            f"the document could not be parsed within {settings.query_timeout:g} s; "
            "send it in smaller parts or less deeply nested",
        ) from None


@router.put("/store", summary="Replace a graph")
async def put_graph(request: Request, endpoint: EndpointDep, settings: SettingsDep) -> Response:
    agent, iri = _write_target(request, settings)
    assert iri is not None
    parsed = await _parsed_body(request, endpoint, settings, iri)
    result = await endpoint.replace_graph(iri, parsed, agent=agent)
    return write_summary(result, 201 if result.created else 204)


@router.post("/store", summary="Add to a graph, or create a new graph")
async def post_graph(request: Request, endpoint: EndpointDep, settings: SettingsDep) -> Response:
    agent, iri = _write_target(request, settings, required=False)
    new_graph = iri is None
    if new_graph:
        iri = str(GRAPH[f"user/{uuid.uuid4()}"])
    parsed = await _parsed_body(request, endpoint, settings, iri)
    result = await endpoint.add_to_graph(iri, parsed, agent=agent)
    if new_graph:
        response = write_summary(result, 201)
        response.headers["Location"] = f"{request.url.path}?graph={quote(iri, safe='')}"
        return response
    return write_summary(result, 201 if result.created else 204)


@router.delete("/store", summary="Delete a graph")
async def delete_graph(request: Request, endpoint: EndpointDep, settings: SettingsDep) -> Response:
    agent, iri = _write_target(request, settings)
    assert iri is not None
    result = await endpoint.delete_graph(iri, agent=agent)
    if result is None:
        raise Problem(404, "not-found", "No such graph", f"the store holds no graph <{iri}>")
    return write_summary(result, 204)
