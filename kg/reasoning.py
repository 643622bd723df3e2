"""OWL 2 RL inferences, materialised in the store and kept up to date after every write.

The rules are the OWL 2 RL/RDF rules (W3C OWL 2 Profiles, section 4.3) that our
ontology's axioms can fire, compiled from the ontology graph into tables:

========  =======================================================================
cax-sco   ``x a C``, C ⊑ D                                   ⇒ ``x a D``
prp-dom   ``x p y``, p rdfs:domain C                         ⇒ ``x a C``
prp-rng   ``x p y``, p rdfs:range C                          ⇒ ``y a C``
prp-spo1  ``x p y``, p ⊑ q                                   ⇒ ``x q y``
prp-inv   ``x p y``, p owl:inverseOf q (either way)          ⇒ ``y q x``
prp-symp  ``x p y``, p symmetric                             ⇒ ``y p x``
prp-trp   ``x p y``, ``y p z``, p transitive                 ⇒ ``x p z``
prp-spo2  ``x p1 y``, ``y p2 z``, q owl:propertyChainAxiom (p1 p2) ⇒ ``x q z``
scm-sco   the subclass and subproperty hierarchy, closed     ⇒ ``C rdfs:subClassOf E``...
========  =======================================================================

(equivalent classes and properties count as subsumption both ways). The ontology has
no class expressions (restrictions, intersections), so no rule derives a property
triple from a type: the rules stratify into property rules, then domain and range,
then the class hierarchy.

Inferred triples go to their own named graph (:data:`INFERRED_GRAPH`), never one that
is also asserted. The inputs are every other graph except the load description (the
asserted graphs, the ontology and the derived shortcuts).

Two ways to compute it, which a test holds to the same result:

* :func:`materialise` recomputes the whole graph with SPARQL SELECT queries evaluated
  inside the store (Oxigraph, or a remote one), rule by rule, streaming their results
  back into the inferred graph in bounded transactions; the property rules semi-naively.
  Memory stays bounded by the chunk size.
* :func:`refresh` maintains it after a write, from the triples that appeared in or
  disappeared from the inputs: semi-naive forward chaining for additions, and
  delete-and-rederive (DRed) for removals, touching only what the change reaches.

:func:`explain` says which axioms and asserted triples produce an inferred triple.

A write and its refresh are two transactions. The write also sets a *pending* mark in
the load graph that the refresh clears, so a crash between the two is found when the
store is next opened (:func:`is_pending`) and healed by a full :func:`materialise`.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import pyoxigraph as ox

from kg.namespaces import CHANGES_GRAPH, GP, INFERRED_GRAPH, LOAD_GRAPH, ONTOLOGY_GRAPH

__all__ = [
    "Derivation",
    "InferenceStats",
    "Rules",
    "compile_rules",
    "explain",
    "is_pending",
    "materialise",
    "pending_mark",
    "refresh",
]

_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_RDFS = "http://www.w3.org/2000/01/rdf-schema#"
_OWL = "http://www.w3.org/2002/07/owl#"
_XSD = "http://www.w3.org/2001/XMLSchema#"

TYPE = ox.NamedNode(_RDF + "type")
SUBCLASS = ox.NamedNode(_RDFS + "subClassOf")
SUBPROPERTY = ox.NamedNode(_RDFS + "subPropertyOf")
_DOMAIN = ox.NamedNode(_RDFS + "domain")
_RANGE = ox.NamedNode(_RDFS + "range")
_EQ_CLASS = ox.NamedNode(_OWL + "equivalentClass")
_EQ_PROP = ox.NamedNode(_OWL + "equivalentProperty")
_INVERSE = ox.NamedNode(_OWL + "inverseOf")
_SYMMETRIC = ox.NamedNode(_OWL + "SymmetricProperty")
_TRANSITIVE = ox.NamedNode(_OWL + "TransitiveProperty")
_CHAIN = ox.NamedNode(_OWL + "propertyChainAxiom")
_FIRST = ox.NamedNode(_RDF + "first")
_REST = ox.NamedNode(_RDF + "rest")
_NIL = ox.NamedNode(_RDF + "nil")
_DATATYPE = ox.NamedNode(_RDFS + "Datatype")
_LITERAL = ox.NamedNode(_RDFS + "Literal")

_INFERRED = ox.NamedNode(INFERRED_GRAPH)
_LOAD = ox.NamedNode(LOAD_GRAPH)
_ONTOLOGY = ox.NamedNode(ONTOLOGY_GRAPH)
_NOT_INPUT = frozenset({_INFERRED, _LOAD, ox.NamedNode(CHANGES_GRAPH)})

_PENDING = ox.NamedNode(str(GP.inferencePending))
_RULES_DIGEST = ox.NamedNode(str(GP.inferenceRules))

Triple = tuple  # (subject, predicate, object) as pyoxigraph terms
Node = ox.NamedNode | ox.BlankNode


# ---------------------------------------------------------------- compiled rules
@dataclass(frozen=True)
class Rules:
    """The ontology's axioms as lookup tables (all closures precomputed)."""

    supers: dict[ox.NamedNode, frozenset[ox.NamedNode]]  # class -> strict superclasses
    subs: dict[ox.NamedNode, frozenset[ox.NamedNode]]
    super_props: dict[ox.NamedNode, frozenset[ox.NamedNode]]
    sub_props: dict[ox.NamedNode, frozenset[ox.NamedNode]]
    domains: dict[ox.NamedNode, frozenset[ox.NamedNode]]  # property -> declared domains
    ranges: dict[ox.NamedNode, frozenset[ox.NamedNode]]
    domain_props: dict[ox.NamedNode, frozenset[ox.NamedNode]]  # class -> properties
    range_props: dict[ox.NamedNode, frozenset[ox.NamedNode]]
    inverses: dict[ox.NamedNode, frozenset[ox.NamedNode]]
    symmetric: frozenset[ox.NamedNode]
    transitive: frozenset[ox.NamedNode]
    chains: tuple[tuple[ox.NamedNode, ox.NamedNode, ox.NamedNode], ...]  # head, first, second
    tbox: frozenset[Triple]  # the closed hierarchy, minus what the ontology states
    axioms: frozenset[Triple]  # the ontology's own hierarchy and property axioms
    unsupported: tuple[str, ...]  # axioms seen but not applied (said, not silently dropped)
    digest: str  # changes when any axiom the rules use changes
    # Set from ``chains``: (head, second) by first link, (head, first) by second link,
    # (first, second) by head.
    chains_by_first: dict = field(init=False, repr=False)
    chains_by_second: dict = field(init=False, repr=False)
    chains_by_head: dict = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # The chains indexed by each of their three properties, for the rule lookups.
        for name, key, rest in (
            ("chains_by_first", 1, (0, 2)),
            ("chains_by_second", 2, (0, 1)),
            ("chains_by_head", 0, (1, 2)),
        ):
            index: dict[ox.NamedNode, list[tuple[ox.NamedNode, ox.NamedNode]]] = defaultdict(list)
            for chain in self.chains:
                index[chain[key]].append((chain[rest[0]], chain[rest[1]]))
            object.__setattr__(self, name, dict(index))


def _closure(edges: dict[ox.NamedNode, set[ox.NamedNode]]) -> dict:
    """Strict transitive closure of a relation given as adjacency sets (cycles allowed)."""
    out = {}
    for start in edges:
        seen: set[ox.NamedNode] = set()
        stack = list(edges[start])
        while stack:
            n = stack.pop()
            if n not in seen:
                seen.add(n)
                stack.extend(edges.get(n, ()))
        seen.discard(start)
        if seen:
            out[start] = frozenset(seen)
    return out


def _invert(table: dict) -> dict:
    out: dict = defaultdict(set)
    for k, vs in table.items():
        for v in vs:
            out[v].add(k)
    return {k: frozenset(v) for k, v in out.items()}


def _rdf_list(triples: dict[tuple, list], head: object) -> list | None:
    items = []
    while head != _NIL:
        first = triples.get((head, _FIRST))
        rest = triples.get((head, _REST))
        if not first or not rest or len(items) > 50:
            return None
        items.append(first[0])
        head = rest[0]
    return items


def compile_rules(ontology: Iterable[ox.Triple]) -> Rules:
    """Compile the rule tables from the ontology's triples."""
    triples = list(ontology)
    by_sp: dict[tuple, list] = defaultdict(list)
    for t in triples:
        by_sp[(t.subject, t.predicate)].append(t.object)
    sub_edges: dict = defaultdict(set)
    prop_edges: dict = defaultdict(set)
    domains: dict = defaultdict(set)
    ranges: dict = defaultdict(set)
    inverses: dict = defaultdict(set)
    symmetric, transitive, datatypes = set(), set(), {_LITERAL}
    chains, unsupported, axioms = [], [], set()
    for t in triples:
        if t.predicate == TYPE and t.object == _DATATYPE:
            datatypes.add(t.subject)
    for t in triples:
        s, p, o = t.subject, t.predicate, t.object
        named = isinstance(s, ox.NamedNode) and isinstance(o, ox.NamedNode)
        if p == SUBCLASS and named:
            sub_edges[s].add(o)
        elif p == _EQ_CLASS and named:
            sub_edges[s].add(o)
            sub_edges[o].add(s)
        elif p == SUBPROPERTY and named:
            prop_edges[s].add(o)
        elif p == _EQ_PROP and named:
            prop_edges[s].add(o)
            prop_edges[o].add(s)
        elif p == _DOMAIN and named:
            domains[s].add(o)
        elif p == _RANGE and named:
            if not (o in datatypes or o.value.startswith(_XSD)):
                ranges[s].add(o)
        elif p == _INVERSE and named:
            inverses[s].add(o)
            inverses[o].add(s)
        elif p == TYPE and o == _SYMMETRIC and isinstance(s, ox.NamedNode):
            symmetric.add(s)
        elif p == TYPE and o == _TRANSITIVE and isinstance(s, ox.NamedNode):
            transitive.add(s)
        elif p == _CHAIN and isinstance(s, ox.NamedNode):
            links = _rdf_list(by_sp, o)
            if links and len(links) == 2 and all(isinstance(x, ox.NamedNode) for x in links):
                chains.append((s, links[0], links[1]))
            else:
                unsupported.append(f"property chain of {s.value}: only chains of two are applied")
            continue
        elif (p in (SUBCLASS, _EQ_CLASS)) and not named:
            unsupported.append(f"class expression in {s} {p} {o}: not applied")
            continue
        else:
            continue
        axioms.add((s, p, o))
    supers = _closure(sub_edges)
    super_props = _closure(prop_edges)
    stated = {(t.subject, t.predicate, t.object) for t in triples}
    tbox = {(c, SUBCLASS, d) for c, ds in supers.items() for d in ds} | {
        (p, SUBPROPERTY, q) for p, qs in super_props.items() for q in qs
    }
    frozen = (
        {k: frozenset(v) for k, v in domains.items()},
        {k: frozenset(v) for k, v in ranges.items()},
    )
    digest = hashlib.sha256(
        "\n".join(sorted(f"{s} {p} {o}" for s, p, o in axioms) + sorted(map(str, chains))).encode()
    ).hexdigest()[:16]
    return Rules(
        supers=supers,
        subs=_invert(supers),
        super_props=super_props,
        sub_props=_invert(super_props),
        domains=frozen[0],
        ranges=frozen[1],
        domain_props=_invert(frozen[0]),
        range_props=_invert(frozen[1]),
        inverses={k: frozenset(v) for k, v in inverses.items()},
        symmetric=frozenset(symmetric),
        transitive=frozenset(transitive),
        chains=tuple(sorted(chains, key=str)),
        tbox=frozenset(tbox - stated),
        axioms=frozenset(axioms),
        unsupported=tuple(unsupported),
        digest=digest,
    )


#: The ontology triples :func:`compile_rules` reads: these predicates, and the types
#: below. Reading only them (a quarter of the ontology) gives the same rules.
_AXIOM_PREDICATES = (
    SUBCLASS,
    _EQ_CLASS,
    SUBPROPERTY,
    _EQ_PROP,
    _DOMAIN,
    _RANGE,
    _INVERSE,
    _CHAIN,
    _FIRST,
    _REST,
)
_AXIOM_TYPES = (_SYMMETRIC, _TRANSITIVE, _DATATYPE)


def rules_of(store: ox.Store) -> Rules:
    """The rules of the ontology graph in ``store`` (compiled once per ontology content).

    Every refresh calls this, to notice a changed ontology; it reads only the triples
    the rules are made of, since decoding the whole ontology graph took most of a refresh.
    """
    triples = [
        q.triple
        for p in _AXIOM_PREDICATES
        for q in store.quads_for_pattern(None, p, None, _ONTOLOGY)
    ]
    triples += [
        q.triple for c in _AXIOM_TYPES for q in store.quads_for_pattern(None, TYPE, c, _ONTOLOGY)
    ]
    return _compiled(frozenset(triples))


@functools.lru_cache(maxsize=4)
def _compiled(ontology: frozenset[ox.Triple]) -> Rules:
    return compile_rules(ontology)


# ---------------------------------------------------------------- statistics
@dataclass
class InferenceStats:
    mode: str  # "full" or "incremental"
    inferred: int = 0  # triples in the inferred graph afterwards
    added: int = 0
    removed: int = 0
    rounds: int = 0  # full: rounds of the property rules; incremental: triples examined
    clashes: list[tuple[str, str, str]] = field(default_factory=list)  # node, class, class
    unsupported: tuple[str, ...] = ()
    seconds: float = 0.0


def pending_mark() -> str:
    """SPARQL Update operation that marks the inferred graph stale (part of a write)."""
    return (
        f"INSERT DATA {{ GRAPH <{LOAD_GRAPH}> {{ <{INFERRED_GRAPH}> <{_PENDING.value}> true }} }}"
    )


def is_pending(store: ox.Store) -> bool:
    """True if a write was committed without its refresh (a crash in between)."""
    return any(True for _ in store.quads_for_pattern(_INFERRED, _PENDING, None, _LOAD))


def rules_changed(store: ox.Store, rules: Rules) -> bool:
    """True if the inferred graph was computed with other rules (the ontology changed)."""
    got = [q.object.value for q in store.quads_for_pattern(_INFERRED, _RULES_DIGEST, None, _LOAD)]
    return got != [rules.digest]


def _done_marks(rules: Rules) -> str:
    about = f"GRAPH <{LOAD_GRAPH}> {{ <{INFERRED_GRAPH}>"
    return (
        f"DELETE WHERE {{ {about} <{_PENDING.value}> ?x }} }} ;\n"
        f"DELETE WHERE {{ {about} <{_RULES_DIGEST.value}> ?d }} }} ;\n"
        f'INSERT DATA {{ {about} <{_RULES_DIGEST.value}> "{rules.digest}" }} }}'
    )


# ---------------------------------------------------------------- full materialisation
@dataclass(frozen=True)
class _Rule:
    """One rule of the full materialisation, as the parts of a SPARQL SELECT.

    ``head`` is the derived triple, its terms variable names (``"x"``) or constants;
    ``body`` the premises, as triple patterns in SPARQL; ``columns`` and ``rows`` a
    VALUES table joined with them (the compiled axioms); ``where`` a further filter.
    """

    head: tuple[str | ox.NamedNode, str | ox.NamedNode, str | ox.NamedNode]
    body: tuple[tuple[str, str, str], ...]
    columns: tuple[str, ...] = ()
    rows: tuple[tuple[ox.NamedNode, ...], ...] = ()
    where: str = ""

    def query(self, fresh: int | None = None, produced: frozenset | None = None) -> str | None:
        """The SELECT giving this rule's consequences not yet in the inputs or inferred graph.

        With ``fresh``, premise number ``fresh`` is read from the inferred graph only and
        its predicate must be one of ``produced`` (semi-naive evaluation: a later round
        joins only what the round before added); None if nothing can match.
        """
        rows = self.rows
        if fresh is not None:
            assert produced is not None
            p = self.body[fresh][1]
            if p.startswith("?"):
                at = self.columns.index(p[1:])
                rows = tuple(r for r in rows if r[at] in produced)
                if not rows:
                    return None
            elif ox.NamedNode(p[1:-1]) not in produced:
                return None
        parts = []
        if self.columns:
            values = " ".join("(" + " ".join(map(str, r)) + ")" for r in rows)
            parts.append(f"VALUES ({' '.join('?' + c for c in self.columns)}) {{ {values} }}")
        for i, (s, p, o) in enumerate(self.body):
            if i == fresh:
                parts.append(f"GRAPH {_INFERRED} {{ {s} {p} {o} }}")
            else:
                parts.append(f"GRAPH ?g{i} {{ {s} {p} {o} }} FILTER(?g{i} NOT IN {_SKIPPED})")
        parts.append(self.where)
        head = " ".join(str(t) if isinstance(t, ox.NamedNode) else f"?{t}" for t in self.head)
        parts.append(f"FILTER NOT EXISTS {{ GRAPH ?h {{ {head} }} FILTER(?h NOT IN {_SKIPPED}) }}")
        variables = sorted({t for t in self.head if isinstance(t, str)})
        return f"SELECT {' '.join('?' + v for v in variables)} WHERE {{ {' '.join(parts)} }}"

    def reads(self, produced: frozenset) -> list[int]:
        """The premises that may read something in ``produced`` (for a semi-naive round)."""
        out = []
        for i, (_, p, _) in enumerate(self.body):
            if p.startswith("?"):
                at = self.columns.index(p[1:])
                if any(r[at] in produced for r in self.rows):
                    out.append(i)
            elif ox.NamedNode(p[1:-1]) in produced:
                out.append(i)
        return out


#: Graphs whose triples are no premise and whose presence does not make a triple known:
#: as a SPARQL list. The inferred graph is read: premises and what is known already.
_SKIPPED = f"({_LOAD}, {ox.NamedNode(CHANGES_GRAPH)})"


def _full_rules(rules: Rules) -> tuple[list[_Rule], list[_Rule], list[_Rule]]:
    """The rules by stratum: property rules (iterated), domain and range, classes, TBox."""

    def pairs(table: dict) -> tuple:
        return tuple((k, v) for k in sorted(table, key=str) for v in sorted(table[k], key=str))

    node = "FILTER(!isLiteral(?o))"
    props = []
    if rules.super_props:
        props.append(
            _Rule(("s", "q", "o"), (("?s", "?p", "?o"),), ("p", "q"), pairs(rules.super_props))
        )
    if rules.inverses:
        props.append(
            _Rule(("o", "q", "s"), (("?s", "?p", "?o"),), ("p", "q"), pairs(rules.inverses), node)
        )
    if rules.symmetric:
        rows = tuple((p,) for p in sorted(rules.symmetric, key=str))
        props.append(_Rule(("o", "p", "s"), (("?s", "?p", "?o"),), ("p",), rows, node))
    for p in sorted(rules.transitive, key=str):
        props.append(_Rule(("x", p, "z"), (("?x", str(p), "?y"), ("?y", str(p), "?z"))))
    for head, first, second in rules.chains:
        props.append(_Rule(("x", head, "z"), (("?x", str(first), "?y"), ("?y", str(second), "?z"))))
    typing = []
    if rules.domains:
        typing.append(
            _Rule(("s", TYPE, "c"), (("?s", "?p", "?o"),), ("p", "c"), pairs(rules.domains))
        )
    if rules.ranges:
        typing.append(
            _Rule(("o", TYPE, "c"), (("?s", "?p", "?o"),), ("p", "c"), pairs(rules.ranges), node)
        )
    classes = []
    if rules.supers:
        classes.append(
            _Rule(("x", TYPE, "d"), (("?x", str(TYPE), "?c"),), ("c", "d"), pairs(rules.supers))
        )
    if rules.tbox:
        rows = tuple(sorted(rules.tbox, key=str))
        classes.append(_Rule(("s", "p", "o"), (), ("s", "p", "o"), rows))
    return props, typing, classes


#: Quads per transaction in a full materialisation: bounds the write batch in memory.
CHUNK = 20_000


def materialise(
    store: ox.Store, rules: Rules | None = None, *, chunk: int = CHUNK
) -> InferenceStats:
    """Recompute the inferred graph from scratch (inside the store); return statistics.

    The graph is rebuilt in place, in transactions of at most ``chunk`` quads, under the
    pending mark: memory stays bounded by the chunk whatever the size of the store, and a
    crash part way leaves the mark for the next start to heal. Queries made meanwhile can
    see a partly rebuilt graph; a full recomputation happens at load, at start (a changed
    ontology or a crash) and in ``kg reason``, when the store is not yet serving, and as
    the fallback of a failed incremental refresh.

    Each rule is one SELECT over all graphs (:class:`_Rule`), its results written as
    they stream in (:func:`_write`). The property rules are iterated semi-naively: after
    the first round, a rule runs only with one premise among the predicates the round
    before added, read from the inferred graph, instead of every rule over everything.
    """
    start = time.perf_counter()
    rules = rules or rules_of(store)
    store.update(pending_mark())
    before = _clear(store, _INFERRED, chunk)

    def run(rule: _Rule, fresh: int | None = None, produced: frozenset = frozenset()) -> set:
        query = rule.query(fresh, produced)
        return set() if query is None else _write(store, rule, query, chunk)

    props, typing, classes = _full_rules(rules)
    rounds = 1
    produced = set().union(*[run(rule) for rule in props]) if props else set()
    while produced:  # to a fixpoint, each round joining what the round before added
        rounds += 1
        last, produced = frozenset(produced), set()
        for rule in props:
            for fresh in rule.reads(last):
                produced |= run(rule, fresh, last)
    for rule in typing + classes:  # one pass each: see the module docstring
        run(rule)
    store.update(_done_marks(rules))
    after = _count(store, _INFERRED)
    return InferenceStats(
        "full",
        inferred=after,
        added=after,
        removed=before,
        rounds=rounds,
        clashes=clashes(store, rules),
        unsupported=rules.unsupported,
        seconds=time.perf_counter() - start,
    )


#: Most recently written quads a rule remembers, to skip repeats (bounds the memory).
_RECENT = 100_000
#: Quads written between two flushes of the store's write buffers.
_FLUSH_EVERY = 100_000


def _write(store: ox.Store, rule: _Rule, query: str, chunk: int) -> set:
    """Add the rule's head for each solution of ``query`` to the inferred graph, in
    transactions of ``chunk`` quads, as the solutions stream in; return the predicates
    of what was added.

    SELECT, not CONSTRUCT: Oxigraph's CONSTRUCT keeps every triple it gave, to drop
    repeats, which held gigabytes at 10M triples. A quad may come more than once:
    repeats among the last ``_RECENT`` are dropped here, the others are harmless (a
    store holds a quad once). The store is flushed every ``_FLUSH_EVERY`` quads: RocksDB
    keeps a write buffer per index, and unflushed they grew by 500 MiB over the 480k
    quads of the subclass rule at 1M triples, and slowed the reads of the open query.
    """
    produced: set = set()
    head = rule.head
    variable = [isinstance(t, str) for t in head]
    recent: set = set()
    batch: list[ox.Quad] = []
    written = 0
    for solution in store.query(query):
        s, p, o = (solution[t] if v else t for t, v in zip(head, variable, strict=True))
        if (s, p, o) in recent:
            continue
        if len(recent) >= _RECENT:
            recent.clear()
        recent.add((s, p, o))
        produced.add(p)
        batch.append(ox.Quad(s, p, o, _INFERRED))
        if len(batch) >= chunk:
            store.extend(batch)
            written += len(batch)
            batch.clear()
            if written >= _FLUSH_EVERY:
                store.flush()
                written = 0
    if batch:
        store.extend(batch)
    store.flush()
    return produced


def _clear(store: ox.Store, graph: ox.NamedNode, chunk: int) -> int:
    """Empty ``graph`` in transactions of at most ``chunk`` quads; return how many it held."""
    held = _count(store, graph)
    while next(store.quads_for_pattern(None, None, None, graph), None) is not None:
        store.update(
            f"DELETE {{ GRAPH {graph} {{ ?s ?p ?o }} }}"
            f" WHERE {{ {{ SELECT ?s ?p ?o WHERE {{ GRAPH {graph} {{ ?s ?p ?o }} }}"
            f" LIMIT {chunk} }} }}"
        )
    return held


def _count(store: ox.Store, graph: ox.NamedNode) -> int:
    rows = store.query(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH {graph} {{ ?s ?p ?o }} }}")
    return int(next(iter(rows))[0].value)


# ---------------------------------------------------------------- the closure, as seen now
class _View:
    """Asserted plus inferred triples, with pending additions and removals on top.

    ``minus`` hides inferred triples only: a triple that is also stated stays visible.
    """

    def __init__(self, store: ox.Store) -> None:
        self.store = store
        self.plus: set[Triple] = set()
        self.minus: set[Triple] = set()
        self._plus_sp: dict[tuple, set] = defaultdict(set)
        self._plus_po: dict[tuple, set] = defaultdict(set)

    def add(self, t: Triple) -> None:
        self.plus.add(t)
        self._plus_sp[(t[0], t[1])].add(t[2])
        self._plus_po[(t[1], t[2])].add(t[0])

    def _visible(self, t: Triple, graph: object) -> bool:
        if graph == _INFERRED:
            return t not in self.minus
        return graph not in _NOT_INPUT

    def asserted(self, t: Triple) -> bool:
        return any(q.graph_name not in _NOT_INPUT for q in self.store.quads_for_pattern(*t, None))

    def inferred(self, t: Triple) -> bool:
        return ox.Quad(t[0], t[1], t[2], _INFERRED) in self.store

    def __contains__(self, t: Triple) -> bool:
        if t in self.plus:
            return True
        return any(self._visible(t, q.graph_name) for q in self.store.quads_for_pattern(*t, None))

    def objects(self, s: object, p: object) -> set:
        out = set(self._plus_sp.get((s, p), ()))
        for q in self.store.quads_for_pattern(s, p, None, None):
            if q.object not in out and self._visible((s, p, q.object), q.graph_name):
                out.add(q.object)
        return out

    def subjects(self, p: object, o: object) -> set:
        out = set(self._plus_po.get((p, o), ()))
        for q in self.store.quads_for_pattern(None, p, o, None):
            if q.subject not in out and self._visible((q.subject, p, o), q.graph_name):
                out.add(q.subject)
        return out


def _node(term: object) -> bool:
    return isinstance(term, (ox.NamedNode, ox.BlankNode))


def _consequences(t: Triple, rules: Rules, view: _View) -> Iterator[Triple]:
    """Everything one rule derives with ``t`` as one of its premises (others from view)."""
    s, p, o = t
    if p == TYPE:
        for d in rules.supers.get(o, ()):
            yield (s, TYPE, d)
        return
    for c in rules.domains.get(p, ()):
        yield (s, TYPE, c)
    for q in rules.super_props.get(p, ()):
        yield (s, q, o)
    if not _node(o):
        return
    for c in rules.ranges.get(p, ()):
        yield (o, TYPE, c)
    for q in rules.inverses.get(p, ()):
        yield (o, q, s)
    if p in rules.symmetric:
        yield (o, p, s)
    if p in rules.transitive:
        for a in view.subjects(p, s):
            yield (a, p, o)
        for b in view.objects(o, p):
            yield (s, p, b)
    for head, second in rules.chains_by_first.get(p, ()):
        for b in view.objects(o, second):
            yield (s, head, b)
    for head, first in rules.chains_by_second.get(p, ()):
        for a in view.subjects(first, s):
            yield (a, head, o)


@dataclass(frozen=True)
class Derivation:
    """One rule application: ``rule`` with ``axioms`` turns ``premises`` into the triple."""

    rule: str
    axioms: tuple[Triple, ...]
    premises: tuple[Triple, ...]


def _derivations(t: Triple, rules: Rules, view: _View) -> Iterator[Derivation]:
    """Every one-step derivation of ``t`` whose premises are all in ``view``."""
    s, p, o = t
    if p == TYPE:
        for c in sorted(rules.subs.get(o, ()), key=str):
            if (s, TYPE, c) in view:
                yield Derivation("cax-sco", _hierarchy_path(rules, c, o, SUBCLASS), ((s, TYPE, c),))
        for q in sorted(rules.domain_props.get(o, ()), key=str):
            for y in sorted(view.objects(s, q), key=str):
                yield Derivation("prp-dom", ((q, _DOMAIN, o),), ((s, q, y),))
        for q in sorted(rules.range_props.get(o, ()), key=str):
            for x in sorted(view.subjects(q, s), key=str):
                yield Derivation("prp-rng", ((q, _RANGE, o),), ((x, q, s),))
        return
    for q in sorted(rules.sub_props.get(p, ()), key=str):
        if (s, q, o) in view:
            yield Derivation("prp-spo1", _hierarchy_path(rules, q, p, SUBPROPERTY), ((s, q, o),))
    if not _node(o):
        return
    for q in sorted(rules.inverses.get(p, ()), key=str):
        if (o, q, s) in view:
            yield Derivation("prp-inv", ((p, _INVERSE, q),), ((o, q, s),))
    if p in rules.symmetric and (o, p, s) in view:
        yield Derivation("prp-symp", ((p, TYPE, _SYMMETRIC),), ((o, p, s),))
    if p in rules.transitive:
        for z in sorted(view.objects(s, p), key=str):
            if z != o and (z, p, o) in view:
                yield Derivation("prp-trp", ((p, TYPE, _TRANSITIVE),), ((s, p, z), (z, p, o)))
    for first, second in rules.chains_by_head.get(p, ()):
        for z in sorted(view.objects(s, first), key=str):
            if (z, second, o) in view:
                yield Derivation(
                    "prp-spo2",
                    ((p, _CHAIN, first), (p, _CHAIN, second)),
                    ((s, first, z), (z, second, o)),
                )


def _hierarchy_path(rules: Rules, lower: object, upper: object, pred: ox.NamedNode) -> tuple:
    """The stated subsumption axioms that lead from ``lower`` up to ``upper``."""
    edges: dict = defaultdict(list)
    for s, p, o in rules.axioms:
        if p == pred:
            edges[s].append(o)
        elif (pred, p) in ((SUBCLASS, _EQ_CLASS), (SUBPROPERTY, _EQ_PROP)):
            edges[s].append(o)
            edges[o].append(s)
    parent = {lower: None}
    queue = [lower]
    while queue:
        n = queue.pop(0)
        if n == upper:
            break
        for m in sorted(edges.get(n, ()), key=str):
            if m not in parent:
                parent[m] = n
                queue.append(m)
    path, n = [], upper
    while parent.get(n) is not None:
        path.append((parent[n], pred, n))
        n = parent[n]
    return tuple(reversed(path))


# ---------------------------------------------------------------- incremental refresh
def present(store: ox.Store, triples: Iterable[Triple]) -> set[Triple]:
    """Which of ``triples`` are in the reasoner's inputs now (call before and after a write)."""
    view = _View(store)
    return {t for t in triples if view.asserted(t)}


def refresh(
    store: ox.Store,
    candidates: Iterable[Triple],
    before: set[Triple],
    rules: Rules | None = None,
) -> InferenceStats:
    """Bring the inferred graph up to date after a committed write.

    ``candidates`` are the triples the write may have added to or removed from the
    inputs, and ``before`` those of them that were inputs before it (:func:`present`).
    If the rules changed since the last materialisation, this recomputes everything.
    """
    rules = rules or rules_of(store)
    if rules_changed(store, rules):
        return materialise(store, rules)
    view = _View(store)
    candidates = set(candidates)
    now = {t for t in candidates if view.asserted(t)}
    gone = before - now
    came = now - before
    examined = 0

    # 1. Over-delete: everything the gone triples helped derive (as things stood before).
    old = _View(store)
    for t in gone:
        old.add(t)
    deleted: set[Triple] = set()
    queue = list(gone)
    while queue:
        t = queue.pop()
        examined += 1
        for c in _consequences(t, rules, old):
            if c not in deleted and old.inferred(c) and not old.asserted(c):
                deleted.add(c)
                queue.append(c)
    for t in deleted:
        view.minus.add(t)

    # 2. Rederive what still has a derivation without them, and the gone triples that do.
    seeds = [t for t in sorted(deleted | gone, key=str) if next(_derivations(t, rules, view), None)]
    for t in seeds:
        view.add(t)

    # 3. Add: forward chaining from the new inputs and the rederived triples.
    moved = {t for t in came if view.inferred(t)}  # now stated: out of the inferred graph
    # A moved triple's consequences are known, unless step 1 took them away.
    queue = [t for t in came if t not in moved or t in deleted] + seeds
    while queue:
        t = queue.pop()
        examined += 1
        for c in _consequences(t, rules, view):
            if c not in view:
                view.add(c)
                queue.append(c)

    new = {t for t in view.plus if not view.asserted(t)}
    to_add = {t for t in new if not view.inferred(t)}
    to_remove = (deleted | moved) - new
    _apply(store, to_add, to_remove, rules)
    return InferenceStats(
        "incremental",
        inferred=-1,
        added=len(to_add),
        removed=len(to_remove),
        rounds=examined,
        clashes=_clashes_of(store, rules, {t[0] for t in to_add | came if t[1] == TYPE}),
        unsupported=rules.unsupported,
    )


def _apply(store: ox.Store, add: set[Triple], remove: set[Triple], rules: Rules) -> None:
    parts = []
    if remove:
        body = "\n".join(f"{s} {p} {o} ." for s, p, o in remove)
        parts.append(f"DELETE DATA {{ GRAPH <{INFERRED_GRAPH}> {{\n{body}\n}} }}")
    if add:
        body = "\n".join(f"{s} {p} {o} ." for s, p, o in add)
        parts.append(f"INSERT DATA {{ GRAPH <{INFERRED_GRAPH}> {{\n{body}\n}} }}")
    parts.append(_done_marks(rules))
    store.update(" ;\n".join(parts))  # one transaction


# ---------------------------------------------------------------- inconsistencies
def _disjoint_pairs(store: ox.Store) -> set[frozenset]:
    """Pairs of disjoint classes stated in any graph (``owl:disjointWith``, ``AllDisjointClasses``).

    One query for the statements and the list cells, the lists walked here: a property
    path (``rdf:rest*``) cost seconds on a remote store, and Virtuoso loses solutions of
    such paths joined with other patterns (docs/engines.md section 6).
    """
    # The typing triple is matched with its object bound: rdf:type with a filter on the
    # object would read every typing triple of the store (15 s of each write at 10M).
    rows = store.query(
        f"SELECT ?s ?p ?o WHERE {{ {{ VALUES ?p {{ <{_OWL}disjointWith> <{_OWL}members> "
        f"{_FIRST} {_REST} }} GRAPH ?g {{ ?s ?p ?o }} }} UNION {{ "
        f"GRAPH ?g {{ ?s {TYPE} <{_OWL}AllDisjointClasses> }} "
        f"BIND({TYPE} AS ?p) BIND(<{_OWL}AllDisjointClasses> AS ?o) }} }}"
    )
    triples: dict[tuple, list] = defaultdict(list)
    for s, p, o in rows:
        triples[(s, p)].append(o)
    pairs: set[frozenset] = set()
    for (s, p), objects in triples.items():
        if p.value == _OWL + "disjointWith":
            pairs.update(frozenset((s, o)) for o in objects)
        elif p == TYPE:
            for head in triples.get((s, ox.NamedNode(_OWL + "members")), []):
                members = _rdf_list(triples, head) or []
                pairs.update(
                    frozenset((a, b)) for i, a in enumerate(members) for b in members[i + 1 :]
                )
    return pairs


def clashes(store: ox.Store, rules: Rules, nodes: Iterable[object] | None = None) -> list:
    """Nodes typed (asserted or inferred) with two disjoint classes: (node, class, class)."""
    return _clashes_of(store, rules, nodes)


def _clashes_of(store: ox.Store, rules: Rules, nodes: Iterable[object] | None) -> list:
    pairs = _disjoint_pairs(store)
    if not pairs:
        return []
    found = set()
    if nodes is None:
        # One query, not a lookup per typed node: the same on an embedded or remote store.
        values = " ".join(f"({a} {b})" for a, b in (sorted(p, key=str) for p in pairs))
        rows = store.query(
            f"SELECT DISTINCT ?n ?a ?b WHERE {{ VALUES (?a ?b) {{ {values} }}"
            f" GRAPH ?g {{ ?n {TYPE} ?a }} GRAPH ?h {{ ?n {TYPE} ?b }}"
            f" FILTER(?g != {_LOAD} && ?h != {_LOAD}) }}"
        )
        for n, a, b in rows:
            found.add((n, a, b))
    else:
        for n in set(nodes):
            types = {
                q.object
                for q in store.quads_for_pattern(n, TYPE, None, None)
                if q.graph_name not in (_LOAD,)
            }
            for pair in pairs:
                if pair <= types:
                    found.add((n, *sorted(pair, key=str)))
    return sorted((str(n), str(a), str(b)) for n, a, b in found)


# ---------------------------------------------------------------- explanations
@dataclass(frozen=True)
class Explanation:
    """Why a triple holds: stated in ``graphs``, or derived by ``derivation`` from premises."""

    triple: Triple
    graphs: tuple[str, ...] = ()
    derivation: Derivation | None = None
    premises: tuple[Explanation, ...] = ()

    @property
    def asserted(self) -> bool:
        return bool(self.graphs)

    def asserted_triples(self) -> list[tuple[Triple, tuple[str, ...]]]:
        """The stated triples this explanation rests on, with their graphs."""
        if self.asserted:
            return [(self.triple, self.graphs)]
        return [x for p in self.premises for x in p.asserted_triples()]

    def all_axioms(self) -> list[Triple]:
        out = list(self.derivation.axioms) if self.derivation else []
        for p in self.premises:
            out += [a for a in p.all_axioms() if a not in out]
        return out

    def lines(self, label: object = str, depth: int = 0) -> list[str]:
        pad = "  " * depth
        text = " ".join(label(x) for x in self.triple)
        if self.asserted:
            return [f"{pad}{text}   [stated in {', '.join(self.graphs)}]"]
        assert self.derivation is not None
        axioms = "; ".join(" ".join(label(x) for x in a) for a in self.derivation.axioms)
        out = [f"{pad}{text}   [{self.derivation.rule}: {axioms}]"]
        for p in self.premises:
            out += p.lines(label, depth + 1)
        return out


def explain(store: ox.Store, triple: Triple, rules: Rules | None = None) -> Explanation | None:
    """A derivation tree of ``triple`` down to stated triples, or None if it does not hold."""
    rules = rules or rules_of(store)
    view = _View(store)
    return _explain(triple, rules, view, frozenset(), [0])


def _explain(
    t: Triple, rules: Rules, view: _View, path: frozenset, budget: list[int]
) -> Explanation | None:
    budget[0] += 1
    if budget[0] > 5000 or len(path) > 64:
        return None
    graphs = tuple(
        sorted(
            {
                q.graph_name.value
                for q in view.store.quads_for_pattern(t[0], t[1], t[2], None)
                if isinstance(q.graph_name, ox.NamedNode) and q.graph_name not in _NOT_INPUT
            }
        )
    )
    if graphs:
        return Explanation(t, graphs)
    if t in rules.tbox:
        lower, pred, upper = t
        return Explanation(
            t,
            (),
            Derivation(
                "scm-sco" if pred == SUBCLASS else "scm-spo",
                _hierarchy_path(rules, lower, upper, pred),
                (),
            ),
            (),
        )
    if not view.inferred(t):
        return None
    for d in _derivations(t, rules, view):
        if any(p in path for p in d.premises):
            continue
        subs = []
        for p in d.premises:
            e = _explain(p, rules, view, path | {t}, budget)
            if e is None:
                break
            subs.append(e)
        else:
            return Explanation(t, (), d, tuple(subs))
    return None


# ---------------------------------------------------------------- what a write touches
def write_candidates(
    store: ox.Store, add: Iterable[ox.Quad], remove: Iterable[ox.Quad]
) -> set[Triple]:
    """The triples a write may add to or remove from the reasoner's inputs.

    Those are the written triples and the shortcut triples the derivation rules give
    for the written subjects, before and after the write. Every derivation rule reads
    the triples of one subject only (a test holds the rules to that), so both sets are
    computed before the write, in a scratch store holding just those subjects.
    """
    from kg.derivation import derivation_query

    add, remove = list(add), list(remove)
    out = {(q.subject, q.predicate, q.object) for q in (*add, *remove)}
    subjects = {q.subject for q in (*add, *remove)}
    current = [
        q
        for s in subjects
        for q in store.quads_for_pattern(s, None, None, None)
        if q.graph_name not in _NOT_INPUT
    ]
    gone = set(remove)
    for quads in (current, [q for q in current if q not in gone] + add):
        scratch = ox.Store()
        scratch.extend(quads)
        for t in scratch.query(derivation_query(), use_default_graph_as_union=True):
            out.add((t.subject, t.predicate, t.object))
    return out
