"""The derived graph after a write, refreshed for the written subjects only, is the one a
full recomputation gives.

Hypothesis applies random small changes to the curated data: triples of statement
nodes and dated nodes removed, triples of one focus copied onto another (a second
holder, another type, a non-actual factuality, another status or precision), a focus
duplicated onto a new node (a shortcut with two supports) or retracted whole, some of
it into a new graph. Most of it violates the shapes, so the writes go straight to the
store with the update :func:`kg.writes.apply_change` sends (the gate is tested
elsewhere); after each write, and after its inverse, the derived graph must equal what
:func:`kg.derivation.derivation_update` recomputes from scratch. Bounded and
derandomised. A valid write through the whole gate is checked the same way.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdflib import Literal, URIRef
from rdflib.namespace import RDF, XSD
from rdflib.plugins.sparql.parser import parseUpdate

from kg import derivation
from kg._oxigraph import OxigraphStore
from kg.derivation import (
    DERIVATION_RULES,
    derivation_update,
    derived_from,
    rule_focus,
    subjects_update,
)
from kg.loading import load_dataset
from kg.namespaces import DERIVED_GRAPH, GP, GPD, graph_iri, sparql_prologue
from kg.validation import Change, Shapes, validated_graphs
from kg.writes import apply_change

ROOT = Path(__file__).resolve().parent.parent
NEW_GRAPH = URIRef(graph_iri("test/derivation"))
FOCUS_TYPES = [
    GP.FactStatement,
    GP.OfficeHolding,
    GP.Membership,
    GP.Acquisition,
    GP.SystemOperation,
    GP.ConflictOpposition,
]
#: Objects worth copying between foci beyond what they hold: what the rules filter on.
EXTRA = [
    (GP.factuality, GP.Actual),
    (GP.factuality, GP.Reported),
    (GP.acquisitionStatus, GP.AcquisitionPlanned),
    (GP.acquisitionStatus, GP.AcquisitionDelivered),
    (GP.datePrecision, GP.YearPrecision),
    (GP.datePrecision, GP.MonthPrecision),
    (GP.date, Literal("2024-02-10", datatype=XSD.date)),
    (GP.date, Literal("2023-02-10", datatype=XSD.date)),
]


@pytest.fixture(scope="module")
def loaded(shapes: Shapes) -> OxigraphStore:
    s = OxigraphStore(None)
    load_dataset(s, ROOT, shapes=shapes)
    return s


def derived(store: OxigraphStore) -> set[tuple]:
    return {(s, p, o) for s, p, o, _g in store.match(None, None, None, URIRef(DERIVED_GRAPH))}


def recomputed(store: OxigraphStore) -> set[tuple]:
    """The derived graph as a full recomputation makes it (the store is left as it was)."""
    copy = OxigraphStore(None)
    copy.raw.extend(store.raw.quads_for_pattern(None, None, None, None))
    copy.update(derivation_update(validated_graphs(copy)))
    return derived(copy)


def write(store: OxigraphStore, change: Change) -> None:
    """What apply_change sends for the derived graph, without the gate and the reasoner."""
    asserted = set(validated_graphs(store))
    graphs = asserted | {str(q[3]) for q in change.add}
    subjects = {q[0] for q in change.quads}
    before = derived_from(store, subjects, asserted)
    store.apply_change(change.add, change.remove, then=subjects_update(graphs, subjects, before))


def foci(store: OxigraphStore) -> list[URIRef]:
    nodes = {s for t in FOCUS_TYPES for s, _p, _o, _g in store.match(None, RDF.type, t, None)}
    nodes |= {s for s, _p, _o, g in store.match(None, GP.date, None, None)}
    return sorted(nodes, key=str)


def asserted_quads(store: OxigraphStore, node: URIRef) -> list[tuple]:
    graphs = set(validated_graphs(store))
    return sorted((q for q in store.match(node, None, None, None) if str(q[3]) in graphs), key=str)


def random_change(store: OxigraphStore, rng: random.Random, nodes: list[URIRef]) -> Change:
    add: set[tuple] = set()
    remove: set[tuple] = set()
    for k in range(rng.randint(1, 4)):
        node = rng.choice(nodes)
        own = asserted_quads(store, node)
        other = asserted_quads(store, rng.choice(nodes))
        kind = rng.randrange(6)
        if kind == 0:  # lose some triples
            remove |= {q for q in own if rng.random() < 0.4}
        elif kind == 1:  # take some of another focus's triples
            add |= {(node, p, o, g) for _s, p, o, g in other if rng.random() < 0.4}
        elif kind == 2:  # a value the rules filter on
            p, o = rng.choice(EXTRA)
            graph = rng.choice([own[0][3], NEW_GRAPH]) if own else NEW_GRAPH
            add.add((node, p, o, graph))
            if rng.random() < 0.5:
                remove |= {q for q in own if q[1] == p}
        elif kind == 3:  # a copy of the focus: its shortcuts get a second support
            copy = GPD[f"test-derivation-copy-{rng.randrange(1000)}-{k}"]
            add |= {(copy, p, o, rng.choice([g, NEW_GRAPH])) for _s, p, o, g in own}
        elif kind == 4:  # retracted whole
            remove |= set(own)
        else:  # the same triple stated in a second graph too (a later step may remove one)
            if own:
                s, p, o, _g = rng.choice(own)
                add.add((s, p, o, NEW_GRAPH))
    remove -= add
    return Change.of(add=add - remove, remove=remove)


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(0, 2**32 - 1))
def test_a_write_refreshes_the_derived_graph_as_a_full_recomputation_would(
    loaded: OxigraphStore, seed: int
) -> None:
    store = OxigraphStore(None)
    store.raw.extend(loaded.raw.quads_for_pattern(None, None, None, None))
    nodes = foci(store)
    rng = random.Random(seed)
    for _ in range(3):
        change = random_change(store, rng, nodes)
        if not change:
            continue
        # Only quads the store really lacks or holds, so the inverse undoes it exactly.
        change = Change.of(
            add={q for q in change.add if not any(True for _ in store.match(*q))},
            remove={q for q in change.remove if any(True for _ in store.match(*q))},
        )
        undo = Change.of(add=change.remove, remove=change.add)
        write(store, change)
        assert derived(store) == recomputed(store), change
        if rng.random() < 0.3:
            write(store, undo)
            assert derived(store) == recomputed(store), undo


def test_two_supports_of_a_shortcut_one_retracted(loaded: OxigraphStore) -> None:
    store = OxigraphStore(None)
    store.raw.extend(loaded.raw.quads_for_pattern(None, None, None, None))
    pairs: dict[tuple, list] = {}
    for holding, *_ in store.match(None, RDF.type, GP.OfficeHolding, None):
        own = asserted_quads(store, holding)
        holders = [o for _s, p, o, _g in own if p == GP.holder]
        offices = [o for _s, p, o, _g in own if p == GP.office]
        for pair in zip(holders, offices, strict=False):
            pairs.setdefault(pair, []).append(own)
    # a holding whose shortcut has no other support
    (holder, office), (own,) = next((k, v) for k, v in sorted(pairs.items()) if len(v) == 1)
    assert (holder, GP.holdsOffice, office) in derived(store)
    twin = GPD["test-derivation-twin"]
    write(store, Change.of(add={(twin, p, o, g) for _s, p, o, g in own}))
    assert (holder, GP.holdsOffice, office) in derived(store)
    write(store, Change.of(remove=set(own)))  # the original goes: the twin still gives it
    assert (holder, GP.holdsOffice, office) in derived(store)
    assert derived(store) == recomputed(store)
    write(store, Change.of(remove={(twin, p, o, g) for _s, p, o, g in own}))
    assert (holder, GP.holdsOffice, office) not in derived(store)
    assert derived(store) == recomputed(store)


def test_a_valid_write_through_the_gate_matches_a_full_recomputation(
    loaded: OxigraphStore, shapes: Shapes
) -> None:
    from bench.write_path import small_write

    store = OxigraphStore(None)
    store.raw.extend(loaded.raw.quads_for_pattern(None, None, None, None))
    original = derived(store)
    change, undo = small_write(store)
    assert apply_change(store, change, shapes).conforms
    after = derived(store)
    assert after == recomputed(store) and after != original
    assert apply_change(store, undo, shapes).conforms
    assert derived(store) == original


def test_a_write_of_many_subjects_recomputes_the_whole_graph(
    loaded: OxigraphStore, shapes: Shapes, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bench.write_path import small_write

    monkeypatch.setattr("kg.writes.INCREMENTAL_LIMIT", 3)
    store = OxigraphStore(None)
    store.raw.extend(loaded.raw.quads_for_pattern(None, None, None, None))
    change, _undo = small_write(store)
    assert apply_change(store, change, shapes).conforms
    assert derived(store) == recomputed(store)


def test_every_rule_starts_with_its_focus() -> None:
    """The focus is the subject of the rule's first triple pattern (the one subject all
    its patterns share: test_reasoning holds the rules to that)."""
    for name, _template, pattern in DERIVATION_RULES:
        assert rule_focus(pattern) == pattern.split()[0], name
    with pytest.raises(ValueError):
        rule_focus("gp:x a ?y .")


def test_the_update_is_standard_sparql(loaded: OxigraphStore) -> None:
    """One request as apply_change sends it: SPARQL 1.1 Update, prefixes declared once."""
    holding = next(s for s, *_ in loaded.match(None, RDF.type, GP.OfficeHolding, None))
    subjects = {holding, GPD.turkey}
    graphs = set(validated_graphs(loaded))
    before = derived_from(loaded, subjects, graphs)
    assert before  # a holding gives a shortcut
    update = subjects_update(graphs | {str(NEW_GRAPH)}, subjects, before)
    request = sparql_prologue() + "INSERT DATA { GRAPH <urn:g> { <urn:a> <urn:b> 1 } } ;\n"
    parseUpdate(request + update)  # rdflib's SPARQL 1.1 grammar
    assert update.count("PREFIX") == 0
    assert derivation.INCREMENTAL_LIMIT >= 1000
