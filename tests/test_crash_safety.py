"""Crash safety: acknowledged writes survive SIGKILL of the whole server, none is half-applied.

The end-to-end test runs the crash bench (:mod:`bench.crash`) for a few rounds on a copy
of the curated store: clients write through SPARQL Update, the Graph Store Protocol and
the REST facts API, the server's process group is killed at a random (seeded) moment,
and after each restart on the same directory every acknowledged write must be there
and every unanswered one whole or absent. The other tests show that the check finds
what it is meant to find: a lost triple, a write applied to one of its two graphs, a
partial fact, a write nobody made.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from rdflib import Literal
from rdflib.namespace import RDFS

from bench.crash import Config, run
from bench.crash_writes import Item, Observed, Workload, Write, check, graph_state


def _workload(*items: Item) -> Workload:
    workload = Workload(1, 0, "token")
    workload.items[0] = list(items)
    return workload


def _graph_item(key: str, version: int = 1) -> Item:
    item = Item(key, "graph")
    item.state = graph_state(item, version)
    return item


def _observed(*items: Item, records: int, **overrides: object) -> Observed:
    """What a server holding exactly ``items`` in their current state would answer."""
    present = [i for i in items if i.state]
    observed = Observed(
        graphs={i.graph: set(i.state) for i in present if i.kind == "graph"},
        facts={i.fact_id: set(i.state) for i in present if i.kind == "fact" and i.fact_id},
        agents={i.node for i in present if i.kind == "graph"},
        computed={i.node for i in present if i.kind == "graph"},
        pending=False,
        records=records,
    )
    for name, value in overrides.items():
        setattr(observed, name, value)
    return observed


def test_the_check_passes_when_everything_acknowledged_is_there() -> None:
    a, b = _graph_item("c0-1"), _graph_item("c0-2")
    outcome = check(_workload(a, b), [], _observed(a, b, records=2), applied=2)
    assert outcome.failures == []
    assert (outcome.items, outcome.triples) == (2, 8)


def test_a_lost_triple_of_an_acknowledged_write_is_found() -> None:
    a = _graph_item("c0-1")
    observed = _observed(a, records=1)
    observed.graphs[a.graph].pop()
    outcome = check(_workload(a), [], observed, applied=1)
    assert outcome.lost == 1
    assert "acknowledged state lost" in outcome.failures[0]


def test_a_write_to_two_graphs_applied_to_one_is_found() -> None:
    a, b = _graph_item("c0-1"), _graph_item("c0-2")
    after_a, after_b = graph_state(a, 2), graph_state(b, 2)
    write = Write("sparql-pair", "POST", "/sparql", [(a, a.state, after_a), (b, b.state, after_b)])
    observed = _observed(a, b, records=2)
    observed.graphs[a.graph] = set(after_a)  # b still holds its state before the write
    outcome = check(_workload(a, b), [write], observed, applied=1)
    assert outcome.half_applied == 1
    assert any("some of its items only" in f for f in outcome.failures)
    # Applied to both: the write counts as applied and the items take its state.
    observed.graphs[b.graph] = set(after_b)
    outcome = check(_workload(a, b), [write], observed, applied=1)
    assert outcome.failures == [] and outcome.doubtful == {"applied": 1}
    assert (a.state, b.state) == (after_a, after_b)


def test_a_write_in_doubt_left_partly_applied_is_found() -> None:
    a = _graph_item("c0-1")
    extra = frozenset((a.node, RDFS.comment, Literal(f"posted {x}")) for x in "abc")
    write = Write("gsp-post", "POST", "/store", [(a, a.state, a.state | extra)])
    observed = _observed(a, records=1)
    observed.graphs[a.graph] |= set(sorted(extra)[:2])
    outcome = check(_workload(a), [write], observed, applied=1)
    assert outcome.half_applied == 1
    assert "neither the state before" in outcome.failures[0]


def test_a_fact_added_in_doubt_is_found_by_its_label_whole_or_not_at_all() -> None:
    fact = Item("c0-1", "fact", fact_pair=("iran", "armenia"))
    write = Write("rest-add", "POST", "/api/v1/facts", [(fact, frozenset(), None)])
    fact_id = str(uuid.uuid4())
    whole = set(fact.fact_state(fact_id))
    observed = _observed(fact, records=1, facts={fact_id: whole})
    outcome = check(_workload(fact), [write], observed, applied=0)
    assert outcome.failures == [] and outcome.doubtful == {"applied": 1}
    assert fact.fact_id == fact_id and fact.state == whole
    # The same write, with one triple of the evidence missing.
    fact = Item("c0-1", "fact", fact_pair=("iran", "armenia"))
    write = Write("rest-add", "POST", "/api/v1/facts", [(fact, frozenset(), None)])
    partial = set(whole)
    partial.discard(next(t for t in sorted(whole) if "evidence" in str(t[0])))
    observed = _observed(fact, records=1, facts={fact_id: partial})
    outcome = check(_workload(fact), [write], observed, applied=0)
    assert outcome.half_applied == 1


def test_a_write_nobody_made_and_a_missing_record_are_found() -> None:
    a = _graph_item("c0-1")
    stray = _graph_item("c9-9")
    observed = _observed(a, records=0)
    observed.graphs[stray.graph] = set(stray.state)
    observed.facts[str(uuid.uuid4())] = {(stray.node, RDFS.label, Literal("x"))}
    outcome = check(_workload(a), [], observed, applied=1)
    text = "\n".join(outcome.failures)
    assert "graph " + stray.graph in text and "fact " in text
    assert "change log has 0 records" in text


def test_stale_inferences_after_a_restart_are_found() -> None:
    a = _graph_item("c0-1")
    observed = _observed(a, records=1, pending=True, agents=set())
    text = "\n".join(check(_workload(a), [], observed, applied=1).failures)
    assert "lack their inferred type" in text and "marked stale" in text


@pytest.mark.timeout(600)
def test_acknowledged_writes_survive_sigkill_of_the_server(
    store_path: Path, tmp_path: Path
) -> None:
    config = Config(
        rounds=3, seed=2, readers=1, kill_window=3.0, start_kill_share=0.0, deep_every=3
    )
    summary = run(config, store_path, tmp_path / "crash")
    assert summary["failures"] == []
    assert summary["rounds_survived"] == summary["rounds"] == 3
    checks = summary["checks"]
    assert (checks["lost"], checks["half_applied"]) == (0, 0)
    # The checks examined something: writes of each round, and the computed graphs.
    assert summary["writes"]["acknowledged"] >= 3
    assert checks["item_checks"] > 0 and checks["triples_compared"] > 0
    assert checks["derived_triples_compared"] > 0 and checks["inferred_graphs_compared"] >= 2
