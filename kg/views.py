"""What the browser UI draws: timelines, an entity's neighbourhood graph, dataset overview.

Like :mod:`kg.resources`, each public class is a read job run in a worker over the
current snapshot (``Endpoint.read(job, timeout)``); each returns plain JSON-ready data.

- :class:`Timeline`: dated things (events, statements with a date, agreements), each
  as a point or a range, filtered by what they involve, their class, their event type
  and a date window. The entity pages draw it for one entity; the timeline page for all.
- :class:`Neighbourhood`: nodes and labelled edges around one entity: the statements
  it takes part in (with their other parties) and its direct facts.
- :class:`Overview`: counts per kind and the facets the timeline filters offer.

User values are bound through pyoxigraph ``substitutions`` (never spliced into query
text), as in :mod:`kg.resources`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import pyoxigraph as ox

from kg._oxigraph import OxigraphStore
from kg.namespaces import GP, GPD, PREFIXES, SKOLEM
from kg.resources import (
    _APART,
    KINDS,
    TYPE,
    _date_of,
    _is_part,
    _is_statement,
    _Labels,
    _most_specific_first,
    _origin,
    _sort_date,
    _types,
    local_id,
)

__all__ = ["Neighbourhood", "Overview", "Timeline"]

_XSD_DATE = ox.NamedNode(PREFIXES["xsd"] + "date")
_EVENT_TYPE = ox.NamedNode(str(GP.eventType))
_ALL_DATE_PROPS = {
    ox.NamedNode(str(GP[n]))
    for n in ("date", "startDate", "attestedDate", "endDate", "endedBefore", "earliestDate")
}
_GP = str(GP)

# A dated thing: anything with a date, a start or an attestation.
_DATED = f"?item <{_GP}date>|<{_GP}startDate>|<{_GP}attestedDate> ?first ."
# What it involves: a role value, or a value on one of its qualifier nodes.
# (Not through its evidence: who reported a statement is not a party to it.)
_INVOLVING = (
    "{ ?item ?role ?who } UNION { ?item ?role ?part . ?part ?qual ?who . "
    "FILTER(isBlank(?part) || STRSTARTS(STR(?part), ?skolem)) } "
    f"FILTER(?role != <{PREFIXES['prov']}wasDerivedFrom>)"
)
_KIND = "?item a ?kind ."
_TYPE = f"?item <{_GP}eventType> ?etype ."
# In the window: some date on or after its start (or open-ended), some on or before its end.
_ANY_DATE = f"<{_GP}date>|<{_GP}startDate>|<{_GP}attestedDate>|<{_GP}endDate>|<{_GP}endedBefore>"
_AFTER = (
    f"{{ ?item {_ANY_DATE} ?late FILTER(?late >= ?from) }} UNION "
    f"{{ ?item <{_GP}startDate> ?open "
    f"FILTER NOT EXISTS {{ ?item <{_GP}endDate>|<{_GP}endedBefore> ?e }} }}"
)
_BEFORE = f"?item <{_GP}date>|<{_GP}startDate>|<{_GP}attestedDate> ?early FILTER(?early <= ?to)"


_PRECISION = {
    "date": ox.NamedNode(str(GP.datePrecision)),
    "startDate": ox.NamedNode(str(GP.startDatePrecision)),
    "attestedDate": ox.NamedNode(str(GP.datePrecision)),
}
_ATTESTED = ox.NamedNode(str(GP.attestedDate))
_PRECISIONS = {str(GP.YearPrecision): "year", str(GP.MonthPrecision): "month"}


def _entity(term: object) -> bool:
    """An IRI of the data (an entity or statement), not a part node or an ontology term."""
    return (
        isinstance(term, ox.NamedNode) and not _is_part(term) and local_id(term.value) is not None
    )


def _start(dates: dict[str, str]) -> tuple[str | None, str | None]:
    """Where a dated thing sits on a timeline: its date, else its start, else when attested."""
    for prop in ("date", "startDate", "attestedDate"):
        if prop in dates:
            return prop, dates[prop]
    return None, None


def _item(raw: ox.Store, labels: _Labels, node: ox.NamedNode) -> dict[str, Any]:
    """One dated thing as the timeline draws it: a point, or a range from start to end."""
    dates = _date_of(raw, node)
    every, _ = _types(raw, node)
    specific = _most_specific_first(raw, every)
    out = labels.term(node)
    out["class"] = labels.term(specific[0]) if specific else None
    out["dates"] = dates
    start_prop, start = _start(dates)
    end = dates.get("endDate") or dates.get("endedBefore")
    out["start"] = start
    # A statement can be attested on several days (one per article); `dates` keeps one.
    attested = sorted({q.object.value for q in raw.quads_for_pattern(node, _ATTESTED, None, None)})
    if len(attested) > 1:
        out["attested"] = attested
    precision = (
        next(raw.quads_for_pattern(node, _PRECISION[start_prop], None, None), None)
        if start_prop
        else None
    )
    if precision is not None:
        out["precision"] = _PRECISIONS.get(precision.object.value, "day")
    if "date" not in dates and start and end and end > start:
        out["end"] = end
    out["eventTypes"] = [
        labels.term(q.object) for q in raw.quads_for_pattern(node, _EVENT_TYPE, None, None)
    ]
    involves: dict[str, dict[str, Any]] = {}
    for q in raw.quads_for_pattern(node, None, None, None):
        if q.predicate in _APART or q.predicate == _EVENT_TYPE or _origin(q.graph_name) != "stated":
            continue
        values = [q.object]
        if _is_part(q.object):
            values = [
                sub.object
                for sub in raw.quads_for_pattern(q.object, None, None, None)
                if sub.predicate != TYPE
            ]
        for value in values:
            # Entities only: not the ontology's own individuals (roles, precisions, statuses).
            if _entity(value) and value.value not in involves:
                term = labels.term(value)
                term["role"] = labels(q.predicate) or q.predicate.value
                involves[value.value] = term
    out["involves"] = list(involves.values())
    return out


@dataclass(frozen=True)
class Timeline:
    """Dated things in date order, with the total that pass the filters.

    ``involving``: an IRI the thing names in one of its roles (directly or through a
    qualifier node such as an event's participation). ``kinds``: class IRIs (inferred
    types count). ``event_types``: event type concepts. ``start``/``end``: a window that
    a thing's dates must overlap.
    """

    involving: str | None = None
    kinds: tuple[str, ...] = ()
    event_types: tuple[str, ...] = ()
    start: dt.date | None = None
    end: dt.date | None = None
    limit: int = 500
    offset: int = 0

    def run(self, store: OxigraphStore) -> dict[str, Any]:
        raw = store.raw
        groups = [_DATED]
        subs: dict[ox.Variable, Any] = {}
        if self.involving is not None:
            groups.append(_INVOLVING)
            subs[ox.Variable("who")] = ox.NamedNode(self.involving)
            subs[ox.Variable("skolem")] = ox.Literal(SKOLEM)
        if self.start is not None:
            groups.append(_AFTER)
            subs[ox.Variable("from")] = ox.Literal(self.start.isoformat(), datatype=_XSD_DATE)
        if self.end is not None:
            groups.append(_BEFORE)
            subs[ox.Variable("to")] = ox.Literal(self.end.isoformat(), datatype=_XSD_DATE)
        # Several kinds (or types) mean any of them; kinds and types together mean both.
        found = self._filter(raw, groups, subs, _KIND, ox.Variable("kind"), self.kinds)
        if self.event_types:
            typed = self._filter(raw, groups, subs, _TYPE, ox.Variable("etype"), self.event_types)
            found = {k: v for k, v in typed.items() if not self.kinds or k in found}
        labels = _Labels(raw)
        starts = {n: _start(_date_of(raw, n))[1] or found[n] for n in found}
        order = sorted(found, key=lambda n: (starts[n], (labels(n) or "").casefold(), n.value))
        page = order[self.offset : self.offset + self.limit]
        items = [_item(raw, labels, node) for node in page]
        return {
            "total": len(order),
            "limit": self.limit,
            "offset": self.offset,
            "items": items,
        }

    @staticmethod
    def _filter(
        raw: ox.Store,
        groups: list[str],
        subs: dict[ox.Variable, Any],
        pattern: str,
        var: ox.Variable,
        values: tuple[str, ...],
    ) -> dict[ox.NamedNode, str]:
        """Things passing ``groups`` and, for each of ``values``, ``pattern``: earliest date."""
        out: dict[ox.NamedNode, str] = {}
        runs = [([*groups, pattern], {**subs, var: ox.NamedNode(v)}) for v in values] or [
            (groups, subs)
        ]
        for where, bound in runs:
            projected = " ".join(str(v) for v in bound)
            query = (
                f"SELECT ?item (MIN(STR(?first)) AS ?when) {projected} "
                f"WHERE {{ {' '.join(f'{{ {g} }}' for g in where)} }} GROUP BY ?item {projected}"
            )
            for row in raw.query(query, substitutions=bound, use_default_graph_as_union=True):
                item, when = row[0], row[1]
                if isinstance(item, ox.NamedNode) and not _is_part(item):
                    prev = out.get(item)
                    out[item] = min(prev, when.value) if prev else when.value
        return out


@dataclass(frozen=True)
class Neighbourhood:
    """Nodes and labelled edges around an entity, for a graph view (None if unknown).

    The statements the entity takes part in are nodes of their own, joined to it and to
    their other parties by their role properties; the entity's direct facts join it to
    other entities, each edge saying whether it is stated, derived or inferred. At most
    ``max_nodes`` nodes: direct neighbours first, then statements, latest first.
    """

    iri: str
    max_nodes: int = 60

    def run(self, store: OxigraphStore) -> dict[str, Any] | None:
        raw = store.raw
        focus = ox.NamedNode(self.iri)
        if not any(True for _ in raw.quads_for_pattern(focus, None, None, None)) and not any(
            True for _ in raw.quads_for_pattern(None, None, focus, None)
        ):
            return None
        labels = _Labels(raw)
        nodes: dict[str, dict[str, Any]] = {}
        edges: dict[tuple[str, str, str], dict[str, Any]] = {}
        truncated = False

        def node(term: ox.NamedNode, kind: str) -> bool:
            nonlocal truncated
            if term.value in nodes:
                return True
            if len(nodes) >= self.max_nodes:
                truncated = True
                return False
            every, _ = _types(raw, term)
            specific = _most_specific_first(raw, every)
            out = labels.term(term)
            if kind == "entity" and _is_statement(raw, term):
                kind = "statement"  # a statement that is another statement's party
            out["kind"] = kind
            out["class"] = (labels(specific[0]) or specific[0].value) if specific else None
            if kind == "statement":
                dates = _date_of(raw, term)
                if dates:
                    out["date"] = _sort_date(dates)
            nodes[term.value] = out
            return True

        def edge(s: ox.NamedNode, p: ox.NamedNode, o: ox.NamedNode, origin: str) -> None:
            key = (s.value, p.value, o.value)
            if key in edges:
                if origin not in edges[key]["origin"]:
                    edges[key]["origin"].append(origin)
                return
            edges[key] = {
                "from": s.value,
                "to": o.value,
                "iri": p.value,
                "label": labels(p) or p.value.rsplit("#", 1)[-1].rsplit("/", 1)[-1],
                "origin": [origin],
            }

        linkable = _entity

        node(focus, "focus")
        # Direct facts between the focus and other entities (not statements).
        direct: list[tuple[ox.NamedNode, ox.NamedNode, ox.NamedNode, str]] = []
        statements: set[ox.NamedNode] = set()
        for q in raw.quads_for_pattern(focus, None, None, None):
            origin = _origin(q.graph_name)
            if origin is None or q.predicate in _APART or not linkable(q.object):
                continue
            if _is_statement(raw, q.object):
                statements.add(q.object)
            else:
                direct.append((focus, q.predicate, q.object, origin))
        for q in raw.quads_for_pattern(None, None, focus, None):
            origin = _origin(q.graph_name)
            if origin is None or q.predicate in _APART:
                continue
            s = q.subject
            if _is_part(s):
                # A qualifier node: the statement pointing at it is the neighbour.
                for parent in raw.quads_for_pattern(None, None, s, None):
                    if linkable(parent.subject) and _is_statement(raw, parent.subject):
                        statements.add(parent.subject)
                continue
            if not linkable(s):
                continue
            if _is_statement(raw, s):
                statements.add(s)
            else:
                direct.append((s, q.predicate, focus, origin))
        direct.sort(key=lambda t: ({"stated": 0, "derived": 1}.get(t[3], 2), t[1].value, str(t)))
        for s, p, o, origin in direct:
            other = o if s == focus else s
            if node(other, "entity"):
                edge(s, p, o, origin)
        dated = sorted(
            statements, key=lambda st: (_sort_date(_date_of(raw, st)), st.value), reverse=True
        )
        for st in dated:
            if not node(st, "statement"):
                break
            for q in raw.quads_for_pattern(st, None, None, None):
                if q.predicate in _APART or q.predicate in _ALL_DATE_PROPS:
                    continue
                if _origin(q.graph_name) != "stated":
                    continue
                targets = [(q.predicate, q.object)]
                if _is_part(q.object):
                    targets = [
                        (sub.predicate, sub.object)
                        for sub in raw.quads_for_pattern(q.object, None, None, None)
                        if sub.predicate != TYPE
                    ]
                for p, o in targets:
                    if not linkable(o) or o == st:
                        continue
                    if o == focus or node(o, "entity"):
                        edge(st, p, o, "stated")
        return {
            "focus": self.iri,
            "nodes": list(nodes.values()),
            "edges": list(edges.values()),
            "truncated": truncated,
        }


@dataclass(frozen=True)
class Overview:
    """How many things of each kind there are, the date span, and the timeline facets."""

    def run(self, store: OxigraphStore) -> dict[str, Any]:
        raw = store.raw
        labels = _Labels(raw)
        counts = {}
        for name, kind in KINDS.items():
            rows = list(
                raw.query(
                    "SELECT (COUNT(DISTINCT ?item) AS ?n) ?cls "
                    "WHERE { ?item a ?cls } GROUP BY ?cls",
                    substitutions={ox.Variable("cls"): ox.NamedNode(kind.cls)},
                    use_default_graph_as_union=True,
                )
            )
            counts[name] = int(rows[0][0].value) if rows else 0
        span = next(
            iter(
                raw.query(
                    f"SELECT (MIN(STR(?d)) AS ?lo) (MAX(STR(?d)) AS ?hi) WHERE {{ "
                    f"?item <{_GP}date>|<{_GP}startDate>|<{_GP}attestedDate>|<{_GP}endDate> ?d }}",
                    use_default_graph_as_union=True,
                )
            )
        )
        # The timeline's groups: each dated thing's most specific class, counted.
        classes: dict[ox.NamedNode, int] = defaultdict(int)
        for row in raw.query(
            f"SELECT DISTINCT ?item WHERE {{ {_DATED} }}", use_default_graph_as_union=True
        ):
            if _entity(row[0]):
                every, _ = _types(raw, row[0])
                specific = _most_specific_first(raw, every)
                if specific:
                    classes[specific[0]] += 1
        dated_kinds = sorted(
            ({**labels.term(cls), "count": n} for cls, n in classes.items()),
            key=lambda t: t["label"].casefold(),
        )
        event_types = sorted(
            (
                {**labels.term(row[0]), "count": int(row[1].value)}
                for row in raw.query(
                    "SELECT ?t (COUNT(DISTINCT ?item) AS ?n) "
                    f"WHERE {{ ?item <{_GP}eventType> ?t }} GROUP BY ?t",
                    use_default_graph_as_union=True,
                )
                if isinstance(row[0], ox.NamedNode)
            ),
            key=lambda t: t["label"].casefold(),
        )
        # The timeline's participant filter: who takes part in the most dated things.
        participants = []
        who_query = (
            f"SELECT ?who (COUNT(DISTINCT ?item) AS ?n) WHERE {{ {{ {_DATED} }} "
            + _INVOLVING.replace("?skolem", f'"{SKOLEM}"')
            + f' FILTER(isIRI(?who) && STRSTARTS(STR(?who), "{GPD}") '
            + f'&& !STRSTARTS(STR(?who), "{SKOLEM}")) '
            + f"FILTER NOT EXISTS {{ ?who a <{_GP}Statement> }} "
            + f"FILTER NOT EXISTS {{ ?who a <{_GP}NewsArticle> }} "
            + f"FILTER NOT EXISTS {{ ?who {_ANY_DATE} ?d }} }} "
            + "GROUP BY ?who ORDER BY DESC(?n) LIMIT 300"
        )
        for row in raw.query(
            who_query,
            use_default_graph_as_union=True,
        ):
            every, _ = _types(raw, row[0])
            specific = _most_specific_first(raw, every)
            term = labels.term(row[0])
            term["count"] = int(row[1].value)
            term["class"] = (labels(specific[0]) or "") if specific else ""
            participants.append(term)
        participants.sort(key=lambda t: (t["class"], t["label"].casefold()))
        return {
            "counts": counts,
            "participants": participants,
            "span": [span[0].value if span[0] else None, span[1].value if span[1] else None],
            "kinds": dated_kinds,
            "eventTypes": event_types,
        }
