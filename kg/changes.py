"""The change log: who changed what, and when, as PROV records in the changes graph.

Every write a user makes through the server (SPARQL Update, Graph Store PUT, POST and
DELETE, the REST fact writes) is recorded in the named graph :data:`CHANGES_GRAPH`, by
the same SPARQL Update request, hence in the same transaction, as the write itself: a
write is never committed without its record, nor a record without its write (see
:func:`kg.writes.apply_change`). Writes the server makes itself (``kg load``, the
reasoner) are not recorded. The changes graph is one of the computed graphs: users
cannot write it, the shapes do not validate it and the reasoner does not read it.

One record, with the terms used for each field, all from existing vocabularies (PROV-O
``prov:``, DCMI terms ``dcterms:``, VoID ``void:`` = ``http://rdfs.org/ns/void#``, RDF
and RDFS), none of our own ontology; ``void:triples`` counts the quads of a patch::

    <https://w3id.org/geokg/id/change/{uuid}> a prov:Activity ;
        dcterms:type "sparql-update" ;            # the kind of write (see KINDS)
        prov:wasAssociatedWith <https://w3id.org/geokg/id/agent/{name}> ;
        prov:startedAtTime "…Z"^^xsd:dateTime ;   # the write was taken up (UTC)
        prov:endedAtTime "…Z"^^xsd:dateTime ;     # it passed the gate and was committed
        prov:used <graph> , … ;                   # every named graph the write changed
        prov:generated <…/change/{uuid}/added> ;  # the quads it added (the patch, +)
        prov:invalidated <…/change/{uuid}/removed> ;  # the quads it removed (the patch, -)
        prov:generated <statement> ;              # REST: the statement node it created
        prov:invalidated <statement> .            # REST: the statement node it retracted

    <https://w3id.org/geokg/id/agent/{name}> a prov:Agent ; rdfs:label "{name}" .

    <…/change/{uuid}/added> a prov:Entity ;       # and the same for …/removed
        void:triples 3 ;                          # how many quads (possibly 0)
        dcterms:format "application/n-quads" ;
        rdf:value "<s> <p> <o> <g> .\\n…" .       # the quads, one N-Quads line each

The patch (``rdf:value``) is kept only when the write changed at most
:data:`PATCH_LIMIT` quads in all, of at most :data:`PATCH_CHARS` characters; for a
larger write both halves carry only their count and an ``rdfs:comment`` saying that the
patch was omitted, which keeps the changes graph small. An agent is a writer named in
the server's settings (one token each).

The record is built from pyoxigraph terms, whose N-Triples forms escape every string,
never by pasting user text into SPARQL; the reads (:class:`ChangeListJob`,
:class:`ChangeJob`) take user values as terms or query substitutions.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyoxigraph as ox

from kg._oxigraph import OxigraphStore, _to_ox
from kg.errors import StoreError
from kg.namespaces import CHANGES_GRAPH, GPD
from kg.validation import Change

__all__ = [
    "AGENT_NAME",
    "CHANGE_BASE",
    "KINDS",
    "PATCH_CHARS",
    "PATCH_LIMIT",
    "ChangeJob",
    "ChangeListJob",
    "ChangeRecord",
    "agent_iri",
    "change_iri",
]

#: A writer's name: it becomes the last segment of the agent IRI.
AGENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
#: The kinds of write (``dcterms:type`` of a record).
KINDS = frozenset(
    {
        "sparql-update",
        "graph-store-put",
        "graph-store-post",
        "graph-store-delete",
        "rest-add-fact",
        "rest-retract-fact",
    }
)
#: The most quads (added and removed together) whose patch a record keeps.
PATCH_LIMIT = 1000
#: The longest patch (N-Quads characters, added and removed together) a record keeps.
PATCH_CHARS = 1_000_000

CHANGE_BASE = str(GPD["change/"])
AGENT_BASE = str(GPD["agent/"])
NQUADS = "application/n-quads"

_PROV = "http://www.w3.org/ns/prov#"
_DCT = "http://purl.org/dc/terms/"
_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_RDFS = "http://www.w3.org/2000/01/rdf-schema#"
_XSD = "http://www.w3.org/2001/XMLSchema#"
_VOID = "http://rdfs.org/ns/void#"

TYPE = ox.NamedNode(_RDF + "type")
VALUE = ox.NamedNode(_RDF + "value")
LABEL = ox.NamedNode(_RDFS + "label")
COMMENT = ox.NamedNode(_RDFS + "comment")
ACTIVITY = ox.NamedNode(_PROV + "Activity")
AGENT = ox.NamedNode(_PROV + "Agent")
ENTITY = ox.NamedNode(_PROV + "Entity")
ASSOCIATED = ox.NamedNode(_PROV + "wasAssociatedWith")
STARTED = ox.NamedNode(_PROV + "startedAtTime")
ENDED = ox.NamedNode(_PROV + "endedAtTime")
USED = ox.NamedNode(_PROV + "used")
GENERATED = ox.NamedNode(_PROV + "generated")
INVALIDATED = ox.NamedNode(_PROV + "invalidated")
KIND = ox.NamedNode(_DCT + "type")
FORMAT = ox.NamedNode(_DCT + "format")
TRIPLES = ox.NamedNode(_VOID + "triples")
DATETIME = ox.NamedNode(_XSD + "dateTime")
INTEGER = ox.NamedNode(_XSD + "integer")
GRAPH = ox.NamedNode(CHANGES_GRAPH)


def change_iri(change_id: str) -> str:
    return CHANGE_BASE + change_id


def agent_iri(name: str) -> str:
    if not AGENT_NAME.fullmatch(name):
        raise ValueError(f"not a writer name: {name!r}")
    return AGENT_BASE + name


def _now() -> datetime:
    return datetime.now(UTC)


def _time(t: datetime) -> ox.Literal:
    return ox.Literal(t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), datatype=DATETIME)


def _count(n: int) -> ox.Literal:
    return ox.Literal(str(n), datatype=INTEGER)


def _nquads(quads: Iterable[tuple]) -> str:
    return "".join(sorted(f"{ox.Quad(*(_to_ox(t) for t in q))} .\n" for q in quads))


@dataclass(frozen=True)
class ChangeRecord:
    """Who is writing, and what kind of write: the record of one change, to be committed.

    ``generated`` and ``invalidated`` name the resources (statement nodes) the write
    creates or retracts, beyond its quads.
    """

    agent: str
    kind: str
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: datetime = field(default_factory=_now)
    generated: tuple[str, ...] = ()
    invalidated: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        agent_iri(self.agent)  # raises for a name that cannot be an IRI segment
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind of change: {self.kind!r}")
        uuid.UUID(self.id)

    @property
    def iri(self) -> str:
        return change_iri(self.id)

    def quads(self, change: Change, ended: datetime | None = None) -> list[ox.Quad]:
        """The record of ``change`` (committed at ``ended``, default now) as quads."""
        node = ox.NamedNode(self.iri)
        agent = ox.NamedNode(agent_iri(self.agent))
        added = ox.NamedNode(self.iri + "/added")
        removed = ox.NamedNode(self.iri + "/removed")
        triples: list[tuple[Any, Any, Any]] = [
            (node, TYPE, ACTIVITY),
            (node, KIND, ox.Literal(self.kind)),
            (node, ASSOCIATED, agent),
            (agent, TYPE, AGENT),
            (agent, LABEL, ox.Literal(self.agent)),
            (node, STARTED, _time(self.started)),
            (node, ENDED, _time(ended or _now())),
            (node, GENERATED, added),
            (node, INVALIDATED, removed),
        ]
        triples += [
            (node, USED, ox.NamedNode(g)) for g in sorted({str(q[3]) for q in change.quads})
        ]
        triples += [(node, GENERATED, ox.NamedNode(iri)) for iri in self.generated]
        triples += [(node, INVALIDATED, ox.NamedNode(iri)) for iri in self.invalidated]
        texts = None
        if len(change) <= PATCH_LIMIT:
            texts = {added: _nquads(change.add), removed: _nquads(change.remove)}
            if sum(len(t) for t in texts.values()) > PATCH_CHARS:
                texts = None
        for patch, quads in ((added, change.add), (removed, change.remove)):
            triples += [
                (patch, TYPE, ENTITY),
                (patch, TRIPLES, _count(len(quads))),
                (patch, FORMAT, ox.Literal(NQUADS)),
            ]
            if texts is not None:
                triples.append((patch, VALUE, ox.Literal(texts[patch])))
            else:
                note = (
                    f"patch omitted: the write changed {len(change)} quads; a record keeps "
                    f"at most {PATCH_LIMIT} quads of at most {PATCH_CHARS} characters"
                )
                triples.append((patch, COMMENT, ox.Literal(note)))
        return list(dict.fromkeys(ox.Quad(s, p, o, GRAPH) for s, p, o in triples))

    def update(self, change: Change, ended: datetime | None = None) -> str:
        """A SPARQL Update operation (no prologue) that inserts the record of ``change``."""
        quads = self.quads(change, ended)
        body = "\n".join(f"{q.subject} {q.predicate} {q.object} ." for q in quads)
        return f"INSERT DATA {{ GRAPH <{CHANGES_GRAPH}> {{\n{body}\n}} }}"


# ---------------------------------------------------------------- reading the log
#: The records, with the writer's name; ``?name`` and ``?since`` may be substituted.
_RECORDS = (
    f"WHERE {{ GRAPH <{CHANGES_GRAPH}> {{"
    f" ?c a <{_PROV}Activity> ; <{_PROV}endedAtTime> ?t ; <{_PROV}wasAssociatedWith> ?a ."
    f" ?a <{_RDFS}label> ?name }} %s }}"
)
_SINCE = "FILTER (?t >= ?since)"


def _one(store: ox.Store, s: Any, p: Any) -> Any:
    for q in store.quads_for_pattern(s, p, None, GRAPH):
        return q.object
    return None


def _all(store: ox.Store, s: Any, p: Any) -> list[Any]:
    return [q.object for q in store.quads_for_pattern(s, p, None, GRAPH)]


def _describe(store: ox.Store, node: ox.NamedNode, *, patch: bool) -> dict[str, Any] | None:
    """A record as JSON-ready data; None if ``node`` is no record."""
    if ox.Quad(node, TYPE, ACTIVITY, GRAPH) not in store:
        return None
    agent = _one(store, node, ASSOCIATED)
    name = _one(store, agent, LABEL) if agent is not None else None
    halves = {"added": ox.NamedNode(node.value + "/added")}
    halves["removed"] = ox.NamedNode(node.value + "/removed")
    counts, texts = {}, {}
    for half, entity in halves.items():
        n = _one(store, entity, TRIPLES)
        counts[half] = int(n.value) if n is not None else 0
        text = _one(store, entity, VALUE)
        texts[half] = text.value if text is not None else None
    started, ended, kind = (_one(store, node, p) for p in (STARTED, ENDED, KIND))
    out: dict[str, Any] = {
        "id": node.value.removeprefix(CHANGE_BASE),
        "iri": node.value,
        "agent": name.value if name is not None else None,
        "agentIri": agent.value if agent is not None else None,
        "kind": kind.value if kind is not None else None,
        "time": ended.value if ended is not None else None,
        "started": started.value if started is not None else None,
        "added": counts["added"],
        "removed": counts["removed"],
        "graphs": sorted(g.value for g in _all(store, node, USED)),
        "generated": sorted(g.value for g in _all(store, node, GENERATED) if g != halves["added"]),
        "invalidated": sorted(
            g.value for g in _all(store, node, INVALIDATED) if g != halves["removed"]
        ),
    }
    if patch:
        out["patch"] = {
            "format": NQUADS,
            "omitted": texts["added"] is None and texts["removed"] is None,
            "added": texts["added"],
            "removed": texts["removed"],
        }
    return out


@dataclass(frozen=True)
class ChangeListJob:
    """A page of the change log, newest first, with the number of matching records.

    ``agent`` (a writer's name) and ``since`` (an ISO 8601 date-time with a zone) filter
    the records; both reach the query as substitutions, not as text.
    """

    limit: int
    offset: int = 0
    agent: str | None = None
    since: str | None = None

    def run(self, store: OxigraphStore) -> dict[str, Any]:
        raw = store.raw
        substitutions: dict[ox.Variable, Any] = {}
        if self.agent is not None:
            substitutions[ox.Variable("name")] = ox.Literal(self.agent)
        if self.since is not None:
            substitutions[ox.Variable("since")] = ox.Literal(self.since, datatype=DATETIME)
        where = _RECORDS % (_SINCE if self.since is not None else "")
        # Oxigraph substitutes only variables of the projection: they are projected, and
        # grouped on for the count (zero matches, zero groups).
        bound = " ".join(f"?{v.value}" for v in substitutions)
        count = f"SELECT {bound} (COUNT(?c) AS ?n) {where}"
        if bound:
            count += f" GROUP BY {bound}"
        page = (
            f"SELECT ?c {bound} {where} ORDER BY DESC(?t) DESC(STR(?c))"
            f" LIMIT {int(self.limit)} OFFSET {int(self.offset)}"
        )
        try:
            counted = list(raw.query(count, substitutions=substitutions))
            total = int(counted[0]["n"].value) if counted else 0
            nodes = [row["c"] for row in raw.query(page, substitutions=substitutions)]
        except (OSError, SyntaxError, ValueError) as exc:
            raise StoreError(f"cannot read the change log: {exc}") from exc
        items = [_describe(raw, n, patch=False) for n in nodes]
        return {"items": [i for i in items if i is not None], "total": total}


@dataclass(frozen=True)
class ChangeJob:
    """One record with its patch; None if there is no such record."""

    change_id: str

    def run(self, store: OxigraphStore) -> dict[str, Any] | None:
        node = ox.NamedNode(change_iri(str(uuid.UUID(self.change_id))))
        try:
            return _describe(store.raw, node, patch=True)
        except OSError as exc:
            raise StoreError(f"cannot read the change log: {exc}") from exc
