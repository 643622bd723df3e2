"""OWL 2 RL reasoning: the inferred graph, its incremental refresh, explanations, and
the HermiT consistency check with its explanations."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import owlrl
import pyoxigraph as ox
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdflib import Graph
from typer.testing import CliRunner

from kg import reasoning
from kg._oxigraph import OxigraphStore, to_rdflib
from kg.consistency import check, label_of
from kg.derivation import DERIVATION_RULES
from kg.loading import load_dataset
from kg.namespaces import (
    GP,
    GPD,
    INFERRED_GRAPH,
    LOAD_GRAPH,
    NON_ASSERTED_GRAPHS,
    sparql_prologue,
)
from kg.store import open_store

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "reasoning"
TYPE = reasoning.TYPE
INFERRED = ox.NamedNode(INFERRED_GRAPH)


def n(ns: object, local: str) -> ox.NamedNode:
    return ox.NamedNode(str(ns) + local)


@pytest.fixture(scope="module")
def reasoned(shapes) -> OxigraphStore:
    """The curated data loaded in memory (the load materialises the inferred graph)."""
    s = open_store(None)
    load_dataset(s, ROOT, shapes=shapes)
    assert isinstance(s, OxigraphStore)
    return s


def copy_of(store: OxigraphStore) -> OxigraphStore:
    c = OxigraphStore(None)
    c.raw.extend(store.raw.quads_for_pattern(None, None, None, None))
    return c


def inferred(raw: ox.Store) -> set[tuple]:
    return {
        (q.subject, q.predicate, q.object)
        for q in raw.quads_for_pattern(None, None, None, INFERRED)
    }


# ---------------------------------------------------------------- the inferred graph
def test_the_load_materialises_the_hierarchy_transitivity_symmetry_and_chains(
    reasoned: OxigraphStore,
) -> None:
    raw = reasoned.raw
    got = inferred(raw)
    assert (n(GPD, "s-400"), TYPE, n(GP, "AirDefenceSystem")) in got
    assert (n(GPD, "idlib-de-escalation-zone"), n(GP, "locatedIn"), n(GPD, "syria")) in got
    opposes = n(GP, "opposes")
    for a, b in (("russia", "turkey"), ("turkey", "russia")):  # symmetric: both directions
        assert any(True for _ in raw.quads_for_pattern(n(GPD, a), opposes, n(GPD, b), None))
    assert (n(GPD, "recep-tayyip-erdogan"), n(GP, "heldOfficeOf"), n(GPD, "turkey")) in got
    assert (n(GP, "SurfaceToAirMissileSystem"), reasoning.SUBCLASS, n(GP, "WeaponSystemModel")) in (
        got
    )
    assert not reasoning.is_pending(raw)
    # nothing inferred is also stated
    stated = {
        (q.subject, q.predicate, q.object)
        for q in raw.quads_for_pattern(None, None, None, None)
        if q.graph_name not in (INFERRED, ox.NamedNode(LOAD_GRAPH))
    }
    assert not (got & stated)


def test_the_derivation_rules_read_one_subject_each() -> None:
    """write_candidates relies on it: every pattern of a rule has the same subject."""
    for name, _template, pattern in DERIVATION_RULES:
        body = re.sub(r"FILTER.*", "", pattern, flags=re.S)
        body = re.sub(r"OPTIONAL \{ (\?\w+)", r"\1", body)
        body = re.sub(r"BIND.*", "", body, flags=re.S)
        subjects = set()
        for statement in body.split(" ."):
            words = statement.split()
            if words:
                subjects.add(words[0])
        assert len(subjects) == 1, (name, subjects)


def _data_level(triples: set[tuple]) -> set[tuple]:
    """The entailments that matter to queries: gp: types and gp: properties of nodes."""
    gp = str(GP)
    out = set()
    for s, p, o in triples:
        if isinstance(s, ox.Literal) or str(s).startswith("_:"):
            continue
        typed = p == TYPE and isinstance(o, ox.NamedNode) and o.value.startswith(gp)
        linked = p.value.startswith(gp) and not isinstance(o, ox.Literal)
        if typed or linked:
            out.add((s, p, o))
    return out


def test_the_inferences_match_owlrl_on_the_curated_data(reasoned: OxigraphStore) -> None:
    raw = reasoned.raw
    inputs = [
        q
        for q in raw.quads_for_pattern(None, None, None, None)
        if not (
            isinstance(q.graph_name, ox.NamedNode) and q.graph_name.value in NON_ASSERTED_GRAPHS
        )
        or q.graph_name.value.endswith("/derived")
    ]
    g = Graph()
    for q in inputs:
        g.add((to_rdflib(q.subject), to_rdflib(q.predicate), to_rdflib(q.object)))
    owlrl.DeductiveClosure(owlrl.OWLRL_Semantics).expand(g)
    from kg._oxigraph import _to_ox

    theirs = _data_level({tuple(_to_ox(t) for t in triple) for triple in g})
    ours = _data_level({(q.subject, q.predicate, q.object) for q in inputs} | inferred(raw))
    assert ours == theirs, (sorted(ours - theirs, key=str)[:5], sorted(theirs - ours, key=str)[:5])


# ---------------------------------------------------------------- incremental = full
_RULE_PROPERTIES = ["locatedIn", "borders", "partOfConflict", "subEventOf", "capitalOf", "capital"]
_PROPERTIES = [*_RULE_PROPERTIES, "officeOf", "holdsOffice", "memberOf", "eventParticipant"]
_CLASSES = ["SurfaceToAirMissileSystem", "AntiAircraftSystem", "State", "Person", "Event"]


def _nodes(raw: ox.Store) -> list[ox.NamedNode]:
    return sorted(
        {
            q.subject
            for q in raw.quads_for_pattern(None, None, None, None)
            if isinstance(q.subject, ox.NamedNode) and q.subject.value.startswith(str(GPD))
        },
        key=str,
    )[:80]


def _stated_rule_quads(raw: ox.Store) -> list[ox.Quad]:
    props = {n(GP, p) for p in _PROPERTIES} | {TYPE, n(GP, "opposingParty")}
    return sorted(
        (
            q
            for q in raw.quads_for_pattern(None, None, None, None)
            if q.predicate in props
            and isinstance(q.graph_name, ox.NamedNode)
            and q.graph_name.value not in NON_ASSERTED_GRAPHS
            and q.graph_name.value.startswith("https://w3id.org/geokg/graph/")
            and not q.graph_name.value.endswith("/ontology")
        ),
        key=str,
    )


def _write(store: OxigraphStore, add: list[ox.Quad], remove: list[ox.Quad]) -> None:
    """A raw write (no SHACL gate: the point is the inferences) and its refresh."""
    from kg.derivation import derivation_update
    from kg.validation import validated_graphs

    raw = store.raw
    candidates = reasoning.write_candidates(raw, add, remove)
    before = reasoning.present(raw, candidates)
    graphs = set(validated_graphs(store)) | {q.graph_name.value for q in add}

    def block(quads: list[ox.Quad]) -> str:
        return " ".join(f"GRAPH {q.graph_name} {{ {q.triple} . }}" for q in quads)

    parts = [f"DELETE DATA {{ {block(remove)} }}"] if remove else []
    if add:
        parts.append(f"INSERT DATA {{ {block(add)} }}")
    parts += [derivation_update(graphs, with_prologue=False), reasoning.pending_mark()]
    raw.update(sparql_prologue() + " ;\n".join(parts))
    reasoning.refresh(raw, candidates, before)


def test_a_full_recomputation_in_small_transactions_gives_the_same_graph(
    reasoned: OxigraphStore,
) -> None:
    """Materialisation writes in bounded chunks under the pending mark: a tiny chunk gives
    the same graph, and a crash part way leaves the mark for the next start to heal."""
    raw = copy_of(reasoned).raw
    expected = inferred(raw)
    stats = reasoning.materialise(raw, chunk=7)
    assert inferred(raw) == expected and stats.removed == stats.inferred == len(expected)
    assert not reasoning.is_pending(raw)

    calls = 0
    real_extend = ox.Store.extend

    class Crashing:
        def __init__(self, store: ox.Store) -> None:
            self.store = store

        def __getattr__(self, name: str) -> object:
            return getattr(self.store, name)

        def extend(self, quads: object) -> None:
            nonlocal calls
            calls += 1
            if calls == 3:
                raise OSError("disk gone")
            real_extend(self.store, quads)

    with pytest.raises(OSError, match="disk gone"):
        reasoning.materialise(Crashing(raw), chunk=7)  # type: ignore[arg-type]
    assert reasoning.is_pending(raw)
    assert 0 < len(inferred(raw)) < len(expected)
    reasoning.materialise(raw)
    assert inferred(raw) == expected and not reasoning.is_pending(raw)


# ---------------------------------------------------------------- against a naive reference
_EX = "https://example.org/kg-test#"
_RDFS = "http://www.w3.org/2000/01/rdf-schema#"
_OWL = "http://www.w3.org/2002/07/owl#"


def _ex(local: str) -> ox.NamedNode:
    return ox.NamedNode(_EX + local)


def _naive_closure(rules: reasoning.Rules, asserted: set[tuple]) -> set[tuple]:
    """The rules of the module docstring applied to everything until nothing is new:
    what the materialisation must give, computed the simplest way (small graphs only)."""
    known = set(asserted)
    while True:
        new = set()
        for s, p, o in known:
            node = not isinstance(o, ox.Literal)
            new |= {(s, TYPE, d) for d in rules.supers.get(o, ())} if p == TYPE else set()
            new |= {(s, TYPE, c) for c in rules.domains.get(p, ())}
            new |= {(s, q, o) for q in rules.super_props.get(p, ())}
            if not node:
                continue
            new |= {(o, TYPE, c) for c in rules.ranges.get(p, ())}
            new |= {(o, q, s) for q in rules.inverses.get(p, ())}
            new |= {(o, p, s)} if p in rules.symmetric else set()
            for s2, p2, o2 in known:
                if s2 != o:
                    continue
                if p2 == p and p in rules.transitive:
                    new.add((s, p, o2))
                new |= {
                    (s, h, o2) for h, first, second in rules.chains if (first, second) == (p, p2)
                }
        if new <= known:
            return (known | rules.tbox) - asserted
        known |= new


@settings(max_examples=40, deadline=None, derandomize=True)
@given(data=st.data())
def test_the_materialisation_equals_a_naive_fixpoint_on_random_graphs(data: st.DataObject) -> None:
    """Random small ontologies (every axiom kind the rules read) and data spread over two
    graphs, some of it also in the load graph, which is no input: the semi-naive SPARQL
    materialisation gives what applying every rule to everything until nothing is new
    gives, minus what is stated."""
    props = [_ex(f"p{i}") for i in range(5)]
    classes = [_ex(f"C{i}") for i in range(5)]
    nodes = [_ex(f"n{i}") for i in range(6)]
    pick = st.sampled_from
    axioms = []
    for _ in range(data.draw(st.integers(0, 8))):
        kind = data.draw(pick(["sub", "subp", "eqc", "dom", "rng", "inv", "sym", "trans", "chain"]))
        a, b = data.draw(pick(props)), data.draw(pick(props))
        c, d = data.draw(pick(classes)), data.draw(pick(classes))
        axioms += {
            "sub": [(c, ox.NamedNode(_RDFS + "subClassOf"), d)],
            "subp": [(a, ox.NamedNode(_RDFS + "subPropertyOf"), b)],
            "eqc": [(c, ox.NamedNode(_OWL + "equivalentClass"), d)],
            "dom": [(a, ox.NamedNode(_RDFS + "domain"), c)],
            "rng": [(a, ox.NamedNode(_RDFS + "range"), c)],
            "inv": [(a, ox.NamedNode(_OWL + "inverseOf"), b)],
            "sym": [(a, TYPE, ox.NamedNode(_OWL + "SymmetricProperty"))],
            "trans": [(a, TYPE, ox.NamedNode(_OWL + "TransitiveProperty"))],
            "chain": _chain_axiom(data.draw(pick(props)), a, b),
        }[kind]
    triples = set()
    for _ in range(data.draw(st.integers(0, 14))):
        s = data.draw(pick(nodes))
        if data.draw(st.booleans()):
            triples.add((s, TYPE, data.draw(pick(classes))))
        else:
            o = data.draw(pick([*nodes, ox.Literal("x"), ox.Literal("y")]))
            triples.add((s, data.draw(pick(props)), o))
    store = ox.Store()
    ontology = ox.NamedNode(reasoning.ONTOLOGY_GRAPH)
    graphs = [ox.NamedNode("https://example.org/g1"), ox.NamedNode("https://example.org/g2")]
    store.extend(ox.Quad(*t, ontology) for t in axioms)
    store.extend(ox.Quad(*t, graphs[i % 2]) for i, t in enumerate(sorted(triples, key=str)))
    load = ox.NamedNode(LOAD_GRAPH)
    rules = reasoning.rules_of(store)
    asserted = {(q.subject, q.predicate, q.object) for q in store if q.graph_name != load}
    expected = _naive_closure(rules, asserted)
    # Consequences also stated in the load graph are still inferred: it is no input.
    store.extend(ox.Quad(*t, load) for t in sorted(expected, key=str)[::3])
    reasoning.materialise(store, rules, chunk=3)
    assert inferred(store) == expected, (
        sorted(inferred(store) - expected, key=str)[:5],
        sorted(expected - inferred(store), key=str)[:5],
    )


def _chain_axiom(head: ox.NamedNode, first: ox.NamedNode, second: ox.NamedNode) -> list[tuple]:
    rdf = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
    a, b = ox.BlankNode(), ox.BlankNode()
    return [
        (head, ox.NamedNode(_OWL + "propertyChainAxiom"), a),
        (a, ox.NamedNode(rdf + "first"), first),
        (a, ox.NamedNode(rdf + "rest"), b),
        (b, ox.NamedNode(rdf + "first"), second),
        (b, ox.NamedNode(rdf + "rest"), ox.NamedNode(rdf + "nil")),
    ]


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_incremental_refresh_equals_full_recomputation(
    data: st.DataObject, reasoned: OxigraphStore
) -> None:
    store = copy_of(reasoned)
    raw = store.raw
    nodes, stated = _nodes(raw), _stated_rule_quads(raw)
    graph = ox.NamedNode("https://w3id.org/geokg/graph/test-edits")
    for _ in range(data.draw(st.integers(1, 3))):  # a few writes in a row
        add, remove = [], []
        for _ in range(data.draw(st.integers(1, 6))):
            kind = data.draw(st.sampled_from(["add", "type", "remove", "remove", "opposition"]))
            if kind == "add":
                p = n(GP, data.draw(st.sampled_from(_PROPERTIES)))
                s, o = data.draw(st.sampled_from(nodes)), data.draw(st.sampled_from(nodes))
                add.append(ox.Quad(s, p, o, graph))
            elif kind == "type":
                c = n(GP, data.draw(st.sampled_from(_CLASSES)))
                add.append(ox.Quad(data.draw(st.sampled_from(nodes)), TYPE, c, graph))
            elif kind == "remove" and stated:
                remove.append(data.draw(st.sampled_from(stated)))
            else:  # a statement node: its shortcut goes through the derived graph
                st_node = n(GPD, f"test-opposition-{data.draw(st.integers(0, 3))}")
                a, b = data.draw(st.sampled_from(nodes)), data.draw(st.sampled_from(nodes))
                add += [
                    ox.Quad(st_node, TYPE, n(GP, "ConflictOpposition"), graph),
                    ox.Quad(st_node, n(GP, "opposingParty"), a, graph),
                    ox.Quad(st_node, n(GP, "opposingParty"), b, graph),
                ]
        remove = [q for q in dict.fromkeys(remove) if q not in add]
        _write(store, add, remove)
        stated = _stated_rule_quads(raw)
    incremental = inferred(raw)
    assert not reasoning.is_pending(raw)
    reasoning.materialise(raw)
    full = inferred(raw)
    assert incremental == full, (
        sorted(incremental - full, key=str)[:5],
        sorted(full - incremental, key=str)[:5],
    )


def test_a_removed_link_takes_its_consequences_with_it(reasoned: OxigraphStore) -> None:
    store = copy_of(reasoned)
    raw = store.raw
    graph = ox.NamedNode("https://w3id.org/geokg/graph/test-edits")
    located, syria = n(GP, "locatedIn"), n(GPD, "syria")
    village, district = n(GPD, "test-village"), n(GPD, "test-district")
    inner = ox.Quad(village, located, district, graph)
    outer = ox.Quad(district, located, syria, graph)
    _write(store, [inner, outer], [])
    assert (village, located, syria) in inferred(raw)
    assert (district, TYPE, n(GP, "Place")) in inferred(raw)  # the range of locatedIn
    _write(store, [], [outer])
    assert (village, located, syria) not in inferred(raw)
    assert (village, TYPE, n(GP, "Place")) in inferred(raw)  # the domain, from inner
    _write(store, [outer], [inner])
    assert (village, located, syria) not in inferred(raw)
    assert not any(t[0] == village for t in inferred(raw))  # nothing left about it


# ---------------------------------------------------------------- explanations
def test_explain_a_type_down_to_the_stated_triple_and_the_axioms(reasoned: OxigraphStore) -> None:
    why = reasoning.explain(reasoned.raw, (n(GPD, "s-400"), TYPE, n(GP, "AirDefenceSystem")))
    assert why is not None and not why.asserted
    assert why.derivation is not None and why.derivation.rule == "cax-sco"
    stated = why.asserted_triples()
    assert stated and all(t[1] == TYPE and t[0] == n(GPD, "s-400") for t, _g in stated)
    assert all(a[1] == reasoning.SUBCLASS for a in why.all_axioms())
    text = "\n".join(why.lines(label_of(reasoned.raw)))
    assert "gp:AirDefenceSystem" in text and "stated in" in text


def test_explain_a_transitive_link_and_a_triple_that_does_not_hold(
    reasoned: OxigraphStore,
) -> None:
    raw = reasoned.raw
    t = (n(GPD, "idlib-de-escalation-zone"), n(GP, "locatedIn"), n(GPD, "syria"))
    why = reasoning.explain(raw, t)
    assert why is not None and why.derivation is not None
    assert why.derivation.rule == "prp-trp"
    assert len(why.asserted_triples()) >= 2
    assert reasoning.explain(raw, (n(GPD, "sochi"), n(GP, "locatedIn"), n(GPD, "syria"))) is None


# ---------------------------------------------------------------- consistency
def test_the_curated_data_is_consistent(reasoned: OxigraphStore) -> None:
    result = check(reasoned)
    assert result.ok, result.to_text()
    assert result.projected_out > 0  # xsd:date literals were left out for HermiT


def test_a_contradiction_is_caught_and_explained(reasoned: OxigraphStore) -> None:
    store = copy_of(reasoned)
    raw = store.raw
    graph = "https://w3id.org/geokg/graph/test-contradiction"
    raw.load(
        path=str(FIXTURES / "contradiction.ttl"),
        format=ox.RdfFormat.TURTLE,
        to_graph=ox.NamedNode(graph),
    )
    reasoning.materialise(raw)
    result = check(store)
    assert not result.consistent
    clash = next(
        c for c in result.clashes if c.node == n(GPD, "turkey") and n(GP, "Person") in c.classes
    )
    assert {c.value for c in clash.classes} & {str(GP.State), str(GP.Place)}
    text = result.to_text(label_of(raw))
    assert "disjoint" in text
    assert "prp-rng" in text and "gp:holder" in text  # the range axiom that typed it
    assert graph in text  # and the stated triple it came from


def test_an_unsatisfiable_class_is_named_with_its_disjoint_superclasses() -> None:
    store = OxigraphStore(None)
    raw = store.raw
    onto = ox.NamedNode("https://w3id.org/geokg/graph/ontology")
    raw.load(
        input=(ROOT / "ontology" / "modules" / "core.ttl").read_bytes(),
        format=ox.RdfFormat.TURTLE,
        to_graph=onto,
    )
    raw.load(
        input=b"@prefix gp: <https://w3id.org/geokg/ontology#> .\n"
        b"@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
        b"gp:Cyborg rdfs:subClassOf gp:Person , gp:Organisation .\n",
        format=ox.RdfFormat.TURTLE,
        to_graph=onto,
    )
    result = check(store)
    assert not result.ok
    u = next(u for u in result.unsatisfiable if u.cls.endswith("Cyborg"))
    assert u.disjoint is not None and {d.rsplit("#", 1)[-1] for d in u.disjoint} == {
        "Person",
        "Organisation",
    }


# ---------------------------------------------------------------- stale refresh healed
def test_a_write_without_its_refresh_is_healed_when_the_server_opens_the_store(
    tmp_path: Path, reasoned: OxigraphStore
) -> None:
    from kg.endpoint import Endpoint

    path = tmp_path / "store"
    disk = OxigraphStore(path)
    disk.raw.extend(reasoned.raw.quads_for_pattern(None, None, None, None))
    sochi, syria = n(GPD, "sochi"), n(GPD, "syria")
    graph = ox.NamedNode("https://w3id.org/geokg/graph/test-crash")
    # the write commits with its pending mark; the process dies before the refresh
    disk.raw.update(
        f"INSERT DATA {{ GRAPH {graph} {{ {sochi} {n(GP, 'locatedIn')} "
        f"{n(GPD, 'idlib-province')} }} }} ;\n" + reasoning.pending_mark()
    )
    assert reasoning.is_pending(disk.raw)
    disk.close()
    endpoint = Endpoint(path, ROOT)
    endpoint._store = OxigraphStore(path)
    endpoint._heal_inferences()
    raw = endpoint._store.raw
    assert not reasoning.is_pending(raw)
    assert (sochi, n(GP, "locatedIn"), syria) in inferred(raw)
    endpoint._store.close()


# ---------------------------------------------------------------- the CLI
def test_kg_reason_and_kg_explain(tmp_path: Path) -> None:
    from kg.cli import app

    runner = CliRunner()
    store = str(tmp_path / "store")
    assert runner.invoke(app, ["load", "--store", store, "--root", str(ROOT)]).exit_code == 0
    result = runner.invoke(app, ["reason", "--store", store])
    assert result.exit_code == 0, result.output
    assert "consistent" in result.output and "inferred graph:" in result.output
    result = runner.invoke(
        app, ["explain", "--store", store, "gpd:s-400", "a", "gp:AirDefenceSystem"]
    )
    assert result.exit_code == 0, result.output
    assert "cax-sco" in result.output and "stated in" in result.output
    result = runner.invoke(
        app, ["explain", "--store", store, "gpd:sochi", "gp:locatedIn", "gpd:syria"]
    )
    assert result.exit_code == 1
    result = runner.invoke(app, ["explain", "--store", store, "gpd:sochi", '"x"', "gpd:syria"])
    assert result.exit_code == 2
    result = runner.invoke(
        app,
        ["query", "--store", store, "--asserted-only", "ASK { gpd:s-400 a gp:AirDefenceSystem }"],
    )
    assert result.output.strip().startswith("false")


# ---------------------------------------------------------------- the endpoint
def test_queries_see_inferences_unless_asked_for_stated_triples_only(server: str) -> None:
    ask = "PREFIX gp: <https://w3id.org/geokg/ontology#> PREFIX gpd: <https://w3id.org/geokg/id/>"
    ask += " ASK { gpd:s-400 a gp:AirDefenceSystem }"
    accept = {"Accept": "application/sparql-results+json"}
    r = httpx.get(f"{server}/sparql", params={"query": ask}, headers=accept)
    assert r.json()["boolean"] is True
    r = httpx.get(f"{server}/sparql", params={"query": ask, "inferred": "false"}, headers=accept)
    assert r.json()["boolean"] is False
    r = httpx.post(f"{server}/sparql", data={"query": ask, "inferred": "false"}, headers=accept)
    assert r.json()["boolean"] is False
    r = httpx.get(f"{server}/sparql", params={"query": ask, "inferred": "maybe"}, headers=accept)
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/problem+json")


def test_the_service_description_states_the_entailment_regime(server: str) -> None:
    r = httpx.get(f"{server}/sparql", headers={"Accept": "text/turtle"})
    g = Graph().parse(data=r.text, format="turtle")
    rows = list(
        g.query(
            "PREFIX sd: <http://www.w3.org/ns/sparql-service-description#> "
            "SELECT ?r ?p WHERE { ?s sd:defaultEntailmentRegime ?r ; "
            "sd:defaultSupportedEntailmentProfile ?p }"
        )
    )
    assert [(str(r), str(p)) for r, p in rows] == [
        ("http://www.w3.org/ns/entailment/OWL-RDF-Based", "http://www.w3.org/ns/owl-profile/RL")
    ]


def test_a_failed_refresh_does_not_fail_the_committed_write(
    reasoned: OxigraphStore, shapes, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rdflib import URIRef

    from kg import writes
    from kg.validation import Change

    store = copy_of(reasoned)

    def broken(*_args: object, **_kwargs: object) -> None:
        raise OSError("disk hiccup")

    monkeypatch.setattr(reasoning, "refresh", broken)
    graph = URIRef("https://w3id.org/geokg/graph/entities")
    pence, usa = URIRef(str(GPD) + "mike-pence"), URIRef(str(GPD) + "united-states")
    change = Change.of(add=[(pence, URIRef(str(GP) + "nationality"), usa, graph)])
    writes.apply_change(store, change, shapes)  # no exception: the write is committed
    raw = store.raw
    assert not reasoning.is_pending(raw)  # the fallback recomputed everything
    assert any(
        True for _ in raw.quads_for_pattern(n(GPD, "mike-pence"), n(GP, "nationality"), None)
    )
