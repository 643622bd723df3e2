"""The SPARQL 1.1 Protocol's query rules, without a web framework.

Shared by the FastAPI routes (:mod:`api.sparql`) and the reader processes' fast path
(:mod:`api.reader`), so both answer a request the same way. Everything here is cheap:
nothing is evaluated; errors are raised as :class:`~api.problems.Problem`.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl

from api.formats import GRAPH_OFFERS, TABLE_OFFERS, by_name
from api.negotiation import choose
from api.problems import Problem
from api.settings import Settings
from kg._oxigraph import QueryOutput
from kg.formats import RdfFormat, ResultFormat
from kg.pool import QueryJob
from kg.sparql import MAX_ELEMENTS, MAX_NESTING, QueryForm, inspect_query, within_engine_limits

__all__ = [
    "FORM",
    "QUERY_BODY",
    "ROW_LIMIT_HEADER",
    "TRUNCATED_HEADER",
    "UPDATE_BODY",
    "PreparedQuery",
    "check_one_operation",
    "check_services",
    "collect_params",
    "decode",
    "one",
    "parse_query_string",
    "prepare_query",
    "refuse_update_by_get",
    "split_post",
    "timeout_of",
    "too_large",
]

TRUNCATED_HEADER = "X-GeoKG-Result-Truncated"
ROW_LIMIT_HEADER = "X-GeoKG-Row-Limit"
FORM = "application/x-www-form-urlencoded"
QUERY_BODY = "application/sparql-query"
UPDATE_BODY = "application/sparql-update"


def parse_query_string(query_string: str) -> dict[str, list[str]]:
    return collect_params(parse_qsl(query_string, keep_blank_values=True))


def too_large(limit: int) -> Problem:
    return Problem(413, "body-too-large", "Request body too large", f"the limit is {limit} bytes")


def decode(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Problem(
            400, "malformed-request", "Body is not UTF-8", f"byte {exc.start} is not UTF-8"
        ) from None


def collect_params(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k, v in pairs:
        out.setdefault(k, []).append(v)
    return out


def one(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise Problem(
            400, "malformed-request", f"More than one {name}", f"give one `{name}` parameter"
        )
    return values[0]


def timeout_of(params: dict[str, list[str]], settings: Settings) -> float:
    raw = one(params, "timeout")
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


def split_post(
    media: str, body: bytes, url_params: dict[str, list[str]]
) -> tuple[dict[str, list[str]], str | None, str | None]:
    """Parameters, query and update of a POST to /sparql, by its media type."""
    if media == FORM:
        params = collect_params(parse_qsl(decode(body), keep_blank_values=True))
        for k, v in url_params.items():
            params.setdefault(k, v)
        return params, one(params, "query"), one(params, "update")
    if media == QUERY_BODY:
        return url_params, decode(body), None
    if media == UPDATE_BODY:
        return url_params, None, decode(body)
    raise Problem(
        415,
        "unsupported-media-type",
        "Unsupported request body",
        f"POST a body of {FORM}, {QUERY_BODY} or {UPDATE_BODY}",
    )


def check_one_operation(query: str | None, update: str | None) -> None:
    if query is not None and update is not None:
        raise Problem(
            400,
            "malformed-request",
            "Both query and update",
            "a request carries a query or an update, not both",
        )
    if query is None and update is None:
        raise Problem(400, "malformed-request", "No query", "give a `query` or an `update`")


def refuse_update_by_get(params: dict[str, list[str]]) -> None:
    if "update" in params:
        raise Problem(
            400,
            "malformed-request",
            "Updates must be POSTed",
            "send an update with POST (application/sparql-update or a form field `update`)",
        )


def check_services(services: tuple[str | None, ...], settings: Settings) -> None:
    for target in services:
        if target is None or target not in settings.service_allowlist:
            raise Problem(
                403,
                "service-refused",
                "SERVICE is not allowed",
                f"this server does not call {'<' + target + '>' if target else 'variable'} "
                "endpoints; an operator can allow-list endpoints",
            )


@dataclass(frozen=True)
class PreparedQuery:
    """A checked query request: the job to run, the negotiated type and the time limit."""

    job: QueryJob
    media: str | None  # None: nothing acceptable; answer 406 once the query has parsed
    form: QueryForm
    offers: tuple[str, ...]
    timeout: float

    def not_acceptable(self) -> Problem:
        return Problem(
            406,
            "not-acceptable",
            "No acceptable result format",
            f"this {self.form.value} result can be sent as: " + ", ".join(self.offers),
        )

    def headers(self, out: QueryOutput, settings: Settings) -> dict[str, str]:
        """The response headers for ``out`` (the truncation marks, if it was cut)."""
        if not out.truncated:
            return {}
        return {TRUNCATED_HEADER: "true", ROW_LIMIT_HEADER: str(settings.max_rows)}


def inferred_of(params: dict[str, list[str]]) -> bool:
    """The ``inferred`` parameter: true (the default) or false for stated triples only."""
    raw = one(params, "inferred")
    if raw is None or raw.lower() in ("true", "1", "yes"):
        return True
    if raw.lower() in ("false", "0", "no"):
        return False
    raise Problem(
        400,
        "invalid-parameters",
        "Invalid inferred",
        "inferred is true (stated and inferred triples, the default) or false (stated only)",
    )


def prepare_query(
    query: str, params: dict[str, list[str]], accept: str | None, settings: Settings
) -> PreparedQuery:
    """Check a query request (cheap: no evaluation) and build the job; raises Problem."""
    if not query.strip():
        raise Problem(400, "malformed-request", "Empty query", "the query is empty")
    shape = within_engine_limits(query)
    if shape is not None:
        raise Problem(
            400,
            "query-too-complex",
            "Query too complex",
            f"the query nests {shape.nesting} deep and chains {shape.elements} operators, "
            f"groups and clauses; this server takes at most {MAX_NESTING} and "
            f"{MAX_ELEMENTS} (VALUES data and argument lists do not count)",
            nesting=shape.nesting,
            elements=shape.elements,
        )
    info = inspect_query(query)
    check_services(info.services, settings)
    is_graph = info.form is not None and info.form.is_graph
    offers = GRAPH_OFFERS if is_graph else TABLE_OFFERS
    named_format = one(params, "format")
    if named_format:
        accept = by_name(named_format, is_graph) or "x-unknown/x-unknown"
    media = choose(accept, list(offers))
    default_graphs = params.get("default-graph-uri")
    named_graphs = params.get("named-graph-uri")
    protocol_dataset = default_graphs is not None or named_graphs is not None
    # Stated triples only: a dataset given in the request or the query already says
    # which graphs count, so the parameter applies when neither does.
    stated_only = not inferred_of(params) and not protocol_dataset and not info.has_dataset_clause
    job = QueryJob(
        query,
        table_format=TABLE_OFFERS.get(media or "", ResultFormat.JSON),
        graph_format=GRAPH_OFFERS.get(media or "", RdfFormat.TURTLE),
        default_graphs=default_graphs if protocol_dataset else None,
        named_graphs=named_graphs if protocol_dataset else None,
        union_default_graph=not info.has_dataset_clause,
        stated_only=stated_only,
        # Without an acceptable format the query is still parsed (not evaluated: no row
        # is read), because a malformed query must get 400 before anything else.
        max_rows=settings.max_rows if media is not None else 0,
    )
    return PreparedQuery(
        job, media, info.form or QueryForm.SELECT, tuple(offers), timeout_of(params, settings)
    )
