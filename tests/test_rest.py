"""The REST API: lists by kind with filters and pages, one entity with facts and sources,
search that ignores case and accents, the as_of view, Popolo memberships, JSON-LD."""

from __future__ import annotations

import json

import httpx
import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDFS

from api.rest import CONTEXT
from kg.namespaces import GPD
from kg.resources import KINDS, holds_on, normalise

pytestmark = pytest.mark.backends


@pytest.fixture(scope="module")
def server(backend_server: str) -> str:
    """The read-only server over the curated data, on each backend in turn."""
    return backend_server


@pytest.fixture(scope="module")
def client(backend_client: httpx.Client) -> httpx.Client:
    return backend_client


def ids(page: dict) -> list[str]:
    return [item.get("id") for item in page["items"]]


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_kind_lists_and_pages(client: httpx.Client, kind: str) -> None:
    r = client.get(f"/api/v1/{kind}", params={"limit": 2})
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["kind"] == kind and page["limit"] == 2 and page["offset"] == 0
    assert page["total"] >= 1, f"the curated data has {kind}"
    assert len(page["items"]) == min(2, page["total"])
    if page["total"] > 2:
        second = client.get(page["next"]).json()
        assert second["offset"] == 2
        assert not set(ids(page)) & set(ids(second))
        assert second["prev"]
    every = client.get(f"/api/v1/{kind}", params={"limit": 500}).json()
    assert len(every["items"]) == every["total"] == page["total"]
    # and each item can be fetched as that kind
    first = page["items"][0]
    one = client.get(f"/api/v1/{kind}/{first['id']}")
    assert one.status_code == 200 and one.json()["iri"] == first["iri"]


def test_acquisitions_by_buyer_and_seller(client: httpx.Client) -> None:
    page = client.get("/api/v1/acquisitions", params={"buyer": "turkey", "seller": "russia"}).json()
    systems = {s["id"] for i in page["items"] for s in i["system"]}
    assert "s-400" in systems
    assert "s-500" not in systems  # a co-production, not a purchase
    by_iri = client.get(
        "/api/v1/acquisitions", params={"buyer": str(GPD.turkey), "system": "gpd:s-400"}
    ).json()
    assert by_iri["total"] >= 1


def test_events_by_participant_date_range_type_and_place(client: httpx.Client) -> None:
    every = client.get("/api/v1/events", params={"limit": 500}).json()
    turkey = client.get("/api/v1/events", params={"participant": "turkey", "limit": 500}).json()
    assert 0 < turkey["total"] < every["total"]
    ranged = client.get(
        "/api/v1/events", params={"from": "2015-11-24", "to": "2015-11-24", "limit": 500}
    ).json()
    labels = " ".join(i["label"] for i in ranged["items"])
    assert "Su-24" in labels, labels
    for item in ranged["items"]:
        dates = item["dates"]
        assert min(dates.values()) <= "2015-11-24"
    # dated lists come in date order
    firsts = [min(i["dates"].values()) for i in every["items"] if i.get("dates")]
    assert firsts == sorted(firsts)
    kinds = {t["iri"] for i in every["items"] for t in i.get("eventType", [])}
    some_type = sorted(kinds)[0]
    typed = client.get("/api/v1/events", params={"type": some_type, "limit": 500}).json()
    assert typed["total"] >= 1
    assert all(some_type in {t["iri"] for t in i["eventType"]} for i in typed["items"])
    syria = client.get("/api/v1/events", params={"place": "syria", "limit": 500}).json()
    assert syria["total"] >= 1


def test_an_entity_has_its_facts_in_both_directions_with_sources(client: httpx.Client) -> None:
    r = client.get("/api/v1/entities/s-400")
    assert r.status_code == 200
    e = r.json()
    assert e["label"] == "S-400" and "S400" in e["altLabels"]
    leaves = {t["iri"].rpartition("#")[2] for t in e["types"][:3]}
    assert "SurfaceToAirMissileSystem" in leaves and "WeaponSystemModel" not in leaves
    assert any(t["inferred"] and t["iri"].endswith("#AirDefenceSystem") for t in e["types"])
    origins = {o for f in e["facts"] for o in f["origin"]}
    assert {"stated", "derived"} <= origins
    acquired = [
        f
        for f in e["facts"]
        if f["direction"] == "in" and f["predicate"]["iri"].endswith("#acquired")
    ]
    assert any(f["value"]["id"] == "turkey" for f in acquired)
    assert all(f["sources"] and f["sources"][0]["quote"] for f in acquired)
    assert any(s["article"]["id"].startswith("article-") for f in acquired for s in f["sources"])
    # statements about it, with roles and evidence
    assert any(st["id"] == "acquisition-turkey-s-400" for st in e["statements"])


def test_search_ignores_case_accents_and_punctuation(client: httpx.Client) -> None:
    for q in ("erdogan", "ERDOGAN", "Erdoğan", "erdoğan", "recep tayyip"):
        page = client.get("/api/v1/search", params={"q": q}).json()
        assert page["items"][0]["id"] == "recep-tayyip-erdogan", q
    for q in ("S400", "s-400", "S 400", "s400s"):
        page = client.get("/api/v1/search", params={"q": q}).json()
        assert page["items"][0]["id"] == "s-400", q
    page = client.get("/api/v1/search", params={"q": "akar", "kind": "persons"}).json()
    assert [i["id"] for i in page["items"]] == ["hulusi-akar"]
    assert normalise("Erdoğan") == normalise("ERDOGAN") == "erdogan"
    assert normalise("K\u0131l\u0131\u00e7daro\u011flu") == "kilicdaroglu"


def test_as_of_answers_who_held_an_office_on_a_date(client: httpx.Client) -> None:
    page = client.get(
        "/api/v1/office-holdings",
        params={"office": "turkish-defence-minister", "as_of": "2020-02-20"},
    ).json()
    assert {h["id"] for i in page["items"] for h in i["holder"]} == {"hulusi-akar"}
    # Trump's term had ended before April 2021: not held on that date
    page = client.get(
        "/api/v1/office-holdings",
        params={"office": "president-of-the-united-states", "as_of": "2021-04-12"},
    ).json()
    assert {h["id"] for i in page["items"] for h in i["holder"]} == {"joe-biden"}
    person = client.get("/api/v1/persons/donald-trump", params={"as_of": "2021-04-12"}).json()
    assert person["asOf"] == "2021-04-12"
    assert not any(st["id"] == "holding-trump-us-president" for st in person["statements"])


def test_holds_on_reads_start_end_attested_and_ended_before() -> None:
    import datetime as dt

    day = dt.date(2020, 2, 21)
    assert holds_on({"date": "2020-01-01"}, day) is None  # not time-bounded
    assert holds_on({"startDate": "2019-01-01"}, day) is True
    assert holds_on({"startDate": "2021-01-01"}, day) is False
    assert holds_on({"startDate": "2019-01-01", "endDate": "2020-01-01"}, day) is False
    assert holds_on({"endedBefore": "2020-02-21"}, day) is False
    assert holds_on({"attestedDate": "2020-02-21"}, day) is True
    assert holds_on({"attestedDate": "2020-02-20"}, day) is False


def test_popolo_memberships_of_a_person(client: httpx.Client) -> None:
    person = client.get("/api/v1/persons/hulusi-akar").json()
    posts = [m for m in person["memberships"] if m["post_id"]]
    assert any(m["post_id"] == "turkish-defence-minister" for m in posts)
    assert all(m["person_id"] == "hulusi-akar" for m in posts)
    assert all(m["sources"] for m in posts)


def test_the_json_ld_variant_is_rdf(client: httpx.Client) -> None:
    r = client.get("/api/v1/states/turkey", headers={"Accept": "application/ld+json"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/ld+json")
    body = r.json()
    assert body["@context"] == json.loads(json.dumps(CONTEXT))
    g = Graph().parse(data=r.content, format="json-ld")
    assert (URIRef(GPD.turkey), RDFS.label, Literal("Turkey")) in g or any(
        str(o) == "Turkey" for o in g.objects(URIRef(GPD.turkey), RDFS.label)
    )
    ctx = client.get("/api/v1/context.jsonld")
    assert ctx.status_code == 200 and "@context" in ctx.json()


def test_errors_are_problems_with_the_right_status(client: httpx.Client) -> None:
    cases = [
        ("/api/v1/entities/no-such-thing", 404),
        ("/api/v1/states/recep-tayyip-erdogan", 404),  # exists, but not a state
        ("/api/v1/events?from=2020-13-45", 400),
        ("/api/v1/events?participant=not%20an%20iri", 400),
        ("/api/v1/states?limit=0", 400),
        ("/api/v1/states?limit=100000", 400),
        ("/api/v1/search?q=", 400),
        ("/api/v1/search?q=%21%21%21", 400),
        ("/api/v1/search?q=x&kind=spaceships", 400),
        ("/api/v1/nothing-here", 404),
    ]
    for path, status in cases:
        r = client.get(path)
        assert r.status_code == status, (path, r.status_code, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["status"] == status
    r = client.get("/api/v1/states", headers={"Accept": "text/csv"})
    assert r.status_code == 406


def test_the_openapi_document_describes_every_kind(client: httpx.Client) -> None:
    doc = client.get("/openapi.json").json()
    for kind in KINDS:
        assert f"/api/v1/{kind}" in doc["paths"]
        assert f"/api/v1/{kind}/{{id}}" in doc["paths"]
    params = {p["name"] for p in doc["paths"]["/api/v1/events"]["get"]["parameters"]}
    assert {"participant", "from", "to", "type", "place", "limit", "offset", "q"} <= params


def test_an_inferred_fact_is_explained_down_to_its_sources(client: httpx.Client) -> None:
    e = client.get("/api/v1/persons/recep-tayyip-erdogan").json()
    [chain] = [
        f
        for f in e["facts"]
        if f["predicate"]["iri"].endswith("#heldOfficeOf") and f["value"].get("id") == "turkey"
    ]
    assert chain["origin"] == ["inferred"] and "prp-spo2" in chain["rules"]
    assert chain["sources"] and all(s["quote"] for s in chain["sources"])
    tree = client.get(
        "/api/v1/explain",
        params={"s": "recep-tayyip-erdogan", "p": "gp:heldOfficeOf", "o": "turkey"},
    ).json()
    assert tree["rule"] == "prp-spo2"
    leaves = [p for p in tree["premises"] if p.get("statedIn")]
    assert leaves and any(p["sources"] for p in leaves)
    typed = client.get(
        "/api/v1/explain", params={"s": "s-400", "p": "a", "o": "gp:AirDefenceSystem"}
    )
    assert typed.status_code == 200 and typed.json()["rule"] == "cax-sco"
    missing = client.get("/api/v1/explain", params={"s": "turkey", "p": "a", "o": "gp:Person"})
    assert missing.status_code == 404
    both = client.get(
        "/api/v1/explain", params={"s": "turkey", "p": "a", "o": "x:y", "literal": "1"}
    )
    assert both.status_code == 400
