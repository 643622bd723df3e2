"""The REST API under ``/api/v1``: lists by kind, one entity with its facts and sources,
search by label, an ``as_of`` view of time-bounded facts, Popolo-style memberships.

Every response is JSON described by the OpenAPI document; ``Accept: application/ld+json``
gives the same body with a JSON-LD ``@context`` (:data:`CONTEXT`), so that ``iri`` is
``@id``, ``label`` is ``rdfs:label`` and so on. Reads run in the query workers under the
time limit, over the current snapshot (see :mod:`kg.resources`). Filter values reach the
queries as pre-bound terms, never as query text.

The people, posts and memberships follow Popolo (https://www.popoloproject.com/specs/):
an office is a post (``organization_id`` the state whose office it is), an office
holding is a membership with ``person_id``, ``post_id``, ``start_date``, ``end_date``.
"""

from __future__ import annotations

import datetime as dt
import inspect
from typing import Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, create_model

from api.dependencies import get_endpoint, get_settings
from api.negotiation import choose_or_406
from api.problems import Problem
from api.settings import Settings
from kg import resources
from kg.endpoint import Endpoint
from kg.namespaces import GP, PREFIXES

__all__ = ["CONTEXT", "router"]

router = APIRouter(prefix="/api/v1")

MAX_LIMIT = 500
_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._~-]*(/[A-Za-z0-9._~-]+)*$"


# ---------------------------------------------------------------- response models
class Term(BaseModel):
    """An IRI (with its label and, for our entities, its id) or a literal."""

    model_config = ConfigDict(extra="allow")
    type: Literal["iri", "literal", "bnode"]
    iri: str | None = None
    id: str | None = None
    label: str | None = None
    value: Any = None
    datatype: str | None = None
    lang: str | None = None


class _ItemBase(Term):
    types: list[Term] = []
    description: str | None = None
    dates: dict[str, str] | None = None


#: A thing in a list, with its most specific types and the summary fields of its kind
#: (each a list of terms: a field may hold several values).
Item = create_model(
    "Item",
    __base__=_ItemBase,
    __doc__="A thing in a list, with its most specific types and its kind's summary fields.",
    **{
        name: (list[Term] | None, Field(default=None, description=f"gp:{name}"))
        for name in sorted({f for k in resources.KINDS.values() for f in k.fields})
    },
)


class Page(BaseModel):
    model_config = ConfigDict(extra="allow")
    kind: str
    total: int
    limit: int
    offset: int
    items: list[Item]  # type: ignore[valid-type]
    next: str | None = None
    prev: str | None = None


class Match(BaseModel):
    text: str
    field: str
    exact: bool


class SearchItem(Item):  # type: ignore[misc, valid-type]
    matched: Match


class SearchPage(BaseModel):
    q: str
    total: int
    limit: int
    offset: int
    items: list[SearchItem]
    next: str | None = None


class Source(BaseModel):
    model_config = ConfigDict(extra="allow")
    article: Term | None
    quote: str | None
    published: str | None = None


class Fact(BaseModel):
    direction: Literal["out", "in"]
    predicate: Term
    value: Term
    origin: list[Literal["stated", "derived", "inferred"]]
    statements: list[str]
    sources: list[Source]


class Role(BaseModel):
    predicate: Term
    value: Term
    qualifier: Term | None = None


class Statement(BaseModel):
    model_config = ConfigDict(extra="allow")
    iri: str | None
    id: str | None
    label: str | None
    types: list[Term]
    dates: dict[str, str]
    roles: list[Role]
    sources: list[Source]
    holds: bool | None = None


class Membership(BaseModel):
    """A Popolo membership: an office holding (a post) or a membership of an organisation."""

    id: str | None
    label: str | None
    person_id: str | None = None
    member_id: str | None = None
    post_id: str | None = None
    organization_id: str | None = None
    start_date: str | None = None
    end_date: str | None = None
    attested_date: str | None = None
    ended_before: str | None = None
    sources: list[Source] = []


class Entity(Term):
    altLabels: list[str]
    description: str | None
    types: list[Term]
    facts: list[Fact]
    statements: list[Statement]
    sources: list[Source]
    truncated: bool
    asOf: str | None = None
    memberships: list[Membership] | None = Field(
        default=None, description="Popolo memberships (persons, offices, organisations)."
    )


# ---------------------------------------------------------------- JSON-LD
_GP = str(GP)
CONTEXT: dict[str, Any] = {
    "@version": 1.1,
    **{p: iri for p, iri in PREFIXES.items() if p != "sh"},
    "iri": "@id",
    "type": None,
    "label": "rdfs:label",
    "altLabels": {"@id": "skos:altLabel", "@container": "@set"},
    "description": "schema:description",
    "types": {"@id": "rdf:type", "@container": "@set"},
    "items": {"@id": "rdfs:member", "@container": "@set"},
    "sources": {"@id": "prov:wasDerivedFrom", "@container": "@set"},
    "article": "oa:hasSource",
    "quote": "oa:exact",
    "dates": "@nest",
    "date": {"@id": "gp:date", "@type": "xsd:date"},
    "startDate": {"@id": "gp:startDate", "@type": "xsd:date"},
    "endDate": {"@id": "gp:endDate", "@type": "xsd:date"},
    "attestedDate": {"@id": "gp:attestedDate", "@type": "xsd:date"},
    "endedBefore": {"@id": "gp:endedBefore", "@type": "xsd:date"},
}
_JSON_OFFERS = ["application/json", "application/ld+json"]


def _respond(request: Request, body: dict[str, Any], base: str) -> JSONResponse:
    media = choose_or_406(request.headers.get("accept"), _JSON_OFFERS, "this resource")
    headers = {"Vary": "Accept"}
    if media == "application/ld+json":
        body = {"@context": CONTEXT, **body}
        return JSONResponse(body, media_type=media, headers=headers)
    return JSONResponse(body, headers=headers)


# ---------------------------------------------------------------- parameters
def _date(value: str | None, name: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise Problem(
            400,
            "invalid-parameters",
            "Invalid parameters",
            f"{name}: not a date (YYYY-MM-DD): {value!r}",
        ) from None


def _iri_or_id(value: str, name: str, settings: Settings) -> str:
    """A filter value: an absolute IRI, or the id of one of our entities."""
    if any(c in value for c in '<>"{}|^`\\ \t\n') or not value:
        raise Problem(400, "invalid-parameters", "Invalid parameters", f"{name}: not an IRI or id")
    if ":" in value:
        scheme, _, rest = value.partition(":")
        if scheme in PREFIXES and not rest.startswith("//"):
            return _checked(PREFIXES[scheme] + rest, name)  # a prefixed name such as gp:Meeting
        if scheme.isascii() and scheme[:1].isalpha() and rest.startswith("//"):
            return _checked(value, name)
        raise Problem(
            400, "invalid-parameters", "Invalid parameters", f"{name}: not an IRI or id: {value!r}"
        )
    return _checked(settings.public_base + "id/" + value, name)


def _checked(iri: str, name: str) -> str:
    if not resources.is_iri(iri):
        raise Problem(400, "invalid-parameters", "Invalid parameters", f"{name}: not a valid IRI")
    return iri


async def _read(request: Request, job: Any) -> Any:
    endpoint: Endpoint = await get_endpoint(request)
    settings: Settings = await get_settings(request)
    return await endpoint.read(job, settings.query_timeout)


def _links(request: Request, offset: int, limit: int, total: int) -> dict[str, str | None]:
    params = dict(request.query_params)

    def at(o: int) -> str:
        return str(request.url.path) + "?" + urlencode({**params, "offset": o, "limit": limit})

    return {
        "next": at(offset + limit) if offset + limit < total else None,
        "prev": at(max(0, offset - limit)) if offset > 0 else None,
    }


# ---------------------------------------------------------------- search
@router.get(
    "/search",
    response_model=SearchPage,
    tags=["search"],
    summary="Search labels and alternative labels",
    description='Case, accents and punctuation are ignored: "erdogan" finds "Erdoğan", '
    '"S400" finds "S-400". Best matches first.',
)
async def search(
    request: Request,
    q: str = Query(min_length=1, max_length=200, description="text to look for"),
    kind: Literal[tuple(resources.KINDS)] | None = Query(  # type: ignore[valid-type]
        None, description="only things of this kind"
    ),
    limit: int = Query(20, ge=1, le=MAX_LIMIT),
    offset: int = Query(0, ge=0, le=1_000_000),
):
    if not resources.normalise(q):
        raise Problem(
            400, "invalid-parameters", "Invalid parameters", "q: needs a letter or a digit"
        )
    page = await _read(request, resources.Search(q, kind, limit, offset))
    page["next"] = _links(request, offset, limit, page["total"])["next"]
    return _respond(request, page, "")


# ---------------------------------------------------------------- one entity, any kind
def _popolo(entity: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for st in entity["statements"]:
        types = {t.get("iri") for t in st["types"]}
        roles = {r["predicate"]["iri"]: r["value"] for r in st["roles"] if "qualifier" not in r}
        dates = st["dates"]
        common = {
            "id": st["id"],
            "label": st["label"],
            "start_date": dates.get("startDate"),
            "end_date": dates.get("endDate"),
            "attested_date": dates.get("attestedDate"),
            "ended_before": dates.get("endedBefore"),
            "sources": st["sources"],
        }
        if str(GP.OfficeHolding) in types:
            post = roles.get(str(GP.office), {})
            out.append(
                {
                    **common,
                    "person_id": roles.get(str(GP.holder), {}).get("id"),
                    "post_id": post.get("id"),
                    "organization_id": None,
                }
            )
        elif str(GP.Membership) in types:
            out.append(
                {
                    **common,
                    "member_id": roles.get(str(GP.member), {}).get("id"),
                    "organization_id": roles.get(str(GP.organisation), {}).get("id"),
                }
            )
    return out


async def _entity(request: Request, ident: str, as_of: str | None, kind: str | None) -> Any:
    settings: Settings = await get_settings(request)
    iri = settings.public_base + "id/" + ident
    if not resources.is_iri(iri):
        raise Problem(404, "not-found", "Not found", f"no entity with id {ident!r}")
    day = _date(as_of, "as_of")
    entity = await _read(request, resources.Describe(iri, day))
    if entity is None:
        raise Problem(404, "not-found", "Not found", f"no entity with id {ident!r}")
    if kind is not None:
        cls = resources.KINDS[kind].cls
        if not any(t.get("iri") == cls for t in entity["types"]):
            raise Problem(
                404, "not-found", "Not found", f"{ident!r} is not one of the {kind} (it exists)"
            )
    memberships = _popolo(entity)
    if memberships:
        entity["memberships"] = memberships
    return _respond(request, entity, iri)


@router.get(
    "/entities/{id:path}",
    response_model=Entity,
    tags=["entities"],
    summary="Anything in the graph by id, with its facts and their sources",
)
async def get_entity(
    request: Request,
    id: str = Path(pattern=_ID_PATTERN, max_length=300, description="e.g. turkey"),
    as_of: str | None = Query(None, description="time-bounded facts that held on this date"),
):
    return await _entity(request, id, as_of, None)


# ---------------------------------------------------------------- kinds
def _list_endpoint(kind: resources.Kind):  # type: ignore[no-untyped-def]
    async def handler(request: Request, **params: Any) -> Any:
        settings: Settings = await get_settings(request)
        limit, offset = params.pop("limit"), params.pop("offset")
        q, as_of = params.pop("q"), params.pop("as_of", None)
        filters = []
        for name, value in params.items():
            if value is None:
                continue
            flt = kind.filters[name.rstrip("_")]
            if flt.value == "date":
                day = _date(value, name.rstrip("_"))
                assert day is not None
                filters.append((name.rstrip("_"), day.isoformat()))
            else:
                filters.append((name.rstrip("_"), _iri_or_id(value, name, settings)))
        day = _date(as_of, "as_of")
        job = resources.ListKind(kind.name, tuple(filters), q, day, limit, offset)
        page = await _read(request, job)
        page.update(_links(request, offset, limit, page["total"]))
        return _respond(request, page, "")

    parameters = [
        inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request),
        inspect.Parameter(
            "q",
            inspect.Parameter.KEYWORD_ONLY,
            default=Query(
                None, max_length=200, description="label contains (case, accents ignored)"
            ),
            annotation=str | None,
        ),
        inspect.Parameter(
            "limit",
            inspect.Parameter.KEYWORD_ONLY,
            default=Query(50, ge=1, le=MAX_LIMIT),
            annotation=int,
        ),
        inspect.Parameter(
            "offset",
            inspect.Parameter.KEYWORD_ONLY,
            default=Query(0, ge=0, le=1_000_000),
            annotation=int,
        ),
    ]
    if kind.time_bounded:
        parameters.append(
            inspect.Parameter(
                "as_of",
                inspect.Parameter.KEYWORD_ONLY,
                default=Query(None, description="only those that held on this date (YYYY-MM-DD)"),
                annotation=str | None,
            )
        )
    for name, flt in kind.filters.items():
        doc = flt.doc or ("a date (YYYY-MM-DD)" if flt.value == "date" else "an IRI or an id")
        parameters.append(
            inspect.Parameter(
                name + "_" if name in ("from", "type") else name,
                inspect.Parameter.KEYWORD_ONLY,
                default=Query(None, alias=name, max_length=500, description=doc),
                annotation=str | None,
            )
        )
    handler.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    handler.__name__ = f"list_{kind.name.replace('-', '_')}"
    return handler


def _get_endpoint(kind: resources.Kind):  # type: ignore[no-untyped-def]
    async def handler(
        request: Request,
        id: str = Path(pattern=_ID_PATTERN, max_length=300),
        as_of: str | None = Query(None, description="time-bounded facts that held on this date"),
    ) -> Any:
        return await _entity(request, id, as_of, kind.name)

    handler.__name__ = f"get_{kind.name.replace('-', '_')}"
    return handler


for _kind in resources.KINDS.values():
    router.add_api_route(
        f"/{_kind.name}",
        _list_endpoint(_kind),
        methods=["GET"],
        response_model=Page,
        tags=[_kind.name],
        summary=f"{_kind.title}: filter and paginate",
    )
    router.add_api_route(
        f"/{_kind.name}/{{id:path}}",
        _get_endpoint(_kind),
        methods=["GET"],
        response_model=Entity,
        tags=[_kind.name],
        summary=f"One of the {_kind.title.lower()} with its facts and sources",
    )


class ExplanationNode(BaseModel):
    """A triple and why it holds: stated (with its statements and sources), or derived by
    an OWL 2 RL rule (W3C ids such as ``cax-sco``) from axioms and premises."""

    triple: list[Term]
    statedIn: list[str] | None = None
    statements: list[str] | None = None
    sources: list[Source] | None = None
    rule: str | None = None
    axioms: list[list[Term]] | None = None
    premises: list[ExplanationNode] | None = None


@router.get(
    "/explain",
    response_model=ExplanationNode,
    tags=["entities"],
    summary="Why a triple holds, down to stated triples and their sources",
)
async def explain(
    request: Request,
    s: str = Query(max_length=2000, description="subject: an IRI, a prefixed name or an id"),
    p: str = Query(max_length=2000, description="predicate: an IRI or a prefixed name ('a')"),
    o: str | None = Query(None, max_length=2000, description="object, if a resource"),
    literal: str | None = Query(None, max_length=10_000, description="object, if a literal"),
    datatype: str | None = Query(None, min_length=1, max_length=2000),
    lang: str | None = Query(None, max_length=35, pattern=r"^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$"),
):
    settings: Settings = await get_settings(request)
    if (o is None) == (literal is None):
        raise Problem(
            400, "invalid-parameters", "Invalid parameters", "give exactly one of o and literal"
        )
    subject = _iri_or_id(s, "s", settings)
    predicate = PREFIXES["rdf"] + "type" if p == "a" else _iri_or_id(p, "p", settings)
    if o is not None:
        job = resources.Explain(subject, predicate, _iri_or_id(o, "o", settings))
    else:
        dtype = _iri_or_id(datatype, "datatype", settings) if datatype else None
        job = resources.Explain(subject, predicate, literal or "", False, dtype, lang)
    tree = await _read(request, job)
    if tree is None:
        raise Problem(404, "not-found", "Not found", "the graph does not hold this triple")
    return _respond(request, tree, "")


class JSONLDResponse(JSONResponse):
    media_type = "application/ld+json"


@router.get(
    "/context.jsonld",
    tags=["meta"],
    summary="The JSON-LD context of the API",
    response_class=JSONLDResponse,
)
async def context() -> JSONLDResponse:
    return JSONLDResponse({"@context": CONTEXT})
