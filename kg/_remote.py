"""A store on an external SPARQL 1.1 engine: the remote twin of :mod:`kg._oxigraph`.

Everything between us and the engine is standard: SPARQL 1.1 Query (protocol, with
``default-graph-uri`` and ``named-graph-uri``), SPARQL 1.1 Update and, where the
engine offers it, the Graph Store HTTP Protocol, over HTTP with Basic, Digest or
Bearer authentication.

:class:`RemoteStore` is an :class:`~kg._oxigraph.OxigraphStore` whose engine is
:class:`RemoteEngine`: an object with the part of ``pyoxigraph.Store``'s interface
that the package uses (``query``, ``update``, ``quads_for_pattern``, ``extend``,
``named_graphs``), each call turned into HTTP requests and each answer parsed back
into pyoxigraph terms. So the endpoint, the REST views, validation and the reasoner
run unchanged on either store; pyoxigraph is used here only to parse and write RDF
and SPARQL results, never as a store.

The dataset. Our data lives in named graphs. Every query names its dataset
explicitly (the union of our graphs as the default graph, and our graphs as the named
graphs), because engines disagree on what a query without one sees: Virtuoso's
default graph is every graph it holds, its own system graphs included. Our graphs are
all the engine's named graphs except those under ``ignore_graphs`` (an engine's own
graphs; :data:`DIALECTS` gives Virtuoso's) and our staging graphs.

Where an engine deviates from the standard, the workaround is here, in
:data:`DIALECTS`, and documented in ``docs/deployment.md``.

>>> RemoteConfig("http://127.0.0.1:7878/query").update_endpoint
'http://127.0.0.1:7878/query'
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlencode

import httpx
import pyoxigraph as ox

from kg._oxigraph import OxigraphStore, ParsedGraph, QueryOutput, _parts
from kg.errors import QueryError, StoreError
from kg.formats import RdfFormat, ResultFormat
from kg.namespaces import PREFIXES
from kg.results import write_boolean, write_results
from kg.sparql import (
    form_keyword_span,
    inspect_query,
    split_dataset_clauses,
    syntax_position,
)

__all__ = ["DIALECTS", "RemoteConfig", "RemoteEngine", "RemoteStore"]

log = logging.getLogger("geokg.remote")

AuthKind = Literal["none", "basic", "digest", "bearer"]

#: Graph IRIs under this prefix hold bulk loads in progress; no query ever sees them.
STAGING = "urn:x-geokg:staging:"
#: A graph that never holds anything: the default graph of a query that must see none.
EMPTY = "urn:x-geokg:empty"


@dataclass(frozen=True)
class Dialect:
    """What one engine needs beyond the standard (see docs/deployment.md)."""

    #: Graph IRI prefixes of the engine's own graphs, which are not ours.
    ignore_graphs: tuple[str, ...] = ()
    #: The form field an update is sent in (the standard says ``update``).
    update_field: str = "update"
    #: ``GRAPH ?g { }`` leaves ?g unbound instead of giving one solution per graph.
    empty_graph_pattern_unbound: bool = False
    #: Text put before every update (an engine's pragma; empty for the standard).
    update_pragma: str = ""
    #: Close the connection after each Graph Store request.
    gsp_fresh_connection: bool = False
    #: ASK with a protocol dataset answers true whatever the pattern (Virtuoso 7.2):
    #: asked as ``SELECT * ... LIMIT 1`` instead.
    ask_as_select: bool = False


DIALECTS: dict[str, Dialect] = {
    "standard": Dialect(),
    "oxigraph": Dialect(),
    "virtuoso": Dialect(
        ignore_graphs=(
            "http://www.openlinksw.com/",
            "http://localhost:8890/",
            "http://www.w3.org/ns/ldp#",
            "http://www.w3.org/2002/07/owl#",
            "urn:activitystreams-owl:map",
            "virtrdf-label",
            "http://localuriqaserver/",
            "urn:core:services:sparql",
        ),
        empty_graph_pattern_unbound=True,
        # INSERT DATA fails above about 1300 triples without it (docs/engines.md §5).
        update_pragma="DEFINE sql:big-data-const 1\n",
        gsp_fresh_connection=True,
        ask_as_select=True,
    ),
}


@dataclass(frozen=True)
class RemoteConfig:
    """How to reach an external store. Picklable: query workers open their own client."""

    query_url: str
    update_url: str | None = None  # default: the query URL
    gsp_url: str | None = None  # Graph Store endpoint; without one, bulk loads use INSERT DATA
    auth: AuthKind = "none"
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    dialect: str = "standard"
    timeout: float = 60.0  # seconds per request
    retries: int = 3  # extra attempts of a request that failed in transit or with 502-504
    chunk: int = 10_000  # triples per request in a bulk load
    ignore_graphs: tuple[str, ...] = ()  # more graph IRI prefixes that are not ours

    def __post_init__(self) -> None:
        for url in (self.query_url, self.update_url, self.gsp_url):
            if url is not None and not re.match(r"^https?://[^\s]+$", url):
                raise StoreError(f"not an http(s) URL: {url!r}")
        if self.dialect not in DIALECTS:
            raise StoreError(
                f"unknown store dialect {self.dialect!r}; one of: {', '.join(sorted(DIALECTS))}"
            )
        if self.auth in ("basic", "digest") and not (self.user and self.password is not None):
            raise StoreError(f"{self.auth} authentication needs a user and a password")
        if self.auth == "bearer" and not self.token:
            raise StoreError("bearer authentication needs a token")
        if self.chunk < 1 or self.retries < 0 or self.timeout <= 0:
            raise StoreError("chunk must be at least 1, retries at least 0, timeout positive")

    @property
    def update_endpoint(self) -> str:
        return self.update_url or self.query_url

    @property
    def ignored(self) -> tuple[str, ...]:
        return (STAGING, EMPTY, *DIALECTS[self.dialect].ignore_graphs, *self.ignore_graphs)

    def describe(self) -> str:
        """The store for messages: the query URL, never the credentials."""
        return self.query_url


# ---------------------------------------------------------------- HTTP
_FORM = "application/x-www-form-urlencoded"
_RETRY_STATUS = {429, 502, 503, 504}
_RDF_BY_MEDIA = {
    "application/n-triples": ox.RdfFormat.N_TRIPLES,
    "text/plain": ox.RdfFormat.N_TRIPLES,
    "text/turtle": ox.RdfFormat.TURTLE,
    "application/x-turtle": ox.RdfFormat.TURTLE,
    "application/rdf+xml": ox.RdfFormat.RDF_XML,
    "application/ld+json": ox.RdfFormat.JSON_LD,
    "application/n-quads": ox.RdfFormat.N_QUADS,
    "application/trig": ox.RdfFormat.TRIG,
}
_RESULTS_BY_MEDIA = {
    "application/sparql-results+xml": ox.QueryResultsFormat.XML,
    "application/sparql-results+json": ox.QueryResultsFormat.JSON,
    "application/json": ox.QueryResultsFormat.JSON,
    "text/tab-separated-values": ox.QueryResultsFormat.TSV,
}


class _Client:
    """One HTTP client per process, with retries for requests that are safe to repeat.

    Every request we send is safe to repeat: queries read, bulk chunks insert the same
    triples again, and writes are sent as the difference they make (DELETE DATA /
    INSERT DATA), which gives the same store whether it ran once or twice.
    """

    def __init__(self, config: RemoteConfig) -> None:
        self.config = config
        auth: httpx.Auth | None = None
        headers = {"User-Agent": "geokg"}
        if config.auth == "basic":
            auth = httpx.BasicAuth(config.user or "", config.password or "")
        elif config.auth == "digest":
            auth = httpx.DigestAuth(config.user or "", config.password or "")
        elif config.auth == "bearer":
            headers["Authorization"] = f"Bearer {config.token}"
        self._http = httpx.Client(
            auth=auth,
            headers=headers,
            timeout=httpx.Timeout(config.timeout, connect=min(10.0, config.timeout)),
            follow_redirects=False,
            trust_env=False,  # no proxy from the environment between us and our store
        )

    def close(self) -> None:
        self._http.close()

    def send(self, method: str, url: str, *, what: str, **kwargs: Any) -> httpx.Response:
        """Send a request; retry transport errors and 429/502/503/504; raise ours on failure."""
        delay = 0.2
        for attempt in range(self.config.retries + 1):
            try:
                response = self._http.request(method, url, **kwargs)
            except httpx.TimeoutException as exc:
                error: Exception = exc
                message = f"the store did not answer {what} within {self.config.timeout:g} s"
            except httpx.TransportError as exc:
                error = exc
                message = f"cannot reach the store at {url}: {type(exc).__name__}"
            else:
                if response.status_code not in _RETRY_STATUS:
                    return _checked(response, what)
                error = StoreError(f"HTTP {response.status_code}")
                message = f"the store failed {what}: HTTP {response.status_code}"
            if attempt < self.config.retries:
                log.warning("%s (attempt %d); retrying", message, attempt + 1)
                time.sleep(delay)
                delay *= 2
        raise StoreError(message) from error

    # -- SPARQL protocol
    def query(self, sparql: str, dataset: tuple[list[str], list[str]] | None) -> httpx.Response:
        form: list[tuple[str, str]] = [("query", sparql)]
        if dataset is not None:
            default, named = dataset
            form += [("default-graph-uri", g) for g in default]
            form += [("named-graph-uri", g) for g in named]
        accept = (
            "application/sparql-results+xml;q=1.0, application/n-triples;q=0.9, "
            "text/turtle;q=0.8, application/rdf+xml;q=0.5"
        )
        response = self.send(
            "POST",
            self.config.query_url,
            what="a query",
            content=urlencode(form).encode(),
            headers={"Accept": accept, "Content-Type": _FORM},
        )
        _refuse_partial(response)
        return response

    def update(self, sparql: str) -> None:
        dialect = DIALECTS[self.config.dialect]
        field_name = dialect.update_field
        sparql = dialect.update_pragma + sparql
        self.send(
            "POST",
            self.config.update_endpoint,
            what="an update",
            content=urlencode({field_name: sparql}).encode(),
            headers={"Content-Type": _FORM},
        )

    # -- Graph Store protocol
    def graph(self, method: str, graph_iri: str, **kwargs: Any) -> httpx.Response:
        assert self.config.gsp_url is not None
        if DIALECTS[self.config.dialect].gsp_fresh_connection:
            # Virtuoso can leave a keep-alive connection unusable after a Graph Store
            # error (docs/engines.md §4): one connection per Graph Store request.
            kwargs["headers"] = {**kwargs.get("headers", {}), "Connection": "close"}
        return self.send(
            method,
            self.config.gsp_url,
            what=f"a Graph Store {method}",
            params={"graph": graph_iri},
            **kwargs,
        )


def _checked(response: httpx.Response, what: str) -> httpx.Response:
    status = response.status_code
    if status < 300:
        return response
    text = response.text[:500].strip()
    if status in (401, 403):
        raise StoreError(f"the store refused {what} (HTTP {status}): check the credentials")
    if status == 404 and what.startswith("a Graph Store"):
        return response  # the caller reads 404 as "no such graph"
    if status == 400:
        raise QueryError(f"the store rejected {what}: {text}")
    raise StoreError(f"the store failed {what} (HTTP {status}): {text}")


def _refuse_partial(response: httpx.Response) -> None:
    """Virtuoso cuts results at ResultSetMaxRows, or at its time limit, and says so only in
    a header: a cut answer would be a wrong one, so it is an error (docs/deployment.md)."""
    if "x-sparql-maxrows" in response.headers:
        raise StoreError(
            "the store cut the result at its row limit "
            f"({response.headers['x-sparql-maxrows']} rows): raise it (Virtuoso: "
            "ResultSetMaxRows)"
        )
    if response.headers.get("x-sql-state") == "S1TAT":
        raise StoreError("the store stopped the query at its own time limit (partial result)")


def _media(response: httpx.Response) -> str:
    return response.headers.get("content-type", "").split(";")[0].strip().lower()


# ---------------------------------------------------------------- the engine
class RemoteTriples(list):
    """The triples of a CONSTRUCT or DESCRIBE answered by the remote engine."""

    def serialize(self, format: ox.RdfFormat) -> bytes:
        return ox.serialize(self, format=format)


_PREFIX_DECL = re.compile(r"(?i)\bPREFIX\s+([A-Za-z][\w.-]*)?\s*:")


def _with_prefixes(sparql: str, prefixes: dict[str, str] | None) -> str:
    if not prefixes:
        return sparql
    declared = {m.group(1) or "" for m in _PREFIX_DECL.finditer(sparql)}
    lines = [f"PREFIX {p}: <{iri}>" for p, iri in prefixes.items() if p not in declared]
    # On one line, so that an engine's line numbers in an error stay those of the query.
    return (" ".join(lines) + " " if lines else "") + sparql


_EMPTY_GRAPH_PATTERN = re.compile(r"(?i)\bGRAPH\s+([?$]\w+)\s*\{\s*\}")
_WHERE = re.compile(r"(?i)\bWHERE\s*\{")


def _substituted(sparql: str, substitutions: dict[ox.Variable, Any] | None) -> str:
    """The query with variables pre-bound, as pyoxigraph's ``substitutions`` do.

    Inside the WHERE group every occurrence of a variable becomes its value (so that a
    FILTER in a nested group sees it too), and a VALUES block at the start of the group
    binds the variable for the projection, GROUP BY and ORDER BY. The values are terms
    written by pyoxigraph, never text from the caller, so this is not injection.
    """
    if not substitutions:
        return sparql
    match = _WHERE.search(sparql)
    if match is None:
        raise QueryError("a query with substitutions needs a WHERE clause")
    start = match.end()
    depth, end = 1, start
    while end < len(sparql) and depth:
        depth += {"{": 1, "}": -1}.get(sparql[end], 0)
        end += 1
    body = sparql[start : end - 1]
    for variable, term in substitutions.items():
        body = re.sub(rf"[?$]{re.escape(variable.value)}\b", lambda _m, t=term: str(t), body)
    names = " ".join(str(v) for v in substitutions)
    values = " ".join(str(t) for t in substitutions.values())
    block = f" VALUES ({names}) {{ ({values}) }} "
    return sparql[:start] + block + body + sparql[end - 1 :]


def _term(term: object) -> str:
    return str(term)


class RemoteEngine:
    """The part of ``pyoxigraph.Store`` the package uses, over SPARQL 1.1 and HTTP."""

    def __init__(self, config: RemoteConfig) -> None:
        self.config = config
        self.client = _Client(config)
        self._graphs: list[str] | None = None
        self._cache: _QuadCache | None = None

    # -- our graphs
    def our_graphs(self) -> list[str]:
        """The engine's named graphs that are ours.

        Listing them scans the store on some engines (seconds on Virtuoso), so the list
        is kept until this store writes: the server opens a fresh store in each process
        after each of its writes. A graph another client creates meanwhile is not seen
        until then (docs/deployment.md).
        """
        if self._graphs is None:
            # GROUP BY, not DISTINCT: the same answer, but Virtuoso 7.2 reads its graph
            # index for it (12 ms on the curated data) and scans every quad for DISTINCT
            # (6 s; docs/engines.md §6).
            rows = self._select("SELECT ?g WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g", None)
            ignored = self.config.ignored
            self._graphs = sorted(
                g.value
                for (g,) in rows
                if isinstance(g, ox.NamedNode) and not g.value.startswith(ignored)
            )
        return self._graphs

    def forget_graphs(self) -> None:
        self._graphs = None

    def _dataset(
        self,
        default_graph: Sequence[Any] | None,
        named_graphs: Sequence[Any] | None,
        union: bool,
    ) -> tuple[list[str], list[str]]:
        ours = self.our_graphs()
        if default_graph is not None:
            default = [_iri(g) for g in default_graph]
        else:
            default = list(ours) if union else []
        named = [_iri(g) for g in named_graphs] if named_graphs is not None else list(ours)
        # An empty list would mean "the engine's choice" in the protocol: name a graph
        # that never holds anything instead.
        return default or [EMPTY], named or [EMPTY]

    # -- reading
    def query(
        self,
        sparql: str,
        *,
        prefixes: dict[str, str] | None = None,
        default_graph: Sequence[Any] | None = None,
        named_graphs: Sequence[Any] | None = None,
        use_default_graph_as_union: bool = False,
        substitutions: dict[ox.Variable, Any] | None = None,
    ) -> Any:
        """Run a query; answer as pyoxigraph does (solutions, a boolean, or triples)."""
        dataset = None
        if inspect_query(sparql).has_dataset_clause:
            # The query's FROM clauses go to the protocol's parameters: engines differ on
            # what FROM alone leaves as named graphs (Virtuoso: all of them), and on
            # whether the protocol's dataset overrides the query's (Virtuoso: no).
            clauses = split_dataset_clauses(sparql)
            if clauses is not None:
                sparql = clauses.text
                if default_graph is None and named_graphs is None:
                    dataset = (list(clauses.default) or [EMPTY], list(clauses.named) or [EMPTY])
        if dataset is None and (
            not inspect_query(sparql).has_dataset_clause
            or default_graph is not None
            or named_graphs is not None
        ):
            dataset = self._dataset(default_graph, named_graphs, use_default_graph_as_union)
        if DIALECTS[self.config.dialect].empty_graph_pattern_unbound:
            sparql = _EMPTY_GRAPH_PATTERN.sub(
                r"{ SELECT DISTINCT \1 WHERE { GRAPH \1 { ?kg_s ?kg_p ?kg_o } } }", sparql
            )
        text = _with_prefixes(_substituted(sparql, substitutions), prefixes)
        if DIALECTS[self.config.dialect].ask_as_select:
            asked = _ask_as_select(text)
            if asked is not None:
                rows = self._select(asked, dataset)
                return ox.parse_query_results(
                    _BOOLEAN_XML % (b"true" if rows else b"false"),
                    format=ox.QueryResultsFormat.XML,
                )
        response = self.client.query(text, dataset)
        media = _media(response)
        try:
            if media in _RESULTS_BY_MEDIA:
                return ox.parse_query_results(response.content, format=_RESULTS_BY_MEDIA[media])
            if media in _RDF_BY_MEDIA:
                return RemoteTriples(
                    q.triple for q in ox.parse(response.content, format=_RDF_BY_MEDIA[media])
                )
        except (SyntaxError, ValueError, OSError) as exc:
            raise StoreError(f"the store's answer does not parse ({media}): {exc}") from exc
        raise StoreError(f"the store answered a query with an unexpected type: {media!r}")

    def _select(self, sparql: str, dataset: tuple[list[str], list[str]] | None) -> list[tuple]:
        response = self.client.query(sparql, dataset)
        media = _media(response)
        if media not in _RESULTS_BY_MEDIA:
            raise StoreError(f"the store answered a SELECT with {media!r}")
        try:
            results = ox.parse_query_results(response.content, format=_RESULTS_BY_MEDIA[media])
            variables = results.variables
            return [tuple(solution[v] for v in variables) for solution in results]
        except (SyntaxError, ValueError, OSError) as exc:
            raise StoreError(f"the store's answer does not parse: {exc}") from exc

    # -- pattern lookups, cached for reads
    #: Most quads the read cache holds; past it, it starts afresh.
    CACHE_QUADS = 200_000
    #: Most subjects fetched in one request when the cache follows links ahead.
    PREFETCH = 400

    def enable_cache(self) -> None:
        """Answer pattern lookups from a cache (for read-only use; see :meth:`clear_cache`).

        The code that describes resources walks the graph one lookup at a time, which
        costs a round trip each on a remote store. With the cache, a lookup of a subject
        fetches the quads of that subject and of up to :attr:`PREFETCH` subjects the cache
        has seen as objects but not fetched yet, in one request: a walk costs about one
        request per step of depth instead of one per node.
        """
        self._cache = _QuadCache()

    def clear_cache(self) -> None:
        if self._cache is not None:
            self._cache = _QuadCache()

    @contextlib.contextmanager
    def cached(self) -> Iterator[None]:
        """Cache lookups for the duration of a read-only step (say, an update's WHERE).

        The cache is dropped at the end, and by any write meanwhile (:meth:`update` and
        the bulk methods clear it), so nothing read through it outlives the step.
        """
        previous = self._cache
        if previous is None:
            self._cache = _QuadCache()
        try:
            yield
        finally:
            self._cache = previous

    def __contains__(self, quad: ox.Quad) -> bool:
        return any(True for _ in self.quads_for_pattern(*quad))

    def quads_for_pattern(
        self, s: Any = None, p: Any = None, o: Any = None, g: Any = None
    ) -> Iterator[ox.Quad]:
        if isinstance(g, ox.DefaultGraph):
            return iter(())  # our data is in named graphs only
        cache = self._cache
        if cache is not None and isinstance(s, ox.NamedNode):
            if s not in cache.subjects:
                self._fetch_subjects(s, cache)
            return iter(
                [
                    q
                    for q in cache.subjects[s]
                    if (p is None or q.predicate == p)
                    and (o is None or q.object == o)
                    and (g is None or q.graph_name == g)
                ]
            )
        if cache is not None and s is None and isinstance(o, ox.NamedNode):
            if o not in cache.objects:
                cache.objects[o] = list(self._pattern(None, None, o, None))
                cache.size += len(cache.objects[o])
                cache.frontier.update(
                    q.subject
                    for q in cache.objects[o]
                    if isinstance(q.subject, ox.NamedNode) and q.subject not in cache.subjects
                )
            return iter(
                [
                    q
                    for q in cache.objects[o]
                    if (p is None or q.predicate == p) and (g is None or q.graph_name == g)
                ]
            )
        if cache is not None and s is None and o is None and g is not None:
            key = (p, g)  # a graph, or a property in it: the ontology, read by the reasoner
            if key not in cache.graphs:
                cache.graphs[key] = list(self._pattern(None, p, None, g))
                cache.size += len(cache.graphs[key])
                # The next lookups are likely about these subjects: prefetch them together.
                cache.frontier.update(
                    q.subject
                    for q in cache.graphs[key]
                    if isinstance(q.subject, ox.NamedNode) and q.subject not in cache.subjects
                )
            return iter(cache.graphs[key])
        return self._pattern(s, p, o, g)

    def _fetch_subjects(self, s: ox.NamedNode, cache: _QuadCache) -> None:
        if cache.size > self.CACHE_QUADS:
            cache.__init__()  # type: ignore[misc]
        batch = [s] + [
            n for n in list(cache.frontier)[: self.PREFETCH] if n not in cache.subjects and n != s
        ]
        values = " ".join(str(n) for n in batch)
        rows = self._select(
            f"SELECT ?s ?p ?o ?g WHERE {{ VALUES ?s {{ {values} }} GRAPH ?g {{ ?s ?p ?o }} }}",
            self._dataset(None, None, union=False),
        )
        for n in batch:
            cache.subjects[n] = []
            cache.frontier.discard(n)
        for subject, predicate, obj, graph in rows:
            cache.subjects[subject].append(ox.Quad(subject, predicate, obj, graph))
            if isinstance(obj, ox.NamedNode) and obj not in cache.subjects:
                cache.frontier.add(obj)
        cache.size += len(rows)

    def _pattern(
        self, s: Any = None, p: Any = None, o: Any = None, g: Any = None
    ) -> Iterator[ox.Quad]:
        terms = {"s": s, "p": p, "o": o}
        pattern = " ".join(_term(t) if t is not None else f"?{n}" for n, t in terms.items())
        graph = _term(g) if g is not None else "?g"
        free = [f"?{n}" for n, t in terms.items() if t is None]
        if g is None:
            free.append("?g")
        sparql = f"SELECT {' '.join(free) or '*'} WHERE {{ GRAPH {graph} {{ {pattern} }} }}"
        if not free:  # a SELECT, not an ASK: Virtuoso's ASK with a dataset is always true
            found = self._select(
                f"SELECT ?s WHERE {{ VALUES ?s {{ {_term(s)} }} GRAPH {graph} "
                f"{{ ?s {_term(p)} {_term(o)} }} }} LIMIT 1",
                self._dataset(None, None, union=False),
            )
            return iter([ox.Quad(s, p, o, g)] if found else [])
        rows = self._select(sparql, self._dataset(None, None, union=False))
        out = []
        for row in rows:
            bound = dict(zip(free, row, strict=True))
            quad = ox.Quad(
                s if s is not None else bound["?s"],
                p if p is not None else bound["?p"],
                o if o is not None else bound["?o"],
                g if g is not None else bound["?g"],
            )
            out.append(quad)
        return iter(out)

    def named_graphs(self) -> Iterator[ox.NamedNode]:
        return iter([ox.NamedNode(g) for g in self.our_graphs()])

    def __len__(self) -> int:
        rows = self._select(
            "SELECT (COUNT(?s) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }",
            self._dataset(None, None, union=False),
        )
        return int(rows[0][0].value)

    # -- writing
    def update(self, sparql: str) -> None:
        try:
            self.client.update(sparql)
        finally:
            self.forget_graphs()
            self.clear_cache()

    def extend(self, quads: Iterable[ox.Quad]) -> None:
        """Insert quads (in chunks of the configured size; each chunk a request)."""
        by_graph: dict[str, list[str]] = {}
        for q in quads:
            by_graph.setdefault(q.graph_name.value, []).append(
                f"{q.subject} {q.predicate} {q.object} ."
            )
        for graph_iri, lines in by_graph.items():
            self.insert_lines(graph_iri, lines)

    def add(self, quad: ox.Quad) -> None:
        self.extend([quad])

    def insert_lines(self, graph_iri: str, lines: Sequence[str]) -> None:
        """Add N-Triples lines to a graph: Graph Store POSTs, or INSERT DATA, in chunks."""
        size = self.config.chunk
        for start in range(0, len(lines), size):
            chunk = lines[start : start + size]
            if self.config.gsp_url:
                # N-Triples is Turtle. Sent as Turtle with a directive first, because
                # Virtuoso guesses the syntax from the body and takes N-Triples with a long
                # line for plain text (docs/engines.md §4).
                body = ("@prefix kg: <urn:x-geokg:> .\n" + "\n".join(chunk) + "\n").encode()
                self.client.graph(
                    "POST", graph_iri, content=body, headers={"Content-Type": "text/turtle"}
                )
            else:
                body = "\n".join(chunk)
                self.client.update(f"INSERT DATA {{ GRAPH <{graph_iri}> {{\n{body}\n}} }}")
        self.forget_graphs()
        self.clear_cache()

    def flush(self) -> None:
        """Nothing to do: every request the engine answered is its own."""

    def close(self) -> None:
        self.client.close()


_BOOLEAN_XML = (
    b'<?xml version="1.0"?><sparql xmlns="http://www.w3.org/2005/sparql-results#">'
    b"<head></head><boolean>%s</boolean></sparql>"
)


def _ask_as_select(text: str) -> str | None:
    """``ASK ...`` as ``SELECT * ... LIMIT 1``; None if not an ASK we can turn."""
    info = inspect_query(text)
    if info.form is None or info.form.value != "ASK":
        return None
    span = form_keyword_span(text)
    tail = text.rstrip()
    if (
        span is None
        or not tail.endswith("}")
        or re.search(r"(?i)\bVALUES\b[^{}]*\{[^{}]*\}\s*$", tail)
    ):
        return None  # a trailing VALUES block: left as it is
    if not re.search(r"[?$]\w", text[span[1] :]):
        return None  # no variable: SELECT * would have nothing to project
    # SELECT *, not a constant projection: Virtuoso gives a row for an expression
    # projected over a pattern without solutions, as it answers ASK true.
    return text[: span[0]] + "SELECT *" + text[span[1] :] + " LIMIT 1"


class _QuadCache:
    """Quads by subject and by object, and the objects seen but not fetched as subjects."""

    def __init__(self) -> None:
        self.subjects: dict[ox.NamedNode, list[ox.Quad]] = {}
        self.objects: dict[ox.NamedNode, list[ox.Quad]] = {}
        self.graphs: dict[Any, list[ox.Quad]] = {}
        self.frontier: set[ox.NamedNode] = set()  # insertion order does not matter
        self.size = 0


def _iri(g: Any) -> str:
    return g.value if isinstance(g, ox.NamedNode) else str(g)


# ---------------------------------------------------------------- the store
class RemoteStore(OxigraphStore):
    """The store interface on an external SPARQL 1.1 engine (see the module docstring)."""

    def __init__(self, config: RemoteConfig) -> None:
        self.config = config
        self._store = RemoteEngine(config)  # what OxigraphStore's methods call
        self.path = None

    @classmethod
    def for_reading(cls, config: RemoteConfig) -> RemoteStore:
        """A store for read jobs: pattern lookups are cached (clear it between jobs)."""
        self = cls(config)
        self._store.enable_cache()
        return self

    @property
    def raw(self) -> RemoteEngine:  # type: ignore[override]
        return self._store

    def batched_reads(self) -> contextlib.AbstractContextManager[None]:
        """Pattern lookups made inside are cached and prefetched (:meth:`RemoteEngine.cached`)."""
        return self._store.cached()

    @classmethod
    def open_read_only(cls, path: Any) -> OxigraphStore:  # pragma: no cover - not for remotes
        raise StoreError("a remote store has no checkpoints to open")

    def checkpoint(self, target: Any) -> None:
        raise StoreError("a remote store cannot be checkpointed by us: use the engine's backup")

    def has_graph(self, graph_iri: str) -> bool:
        return bool(self._store.query(f"ASK {{ GRAPH <{graph_iri}> {{ ?s ?p ?o }} }}"))

    def count(self, graph_iri: str | None = None) -> int:
        if graph_iri is None:
            return len(self._store)
        rows = self._store._select(
            f"SELECT (COUNT(?s) AS ?n) WHERE {{ GRAPH <{graph_iri}> {{ ?s ?p ?o }} }}",
            self._store._dataset(None, [graph_iri], union=False),
        )
        return int(rows[0][0].value)

    def _triples(self, graph_iri: str | None) -> list[ox.Triple]:
        """A graph's triples (the Graph Store GET where there is one), or the union's."""
        if graph_iri is not None and self.config.gsp_url:
            response = self._store.client.graph(
                "GET", graph_iri, headers={"Accept": "application/n-triples"}
            )
            if response.status_code == 404:
                return []
            media = _media(response)
            try:
                return [
                    q.triple
                    for q in ox.parse(
                        response.content, format=_RDF_BY_MEDIA.get(media, ox.RdfFormat.N_TRIPLES)
                    )
                ]
            except (SyntaxError, ValueError) as exc:
                raise StoreError(f"the store's graph does not parse ({media}): {exc}") from exc
        if graph_iri is None:
            return list(
                self._store.query(
                    "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }", use_default_graph_as_union=True
                )
            )
        return [q.triple for q in self._store.quads_for_pattern(None, None, None, _nn(graph_iri))]

    def dump_graph(self, fmt: RdfFormat, graph_iri: str | None) -> bytes:
        from kg._oxigraph import _RDF_FORMATS, _prefixes

        triples: Iterable[Any] = self._triples(graph_iri)
        if fmt.is_dataset:
            g = _nn(graph_iri) if graph_iri is not None else ox.DefaultGraph()
            triples = [ox.Quad(t.subject, t.predicate, t.object, g) for t in triples]
        try:
            return ox.serialize(triples, format=_RDF_FORMATS[fmt], prefixes=_prefixes(fmt))
        except (OSError, ValueError) as exc:
            raise StoreError(f"cannot serialise graph: {exc}") from exc

    def export(self, fmt: RdfFormat, graph_iri: str | None = None) -> bytes:
        from kg._oxigraph import _RDF_FORMATS

        try:
            if fmt in (RdfFormat.TRIG, RdfFormat.NQUADS):
                quads = [
                    ox.Quad(t.subject, t.predicate, t.object, _nn(g))
                    for g in self._store.our_graphs()
                    for t in self._triples(g)
                ]
                return ox.serialize(quads, format=_RDF_FORMATS[fmt])
            return ox.serialize(set(self._triples(graph_iri)), format=_RDF_FORMATS[fmt])
        except (OSError, ValueError) as exc:
            raise StoreError(f"cannot export: {exc}") from exc

    def execute(self, sparql: str, **kwargs: Any) -> QueryOutput:  # type: ignore[override]
        """As the embedded store's: the query is parsed here first, the same way.

        So a malformed query gets the same error, with its line and column, whatever
        the engine, and a query the engine would accept as an extension of SPARQL 1.1
        is refused as it would be on the embedded store. A query calling SERVICE is
        not parsed here (parsing it this way would evaluate it).
        """
        if not inspect_query(sparql).services:
            try:
                ox.Store().query(sparql, prefixes=PREFIXES)  # empty: only the parse counts
            except SyntaxError as exc:
                line, column = syntax_position(str(exc))
                raise QueryError(f"SPARQL syntax error: {exc}", line=line, column=column) from exc
            except (OSError, ValueError, RuntimeError):
                pass  # not a syntax error: the engine decides
        return super().execute(sparql, **kwargs)

    def query_serialized(
        self, sparql: str, fmt: ResultFormat | RdfFormat, *, union_default_graph: bool = True
    ) -> bytes:
        results = self._run(sparql, union_default_graph)
        if isinstance(fmt, ResultFormat):
            if isinstance(results, RemoteTriples):
                raise QueryError("a graph result cannot be written as a table format")
            if isinstance(results, ox.QueryBoolean):
                return write_boolean(fmt, bool(results))
            variables = [v.value for v in results.variables]
            rows = [tuple(_parts(s[i]) for i in range(len(variables))) for s in results]
            return write_results(fmt, variables, rows, truncated=False)
        if not isinstance(results, RemoteTriples):
            raise QueryError("a table result cannot be written as an RDF format")
        return self.dump_triples(results, fmt)

    @staticmethod
    def dump_triples(triples: Sequence[ox.Triple], fmt: RdfFormat) -> bytes:
        from kg._oxigraph import _RDF_FORMATS

        return ox.serialize(triples, format=_RDF_FORMATS[fmt])

    # -- writing
    def replace_graphs(self, graphs: Sequence[ParsedGraph], drop: Iterable[str] = ()) -> None:
        """Replace graphs: upload each to a staging graph in chunks, then switch in one request.

        The upload is idempotent and retried chunk by chunk; nothing is visible until the
        switch, one update of MOVEs and DROPs, which is atomic where the engine makes an
        update request atomic (docs/deployment.md says which do). A failed upload leaves
        the live graphs as they were and removes its staging graphs.
        """
        token = secrets.token_hex(6)
        staged: dict[str, str] = {}
        switched = False
        try:
            for i, g in enumerate(graphs):
                if not len(g):
                    continue
                staging = f"{STAGING}{token}:{i}"
                staged[g.graph_iri] = staging
                self._store.update(f"DROP SILENT GRAPH <{staging}>")
                self._store.insert_lines(staging, [f"{t} ." for t in g._triples])
            names = {g.graph_iri for g in graphs} | set(drop)
            parts = [f"DROP SILENT GRAPH <{n}>" for n in sorted(names - staged.keys())]
            parts += [f"MOVE SILENT GRAPH <{s}> TO GRAPH <{g}>" for g, s in sorted(staged.items())]
            if parts:
                self._store.update(" ;\n".join(parts))
            switched = True
        finally:
            if not switched:
                for staging in staged.values():
                    try:
                        self._store.update(f"DROP SILENT GRAPH <{staging}>")
                    except (StoreError, QueryError):
                        log.warning("could not remove staging graph %s", staging)

    def close(self) -> None:
        self._store.close()


def _nn(iri: str) -> ox.NamedNode:
    return ox.NamedNode(iri)
