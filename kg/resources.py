"""What the graph knows about one thing, lists of things by kind, and search by label.

These are the reads behind the REST API and the linked-data pages. Each is a picklable
job (``run(store)``) that the server runs in a query worker over the current snapshot,
under the time limit, like a SPARQL query; tests and the CLI can call them on a store
directly.

User input never becomes query text: an entity is looked up through the store's own
pattern matching, and list filters reach SPARQL as ``substitutions`` (pre-bound
variables, SEP-0007), never pasted into the query.

The shape of a description (:class:`Describe`):

* the entity's label, alternative labels, description and types (most specific first);
* ``facts``: the direct triples it takes part in, in both directions, each marked
  ``stated``, ``derived`` (a shortcut computed from statement nodes, whose sources are
  those statements' evidence) or ``inferred`` (an OWL 2 RL consequence);
* ``statements``: the statement nodes about it (office holdings, acquisitions, events,
  claims...), each with its roles, its dates, and its sources (the article and the exact
  quote), in date order;
* ``sources``: the evidence attached to the entity itself.

``as_of`` keeps, among the time-bounded statements (those with a start, an end, an
"ended before" or an attested date), the ones that hold on that day, and the derived
facts that one of those still supports. Other statements, such as dated events, are
kept: they are not time-bounded facts.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
import weakref
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pyoxigraph as ox

from kg import reasoning
from kg._oxigraph import OxigraphStore
from kg.errors import QueryError
from kg.namespaces import (
    DERIVED_GRAPH,
    GP,
    GPD,
    INFERRED_GRAPH,
    LOAD_GRAPH,
    NON_ASSERTED_GRAPHS,
    PREFIXES,
    SKOLEM,
)

__all__ = [
    "KINDS",
    "Describe",
    "Document",
    "Exists",
    "Explain",
    "Kind",
    "ListKind",
    "Search",
    "is_iri",
    "local_id",
    "normalise",
]

_RDF = PREFIXES["rdf"]
_RDFS = PREFIXES["rdfs"]
_SKOS = PREFIXES["skos"]
_PROV = PREFIXES["prov"]
_OA = PREFIXES["oa"]
_SCHEMA = PREFIXES["schema"]
_OWL = PREFIXES["owl"]

TYPE = ox.NamedNode(_RDF + "type")
LABEL = ox.NamedNode(_RDFS + "label")
PREF_LABEL = ox.NamedNode(_SKOS + "prefLabel")
ALT_LABEL = ox.NamedNode(_SKOS + "altLabel")
DESCRIPTIONS = (
    ox.NamedNode(_SCHEMA + "description"),
    ox.NamedNode(_SKOS + "definition"),
    ox.NamedNode(_RDFS + "comment"),
)
DERIVED_FROM = ox.NamedNode(_PROV + "wasDerivedFrom")
HAS_SOURCE = ox.NamedNode(_OA + "hasSource")
HAS_SELECTOR = ox.NamedNode(_OA + "hasSelector")
EXACT = ox.NamedNode(_OA + "exact")
SUBCLASS = ox.NamedNode(_RDFS + "subClassOf")
OWL_CLASS = ox.NamedNode(_OWL + "Class")
STATEMENT = ox.NamedNode(str(GP.Statement))
HAS_CORRECTION = ox.NamedNode(str(GP.hasCorrection))
ORIGINAL = ox.NamedNode(str(GP.originalWording))
CORRECTED = ox.NamedNode(str(GP.correctedWording))
DATE_PUBLISHED = ox.NamedNode(_SCHEMA + "datePublished")
XSD_DATE = ox.NamedNode(PREFIXES["xsd"] + "date")

_INFERRED = ox.NamedNode(INFERRED_GRAPH)
_DERIVED = ox.NamedNode(DERIVED_GRAPH)
_LOAD = ox.NamedNode(LOAD_GRAPH)
_COMPUTED = frozenset(ox.NamedNode(g) for g in NON_ASSERTED_GRAPHS) - {_DERIVED, _INFERRED}

#: Date properties of statements, in the order that picks a statement's sort date.
_DATE_PROPS = ("date", "startDate", "attestedDate", "endDate", "endedBefore")
_DATES = {name: ox.NamedNode(str(GP[name])) for name in (*_DATE_PROPS, "earliestDate")}
#: The dates a statement card shows apart from its roles.
_STATEMENT_DATES = frozenset(_DATES[name] for name in _DATE_PROPS)
#: Properties shown apart from the facts (or not at all).
_APART = {
    TYPE,
    LABEL,
    PREF_LABEL,
    ALT_LABEL,
    DERIVED_FROM,
    *DESCRIPTIONS,
    ox.NamedNode(str(GP.earliestDate)),
    ox.NamedNode(str(GP.latestDate)),
}


# ---------------------------------------------------------------- terms
def is_iri(text: str) -> bool:
    """True if ``text`` is an absolute IRI the store accepts (RFC 3987, as Oxigraph checks)."""
    if not text or any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in text):
        return False
    try:
        ox.NamedNode(text)
    except ValueError:
        return False
    return True


def local_id(iri: str) -> str | None:
    """The id of an entity IRI in the data namespace (``turkey`` for ``gpd:turkey``)."""
    base = str(GPD)
    return iri[len(base) :] if iri.startswith(base) and len(iri) > len(base) else None


def _lit_value(lit: ox.Literal) -> Any:
    dtype = lit.datatype.value
    if dtype.endswith(("#integer", "#int", "#long", "#nonNegativeInteger", "#positiveInteger")):
        try:
            return int(lit.value)
        except ValueError:
            return lit.value
    if dtype.endswith(("#decimal", "#double", "#float")):
        try:
            return float(lit.value)
        except ValueError:
            return lit.value
    if dtype.endswith("#boolean"):
        return lit.value in ("true", "1")
    return lit.value


def compact(iri: str) -> str:
    """``prefix:local`` for an IRI in a known namespace, else the IRI."""
    for prefix, ns in PREFIXES.items():
        if iri.startswith(ns) and len(iri) > len(ns):
            return f"{prefix}:{iri[len(ns) :]}"
    return iri


class _Labels:
    """Preferred labels of IRIs, looked up once each: English, then untagged, then any."""

    def __init__(self, raw: ox.Store) -> None:
        self.raw = raw
        self._cache: dict[ox.NamedNode, str | None] = {}

    def __call__(self, node: object) -> str | None:
        if not isinstance(node, ox.NamedNode):
            return None
        if node not in self._cache:
            self._cache[node] = self._lookup(node)
        return self._cache[node]

    def _lookup(self, node: ox.NamedNode) -> str | None:
        best: tuple[int, str] | None = None
        for prop in (LABEL, PREF_LABEL):
            for q in self.raw.quads_for_pattern(node, prop, None, None):
                o = q.object
                if not isinstance(o, ox.Literal):
                    continue
                rank = {"en": 0, None: 1}.get(o.language, 2)
                if best is None or (rank, o.value) < best:
                    best = (rank, o.value)
            if best is not None:
                return best[1]
        return None

    def term(self, node: object) -> dict[str, Any]:
        """A JSON-ready term: an IRI with its label, or a literal with its datatype."""
        if isinstance(node, ox.NamedNode):
            out: dict[str, Any] = {
                "type": "iri",
                "iri": node.value,
                "label": self(node) or compact(node.value),
            }
            ident = local_id(node.value)
            if ident is not None:
                out["id"] = ident
            return out
        if isinstance(node, ox.BlankNode):
            return {"type": "bnode", "id": node.value, "label": None}
        assert isinstance(node, ox.Literal)
        out = {"type": "literal", "value": _lit_value(node), "datatype": node.datatype.value}
        if node.language:
            out["lang"] = node.language
        return out


def _origin(graph: object) -> str | None:
    if graph == _INFERRED:
        return "inferred"
    if graph == _DERIVED:
        return "derived"
    if graph in _COMPUTED:
        return None  # the load description, the change log: not facts about the world
    return "stated"


# ---------------------------------------------------------------- evidence
def _evidence(raw: ox.Store, labels: _Labels, node: object) -> list[dict[str, Any]]:
    """The sources of ``node``: each article with the exact quote and any correction."""
    out = []
    seen = set()
    for q in raw.quads_for_pattern(node, DERIVED_FROM, None, None):
        ev = q.object
        if ev in seen:
            continue
        seen.add(ev)
        articles = [x.object for x in raw.quads_for_pattern(ev, HAS_SOURCE, None, None)]
        quotes = [
            x.object.value
            for sel in raw.quads_for_pattern(ev, HAS_SELECTOR, None, None)
            for x in raw.quads_for_pattern(sel.object, EXACT, None, None)
            if isinstance(x.object, ox.Literal)
        ]
        corrections = []
        for c in raw.quads_for_pattern(ev, HAS_CORRECTION, None, None):
            orig = next(raw.quads_for_pattern(c.object, ORIGINAL, None, None), None)
            new = next(raw.quads_for_pattern(c.object, CORRECTED, None, None), None)
            if orig is not None and new is not None:
                corrections.append({"original": orig.object.value, "corrected": new.object.value})
        if not articles and isinstance(ev, ox.NamedNode):
            articles = [ev]  # prov:wasDerivedFrom straight to a document
        for article in articles or [None]:
            item: dict[str, Any] = {
                "article": labels.term(article) if article is not None else None,
                "quote": quotes[0] if quotes else None,
            }
            if len(quotes) > 1:
                item["quotes"] = quotes
            if article is not None:
                published = next(raw.quads_for_pattern(article, DATE_PUBLISHED, None, None), None)
                if published is not None:
                    item["published"] = published.object.value
            if corrections:
                item["corrections"] = corrections
            out.append(item)
    return sorted(out, key=lambda e: ((e["article"] or {}).get("iri", ""), e["quote"] or ""))


# ---------------------------------------------------------------- types
def _types(raw: ox.Store, node: object) -> tuple[list[ox.NamedNode], set[ox.NamedNode]]:
    """(all types, stated ones) of ``node``."""
    every: list[ox.NamedNode] = []
    stated: set[ox.NamedNode] = set()
    for q in raw.quads_for_pattern(node, TYPE, None, None):
        if not isinstance(q.object, ox.NamedNode):
            continue
        if q.object not in every:
            every.append(q.object)
        if _origin(q.graph_name) in ("stated", "derived"):
            stated.add(q.object)
    return every, stated


def _most_specific_first(raw: ox.Store, types: list[ox.NamedNode]) -> list[ox.NamedNode]:
    """Types ordered by how many of the others they are subclasses of (most first)."""
    given = set(types)

    def depth(t: ox.NamedNode) -> int:
        return sum(
            1
            for q in raw.quads_for_pattern(t, SUBCLASS, None, None)
            if q.object in given and q.object != t
        )

    return sorted(types, key=lambda t: (-depth(t), t.value))


def _is_part(term: object) -> bool:
    """A blank node, or a skolem IRI the loader gave one: part of its parent's description
    (evidence, selectors, participations), not a thing of its own."""
    return isinstance(term, ox.BlankNode) or (
        isinstance(term, ox.NamedNode) and term.value.startswith(SKOLEM)
    )


def _is_statement(raw: ox.Store, node: object) -> bool:
    if not isinstance(node, ox.NamedNode | ox.BlankNode):
        return False
    return any(True for _ in raw.quads_for_pattern(node, TYPE, STATEMENT, None))


# ---------------------------------------------------------------- dates
def _date_of(raw: ox.Store, node: object) -> dict[str, str]:
    out = {}
    for name in _DATE_PROPS:
        q = next(raw.quads_for_pattern(node, _DATES[name], None, None), None)
        if q is not None and isinstance(q.object, ox.Literal):
            out[name] = q.object.value
    return out


def _sort_date(dates: dict[str, str]) -> str:
    for name in _DATE_PROPS:
        if name in dates:
            return dates[name]
    return "9999"


def holds_on(dates: dict[str, str], day: dt.date) -> bool | None:
    """Whether a statement with these dates holds on ``day``; None if not time-bounded.

    It holds if it started on or before the day (or has no start), did not end before
    it, and is not known to have ended by it; a statement with neither start nor end
    holds only on a day it is attested.
    """
    keys = {"startDate", "endDate", "endedBefore", "attestedDate"}
    if not keys & dates.keys():
        return None
    d = day.isoformat()
    start, end = dates.get("startDate"), dates.get("endDate")
    if start is None and end is None:
        attested = dates.get("attestedDate")
        if attested != d:
            return False
    if start is not None and start > d:
        return False
    if end is not None and end < d:
        return False
    before = dates.get("endedBefore")
    return not (before is not None and before <= d)


# ---------------------------------------------------------------- one entity
@dataclass(frozen=True)
class Describe:
    """Everything the graph says about ``iri``; None if it is not in the graph."""

    iri: str
    as_of: dt.date | None = None
    max_facts: int = 2000

    def run(self, store: OxigraphStore) -> dict[str, Any] | None:
        return describe(store.raw, self.iri, self.as_of, self.max_facts)


@dataclass(frozen=True)
class Exists:
    """True if the graph says anything about ``iri``."""

    iri: str

    def run(self, store: OxigraphStore) -> bool:
        return exists(store.raw, ox.NamedNode(self.iri))


def exists(raw: ox.Store, node: ox.NamedNode) -> bool:
    """True if ``node`` is the subject or object of any triple outside the computed graphs."""
    for q in raw.quads_for_pattern(node, None, None, None):
        if q.graph_name not in _COMPUTED:
            return True
    return any(q.graph_name not in _COMPUTED for q in raw.quads_for_pattern(None, None, node, None))


def describe(
    raw: ox.Store, iri: str, as_of: dt.date | None = None, max_facts: int = 2000
) -> dict[str, Any] | None:
    node = ox.NamedNode(iri)
    if not exists(raw, node):
        return None
    labels = _Labels(raw)
    links = _Links(raw)
    every, stated_types = _types(raw, node)
    types = [
        {**labels.term(t), "inferred": t not in stated_types}
        for t in _most_specific_first(raw, every)
    ]
    alt = sorted(
        {
            q.object.value
            for q in raw.quads_for_pattern(node, ALT_LABEL, None, None)
            if isinstance(q.object, ox.Literal)
        }
    )
    description = None
    for prop in DESCRIPTIONS:
        found = [
            q.object
            for q in raw.quads_for_pattern(node, prop, None, None)
            if isinstance(q.object, ox.Literal)
        ]
        if found:
            found.sort(key=lambda lit: ({"en": 0, None: 1}.get(lit.language, 2), lit.value))
            description = found[0].value
            break

    statements: dict[object, dict[str, Any]] = {}
    facts: list[dict[str, Any]] = []
    truncated = False

    def statement(st: object, via: str | None = None) -> dict[str, Any]:
        if st not in statements:
            statements[st] = _statement(raw, labels, st)
        if via is not None:
            statements[st].setdefault("roles_of_subject", [])
            if via not in statements[st]["roles_of_subject"]:
                statements[st]["roles_of_subject"].append(via)
        return statements[st]

    # Outgoing triples, one entry per (predicate, object) with the origins that hold it.
    outgoing: dict[tuple, set[str]] = defaultdict(set)
    for q in raw.quads_for_pattern(node, None, None, None):
        origin = _origin(q.graph_name)
        if origin is None or q.predicate in _APART:
            continue
        outgoing[(q.predicate, q.object)].add(origin)
    incoming: dict[tuple, set[str]] = defaultdict(set)
    for q in raw.quads_for_pattern(None, None, node, None):
        origin = _origin(q.graph_name)
        if origin is None or q.predicate == TYPE:
            continue
        s = q.subject
        if _is_statement(raw, s) and origin != "inferred":
            statement(s, via=q.predicate.value)
            continue
        # A qualifier node (an event's participation, an agreement's provision): its
        # statement is the one that points at it.
        parents = [
            p.subject
            for p in raw.quads_for_pattern(None, None, s, None)
            if _origin(p.graph_name) == "stated" and _is_statement(raw, p.subject)
        ]
        if parents and not _is_statement(raw, s) and isinstance(s, ox.BlankNode | ox.NamedNode):
            for parent in parents:
                statement(parent, via=q.predicate.value)
            if _is_part(s):
                continue
        incoming[(q.subject, q.predicate)].add(origin)

    for (p, o), origins in sorted(outgoing.items(), key=lambda kv: (kv[0][0].value, str(kv[0][1]))):
        if len(facts) >= max_facts:
            truncated = True
            break
        if _is_part(o):
            continue  # qualifier nodes are shown with their statement
        facts.append(_fact(raw, labels, links, "out", node, p, o, origins))
    for (s, p), origins in sorted(incoming.items(), key=lambda kv: (kv[0][1].value, str(kv[0][0]))):
        if len(facts) >= max_facts:
            truncated = True
            break
        facts.append(_fact(raw, labels, links, "in", s, p, node, origins))

    cards = sorted(statements.values(), key=lambda c: (_sort_date(c["dates"]), c["iri"] or ""))
    if len(cards) > max_facts:
        cards, truncated = cards[:max_facts], True
    if as_of is not None:
        for card in cards:
            card["holds"] = holds_on(card["dates"], as_of)
        dropped = {c["iri"] for c in cards if c["holds"] is False}
        cards = [c for c in cards if c["holds"] is not False]
        facts = [
            f
            for f in facts
            if not (
                f["origin"] == ["derived"]
                and f["statements"]
                and all(s in dropped for s in f["statements"])
            )
        ]
    out: dict[str, Any] = {
        **labels.term(node),
        "altLabels": alt,
        "description": description,
        "types": types,
        "facts": facts,
        "statements": cards,
        "sources": _evidence(raw, labels, node),
        "truncated": truncated,
    }
    if as_of is not None:
        out["asOf"] = as_of.isoformat()
    if any(True for _ in raw.quads_for_pattern(node, TYPE, OWL_CLASS, None)):
        members = sorted(
            {q.subject for q in raw.quads_for_pattern(None, TYPE, node, None)},
            key=lambda m: ((labels(m) or "").casefold(), str(m)),
        )
        out["instances"] = [labels.term(m) for m in members[:200]]
        out["instanceCount"] = len(members)
    cited = _cited_by(raw, labels, node, max_facts)
    if cited:
        out["cited"] = cited
    return out


def _fact(
    raw: ox.Store,
    labels: _Labels,
    links: _Links,
    direction: str,
    s: object,
    p: ox.NamedNode,
    o: object,
    origins: set[str],
) -> dict[str, Any]:
    """One direct triple with where it comes from."""
    fact: dict[str, Any] = {
        "direction": direction,
        "predicate": labels.term(p),
        "value": labels.term(o if direction == "out" else s),
        "origin": sorted(origins),
        "statements": [],
        "sources": [],
    }
    statements: list[object] = []
    if "derived" in origins:
        statements = links.statements_of(s, o)
    elif "inferred" in origins and "stated" not in origins:
        # An inference rests on stated triples: its sources are theirs.
        explanation = reasoning.explain(raw, (s, p, o), links.rules)
        if explanation is not None:
            fact["rules"] = sorted(_rules_used(explanation))
            for (ls, _, lo), graphs in explanation.asserted_triples():
                found = links.statements_of(ls, lo) if DERIVED_GRAPH in graphs else []
                found = found or [x for x in (ls, lo) if _is_statement(raw, x)]
                statements += [x for x in found if x not in statements]
    for st in statements:
        fact["sources"].extend(x for x in _evidence(raw, labels, st) if x not in fact["sources"])
    fact["statements"] = [st.value for st in statements if isinstance(st, ox.NamedNode)]
    return fact


def _statements_of(raw: ox.Store, s: object, o: object) -> list[object]:
    """The statement nodes that link ``s`` and ``o`` (every derivation rule reads one)."""
    out: list[object] = []
    if isinstance(s, ox.Literal):
        return out
    for q in raw.quads_for_pattern(None, None, s, None):
        st = q.subject
        if st in out or not _is_statement(raw, st):
            continue
        links = raw.quads_for_pattern(st, None, None, None)
        if any(x.object == o for x in links if x.predicate != TYPE):
            out.append(st)
    return out


class _Links:
    """What the facts of one description share, each read from the store once: the rules,
    and for each subject the statement nodes that link it to each object.

    :func:`_statements_of` for every fact of a subject rescanned all of the subject's
    incoming triples each time, and :func:`reasoning.rules_of` reread the ontology's axioms
    for every inferred fact: Turkey's description took 5 s of a worker's time, well past
    a short time limit, and a few of them at once kept every worker busy.
    """

    def __init__(self, raw: ox.Store) -> None:
        self._raw = raw
        self._rules: reasoning.Rules | None = None
        self._by_subject: dict[object, dict[object, list[object]]] = {}

    @property
    def rules(self) -> reasoning.Rules:
        if self._rules is None:
            self._rules = reasoning.rules_of(self._raw)
        return self._rules

    def statements_of(self, s: object, o: object) -> list[object]:
        """What ``_statements_of(raw, s, o)`` gives, in the same order."""
        if isinstance(s, ox.Literal):
            return []
        index = self._by_subject.get(s)
        if index is None:
            index = self._by_subject[s] = _statement_links(self._raw, s)
        return list(index.get(o, ()))


def _statement_links(raw: ox.Store, s: object) -> dict[object, list[object]]:
    """object -> the statement nodes that point at ``s`` and link it to that object, in the
    order :func:`_statements_of` finds them."""
    index: dict[object, list[object]] = defaultdict(list)
    seen: set[object] = set()
    for q in raw.quads_for_pattern(None, None, s, None):
        st = q.subject
        if st in seen or not _is_statement(raw, st):
            continue
        seen.add(st)
        for x in raw.quads_for_pattern(st, None, None, None):
            if x.predicate != TYPE and st not in index[x.object]:
                index[x.object].append(st)
    return index


def _rules_used(explanation: reasoning.Explanation) -> set[str]:
    found = {explanation.derivation.rule} if explanation.derivation else set()
    for p in explanation.premises:
        found |= _rules_used(p)
    return found


@dataclass(frozen=True)
class Explain:
    """Why a triple holds: stated (in which graphs, from which statements), or derived by
    which OWL 2 RL rule from which axioms and premises, down to stated triples."""

    s: str
    p: str
    o: str
    o_is_iri: bool = True
    datatype: str | None = None
    lang: str | None = None

    def run(self, store: OxigraphStore) -> dict[str, Any] | None:
        raw = store.raw
        if self.o_is_iri:
            obj: object = ox.NamedNode(self.o)
        elif self.lang:
            obj = ox.Literal(self.o, language=self.lang)
        else:
            dtype = ox.NamedNode(self.datatype) if self.datatype else None
            obj = ox.Literal(self.o, datatype=dtype)
        triple = (ox.NamedNode(self.s), ox.NamedNode(self.p), obj)
        explanation = reasoning.explain(raw, triple, reasoning.rules_of(raw))
        if explanation is None:
            return None
        return _tree(raw, _Labels(raw), explanation)


def _tree(raw: ox.Store, labels: _Labels, e: reasoning.Explanation) -> dict[str, Any]:
    s, p, o = e.triple
    node: dict[str, Any] = {"triple": [labels.term(s), labels.term(p), labels.term(o)]}
    if e.asserted:
        node["statedIn"] = list(e.graphs)
        found = _statements_of(raw, s, o) if DERIVED_GRAPH in e.graphs else []
        found = found or [x for x in (s, o) if _is_statement(raw, x)]
        node["statements"] = [x.value for x in found if isinstance(x, ox.NamedNode)]
        node["sources"] = [src for st in found for src in _evidence(raw, labels, st)]
        return node
    assert e.derivation is not None
    node["rule"] = e.derivation.rule
    node["axioms"] = [[labels.term(x) for x in a] for a in e.derivation.axioms]
    node["premises"] = [_tree(raw, labels, x) for x in e.premises]
    return node


def _statement(raw: ox.Store, labels: _Labels, st: object) -> dict[str, Any]:
    every, _ = _types(raw, st)
    types = [labels.term(t) for t in _most_specific_first(raw, every)][:3]
    roles = []
    for q in raw.quads_for_pattern(st, None, None, None):
        if q.predicate in _APART or _origin(q.graph_name) != "stated":
            continue
        if q.predicate in _STATEMENT_DATES:
            continue
        if _is_part(q.object):
            for sub in raw.quads_for_pattern(q.object, None, None, None):
                if sub.predicate == TYPE:
                    continue
                roles.append(
                    {
                        "predicate": labels.term(q.predicate),
                        "qualifier": labels.term(sub.predicate),
                        "value": labels.term(sub.object),
                    }
                )
            continue
        roles.append({"predicate": labels.term(q.predicate), "value": labels.term(q.object)})
    roles.sort(key=lambda r: (r["predicate"]["iri"], str(r.get("qualifier", "")), str(r["value"])))
    card = labels.term(st)
    return {
        "iri": card.get("iri"),
        "id": card.get("id"),
        "label": card.get("label"),
        "types": types,
        "dates": _date_of(raw, st),
        "roles": roles,
        "sources": _evidence(raw, labels, st),
    }


def _cited_by(
    raw: ox.Store, labels: _Labels, article: ox.NamedNode, limit: int
) -> list[dict[str, Any]]:
    """For a source article: the statements and entities whose evidence cites it."""
    out = []
    for q in raw.quads_for_pattern(None, HAS_SOURCE, article, None):
        for holder in raw.quads_for_pattern(None, DERIVED_FROM, q.subject, None):
            quote = next(
                (
                    x.object.value
                    for sel in raw.quads_for_pattern(q.subject, HAS_SELECTOR, None, None)
                    for x in raw.quads_for_pattern(sel.object, EXACT, None, None)
                ),
                None,
            )
            out.append({"about": labels.term(holder.subject), "quote": quote})
            if len(out) >= limit:
                return out
    out.sort(key=lambda c: (c["about"].get("label") or "", c["quote"] or ""))
    return out


# ---------------------------------------------------------------- lists
@dataclass(frozen=True)
class Filter:
    """A list filter: a SPARQL group that reads ``?item`` and the pre-bound ``?value``."""

    pattern: str
    value: str = "iri"  # "iri" or "date"
    doc: str = ""


@dataclass(frozen=True)
class Kind:
    """A kind of thing the REST API lists: its class, filters and summary fields."""

    name: str
    cls: str
    title: str
    filters: dict[str, Filter] = field(default_factory=dict)
    fields: tuple[str, ...] = ()  # gp: properties summarised on each item
    dated: bool = False  # ordered by date, then label
    time_bounded: bool = False  # as_of applies


def _gp(local: str) -> str:
    return f"<{GP[local]}>"


_PARTICIPANT = Filter(
    f"{{ ?item {_gp('participant')} ?value }} UNION "
    f"{{ ?item {_gp('hasParticipation')}/{_gp('participantAgent')} ?value }}",
    doc="an agent taking part (IRI or id)",
)
_PLACE = Filter(
    f"{{ ?item {_gp('place')} ?value }} UNION "
    f"{{ ?item {_gp('place')} ?p . ?p {_gp('locatedIn')} ?value }}",
    doc="a place, or a place it lies in",
)
_FROM = Filter(
    f"?item {_gp('latestDate')}|{_gp('date')}|{_gp('startDate')} ?d FILTER(?d >= ?value)",
    value="date",
    doc="on or after this date (YYYY-MM-DD)",
)
_TO = Filter(
    f"?item {_gp('earliestDate')}|{_gp('date')}|{_gp('startDate')} ?d2 FILTER(?d2 <= ?value)",
    value="date",
    doc="on or before this date (YYYY-MM-DD)",
)

KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("states", str(GP.State), "States"),
        Kind(
            "persons",
            str(GP.Person),
            "Persons",
            {"office": Filter(f"?item {_gp('holdsOffice')} ?value", doc="an office held")},
            ("nationality",),
        ),
        Kind(
            "offices",
            str(GP.Office),
            "Offices",
            {
                "state": Filter(f"?item {_gp('officeOf')} ?value", doc="the state"),
                "holder": Filter(f"?value {_gp('holdsOffice')} ?item", doc="a holder"),
            },
            ("officeOf",),
        ),
        Kind(
            "organisations",
            str(GP.Organisation),
            "Organisations",
            {"member": Filter(f"?value {_gp('memberOf')} ?item", doc="a member")},
        ),
        Kind(
            "weapon-systems",
            str(GP.WeaponSystemModel),
            "Weapon systems",
            {
                "type": Filter("?item a ?value", doc="a class of weapon system"),
                "manufacturer": Filter(f"?item {_gp('manufacturer')} ?value"),
                "origin": Filter(f"?item {_gp('countryOfOrigin')} ?value", doc="country"),
                "operator": Filter(f"?value {_gp('operates')} ?item"),
            },
            ("manufacturer", "countryOfOrigin"),
        ),
        Kind(
            "acquisitions",
            str(GP.Acquisition),
            "Acquisitions",
            {
                "buyer": Filter(f"?item {_gp('buyer')} ?value"),
                "seller": Filter(f"?item {_gp('seller')} ?value"),
                "system": Filter(f"?item {_gp('system')} ?value"),
                "status": Filter(f"?item {_gp('acquisitionStatus')} ?value"),
            },
            ("buyer", "seller", "system", "acquisitionStatus", "date"),
            dated=True,
        ),
        Kind(
            "agreements",
            str(GP.Agreement),
            "Agreements",
            {
                "party": Filter(f"?item {_gp('party')}|{_gp('signatory')} ?value"),
                "from": _FROM,
                "to": _TO,
            },
            ("party", "date"),
            dated=True,
        ),
        Kind(
            "conflicts",
            str(GP.Conflict),
            "Conflicts",
            {
                "party": Filter(
                    f"?st {_gp('conflict')} ?item . "
                    f"{{ ?st {_gp('opposingParty')} ?value }} UNION "
                    f"{{ ?st {_gp('participant')} ?value }}",
                    doc="a party (opposing or participating)",
                ),
                "area": Filter(
                    f"{{ ?item {_gp('conflictArea')} ?value }} UNION "
                    f"{{ ?item {_gp('conflictArea')} ?a . ?a {_gp('locatedIn')} ?value }}",
                    doc="a place fought over, or a place it lies in",
                ),
            },
            ("conflictArea", "partOfConflict"),
        ),
        Kind(
            "zones",
            str(GP.ConflictZone),
            "Conflict zones",
            {"located_in": Filter(f"?item {_gp('locatedIn')} ?value", doc="a place")},
            ("locatedIn",),
        ),
        Kind(
            "events",
            str(GP.Event),
            "Events",
            {
                "participant": _PARTICIPANT,
                "type": Filter(f"?item {_gp('eventType')} ?value", doc="an event type concept"),
                "place": _PLACE,
                "from": _FROM,
                "to": _TO,
            },
            ("date", "eventType", "eventPlace"),
            dated=True,
        ),
        Kind(
            "claims",
            str(GP.Claim),
            "Claims",
            {
                "claimant": Filter(f"?item {_gp('claimant')} ?value"),
                "subject": Filter(f"?item {_gp('claimSubject')} ?value"),
            },
            ("claimant", "claimText", "date"),
            dated=True,
        ),
        Kind(
            "office-holdings",
            str(GP.OfficeHolding),
            "Office holdings",
            {
                "holder": Filter(f"?item {_gp('holder')} ?value"),
                "office": Filter(f"?item {_gp('office')} ?value"),
            },
            ("holder", "office", "startDate", "endDate", "attestedDate", "endedBefore"),
            dated=True,
            time_bounded=True,
        ),
        Kind(
            "memberships",
            str(GP.Membership),
            "Memberships",
            {
                "member": Filter(f"?item {_gp('member')} ?value"),
                "organisation": Filter(f"?item {_gp('organisation')} ?value"),
            },
            ("member", "organisation", "startDate", "endDate", "attestedDate"),
            dated=True,
            time_bounded=True,
        ),
        Kind("articles", str(GP.NewsArticle), "Source articles", {}, ("sourceCode",)),
    )
}


@dataclass(frozen=True)
class ListKind:
    """One page of the things of a kind that pass the filters, with the total."""

    kind: str
    filters: tuple[tuple[str, str], ...] = ()  # (filter name, IRI or ISO date)
    q: str | None = None  # label contains (case and accents ignored)
    as_of: dt.date | None = None
    limit: int = 50
    offset: int = 0

    def run(self, store: OxigraphStore) -> dict[str, Any]:
        return list_kind(store.raw, self)


def list_kind(raw: ox.Store, req: ListKind) -> dict[str, Any]:
    kind = KINDS[req.kind]
    groups = []
    subs: dict[ox.Variable, Any] = {ox.Variable("cls"): ox.NamedNode(kind.cls)}
    for i, (name, value) in enumerate(req.filters):
        flt = kind.filters[name]
        var = f"v{i}"
        pattern = re.sub(r"\?value\b", f"?{var}", flt.pattern)
        pattern = re.sub(r"\?(st|p|a|d|d2)\b", rf"?\1_{i}", pattern)
        groups.append(f"{{ {pattern} }}")
        if flt.value == "date":
            subs[ox.Variable(var)] = ox.Literal(
                value, datatype=ox.NamedNode(PREFIXES["xsd"] + "date")
            )
        else:
            subs[ox.Variable(var)] = ox.NamedNode(value)
    where = "?item a ?cls .\n" + "\n".join(groups)
    candidates = [
        row[0]
        for row in raw.query(
            f"SELECT DISTINCT ?item {' '.join(str(v) for v in subs)} WHERE {{ {where} }}",
            substitutions=subs,
            use_default_graph_as_union=True,
        )
    ]
    labels = _Labels(raw)
    needle = normalise(req.q) if req.q else None
    items = []
    for item in candidates:
        label = labels(item) or (item.value if isinstance(item, ox.NamedNode) else "")
        if needle and not any(needle in normalise(x) for x in _all_labels(raw, item, label)):
            continue
        dates = _date_of(raw, item)
        if req.as_of is not None and kind.time_bounded and holds_on(dates, req.as_of) is False:
            continue
        items.append((item, label, dates))
    if kind.dated:
        items.sort(key=lambda x: (_sort_date(x[2]), x[1].casefold(), str(x[0])))
    else:
        items.sort(key=lambda x: (x[1].casefold(), str(x[0])))
    total = len(items)
    page = items[req.offset : req.offset + req.limit]
    return {
        "kind": kind.name,
        "total": total,
        "limit": req.limit,
        "offset": req.offset,
        "items": [_summary(raw, labels, kind, item, dates) for item, _, dates in page],
    }


def _all_labels(raw: ox.Store, node: object, label: str) -> Iterator[str]:
    yield label
    for prop in (LABEL, PREF_LABEL, ALT_LABEL):
        for q in raw.quads_for_pattern(node, prop, None, None):
            if isinstance(q.object, ox.Literal):
                yield q.object.value


def _summary(
    raw: ox.Store, labels: _Labels, kind: Kind, item: object, dates: dict[str, str]
) -> dict[str, Any]:
    out = labels.term(item)
    every, _ = _types(raw, item)
    specific = _most_specific_first(raw, every)
    out["types"] = [labels.term(t) for t in specific[:3]]
    for prop in DESCRIPTIONS[:1]:
        q = next(raw.quads_for_pattern(item, prop, None, None), None)
        if q is not None:
            out["description"] = q.object.value
    for name in kind.fields:
        values = [
            labels.term(q.object)
            for q in raw.quads_for_pattern(item, ox.NamedNode(str(GP[name])), None, None)
            if _origin(q.graph_name) is not None
        ]
        unique = list({repr(v): v for v in values}.values())
        if unique:
            out[name] = unique  # always a list: a field may hold several values
    if dates:
        out["dates"] = dates
    return out


# ---------------------------------------------------------------- search
_FOLD = str.maketrans({"\u0131": "i", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "æ": "ae"})


def normalise(text: str) -> str:
    """Text as search compares it: no case, no accents, letters and digits only."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_FOLD))
    return "".join(c for c in decomposed if c.isalnum() and not unicodedata.combining(c))


@dataclass
class _Index:
    entries: list[tuple[str, str, ox.NamedNode, str]]  # normalised, label, node, label kind


_INDEXES: weakref.WeakKeyDictionary[OxigraphStore, _Index] = weakref.WeakKeyDictionary()


def _index(store: OxigraphStore) -> _Index:
    """The label index of ``store`` (a snapshot): built on its first search, then kept."""
    found = _INDEXES.get(store)
    if found is None:
        entries = []
        for prop, how in ((LABEL, "label"), (PREF_LABEL, "label"), (ALT_LABEL, "altLabel")):
            for q in store.raw.quads_for_pattern(None, prop, None, None):
                if (
                    isinstance(q.subject, ox.NamedNode)
                    and isinstance(q.object, ox.Literal)
                    and q.graph_name not in _COMPUTED
                ):
                    key = normalise(q.object.value)
                    if key:
                        entries.append((key, q.object.value, q.subject, how))
        found = _INDEXES[store] = _Index(entries)
    return found


@dataclass(frozen=True)
class Search:
    """Entities whose label or alternative label matches ``q``, best first.

    Case, accents and punctuation are ignored ("erdogan" finds "Erdoğan", "S400" finds
    "S-400"). An exact match ranks first, then a label that starts with the text, then
    one with a word that does, then any other containing it.
    """

    q: str
    kind: str | None = None
    limit: int = 20
    offset: int = 0

    def run(self, store: OxigraphStore) -> dict[str, Any]:
        needle = normalise(self.q)
        if not needle:
            raise QueryError("the search text has no letters or digits")
        raw = store.raw
        words = [normalise(w) for w in re.split(r"\W+", self.q) if normalise(w)]
        best: dict[ox.NamedNode, tuple[int, int, str, str, str]] = {}
        for key, label, node, how in _index(store).entries:
            if needle not in key and not (len(words) > 1 and all(w in key for w in words)):
                continue
            if key == needle:
                rank = 0
            elif key.startswith(needle):
                rank = 1
            elif any(normalise(w).startswith(needle) for w in re.split(r"\W+", label)):
                rank = 2
            else:
                rank = 3
            score = (rank, len(key), label.casefold(), how, label)
            if node not in best or score < best[node]:
                best[node] = score
        cls = ox.NamedNode(KINDS[self.kind].cls) if self.kind else None
        ranked = sorted(best.items(), key=lambda kv: (kv[1][:3], kv[0].value))
        if cls is not None:
            ranked = [kv for kv in ranked if _has_type(raw, kv[0], cls)]
        labels = _Labels(raw)
        items = []
        for node, (rank, _, _, how, matched) in ranked[self.offset : self.offset + self.limit]:
            out = labels.term(node)
            every, _ = _types(raw, node)
            out["types"] = [labels.term(t) for t in _most_specific_first(raw, every)[:3]]
            out["matched"] = {"text": matched, "field": how, "exact": rank == 0}
            items.append(out)
        return {
            "q": self.q,
            "total": len(ranked),
            "limit": self.limit,
            "offset": self.offset,
            "items": items,
        }


def _has_type(raw: ox.Store, node: object, cls: ox.NamedNode) -> bool:
    return any(True for _ in raw.quads_for_pattern(node, TYPE, cls, None))


# ---------------------------------------------------------------- RDF documents
@dataclass(frozen=True)
class Document:
    """The RDF document of ``iri``: its triples in both directions, with the statement
    nodes about it and their evidence (blank nodes followed), serialised in ``fmt``."""

    iri: str
    fmt: str  # a pyoxigraph RdfFormat name: TURTLE, N_TRIPLES, RDF_XML, JSON_LD...
    max_triples: int = 20_000

    def run(self, store: OxigraphStore) -> bytes | None:
        raw = store.raw
        node = ox.NamedNode(self.iri)
        if not exists(raw, node):
            return None
        triples = list(_document_triples(raw, node, self.max_triples))
        fmt = getattr(ox.RdfFormat, self.fmt)
        prefixes = {p: iri for p, iri in PREFIXES.items() if p != "sh"}
        return ox.serialize(triples, format=fmt, prefixes=prefixes)


def _document_triples(raw: ox.Store, node: ox.NamedNode, limit: int) -> Iterator[ox.Triple]:
    seen: set[ox.Triple] = set()
    todo: list[object] = [node]
    done: set[object] = set()

    def emit(t: ox.Triple) -> Iterable[ox.Triple]:
        if t not in seen and len(seen) < limit:
            seen.add(t)
            yield t

    while todo:
        current = todo.pop()
        if current in done:
            continue
        done.add(current)
        for q in raw.quads_for_pattern(current, None, None, None):
            if _origin(q.graph_name) is None:
                continue
            yield from emit(q.triple)
            if _is_part(q.object):
                todo.append(q.object)  # evidence, selectors, participations
            elif q.predicate == DERIVED_FROM:
                todo.append(q.object)
        if current == node:
            for q in raw.quads_for_pattern(None, None, node, None):
                if _origin(q.graph_name) is None:
                    continue
                yield from emit(q.triple)
                if _is_part(q.subject):
                    # a qualifier: its statement, then the statement's own description
                    for p in raw.quads_for_pattern(None, None, q.subject, None):
                        yield from emit(p.triple)
                        todo.append(p.subject)
                elif _is_statement(raw, q.subject):
                    todo.append(q.subject)
