"""JSON for the browser UI, also part of the REST API under ``/api/v1``.

- ``/timeline``: dated things (events, dated statements, agreements) in date order,
  filtered by participant, class, event type and date window (:class:`kg.views.Timeline`);
- ``/neighbourhood/{id}``: nodes and labelled edges around an entity
  (:class:`kg.views.Neighbourhood`);
- ``/overview``: counts per kind, the date span, and the timeline's facets; cached per
  store generation;
- ``/examples``: the example SPARQL queries the editor offers (the competency queries in
  ``queries/competency``), with the PREFIX declarations they need.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path as FsPath
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from api.dependencies import get_endpoint, get_settings
from api.problems import Problem
from api.rest import _ID_PATTERN, MAX_LIMIT, Term, _date, _iri_or_id, _links, _read, _respond
from api.settings import Settings
from kg import resources, views
from kg.endpoint import Endpoint
from kg.namespaces import PREFIXES

__all__ = ["examples", "router"]

router = APIRouter(prefix="/api/v1")


# ---------------------------------------------------------------- models
class TimelineTerm(Term):
    role: str | None = None


class TimelineItem(Term):
    """A dated thing: a point at ``start``, or a range to ``end``."""

    model_config = ConfigDict(extra="allow")
    start: str | None = None
    end: str | None = None
    precision: str | None = None
    dates: dict[str, str] = Field(default_factory=dict)
    attested: list[str] | None = None  # every attested day, when there are several
    eventTypes: list[Term] = Field(default_factory=list)
    involves: list[TimelineTerm] = Field(default_factory=list)
    href: str | None = None


class TimelinePage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[TimelineItem]
    next: str | None = None
    prev: str | None = None


class GraphNode(Term):
    kind: str
    href: str | None = None
    date: str | None = None


class GraphEdge(BaseModel):
    """``from`` -> ``to`` by the property ``iri``, stated, derived or inferred."""

    model_config = ConfigDict(populate_by_name=True)
    from_: str = Field(alias="from")
    to: str
    iri: str
    label: str
    origin: list[str]


class Neighbourhood(BaseModel):
    focus: str
    nodes: list[GraphNode]
    edges: list[GraphEdge]
    truncated: bool


class Facet(Term):
    count: int


class Participant(Facet):
    model_config = ConfigDict(extra="allow")


class Overview(BaseModel):
    counts: dict[str, int]
    participants: list[Participant]
    span: list[str | None]
    kinds: list[Facet]
    eventTypes: list[Facet]


class Example(BaseModel):
    id: str
    category: str | None = None
    title: str
    query: str


# ---------------------------------------------------------------- helpers
def _href(term: dict[str, Any]) -> str | None:
    ident = term.get("id")
    return f"/id/{ident}" if ident and term.get("type") == "iri" else None


def _values(request: Request, name: str, settings: Settings) -> tuple[str, ...]:
    """Every value of a repeatable IRI-or-id parameter, checked."""
    raw = request.query_params.getlist(name)
    if len(raw) > 20:
        raise Problem(400, "invalid-parameters", "Invalid parameters", f"{name}: at most 20")
    return tuple(_iri_or_id(v, name, settings) for v in raw if v)


# ---------------------------------------------------------------- routes
@router.get(
    "/timeline",
    response_model=TimelinePage,
    tags=["timeline"],
    summary="Dated events and statements in date order",
    description="Everything with a date, a start or an attested date: events, dated "
    "statements (acquisitions, office holdings, claims...) and agreements. `kind` and `type` "
    "may be repeated (any of them); `from`/`to` keep things whose dates overlap the window.",
)
async def timeline(
    request: Request,
    participant: str | None = Query(
        None, max_length=500, description="an entity it involves (IRI or id)"
    ),
    kind: Annotated[
        list[str] | None,
        Query(max_length=500, description="a class (IRI, or prefixed name such as gp:Event)"),
    ] = None,
    type_: Annotated[
        list[str] | None,
        Query(alias="type", max_length=500, description="an event type (e.g. gp:Meeting)"),
    ] = None,
    from_: str | None = Query(None, alias="from", description="on or after (YYYY-MM-DD)"),
    to: str | None = Query(None, description="on or before (YYYY-MM-DD)"),
    limit: int = Query(500, ge=1, le=2 * MAX_LIMIT),
    offset: int = Query(0, ge=0, le=1_000_000),
):
    settings: Settings = await get_settings(request)
    who = _iri_or_id(participant, "participant", settings) if participant else None
    start, end = _date(from_, "from"), _date(to, "to")
    if start and end and start > end:
        raise Problem(400, "invalid-parameters", "Invalid parameters", "from: after to")
    job = views.Timeline(
        who,
        _values(request, "kind", settings),
        _values(request, "type", settings),
        start,
        end,
        limit,
        offset,
    )
    page = await _read(request, job)
    for item in page["items"]:
        item["href"] = _href(item)
        for term in item["involves"]:
            term["href"] = _href(term)
    page.update(_links(request, offset, limit, page["total"]))
    return _respond(request, page, "")


@router.get(
    "/neighbourhood/{id:path}",
    response_model=Neighbourhood,
    tags=["entities"],
    summary="An entity's neighbourhood as nodes and labelled edges",
    description="The statements it takes part in (nodes of their own, joined by their "
    "roles to it and to their other parties) and its direct facts, each edge marked "
    "stated, derived or inferred.",
)
async def neighbourhood(
    request: Request,
    id: str = Path(pattern=_ID_PATTERN, max_length=300, description="e.g. turkey"),
    max_nodes: int = Query(60, ge=2, le=300),
):
    settings: Settings = await get_settings(request)
    iri = settings.public_base + "id/" + id
    if not resources.is_iri(iri):
        raise Problem(404, "not-found", "Not found", f"no entity with id {id!r}")
    found = await _read(request, views.Neighbourhood(iri, max_nodes))
    if found is None:
        raise Problem(404, "not-found", "Not found", f"no entity with id {id!r}")
    for node in found["nodes"]:
        node["href"] = _href(node)
    return _respond(request, found, "")


@router.get(
    "/overview",
    response_model=Overview,
    tags=["meta"],
    summary="How many things of each kind, the date span, the timeline's facets",
)
async def overview(request: Request):
    return _respond(request, await overview_data(request), "")


async def overview_data(request: Request) -> dict[str, Any]:
    """The overview for the current generation (computed once per generation)."""
    endpoint: Endpoint = await get_endpoint(request)
    cache = request.app.state.__dict__.setdefault("_overview", {})
    generation = endpoint.generation
    if cache.get("generation") != generation:
        data = await _read(request, views.Overview())
        cache.clear()
        cache.update(generation=generation, data=data)
    return cache["data"]


@router.get(
    "/examples",
    response_model=list[Example],
    tags=["meta"],
    summary="Example SPARQL queries (the competency questions)",
)
async def example_queries(request: Request):
    endpoint: Endpoint = await get_endpoint(request)
    return _respond(request, examples(endpoint.root), "")  # type: ignore[arg-type]


_HEAD = re.compile(r"#\s*(?P<id>[A-Z]\d+)\s*·\s*(?:(?P<category>[\w -]+):\s*)?(?P<title>.+)")


def examples(root: FsPath) -> list[dict[str, Any]]:
    """Each ``queries/competency/*.rq`` as a named example with its PREFIX declarations."""
    folder = root / "queries" / "competency"
    files = sorted(folder.glob("*.rq")) if folder.is_dir() else []
    return _examples(tuple((f.name, f.stat().st_mtime_ns) for f in files), folder)


@lru_cache(maxsize=4)
def _examples(stamp: tuple[tuple[str, int], ...], folder: FsPath) -> list[dict[str, Any]]:
    out = []
    for name, _ in stamp:
        text = (folder / name).read_text(encoding="utf-8")
        first = text.splitlines()[0] if text else ""
        head = _HEAD.match(first)
        used = [p for p in PREFIXES if re.search(rf"(?<![\w:<]){re.escape(p)}:", text)]
        prologue = "".join(f"PREFIX {p}: <{PREFIXES[p]}>\n" for p in used)
        out.append(
            {
                "id": head["id"] if head else name.removesuffix(".rq"),
                "category": head["category"] if head else None,
                "title": head["title"].strip() if head else name.removesuffix(".rq"),
                "query": prologue + text,
            }
        )
    return out
