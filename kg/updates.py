"""SPARQL 1.1 Update turned into a :class:`~kg.validation.Change`, without writing anything.

Every write must pass the SHACL gate before it is committed, so an update is not run
on the store: it is evaluated by rdflib's SPARQL Update engine against an *overlay* of
the store, which reads through to the store and records what the update would add
and remove. The recorded difference is the change that the gate validates and then
applies in one transaction (:func:`kg.writes.apply_change`).

Nothing is fetched while evaluating: ``USING <g>`` reads graph ``g`` of the store
(rdflib would otherwise download it), and ``LOAD`` and ``SERVICE`` are refused before
evaluation by the caller (see :mod:`kg.sparql`). Blank nodes in inserted triples
become fresh skolem IRIs. The default graph of an update, like that of a query, is the
union of all graphs; it cannot be written, because every triple here belongs to a
named graph that says where it comes from.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pyparsing import ParseException
from rdflib import BNode, Dataset, Graph, URIRef, Variable
from rdflib.graph import DATASET_DEFAULT_GRAPH_ID
from rdflib.plugins.sparql import sparql as rdflib_sparql
from rdflib.plugins.sparql.parserutils import CompValue
from rdflib.plugins.sparql.processor import prepareUpdate
from rdflib.plugins.sparql.sparql import Update
from rdflib.plugins.sparql.update import evalUpdate
from rdflib.store import Store
from rdflib.term import Node

from kg.errors import QueryError, StoreError
from kg.namespaces import PREFIXES, SKOLEM
from kg.validation import Change

__all__ = ["UpdateJob", "compute_change"]

Quad = tuple[Node, Node, Node, Node]


class _Overlay(Store):
    """An rdflib store over another store that records writes instead of making them."""

    context_aware = True
    graph_aware = True
    formula_aware = False
    transaction_aware = False

    def __init__(self, base: Any) -> None:
        super().__init__()
        self._base = base
        self.added: set[Quad] = set()
        self.removed: set[Quad] = set()
        #: The named graphs a WHERE clause may read (USING NAMED); None for all.
        self.visible_named: frozenset[Node] | None = None

    # -- reading through
    def _quads(self, s: Node | None, p: Node | None, o: Node | None, g: Node | None) -> set[Quad]:
        found = {q for q in self._base.match(s, p, o, g) if q not in self.removed}
        for q in self.added:
            if all(
                want is None or want == have for want, have in zip((s, p, o, g), q, strict=True)
            ):
                found.add(q)
        return found

    def triples(self, pattern: Any, context: Graph | None = None) -> Iterator[Any]:
        s, p, o = pattern
        g = None if context is None else context.identifier
        if g is not None and self.visible_named is not None and g not in self.visible_named:
            return
        by_triple: dict[tuple[Node, Node, Node], list[Graph]] = {}
        for qs, qp, qo, qg in self._quads(s, p, o, g):
            by_triple.setdefault((qs, qp, qo), []).append(Graph(store=self, identifier=qg))
        for triple, graphs in by_triple.items():
            yield triple, iter(graphs)

    def __len__(self, context: Graph | None = None) -> int:
        g = None if context is None else context.identifier
        return len(self._quads(None, None, None, g))

    def contexts(self, triple: Any = None) -> Iterator[Graph]:
        s, p, o = triple if triple is not None else (None, None, None)
        names = {q[3] for q in self._quads(s, p, o, None)}
        if self.visible_named is not None:
            names &= self.visible_named
        for name in sorted(names):
            yield Graph(store=self, identifier=name)

    # -- recording
    def add(self, triple: Any, context: Graph, quoted: bool = False) -> None:
        s, p, o = triple
        q = (s, p, o, context.identifier)
        self.removed.discard(q)
        self.added.add(q)

    def addN(self, quads: Any) -> None:
        for s, p, o, *c in quads:
            self.add(
                (s, p, o), c[0] if c else Graph(store=self, identifier=DATASET_DEFAULT_GRAPH_ID)
            )

    def remove(self, pattern: Any, context: Graph | None = None) -> None:
        s, p, o = pattern
        g = None if context is None else context.identifier
        for q in self._quads(s, p, o, g):
            self.added.discard(q)
            self.removed.add(q)

    def add_graph(self, graph: Graph) -> None:
        pass  # a named graph exists when it holds a triple

    def remove_graph(self, graph: Graph) -> None:
        self.remove((None, None, None), graph)


def _load_from_store(
    self: rdflib_sparql.QueryContext,
    source: URIRef,
    default: bool = False,
    into: Any = None,
    **kwargs: Any,
) -> None:
    """USING <g>: read graph g of the store into the update's default graph; never fetch."""
    if default:
        overlay = self.dataset.store
        visible, overlay.visible_named = overlay.visible_named, None  # USING reads any graph
        try:
            for triple in self.dataset.get_context(source).triples((None, None, None)):
                self.graph.add(triple)
        finally:
            overlay.visible_named = visible
    # USING NAMED <g>: the store's named graphs are already in the dataset.


@contextlib.contextmanager
def _no_fetching() -> Iterator[None]:
    original = rdflib_sparql.QueryContext.load
    rdflib_sparql.QueryContext.load = _load_from_store  # type: ignore[method-assign]
    try:
        yield
    finally:
        rdflib_sparql.QueryContext.load = original  # type: ignore[method-assign]


def _skolem(term: Node, names: dict[BNode, URIRef]) -> Node:
    if isinstance(term, BNode):
        if term not in names:
            names[term] = URIRef(SKOLEM + uuid.uuid4().hex)
        return names[term]
    return term


def compute_change(
    store: Any, update: str, *, using: list[str] | None = None, using_named: list[str] | None = None
) -> Change:
    """The change ``update`` would make to ``store`` (anything with ``match(s, p, o, g)``).

    Raises :class:`QueryError` for a malformed update, one that writes the default
    graph, or one rdflib cannot evaluate.
    """
    try:
        parsed = prepareUpdate(update, initNs=PREFIXES)
    except ParseException as exc:
        raise QueryError(
            f"SPARQL update syntax error: {exc.msg}", line=exc.lineno, column=exc.col
        ) from exc
    except Exception as exc:  # rdflib raises plain Exceptions for bad prefixes and the like
        raise QueryError(f"SPARQL update is malformed: {exc}") from exc
    _refuse_default_graph_writes(parsed)
    _check_ground_and_blank_nodes(parsed)
    if using or using_named:
        _set_protocol_dataset(parsed, using or [], using_named or [])
    overlay = _Overlay(store)
    dataset = Dataset(store=overlay, default_union=True)
    # rdflib evaluates the WHERE clause one pattern lookup at a time: on a remote store
    # that is a request each, unless the lookups are batched for this read-only step.
    reads = getattr(store, "batched_reads", contextlib.nullcontext)
    with reads():
        return _evaluate(store, parsed, overlay, dataset)


def _evaluate(store: Any, parsed: Any, overlay: _Overlay, dataset: Dataset) -> Change:
    try:
        with _no_fetching():
            for op in parsed.algebra:
                overlay.visible_named = _named_graphs_of(op)
                evalUpdate(dataset, Update(parsed.prologue, [op]))
    except StoreError:
        raise
    except Exception as exc:  # rdflib's evaluator signals bad updates with many types
        raise QueryError(f"SPARQL update could not be evaluated: {exc}") from exc
    names: dict[BNode, URIRef] = {}
    add, remove = set(), set()
    for s, p, o, g in overlay.added:
        if g == DATASET_DEFAULT_GRAPH_ID:
            raise QueryError(_DEFAULT_GRAPH_READ_ONLY)
        q = (_skolem(s, names), p, _skolem(o, names), g)
        if not any(True for _ in store.match(*q)):
            add.add(q)
    for q in overlay.removed:
        if q[3] != DATASET_DEFAULT_GRAPH_ID:
            remove.add(q)
    try:
        return Change.of(add, remove)
    except ValueError as exc:
        raise QueryError(str(exc)) from exc


_DEFAULT_GRAPH_READ_ONLY = (
    "the default graph is the read-only union of the named graphs: "
    "write into a named graph (GRAPH <...> { ... }, or WITH <...>)"
)


def _refuse_default_graph_writes(parsed: Any) -> None:
    for op in parsed.algebra:
        if op.name in ("InsertData", "DeleteData", "DeleteWhere") and op.triples:
            raise QueryError(_DEFAULT_GRAPH_READ_ONLY)
        if op.name == "Modify" and not op.withClause:
            for template in (op.insert, op.delete):
                if template and template.triples:
                    raise QueryError(_DEFAULT_GRAPH_READ_ONLY)
        if op.name in ("Clear", "Drop") and op.graphiri == "DEFAULT":
            raise QueryError(_DEFAULT_GRAPH_READ_ONLY)


def _named_graphs_of(op: Any) -> frozenset[Node] | None:
    """USING clauses fix the dataset: its named graphs are those of USING NAMED, if any."""
    if op.name != "Modify" or not op.using:
        return None
    return frozenset(d.named for d in op.using if d.named is not None)


def _terms(block: Any) -> Iterator[Node]:
    """Every term of a data block or template (its default-graph triples and its quads)."""
    if not block:
        return
    for triple in block.triples or ():
        yield from triple
    for graph, triples in (block.quads or {}).items():
        yield graph
        for triple in triples:
            yield from triple


def _check_ground_and_blank_nodes(parsed: Any) -> None:
    """SPARQL Update 3.1.1-3.1.3: data blocks have no variables; deletions no blank nodes."""
    for op in parsed.algebra:
        if op.name in ("InsertData", "DeleteData") and any(
            isinstance(t, Variable) for t in _terms(op)
        ):
            raise QueryError(f"{_OP_NAMES[op.name]} cannot contain variables")
        deleting = {"DeleteData": op, "DeleteWhere": op, "Modify": op.delete}.get(op.name)
        if deleting is not None and any(isinstance(t, BNode) for t in _terms(deleting)):
            raise QueryError("blank nodes are not allowed in DELETE DATA, DELETE WHERE or DELETE")


_OP_NAMES = {"InsertData": "INSERT DATA", "DeleteData": "DELETE DATA"}


def _set_protocol_dataset(parsed: Any, using: list[str], using_named: list[str]) -> None:
    """using-graph-uri and using-named-graph-uri: USING clauses for every DELETE/INSERT.

    The protocol forbids them together with USING or WITH in the update itself.
    """
    clauses = [CompValue("UsingClause", default=URIRef(g)) for g in using] + [
        CompValue("UsingClause", named=URIRef(g)) for g in using_named
    ]
    for op in parsed.algebra:
        if op.name == "Modify":
            if op.using or op.withClause:
                raise QueryError(
                    "using-graph-uri or using-named-graph-uri cannot be combined with "
                    "USING or WITH in the update"
                )
            op["using"] = clauses


@dataclass(frozen=True)
class UpdateJob:
    """Compute an update's change in a worker (where its time can be limited)."""

    update: str
    using: tuple[str, ...] = ()
    using_named: tuple[str, ...] = ()

    def run(self, store: Any) -> Change:
        return compute_change(
            store, self.update, using=list(self.using), using_named=list(self.using_named)
        )
