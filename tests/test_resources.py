"""kg.resources: what an entity's description reads once per description gives what the
per-fact lookups gave."""

from __future__ import annotations

import pyoxigraph as ox

from kg import reasoning
from kg.resources import STATEMENT, TYPE, _Links, _statements_of
from kg.store import GraphStore

ID = "https://w3id.org/geokg/id/"


def test_statement_links_read_once_give_the_per_fact_answer(store: GraphStore) -> None:
    raw = store.raw
    links = _Links(raw)
    statements = [q.subject for q in raw.quads_for_pattern(None, TYPE, STATEMENT, None)]
    # Every node a statement points at (the subjects a description asks about), and for
    # each, every node or value those statements point at plus one they do not.
    subjects = {
        q.object
        for st in statements
        for q in raw.quads_for_pattern(st, None, None, None)
        if q.predicate != TYPE and not isinstance(q.object, ox.Literal)
    }
    turkey = ox.NamedNode(ID + "turkey")
    assert turkey in subjects and len(subjects) > 100
    checked = linked = 0
    for s in [*sorted(subjects, key=str)[::5], turkey]:
        # What the statements pointing at s point at, and two things they do not.
        objects = {
            x.object
            for q in raw.quads_for_pattern(None, None, s, None)
            for x in raw.quads_for_pattern(q.subject, None, None, None)
        }
        # The per-fact lookup costs (incoming links) x (their links) for each object:
        # every object of Turkey's statements alone would take minutes.
        some = sorted(objects, key=str)[:: max(1, len(objects) // 15)]
        some += [ox.NamedNode(ID + "no-such-thing"), ox.Literal("no such value")]
        for o in some:
            expected = _statements_of(raw, s, o)
            assert links.statements_of(s, o) == expected, (s, o)
            checked += 1
            linked += bool(expected)
    assert checked > 1000 and linked > 500, (checked, linked)
    assert links.statements_of(ox.Literal("x"), turkey) == []
    assert links.rules is links.rules
    assert links.rules == reasoning.rules_of(raw)
