"""The writes of the crash-safety bench (bench.crash), and the check of what survived.

Each client owns its items, so the writes to one item are sequential: an item is a
named graph with one ``gp:State`` node (SPARQL Update and Graph Store writes), or a fact
with its evidence (REST). Every write changes at least three triples, so that a
half-applied write is visible, and changes the state of every item it touches (no
write is a no-op). The kinds of write:

=================  ==================================================================
sparql-insert      a new item: ``INSERT DATA``, 4 triples in a new graph
sparql-modify      ``DELETE``/``INSERT``/``WHERE``: the label and the note of an item
sparql-pair        the same, for two items (two graphs) in one request
sparql-drop        ``DROP GRAPH``: the item is gone
gsp-put-new        a new item: ``PUT /store?graph=``
gsp-put            ``PUT`` over an item: the graph is replaced by a new version
gsp-post           ``POST``: three more comments merged into an item's graph
gsp-delete         ``DELETE /store?graph=``: the item is gone
rest-add           ``POST /api/v1/facts``: a fact and its evidence (11 triples)
rest-delete        ``DELETE /api/v1/facts/{id}``: the fact and its evidence are gone
=================  ==================================================================

A write answered with a 2xx is *acknowledged*: afterwards its item must hold exactly
what the write left (or what a later acknowledged write left). A write that got no
answer (the server was killed) is *in doubt*: every item it touches must hold either
the state before it or the state after it, the same for all of them. A fact added in
doubt has an id nobody was told; it is found by its label, which names the item.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
from rdflib import BNode, Literal, URIRef
from rdflib.namespace import RDF, RDFS, XSD
from rdflib.term import Node

from kg.facts import FACT_BASE, fact_change
from kg.namespaces import API_GRAPH, DERIVED_GRAPH, GP, GPD, GRAPH, INFERRED_GRAPH, LOAD_GRAPH

__all__ = [
    "WRITER",
    "Check",
    "Item",
    "Observed",
    "Workload",
    "Write",
    "check",
    "graph_state",
    "observe",
    "send",
]

#: The writer the bench's token is recorded under in the change log.
WRITER = "crash"
GRAPH_BASE = str(GRAPH["crash/"])
NODE_BASE = str(GPD["crash/"])
ARTICLE = str(GPD["article-004"])
#: (subject, object) of the ``gp:borders`` facts: pairs the shapes accept.
BORDERS = [("iran", "armenia"), ("azerbaijan", "iran"), ("armenia", "azerbaijan")]
#: Live items per client above which a client stops creating items.
LIVE_LIMIT = 12

Triple = tuple[Node, Node, Node]
State = frozenset[Triple]


@dataclass(eq=False)
class Item:
    """A graph or a fact that one client writes, and what it must hold now."""

    key: str
    kind: str  # "graph" or "fact"
    state: State = frozenset()
    fact_id: str | None = None  # a fact's id, once known
    fact_pair: tuple[str, str] = ("", "")

    @property
    def graph(self) -> str:
        return GRAPH_BASE + self.key

    @property
    def node(self) -> URIRef:
        return URIRef(NODE_BASE + self.key)

    @property
    def label(self) -> str:
        return f"crash-safety fact {self.key}"

    def fact_state(self, fact_id: str) -> State:
        """The triples of this item's fact under ``fact_id`` (what POST /facts writes)."""
        subject, obj = self.fact_pair
        change = fact_change(
            fact_id,
            str(GPD[subject]),
            str(GP.borders),
            URIRef(GPD[obj]),
            ARTICLE,
            self.quote,
            self.label,
        )
        return frozenset((s, p, o) for s, p, o, _g in change.add)

    @property
    def quote(self) -> str:
        return f"The two states share a border (crash-safety quote {self.key})."


@dataclass(eq=False)
class Write:
    """One request, and the state of each item it touches before and after it."""

    op: str
    method: str
    path: str
    effects: list[tuple[Item, State, State | None]]  # after None: a fact added in doubt
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None
    json: dict[str, Any] | None = None
    status: int | None = None  # the answer's status; None: no answer
    error: str | None = None


def graph_state(item: Item, v: int, extra: State = frozenset()) -> State:
    """The 4 triples of version ``v`` of a graph item (a ``gp:State``), and ``extra``."""
    node = item.node
    return frozenset(
        {
            (node, RDF.type, GP.State),
            (node, RDFS.label, Literal(f"crash-safety state {item.key} v{v}", lang="en")),
            (node, GP.note, Literal(f"version {v} of {item.key}")),
            (node, RDFS.comment, Literal(f"a crash-safety item ({item.key})")),
        }
        | extra
    )


def _relabelled(item: Item, v: int) -> State:
    """The item's state with the label and the note of version ``v``."""
    kept = {t for t in item.state if t[1] not in (RDFS.label, GP.note)}
    return frozenset(kept) | {t for t in graph_state(item, v) if t[1] in (RDFS.label, GP.note)}


def _turtle(state: State) -> bytes:
    return "".join(f"{s.n3()} {p.n3()} {o.n3()} .\n" for s, p, o in sorted(state)).encode()


class Workload:
    """The items of every client, and the next write of each client (seeded)."""

    def __init__(self, clients: int, seed: int, token: str) -> None:
        self.clients = clients
        self.items: list[list[Item]] = [[] for _ in range(clients)]
        self._rngs = [random.Random(f"{seed}-client-{c}") for c in range(clients)]
        self._serial = [0] * clients
        self._writes = [0] * clients
        self._auth = {"Authorization": f"Bearer {token}"}

    def all_items(self) -> list[Item]:
        return [item for items in self.items for item in items]

    def _new(self, client: int, kind: str) -> Item:
        self._serial[client] += 1
        item = Item(f"c{client}-{self._serial[client]}", kind)
        self.items[client].append(item)
        return item

    def next_write(self, client: int) -> Write:
        rng = self._rngs[client]
        self._writes[client] += 1
        v = self._writes[client]
        live = [i for i in self.items[client] if i.state]
        graphs = [i for i in live if i.kind == "graph"]
        facts = [i for i in live if i.kind == "fact"]
        ops = ["sparql-insert", "gsp-put-new", "rest-add"] if len(live) < LIVE_LIMIT else []
        if graphs:
            ops += ["sparql-modify", "sparql-modify", "gsp-put", "gsp-post"]
            ops += ["sparql-drop", "gsp-delete"] if len(live) > 3 else []
        if len(graphs) >= 2:
            ops.append("sparql-pair")
        if facts and len(live) > 3:
            ops.append("rest-delete")
        op = rng.choice(ops)
        if op in ("sparql-insert", "gsp-put-new"):
            item = self._new(client, "graph")
            after = graph_state(item, v)
            if op == "sparql-insert":
                body = _turtle(after).decode()
                return self._update(
                    op,
                    f"INSERT DATA {{ GRAPH <{item.graph}> {{\n{body}}} }}",
                    [(item, item.state, after)],
                )
            return Write(
                op,
                "PUT",
                "/store",
                [(item, item.state, after)],
                params={"graph": item.graph},
                headers={**self._auth, "Content-Type": "text/turtle"},
                content=_turtle(after),
            )
        if op == "rest-add":
            item = self._new(client, "fact")
            item.fact_pair = rng.choice(BORDERS)
            subject, obj = item.fact_pair
            body = {
                "subject": str(GPD[subject]),
                "predicate": str(GP.borders),
                "object": {"iri": str(GPD[obj])},
                "source": ARTICLE,
                "quote": item.quote,
                "label": item.label,
            }
            return Write(
                op,
                "POST",
                "/api/v1/facts",
                [(item, item.state, None)],
                headers=self._auth,
                json=body,
            )
        if op == "rest-delete":
            item = rng.choice(facts)
            return Write(
                op,
                "DELETE",
                f"/api/v1/facts/{item.fact_id}",
                [(item, item.state, frozenset())],
                headers=self._auth,
            )
        chosen = rng.sample(graphs, 2) if op == "sparql-pair" else [rng.choice(graphs)]
        item = chosen[0]
        if op in ("sparql-modify", "sparql-pair"):
            parts, effects = [], []
            for i in chosen:
                after = _relabelled(i, v)
                new = _turtle(after - i.state).decode()
                parts.append(
                    f"DELETE {{ GRAPH <{i.graph}> {{ {i.node.n3()} {RDFS.label.n3()} ?l ; "
                    f"{GP.note.n3()} ?n }} }}\n"
                    f"INSERT {{ GRAPH <{i.graph}> {{\n{new}}} }}\n"
                    f"WHERE {{ GRAPH <{i.graph}> {{ {i.node.n3()} {RDFS.label.n3()} ?l ; "
                    f"{GP.note.n3()} ?n }} }}"
                )
                effects.append((i, i.state, after))
            return self._update(op, " ;\n".join(parts), effects)
        if op == "sparql-drop":
            return self._update(op, f"DROP GRAPH <{item.graph}>", [(item, item.state, frozenset())])
        if op == "gsp-delete":
            return Write(
                op,
                "DELETE",
                "/store",
                [(item, item.state, frozenset())],
                params={"graph": item.graph},
                headers=self._auth,
            )
        if op == "gsp-put":
            after = graph_state(item, v)
            return Write(
                op,
                "PUT",
                "/store",
                [(item, item.state, after)],
                params={"graph": item.graph},
                headers={**self._auth, "Content-Type": "text/turtle"},
                content=_turtle(after),
            )
        assert op == "gsp-post"
        extra = frozenset(
            (item.node, RDFS.comment, Literal(f"posted {x} in write {v}")) for x in "abc"
        )
        return Write(
            op,
            "POST",
            "/store",
            [(item, item.state, item.state | extra)],
            params={"graph": item.graph},
            headers={**self._auth, "Content-Type": "text/turtle"},
            content=_turtle(extra),
        )

    def _update(self, op: str, text: str, effects: list) -> Write:
        return Write(
            op,
            "POST",
            "/sparql",
            effects,
            headers={**self._auth, "Content-Type": "application/sparql-update"},
            content=text.encode(),
        )


def send(http: httpx.Client, write: Write) -> None:
    """Send ``write``; on a 2xx answer, its items take their new state.

    A transport error (the server was killed) leaves the write in doubt: ``status`` stays
    None. Any other answer is recorded and changes nothing here.
    """
    try:
        r = http.request(
            write.method,
            write.path,
            params=write.params,
            headers=write.headers,
            content=write.content,
            json=write.json,
        )
    except httpx.TransportError as exc:
        write.error = type(exc).__name__
        return
    write.status = r.status_code
    if not r.is_success:
        write.error = r.text[:300]
        return
    if write.op == "rest-add":
        ((item, _before, _after),) = write.effects
        item.fact_id = r.json()["id"]
        item.state = item.fact_state(item.fact_id)
        return
    for item, _before, after in write.effects:
        assert after is not None
        item.state = after


# ---------------------------------------------------------------- what survived
@dataclass
class Observed:
    """What the restarted server holds of the bench's items."""

    graphs: dict[str, set[Triple]]
    facts: dict[str, set[Triple]]  # fact id -> the triples of the fact and its evidence
    agents: set[URIRef]  # nodes typed gp:Agent (from gp:State) in the inferred graph
    computed: set[URIRef]  # crash nodes that are subjects in the derived or inferred graph
    pending: bool  # the inferred graph is marked stale
    records: int  # change records of the bench's writer


def _term(b: dict[str, str]) -> Node:
    if b["type"] == "uri":
        return URIRef(b["value"])
    if b["type"] == "bnode":
        return BNode(b["value"])
    if "xml:lang" in b:
        return Literal(b["value"], lang=b["xml:lang"])
    datatype = b.get("datatype")
    if datatype and datatype != str(XSD.string):
        return Literal(b["value"], datatype=URIRef(datatype))
    return Literal(b["value"])


def _select(http: httpx.Client, query: str) -> list[dict[str, Node]]:
    r = http.post(
        "/sparql",
        data={"query": query},
        headers={"Accept": "application/sparql-results+json"},
    )
    r.raise_for_status()
    body = r.json()
    if "boolean" in body:
        return [{"boolean": Literal(body["boolean"])}]
    return [{k: _term(v) for k, v in row.items()} for row in body["results"]["bindings"]]


def observe(http: httpx.Client) -> Observed:
    graphs: dict[str, set[Triple]] = {}
    rows = _select(
        http,
        "SELECT ?g ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } "
        f'FILTER(STRSTARTS(STR(?g), "{GRAPH_BASE}")) }}',
    )
    for row in rows:
        graphs.setdefault(str(row["g"]), set()).add((row["s"], row["p"], row["o"]))
    facts: dict[str, set[Triple]] = {}
    rows = _select(
        http,
        f"SELECT ?s ?p ?o WHERE {{ GRAPH <{API_GRAPH}> {{ ?s ?p ?o }} "
        f'FILTER(STRSTARTS(STR(?s), "{FACT_BASE}")) }}',
    )
    for row in rows:
        fact_id = str(row["s"]).removeprefix(FACT_BASE)[:36]
        facts.setdefault(fact_id, set()).add((row["s"], row["p"], row["o"]))
    agents = {
        row["s"]
        for row in _select(
            http,
            f"SELECT ?s WHERE {{ GRAPH <{INFERRED_GRAPH}> {{ ?s a <{GP.Agent}> }} "
            f'FILTER(STRSTARTS(STR(?s), "{NODE_BASE}")) }}',
        )
    }
    computed = {
        row["s"]
        for row in _select(
            http,
            f"SELECT DISTINCT ?s WHERE {{ VALUES ?g {{ <{INFERRED_GRAPH}> <{DERIVED_GRAPH}> }} "
            f'GRAPH ?g {{ ?s ?p ?o }} FILTER(STRSTARTS(STR(?s), "{NODE_BASE}")) }}',
        )
    }
    (ask,) = _select(
        http, f"ASK {{ GRAPH <{LOAD_GRAPH}> {{ <{INFERRED_GRAPH}> <{GP.inferencePending}> ?x }} }}"
    )
    r = http.get("/api/v1/changes", params={"agent": WRITER, "limit": 1})
    r.raise_for_status()
    return Observed(
        graphs, facts, agents, computed, bool(ask["boolean"].toPython()), r.json()["total"]
    )


@dataclass
class Check:
    """The outcome of checking every item against what the server holds."""

    items: int = 0  # items compared
    triples: int = 0  # triples compared
    doubtful: Counter = field(default_factory=Counter)  # outcome of in-doubt writes
    failures: list[str] = field(default_factory=list)
    applied: int = 0  # writes applied so far, in doubt or not
    lost: int = 0  # items whose acknowledged state is not what they hold
    half_applied: int = 0  # writes in doubt found neither whole nor absent


def _diff(expected: State, got: set[Triple]) -> str:
    missing, extra = len(expected - got), len(got - expected)
    return f"{len(expected)} triples expected, {missing} missing, {extra} unexpected"


def check(workload: Workload, doubtful: list[Write], observed: Observed, applied: int) -> Check:
    """Compare every item with ``observed``; settle the writes in doubt (``doubtful``).

    ``applied`` is how many writes were applied before this check, in doubt or not; each
    must have its record in the change log, and no other write. Items take the state
    that is found for a write in doubt.
    """
    out = Check()
    graphs = dict(observed.graphs)
    facts = dict(observed.facts)
    found: dict[Item, set[Triple]] = {}
    for item in workload.all_items():
        if item.kind == "graph":
            found[item] = graphs.pop(item.graph, set())
        elif item.fact_id is not None:
            found[item] = facts.pop(item.fact_id, set())
    # A fact added in doubt: its id is that of the fact labelled with its key, if any.
    for write in doubtful:
        if write.op != "rest-add":
            continue
        ((item, _before, _after),) = write.effects
        label = Literal(item.label, lang="en")
        ids = [i for i, triples in facts.items() if any(t[2] == label for t in triples)]
        if len(ids) > 1:
            out.failures.append(f"{item.key}: {len(ids)} facts for one write in doubt")
        fact_id = ids[0] if ids else None
        found[item] = facts.pop(fact_id, set()) if fact_id else set()
        write.effects = [(item, frozenset(), item.fact_state(fact_id) if fact_id else None)]
        if fact_id:
            item.fact_id = fact_id
    for key in graphs:
        out.failures.append(f"graph {key}: written by no write ({len(graphs[key])} triples)")
    for fact_id, triples in facts.items():
        out.failures.append(f"fact {fact_id}: written by no write ({len(triples)} triples)")

    in_doubt = {item for write in doubtful for item, _b, _a in write.effects}
    for item, got in found.items():
        out.items += 1
        out.triples += len(got)
        if item not in in_doubt and got != item.state:
            out.lost += 1
            what = "lost or partly lost" if item.state - got else "changed"
            out.failures.append(f"{item.key}: acknowledged state {what}: {_diff(item.state, got)}")
    for write in doubtful:
        outcomes = set()
        for item, before, after in write.effects:
            got = found[item]
            if got == before:
                outcomes.add("absent")
            elif after is not None and got == after:
                outcomes.add("applied")
            else:
                outcomes.add("partial")
                out.failures.append(
                    f"{item.key}: {write.op} in doubt left neither the state before "
                    f"({_diff(before, got)}) nor after"
                )
        outcome = outcomes.pop() if len(outcomes) == 1 else "half-applied"
        if outcome in ("half-applied", "partial"):
            out.half_applied += 1
        if outcome == "half-applied":
            out.failures.append(f"{write.op} in doubt applied to some of its items only")
        out.doubtful[outcome] += 1
        if outcome == "applied":
            applied += 1
            for item, _before, after in write.effects:
                assert after is not None
                item.state = after
    if observed.records != applied:
        out.failures.append(
            f"the change log has {observed.records} records of the bench's writes, "
            f"{applied} writes were applied"
        )
    states = {i.node for i in workload.all_items() if i.kind == "graph" and i.state}
    if observed.agents != states:
        out.failures.append(
            f"inferred types: {len(states - observed.agents)} present states lack their "
            f"inferred type, {len(observed.agents - states)} absent ones have one"
        )
    if not observed.computed <= states:
        out.failures.append(f"{len(observed.computed - states)} absent nodes have computed triples")
    if observed.pending:
        out.failures.append("the inferred graph is still marked stale after the restart")
    out.applied = applied
    return out
