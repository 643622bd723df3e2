"""Dereferenceable IRIs: every entity, ontology term, article and graph answers HTTP GET.

The convention is the W3C "303 See Other" one (Cool URIs for the Semantic Web, 4.2),
applied everywhere: the IRI of a thing never answers with a document, it redirects to
the document about it, chosen by ``Accept``:

==============================  =====================================================
thing IRI                        document
==============================  =====================================================
``{base}id/{id}``                ``/doc/{id}.{ext}``
``{base}ontology`` (and terms,   ``/doc/ontology.{ext}`` (the whole ontology; its HTML
``{base}ontology#{Term}``)       documentation has an anchor per term)
ontology term page               ``/doc/ontology/{Term}.{ext}``
``{base}graph/{name}``           ``/store?graph={base}graph/{name}`` (Graph Store)
==============================  =====================================================

``{ext}`` is ``html``, ``ttl``, ``jsonld``, ``rdf`` or ``nt``; ``/doc/{id}`` without one
negotiates too (and says which it chose in ``Content-Location``), and ``?format=`` names
one. Every answer here carries ``Vary: Accept``. ``{base}`` is the configured public base
(``KG_PUBLIC_BASE``): the server answers for those IRIs under its own host, so a local
server dereferences the same paths as the public one, and links in its pages stay local.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from api.dependencies import EndpointDep, SettingsDep
from api.negotiation import choose_or_406
from api.problems import Problem
from api.settings import Settings
from kg import resources
from kg.endpoint import Endpoint
from kg.formats import RdfFormat
from kg.namespaces import ONTOLOGY_GRAPH

__all__ = ["DOC_FORMATS", "entity_iri", "render", "router", "templates"]

router = APIRouter(include_in_schema=False)

TEMPLATES = Path(__file__).resolve().parent / "templates"
templates = Jinja2Templates(directory=str(TEMPLATES))

#: Document formats: suffix -> (media type, pyoxigraph format name, display name).
DOC_FORMATS: dict[str, tuple[str, str | None, str]] = {
    "ttl": ("text/turtle", "TURTLE", "Turtle"),
    "jsonld": ("application/ld+json", "JSON_LD", "JSON-LD"),
    "rdf": ("application/rdf+xml", "RDF_XML", "RDF/XML"),
    "nt": ("application/n-triples", "N_TRIPLES", "N-Triples"),
    "html": ("text/html", None, "HTML"),
}
_BY_MEDIA = {media: suffix for suffix, (media, _, _) in DOC_FORMATS.items()}
_OFFERS = [*_BY_MEDIA, "application/xhtml+xml", "application/x-turtle", "application/json"]
_ALIASES = {
    "application/xhtml+xml": "html",
    "application/x-turtle": "ttl",
    "application/json": "jsonld",
    "turtle": "ttl",
    "json-ld": "jsonld",
    "ntriples": "nt",
    "rdfxml": "rdf",
    "xml": "rdf",
}
_VARY = {"Vary": "Accept"}

DATE_NAMES = {
    "date": "on",
    "startDate": "from",
    "endDate": "until",
    "attestedDate": "attested",
    "endedBefore": "ended before",
}


# ---------------------------------------------------------------- helpers
def _suffix_for(request: Request, what: str) -> str:
    """The document suffix a request asks for: ``?format=``, else ``Accept``."""
    named = request.query_params.get("format")
    if named is not None:
        suffix = _ALIASES.get(named.lower(), named.lower())
        if suffix not in DOC_FORMATS:
            try:
                suffix = RdfFormat.from_name(named).suffix
            except ValueError:
                suffix = ""
        if suffix not in DOC_FORMATS:
            raise Problem(
                406,
                "not-acceptable",
                "No acceptable format",
                f"{what} can be sent as: " + ", ".join(DOC_FORMATS),
                headers=_VARY,
            )
        return suffix
    try:
        media = choose_or_406(request.headers.get("accept"), _OFFERS, what)
    except Problem as problem:
        problem.headers.update(_VARY)
        raise
    return _BY_MEDIA.get(media) or _ALIASES[media]


def local_path(iri: str, base: str) -> str | None:
    """The path under which this server answers for ``iri`` (None if not ours)."""
    if not iri.startswith(base):
        return None
    rest = iri[len(base) :]
    if rest.startswith("ontology#"):
        return "/doc/ontology/" + quote(rest[len("ontology#") :], safe="")
    if rest == "ontology" or rest.startswith(("id/", "graph/")):
        return "/" + quote(rest, safe="/-._~")
    return None


def entity_iri(settings: Settings, path: str) -> str:
    return settings.public_base + "id/" + path


def _href_filter(settings: Settings):  # type: ignore[no-untyped-def]
    def href(iri: str) -> str:
        return local_path(iri, settings.public_base) or iri

    return href


def missing_assets(root: Path) -> list[str]:
    from api.ui import missing_assets as missing

    return missing(root)


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    settings: Settings = request.app.state.settings
    env = templates.env
    env.filters["href"] = _href_filter(settings)
    kinds = [resources.KINDS[k] for k in _NAV]
    return templates.TemplateResponse(
        request,
        template,
        {
            "nav_kinds": kinds,
            "date_names": DATE_NAMES,
            "explain_href": _explain_href,
            "missing_assets": missing_assets(request.app.state.endpoint.root),
            **context,
        },
        status_code=status,
        headers=_VARY,
    )


_NAV = ("states", "persons", "weapon-systems", "agreements", "conflicts", "events", "articles")


def _explain_href(s: str, p: str, value: dict[str, Any]) -> str:
    params = {"s": s, "p": p}
    if value.get("type") == "iri":
        params["o"] = value["iri"]
    else:
        params["literal"] = str(value.get("value"))
        if value.get("lang"):
            params["lang"] = value["lang"]
        elif value.get("datatype"):
            params["datatype"] = value["datatype"]
    return "/api/v1/explain?" + urlencode(params)


def _see_other(location: str) -> Response:
    return RedirectResponse(location, status_code=303, headers=_VARY)


def _not_found(what: str) -> Problem:
    return Problem(404, "not-found", "Not found", f"the graph says nothing about {what}")


def _as_of(request: Request) -> dt.date | None:
    value = request.query_params.get("as_of")
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise Problem(
            400, "invalid-parameters", "Invalid parameters", f"as_of: not a date: {value!r}"
        ) from None


# ---------------------------------------------------------------- things -> documents
@router.api_route("/id/{path:path}", methods=["GET", "HEAD"])
async def thing(path: str, request: Request, endpoint: EndpointDep, settings: SettingsDep):
    iri = entity_iri(settings, path)
    suffix = _suffix_for(request, "an entity's document")
    if not resources.is_iri(iri):
        raise _not_found(repr(path))
    found = await endpoint.read(resources.Exists(iri), settings.query_timeout)
    if not found:
        raise _not_found(iri)
    query = request.url.query
    return _see_other(f"/doc/{quote(path, safe='/-._~')}.{suffix}" + (f"?{query}" if query else ""))


@router.api_route("/ontology", methods=["GET", "HEAD"])
async def ontology(request: Request):
    suffix = _suffix_for(request, "the ontology")
    return _see_other(f"/doc/ontology.{suffix}")


@router.api_route("/graph/{path:path}", methods=["GET", "HEAD"])
async def named_graph(path: str, settings: SettingsDep):
    iri = settings.public_base + "graph/" + path
    return _see_other("/store?" + urlencode({"graph": iri}))


# ---------------------------------------------------------------- documents
def _split_suffix(path: str) -> tuple[str, str | None]:
    stem, dot, ext = path.rpartition(".")
    if dot and ext in DOC_FORMATS:
        return stem, ext
    return path, None


@router.api_route("/doc/ontology/{term}", methods=["GET", "HEAD"])
async def term_document(term: str, request: Request, endpoint: EndpointDep, settings: SettingsDep):
    name, suffix = _split_suffix(term)
    iri = settings.public_base + "ontology#" + name
    return await _document(request, endpoint, settings, iri, f"/doc/ontology/{name}", suffix)


@router.api_route("/doc/{path:path}", methods=["GET", "HEAD"])
async def document(path: str, request: Request, endpoint: EndpointDep, settings: SettingsDep):
    stem, suffix = _split_suffix(path)
    if stem == "ontology":
        return await _ontology_document(request, endpoint, settings, suffix)
    iri = entity_iri(settings, stem)
    return await _document(request, endpoint, settings, iri, f"/doc/{stem}", suffix)


async def _document(
    request: Request,
    endpoint: Endpoint,
    settings: Settings,
    iri: str,
    doc_path: str,
    suffix: str | None,
) -> Response:
    negotiated = suffix is None
    if suffix is None:
        suffix = _suffix_for(request, "an entity's document")
    if not resources.is_iri(iri):
        raise _not_found(repr(doc_path))
    as_of = _as_of(request)
    headers = dict(_VARY)
    if negotiated:
        headers["Content-Location"] = f"{doc_path}.{suffix}"
    media, fmt, _ = DOC_FORMATS[suffix]
    if fmt is None:
        entity = await endpoint.read(resources.Describe(iri, as_of), settings.query_timeout)
        if entity is None:
            raise _not_found(iri)
        path = quote(doc_path, safe="/-._~")
        formats = [
            {"name": name, "media": m, "href": f"{path}.{ext}"}
            for ext, (m, f, name) in DOC_FORMATS.items()
            if f is not None
        ]
        ident = entity.get("id")
        api_href = f"/api/v1/entities/{quote(ident, safe='')}" if ident else formats[0]["href"]
        response = render(request, "entity.html", e=entity, formats=formats, api_href=api_href)
        response.headers.update(headers)
        return response
    body = await endpoint.read(resources.Document(iri, fmt), settings.query_timeout)
    if body is None:
        raise _not_found(iri)
    return Response(body, media_type=media, headers=headers)


async def _ontology_document(
    request: Request, endpoint: Endpoint, settings: Settings, suffix: str | None
) -> Response:
    negotiated = suffix is None
    if suffix is None:
        suffix = _suffix_for(request, "the ontology")
    headers = dict(_VARY)
    if negotiated:
        headers["Content-Location"] = f"/doc/ontology.{suffix}"
    media, fmt, _ = DOC_FORMATS[suffix]
    if fmt is None:
        from kg.ontodoc import ontology_html

        html = await asyncio.to_thread(ontology_html, endpoint.root)
        return HTMLResponse(html, headers=headers)
    body = await endpoint.graph(ONTOLOGY_GRAPH, RdfFormat.from_name(suffix), settings.query_timeout)
    if body is None:
        raise _not_found(ONTOLOGY_GRAPH)
    return Response(body, media_type=media, headers=headers)


# ---------------------------------------------------------------- browsing pages
_ENTRY = ("states", "persons", "weapon-systems", "agreements", "conflicts", "events")


@router.get("/", response_class=HTMLResponse)
async def home(request: Request):
    from api.rest_views import overview_data

    return render(
        request,
        "home.html",
        kinds=list(resources.KINDS.values()),
        entry_kinds=[resources.KINDS[k] for k in _ENTRY],
        overview=await overview_data(request),
    )


@router.get("/search", response_class=HTMLResponse)
async def search_page(request: Request, endpoint: EndpointDep, settings: SettingsDep):
    q = (request.query_params.get("q") or "").strip()
    if len(q) > 200:
        raise Problem(400, "invalid-parameters", "Invalid parameters", "q: at most 200 characters")
    if not resources.normalise(q):
        page: dict[str, Any] = {"q": q, "total": 0, "items": []}
    else:
        page = await endpoint.read(resources.Search(q, limit=50), settings.query_timeout)
    return render(request, "list.html", title="Search", page=page, q=q)


@router.get("/browse/{kind}", response_class=HTMLResponse)
async def browse(kind: str, request: Request, endpoint: EndpointDep, settings: SettingsDep):
    if kind not in resources.KINDS:
        raise Problem(404, "not-found", "Not found", f"no such kind: {kind}")
    try:
        offset = max(0, int(request.query_params.get("offset", "0")))
    except ValueError:
        offset = 0
    limit = 100
    page = await endpoint.read(
        resources.ListKind(kind, limit=limit, offset=offset), settings.query_timeout
    )
    prev = f"?offset={max(0, offset - limit)}" if offset else None
    nxt = f"?offset={offset + limit}" if offset + limit < page["total"] else None
    title = resources.KINDS[kind].title
    return render(request, "list.html", title=title, page=page, prev=prev, next=nxt)
