"""The change log (who changed what, in PROV) and the REST writes of facts with evidence.

Every write through the server is recorded in the changes graph, in the same
transaction as the write; named tokens give named writers; a fact added through
``POST /api/v1/facts`` is a statement node with its evidence, passes the SHACL gate,
and can be read back and retracted. One writable server (loopback only) serves most
tests; each test writes its own graphs and facts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from rdflib import Literal, URIRef
from rdflib.namespace import RDFS

from api.rest_writes import ChangeOut, ChangePage, FactOut
from api.settings import Settings
from kg import changes as changes_module
from kg.changes import ChangeJob, ChangeListJob, ChangeRecord
from kg.errors import KGError, ValidationError
from kg.namespaces import CHANGES_GRAPH, GP, NON_ASSERTED_GRAPHS
from kg.store import open_store
from kg.validation import Change, Shapes
from kg.writes import apply_change
from tests.server import TOKEN, running_server

ID = "https://w3id.org/geokg/id/"
GPO = "https://w3id.org/geokg/ontology#"
GRAPHS = "https://w3id.org/geokg/graph/"
TEST = GRAPHS + "test/changes/"
API = GRAPHS + "api"
PROV = "http://www.w3.org/ns/prov#"
ARTICLE = ID + "article-004"
ALICE, BOB = "alice-token-0123456789", "bob-token-9876543210"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PROBLEM = "application/problem+json"
MAX_BODY = 64 * 1024


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def base(store_path: Path) -> Iterator[str]:
    """A writable server: KG_WRITE_TOKEN (editor) and two named writers, alice and bob."""
    with running_server(
        store_path,
        workers=2,
        writable=True,
        write_tokens=json.dumps({"alice": ALICE, "bob": BOB}),
        max_body_bytes=str(MAX_BODY),
    ) as url:
        yield url


@pytest.fixture(scope="module")
def w(base: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base, timeout=60) as c:
        yield c


# ---------------------------------------------------------------- helpers
def state(name: str, label: str) -> str:
    return f'<{ID}{name}> a <{GPO}State> ; <{RDFS}label> "{label}"@en .'


def update(c: httpx.Client, text: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return c.post(
        "/sparql",
        content=text.encode(),
        headers={"Content-Type": "application/sparql-update", **(headers or AUTH)},
    )


def put(c: httpx.Client, graph: str, turtle: str, headers: dict[str, str]) -> httpx.Response:
    return c.put(
        "/store",
        params={"graph": graph},
        content=turtle.encode(),
        headers={"Content-Type": "text/turtle", **headers},
    )


def ask(c: httpx.Client, pattern: str) -> bool:
    r = c.get(
        "/sparql",
        params={"query": f"ASK {{ {pattern} }}"},
        headers={"Accept": "application/sparql-results+json"},
    )
    assert r.status_code == 200, r.text
    return r.json()["boolean"]


def count(c: httpx.Client, pattern: str) -> int:
    r = c.get(
        "/sparql",
        params={"query": f"SELECT (COUNT(*) AS ?n) {{ {pattern} }}"},
        headers={"Accept": "application/sparql-results+json"},
    )
    assert r.status_code == 200, r.text
    return int(r.json()["results"]["bindings"][0]["n"]["value"])


def record(c: httpx.Client, iri: str) -> dict:
    r = c.get(f"/api/v1/changes/{iri.rsplit('/', 1)[-1]}")
    assert r.status_code == 200, r.text
    return r.json()


def total_changes(c: httpx.Client) -> int:
    r = c.get("/api/v1/changes", params={"limit": 1})
    assert r.status_code == 200, r.text
    return r.json()["total"]


def assert_problem(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, f"expected {status}, got {r.status_code}: {r.text}"
    assert r.headers["content-type"].startswith(PROBLEM), r.headers
    body = r.json()
    assert body["status"] == status and body["type"] and body["title"] and body["detail"]
    return body


def fact(subject: str = "iran", obj: str = "armenia", **extra: object) -> dict:
    body: dict = {
        "subject": ID + subject,
        "predicate": GPO + "borders",
        "object": {"iri": ID + obj},
        "source": ARTICLE,
        "quote": "Iran shares a short border with Armenia (a test quote).",
        "label": f"{subject} borders {obj} (a test fact)",
    }
    body.update(extra)
    return body


# ---------------------------------------------------------------- generic writes
def test_a_sparql_update_is_recorded(w: httpx.Client) -> None:
    g = TEST + "update"
    r = update(w, f"INSERT DATA {{ GRAPH <{g}> {{ {state('logged-land', 'Logged')} }} }}")
    assert r.status_code == 200, r.text
    iri = r.json()["change"]
    assert iri.startswith(ID + "change/") and r.headers["X-GeoKG-Change"] == iri
    rec = record(w, iri)
    assert (rec["agent"], rec["kind"], rec["added"], rec["removed"]) == (
        "editor",
        "sparql-update",
        2,
        0,
    )
    assert rec["graphs"] == [g]
    assert rec["time"].endswith("Z") and rec["started"] <= rec["time"]
    ChangeOut.model_validate(rec)  # the documented shape
    lines = rec["patch"]["added"].splitlines()
    assert len(lines) == 2 and all(line.endswith(f"<{g}> .") for line in lines)
    assert rec["patch"]["removed"] == "" and rec["patch"]["omitted"] is False
    # The newest record heads the log.
    assert w.get("/api/v1/changes").json()["items"][0]["iri"] == iri
    # A delete records what it removed.
    r = update(
        w, f'DELETE DATA {{ GRAPH <{g}> {{ <{ID}logged-land> <{RDFS}label> "Logged"@en }} }}'
    )
    # (a state without its label violates the shapes: refused, not recorded)
    assert_problem(r, 422)
    r = update(w, f"DROP GRAPH <{g}>")
    assert r.status_code == 200, r.text
    rec = record(w, r.json()["change"])
    assert (rec["kind"], rec["added"], rec["removed"]) == ("sparql-update", 0, 2)
    assert len(rec["patch"]["removed"].splitlines()) == 2


def test_graph_store_writes_are_recorded(w: httpx.Client) -> None:
    g = TEST + "gsp"
    r = put(w, g, state("gsp-logged-land", "GSP logged"), bearer(ALICE))
    assert r.status_code == 201, r.text
    rec = record(w, r.json()["change"])
    assert (rec["agent"], rec["kind"], rec["added"], rec["removed"]) == (
        "alice",
        "graph-store-put",
        2,
        0,
    )
    assert rec["graphs"] == [g]
    # Replacing the label: one quad out, one in (204: the id is in a header).
    r = put(w, g, state("gsp-logged-land", "GSP relabelled"), bearer(ALICE))
    assert r.status_code == 204, r.text
    rec = record(w, r.headers["X-GeoKG-Change"])
    assert (rec["kind"], rec["added"], rec["removed"]) == ("graph-store-put", 1, 1)
    assert "GSP relabelled" in rec["patch"]["added"] and "GSP logged" in rec["patch"]["removed"]
    r = w.post(
        "/store",
        params={"graph": g},
        content=f'<{ID}gsp-logged-land> <{GPO}note> "posted" .',
        headers={"Content-Type": "text/turtle", **bearer(BOB)},
    )
    assert r.status_code == 204, r.text
    rec = record(w, r.headers["X-GeoKG-Change"])
    assert (rec["agent"], rec["kind"], rec["added"], rec["removed"]) == (
        "bob",
        "graph-store-post",
        1,
        0,
    )
    r = w.delete("/store", params={"graph": g}, headers=bearer(BOB))
    assert r.status_code == 204, r.text
    rec = record(w, r.headers["X-GeoKG-Change"])
    assert (rec["kind"], rec["added"], rec["removed"]) == ("graph-store-delete", 0, 3)


def test_two_named_tokens_give_two_agents(w: httpx.Client) -> None:
    ids = {}
    for name, token in (("alice", ALICE), ("bob", BOB)):
        g = TEST + f"agent-{name}"
        r = update(
            w,
            f"INSERT DATA {{ GRAPH <{g}> {{ {state(f'{name}-land', name.title())} }} }}",
            bearer(token),
        )
        assert r.status_code == 200, r.text
        ids[name] = r.json()["change"]
        assert record(w, ids[name])["agent"] == name
    for name in ("alice", "bob"):
        page = w.get("/api/v1/changes", params={"agent": name, "limit": 500}).json()
        assert page["total"] == len(page["items"]) >= 1
        assert {i["agent"] for i in page["items"]} == {name}
        assert ids[name] in {i["iri"] for i in page["items"]}
    # Agents are PROV agents with their names as labels, in the changes graph.
    for name in ("alice", "bob"):
        agent = f"<{ID}agent/{name}>"
        assert ask(
            w, f'GRAPH <{CHANGES_GRAPH}> {{ {agent} a <{PROV}Agent> ; <{RDFS}label> "{name}" }}'
        )
    assert w.get("/api/v1/changes", params={"agent": "nobody"}).json()["total"] == 0


# ---------------------------------------------------------------- REST facts
def test_a_fact_round_trip(w: httpx.Client) -> None:
    shortcut = f"<{ID}iran> <{GPO}borders> <{ID}armenia>"
    assert not ask(w, shortcut)
    r = w.post("/api/v1/facts", json=fact(date="2019-07-12"), headers=bearer(BOB))
    assert r.status_code == 201, r.text
    body = r.json()
    fact_id = body["id"]
    assert r.headers["Location"] == f"/api/v1/facts/{fact_id}"
    assert body["iri"] == f"{ID}fact/{fact_id}" and body["graph"] == API
    assert (body["subject"], body["predicate"], body["object"]) == (
        ID + "iran",
        GPO + "borders",
        {"iri": ID + "armenia"},
    )
    assert body["evidence"] == [
        {
            "iri": f"{ID}fact/{fact_id}/evidence",
            "source": ARTICLE,
            "quote": fact()["quote"],
        }
    ]
    assert (body["date"], body["datePrecision"]) == ("2019-07-12", "day")
    rec = record(w, body["change"]["iri"])
    assert (rec["agent"], rec["kind"], rec["added"], rec["removed"]) == (
        "bob",
        "rest-add-fact",
        13,  # 11 for the statement and its evidence, 2 for the date and its precision
        0,
    )
    assert rec["generated"] == [body["iri"]] and rec["graphs"] == [API]
    # Read back, and visible through SPARQL: the shortcut triple and its inference.
    r = w.get(f"/api/v1/facts/{fact_id}")
    assert r.status_code == 200, r.text
    got = r.json()
    for described in (got, body):
        FactOut.model_validate(described)  # the documented shape
    assert got["changes"] == [body["change"]["iri"]]
    assert {k: v for k, v in got.items() if k != "changes"} == {
        k: v for k, v in body.items() if k not in ("change", "warnings")
    }
    assert ask(w, shortcut)
    assert ask(w, f"<{ID}armenia> <{GPO}borders> <{ID}iran>")  # symmetric: inferred
    assert ask(w, f"GRAPH <{API}> {{ <{body['iri']}> a <{GPO}FactStatement> }}")
    # Retract: the statement and its evidence are gone, and so are their consequences.
    assert_problem(w.delete(f"/api/v1/facts/{fact_id}"), 401)
    r = w.delete(f"/api/v1/facts/{fact_id}", headers=bearer(ALICE))
    assert r.status_code == 204, r.text
    rec = record(w, r.headers["X-GeoKG-Change"])
    assert (rec["agent"], rec["kind"], rec["added"], rec["removed"]) == (
        "alice",
        "rest-retract-fact",
        0,
        13,
    )
    assert rec["invalidated"] == [body["iri"]]
    assert_problem(w.get(f"/api/v1/facts/{fact_id}"), 404)
    assert_problem(w.delete(f"/api/v1/facts/{fact_id}", headers=bearer(ALICE)), 404)
    assert not ask(w, shortcut)
    assert not ask(w, f"<{ID}armenia> <{GPO}borders> <{ID}iran>")
    assert not ask(w, f"GRAPH <{API}> {{ ?s ?p ?o FILTER (STRSTARTS(STR(?s), '{body['iri']}')) }}")
    assert_problem(w.get("/api/v1/facts/not-a-uuid"), 404)
    assert_problem(w.get(f"/api/v1/changes/{fact_id}"), 404)


def test_a_fact_without_a_label_gets_one(w: httpx.Client) -> None:
    body = fact("azerbaijan", "iran")
    del body["label"]
    r = w.post("/api/v1/facts", json=body, headers=AUTH)
    assert r.status_code == 201, r.text
    assert r.json()["label"] == "azerbaijan borders iran"
    r = w.delete(r.headers["Location"], headers=AUTH)
    assert r.status_code == 204, r.text


def test_a_rejected_fact_writes_nothing_and_records_nothing(w: httpx.Client) -> None:
    before_changes = total_changes(w)
    before_quads = count(w, "GRAPH ?g { ?s ?p ?o }")
    # Shape violations: 422 with the SHACL report.
    for bad, focus_part in (
        (fact(subject="nowhere-land"), "fact/"),  # not a place: the domain of gp:borders
        (fact(object={"value": "Armenia"}), "fact/"),  # the object must be an IRI
        (fact(source=ID + "iran"), "/evidence"),  # the source must be a document
        (fact(predicate=GPO + "noSuchProperty"), "fact/"),  # not an object property
        (fact(date="2019-07-12", endDate="2019-01-01", startDate="2019-06-01"), "fact/"),
    ):
        problem = assert_problem(w.post("/api/v1/facts", json=bad, headers=AUTH), 422)
        assert problem["violations"] and problem["report"], problem
        assert any(focus_part in v["focusNode"] for v in problem["violations"]), problem
    # Bodies the model refuses: 422 with the errors; malformed JSON: 400.
    missing = fact()
    del missing["quote"]
    for bad in (
        missing,
        fact(quote=""),
        fact(quote="   "),
        fact(quote="x" * 2001),
        {**fact(), "subject": "relative/iri"},
        {**fact(), "subject": ID + "with space"},
        {**fact(), "subject": ID + "a<b"},
        {**fact(), "subject": ID + 'quo"te'},
        {**fact(), "subject": ID + "back\\slash"},
        {**fact(), "predicate": "urn:x y"},
        {**fact(), "source": ""},
        fact(object={"iri": "not an iri"}),
        fact(object={"value": "x", "lang": "en", "datatype": GPO + "x"}),
        fact(object={"value": "x", "lang": "not a tag"}),
        fact(date="12 July 2019"),
        fact(extra="member"),
        [fact()],
    ):
        problem = assert_problem(w.post("/api/v1/facts", json=bad, headers=AUTH), 422)
        assert problem.get("errors"), (bad, problem)
    for raw in (b"{", b"", b"\xff\xfe", b'{"subject": '):
        r = w.post(
            "/api/v1/facts",
            content=raw,
            headers={**AUTH, "Content-Type": "application/json"},
        )
        assert_problem(r, 400)
    r = w.post(
        "/api/v1/facts",
        content=json.dumps(fact()).encode(),
        headers={**AUTH, "Content-Type": "text/plain"},
    )
    assert_problem(r, 415)
    # Too large: 413, read no further than the limit.
    big = fact(label="x" * (MAX_BODY + 1))
    assert_problem(w.post("/api/v1/facts", json=big, headers=AUTH), 413)
    assert total_changes(w) == before_changes
    assert count(w, "GRAPH ?g { ?s ?p ?o }") == before_quads
    assert not ask(w, f"GRAPH <{API}> {{ ?s ?p ?o }}")


def test_writes_need_a_token(w: httpx.Client, client: httpx.Client) -> None:
    before = total_changes(w)
    for headers in ({}, bearer("wrong"), {"Authorization": f"Basic {ALICE}"}, bearer(ALICE[:-1])):
        r = w.post("/api/v1/facts", json=fact(), headers=headers)
        body = assert_problem(r, 401)
        assert r.headers["WWW-Authenticate"].startswith("Bearer"), body
    assert_problem(w.delete(f"/api/v1/facts/{'0' * 8}-0000-4000-8000-{'0' * 12}"), 401)
    # A read-only server (no token configured) refuses with 403.
    assert_problem(client.post("/api/v1/facts", json=fact(), headers=bearer(ALICE)), 403)
    # Reads need no token.
    assert w.get("/api/v1/changes").status_code == 200
    assert total_changes(w) == before


def test_change_log_parameters_and_paging(w: httpx.Client) -> None:
    for params in (
        {"limit": 0},
        {"limit": 501},
        {"limit": "many"},
        {"offset": -1},
        {"agent": "two words"},
        {"agent": "<x>"},
        {"since": "yesterday"},
    ):
        problem = assert_problem(w.get("/api/v1/changes", params=params), 400)
        assert problem["errors"], problem
    g = TEST + "paging"
    for i in range(3):
        r = update(w, f"INSERT DATA {{ GRAPH <{g}> {{ {state(f'page-land-{i}', f'Page {i}')} }} }}")
        assert r.status_code == 200, r.text
    everything = w.get("/api/v1/changes", params={"limit": 500}).json()
    ChangePage.model_validate(everything)
    times = [i["time"] for i in everything["items"]]
    assert times == sorted(times, reverse=True) and len(times) == everything["total"] >= 3
    assert all("patch" not in i for i in everything["items"])
    seen, url = [], "/api/v1/changes?limit=2"
    while url:
        page = w.get(url).json()
        assert page["limit"] == 2 and len(page["items"]) <= 2
        seen += [i["iri"] for i in page["items"]]
        url = page["next"]
    assert seen == [i["iri"] for i in everything["items"]]
    newest = everything["items"][0]
    since = w.get("/api/v1/changes", params={"since": newest["time"]}).json()
    assert [i["iri"] for i in since["items"]] == [newest["iri"]]
    future = w.get("/api/v1/changes", params={"since": "2999-01-01T00:00:00"}).json()
    assert (future["items"], future["total"], future["next"]) == ([], 0, None)


def test_the_changes_graph_cannot_be_written_and_holds_each_write_with_its_record(
    w: httpx.Client,
) -> None:
    before = total_changes(w)
    fake = f"<{ID}change/fake> a <{PROV}Activity>"
    assert_problem(update(w, f"INSERT DATA {{ GRAPH <{CHANGES_GRAPH}> {{ {fake} }} }}"), 403)
    assert_problem(update(w, f"DROP GRAPH <{CHANGES_GRAPH}>"), 403)
    assert_problem(put(w, CHANGES_GRAPH, f"{fake} .", AUTH), 403)
    assert_problem(w.delete("/store", params={"graph": CHANGES_GRAPH}, headers=AUTH), 403)
    assert total_changes(w) == before
    # After a write, the write and its record are both there; after a rejected one,
    # neither is.
    g = TEST + "together"
    r = update(w, f"INSERT DATA {{ GRAPH <{g}> {{ {state('together-land', 'Together')} }} }}")
    assert r.status_code == 200, r.text
    change = r.json()["change"]
    assert ask(
        w,
        f"GRAPH <{g}> {{ <{ID}together-land> a <{GPO}State> }} "
        f"GRAPH <{CHANGES_GRAPH}> {{ <{change}> <{PROV}used> <{g}> }}",
    )
    g2 = TEST + "together-rejected"
    r = update(w, f"INSERT DATA {{ GRAPH <{g2}> {{ <{ID}unlabelled-land> a <{GPO}State> }} }}")
    assert_problem(r, 422)
    assert not ask(w, f"GRAPH <{g2}> {{ ?s ?p ?o }}")
    assert not ask(w, f"GRAPH <{CHANGES_GRAPH}> {{ ?c <{PROV}used> <{g2}> }}")
    assert total_changes(w) == before + 1


# ---------------------------------------------------------------- in process
GRAPH = URIRef(GRAPHS + "test/in-process")


def _label_change(name: str) -> Change:
    return Change.of(add=[(URIRef(ID + name), RDFS.label, Literal(name, lang="en"), GRAPH)])


def test_the_record_commits_in_the_writes_transaction(
    shapes: Shapes, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(None)
    ok = ChangeRecord("alice", "sparql-update")
    apply_change(store, _label_change("first"), shapes, ok)
    assert store.count(str(GRAPH)) == 1
    assert ChangeJob(ok.id).run(store)["added"] == 1
    before = store.count()
    # A gate that fails (a date that is none): nothing written, nothing recorded.
    bad = Change.of(add=[(URIRef(ID + "undated"), GP.date, Literal("not a date"), GRAPH)])
    with pytest.raises(ValidationError):
        apply_change(store, bad, shapes, ChangeRecord("alice", "sparql-update"))
    assert store.count() == before
    # A record that fails inside the transaction takes the write down with it.
    real = ChangeRecord.update

    def failing(self: ChangeRecord, change: Change) -> str:
        return real(self, change) + f" ;\nCREATE GRAPH <{GRAPH}>"  # exists: fails at run time

    monkeypatch.setattr(changes_module.ChangeRecord, "update", failing)
    with pytest.raises(KGError):
        apply_change(store, _label_change("second"), shapes, ChangeRecord("bob", "sparql-update"))
    assert store.count() == before
    assert ChangeListJob(10).run(store)["total"] == 1
    assert CHANGES_GRAPH in NON_ASSERTED_GRAPHS  # never validated, never written by users


def test_large_patches_are_omitted(shapes: Shapes) -> None:
    store = open_store(None)
    change = Change.of(add=[q for i in range(1001) for q in _label_change(f"n{i}").add])
    rec = ChangeRecord("alice", "graph-store-post")
    apply_change(store, change, shapes, rec)
    got = ChangeJob(rec.id).run(store)
    assert (got["added"], got["removed"]) == (1001, 0)
    assert got["patch"]["omitted"] is True and got["patch"]["added"] is None
    assert store.count(CHANGES_GRAPH) < 40


def test_named_writers_in_the_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KG_WRITE_TOKEN", "KG_WRITE_TOKENS"):
        monkeypatch.delenv(name, raising=False)
    one = Settings(store=tmp_path, write_token="t-editor")
    assert one.writes_enabled and one.writers() == [("editor", b"t-editor")]
    both = Settings(store=tmp_path, write_token="t-editor", write_tokens={"alice": "t-alice"})
    assert both.writers() == [("editor", b"t-editor"), ("alice", b"t-alice")]
    assert Settings(store=tmp_path, write_tokens={"bob": "t-bob"}).writes_enabled
    assert not Settings(store=tmp_path).writes_enabled
    assert not Settings(store=tmp_path, write_token="").writes_enabled
    for bad in (
        {"write_tokens": {"two words": "t"}},
        {"write_tokens": {"x/y": "t"}},
        {"write_tokens": {"alice": ""}},
        {"write_tokens": {"alice": "same", "bob": "same"}},
        {"write_token": "same", "write_tokens": {"alice": "same"}},
    ):
        with pytest.raises(ValueError):
            Settings(store=tmp_path, **bad)
    # From the environment: a JSON object.
    monkeypatch.setenv("KG_WRITE_TOKENS", '{"alice": "t-a", "bob": "t-b"}')
    assert Settings(store=tmp_path).writers() == [("alice", b"t-a"), ("bob", b"t-b")]
