"""Linked data: entity, ontology term, article and graph IRIs dereference by 303 to a
document in the format asked for; HTML pages show facts with their sources."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import OWL, RDF, RDFS

from api.linked_data import local_path
from api.settings import Settings
from kg.namespaces import GP, GPD

RDF_FORMATS = {
    "text/turtle": ("ttl", "turtle"),
    "application/ld+json": ("jsonld", "json-ld"),
    "application/rdf+xml": ("rdf", "xml"),
    "application/n-triples": ("nt", "nt"),
}


@pytest.mark.parametrize("media", [*RDF_FORMATS, "text/html"])
def test_an_entity_iri_redirects_to_the_document_in_the_format_asked_for(
    client: httpx.Client, media: str
) -> None:
    r = client.get("/id/turkey", headers={"Accept": media})
    assert r.status_code == 303
    assert "accept" in r.headers["vary"].lower()
    suffix = RDF_FORMATS[media][0] if media in RDF_FORMATS else "html"
    assert r.headers["location"] == f"/doc/turkey.{suffix}"
    doc = client.get(r.headers["location"])
    assert doc.status_code == 200
    assert doc.headers["content-type"].startswith(media)
    assert "accept" in doc.headers["vary"].lower()
    if media in RDF_FORMATS:
        g = Graph().parse(data=doc.content, format=RDF_FORMATS[media][1])
        turkey = URIRef(GPD.turkey)
        assert (turkey, RDFS.label, Literal("Turkey", lang="en")) in g
        assert (turkey, RDF.type, URIRef(GP.State)) in g
        # the statements about it come with their evidence, down to the quote
        quotes = list(g.objects(None, URIRef("http://www.w3.org/ns/oa#exact")))
        assert quotes, "the document carries the evidence of the statements"


def test_head_requests_are_answered_like_get(client: httpx.Client) -> None:
    r = client.head("/id/turkey", headers={"Accept": "text/turtle"})
    assert r.status_code == 303 and r.headers["location"] == "/doc/turkey.ttl"
    r = client.head("/doc/turkey.ttl")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/turtle")
    assert r.content == b""


def test_a_browser_accept_header_gets_html_and_curl_gets_turtle(client: httpx.Client) -> None:
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    assert (
        client.get("/id/s-400", headers={"Accept": browser}).headers["location"].endswith(".html")
    )
    assert client.get("/id/s-400", headers={"Accept": "*/*"}).headers["location"].endswith(".ttl")


def test_the_document_negotiates_too_and_a_format_parameter_wins(client: httpx.Client) -> None:
    r = client.get("/doc/s-400", headers={"Accept": "application/n-triples"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/n-triples")
    assert r.headers["content-location"] == "/doc/s-400.nt"
    r = client.get("/doc/s-400?format=jsonld", headers={"Accept": "text/turtle"})
    assert r.headers["content-type"].startswith("application/ld+json")
    json.loads(r.content)
    r = client.get("/id/s-400?format=ttl", headers={"Accept": "text/html"})
    assert r.status_code == 303 and r.headers["location"].startswith("/doc/s-400.ttl")


def test_unknown_entities_and_formats_are_problems(client: httpx.Client) -> None:
    for path in ("/id/no-such-thing", "/doc/no-such-thing.ttl", "/doc/no-such-thing.html"):
        r = client.get(path)
        assert r.status_code == 404, path
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["status"] == 404
    r = client.get("/id/turkey", headers={"Accept": "image/png"})
    assert r.status_code == 406 and r.headers["content-type"] == "application/problem+json"
    assert "text/turtle" in r.json()["detail"]
    assert "accept" in r.headers["vary"].lower()
    r = client.get("/doc/turkey?format=docx")
    assert r.status_code == 406


def test_the_ontology_and_each_term_dereference(client: httpx.Client) -> None:
    r = client.get("/ontology", headers={"Accept": "text/turtle"})
    assert r.status_code == 303 and r.headers["location"] == "/doc/ontology.ttl"
    g = Graph().parse(data=client.get("/doc/ontology.ttl").content, format="turtle")
    assert (URIRef("https://w3id.org/geokg/ontology"), RDF.type, OWL.Ontology) in g
    assert (URIRef(GP.State), RDF.type, OWL.Class) in g
    html = client.get("/ontology", headers={"Accept": "text/html"}, follow_redirects=True)
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert 'id="State"' in html.text
    # every term has its own page, in HTML and RDF
    term = client.get("/doc/ontology/State.html")
    assert term.status_code == 200
    assert ">state<" in term.text.lower() or "state</h1>" in term.text.lower()
    assert "/id/turkey" in term.text, "a class page lists its instances, linked locally"
    g = Graph().parse(data=client.get("/doc/ontology/OfficeHolding.ttl").content, format="turtle")
    assert (URIRef(GP.OfficeHolding), RDFS.subClassOf, URIRef(GP.Statement)) in g
    assert client.get("/doc/ontology/NoSuchTerm.html").status_code == 404


def test_an_article_iri_shows_its_record_and_what_cites_it(client: httpx.Client) -> None:
    page = client.get("/doc/article-003.html")
    assert page.status_code == 200
    assert "Bloomberg" in page.text
    assert "Cited as evidence" in page.text
    assert "Hulusi Akar" in page.text or "Akar" in page.text


def test_a_graph_iri_redirects_to_the_graph_store(client: httpx.Client) -> None:
    r = client.get("/graph/article/004")
    assert r.status_code == 303
    assert r.headers["location"].startswith("/store?graph=https%3A%2F%2Fw3id.org%2Fgeokg%2Fgraph")
    g = client.get(r.headers["location"], headers={"Accept": "text/turtle"})
    assert g.status_code == 200 and len(Graph().parse(data=g.content, format="turtle")) > 100


def test_the_entity_page_shows_facts_with_sources_and_statements_in_date_order(
    client: httpx.Client,
) -> None:
    r = client.get("/doc/recep-tayyip-erdogan.html")
    assert r.status_code == 200
    text = r.text
    assert "<h1>Recep Tayyip Erdoğan</h1>" in text
    assert "Also known as" in text and "Erdogan" in text
    # facts in both directions, with readable labels, not IRIs
    assert "holds office" in text and "President of Turkey" in text
    assert "Referenced by" in text
    # sources: a quote and a link to the article record, kept local
    assert "<blockquote>" in text
    assert 'href="/id/article-000"' in text
    shown = text.replace(
        '<div class="iri">https://w3id.org/geokg/id/recep-tayyip-erdogan</div>', ""
    )
    assert 'href="https://w3id.org/geokg/' not in shown, "links to our entities stay local"
    # statements in date order
    dates = re.findall(
        r'<div class="muted">(?:on|from|attested|until|ended before) (\d{4}-\d\d-\d\d)', text
    )
    assert len(dates) > 5
    assert dates == sorted(dates)
    # the RDF alternates are advertised
    assert 'rel="alternate" type="text/turtle"' in text


def test_the_as_of_view_keeps_only_the_time_bounded_facts_that_held(client: httpx.Client) -> None:
    full = client.get("/doc/recep-tayyip-erdogan.html").text
    then = client.get("/doc/recep-tayyip-erdogan.html?as_of=2021-04-10").text
    assert "holding on 2021-04-10" in then
    assert "Erdogan, President of Turkey (April 2021)" in then
    assert len(then) < len(full)
    assert client.get("/doc/recep-tayyip-erdogan.html?as_of=yesterday").status_code == 400


def test_html_escapes_what_it_shows(client: httpx.Client) -> None:
    r = client.get("/search", params={"q": "<script>alert(1)</script>"})
    assert r.status_code == 200
    assert "<script>alert(1)</script>" not in r.text
    assert "&lt;script&gt;" in r.text
    r = client.get("/search", params={"q": "x" * 201})
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"


def test_the_public_base_is_configurable() -> None:
    settings = Settings(store="/tmp/x", public_base="https://kg.example.org/geo/")
    base = settings.public_base
    assert local_path(base + "id/turkey", base) == "/id/turkey"
    assert local_path(base + "ontology#State", base) == "/doc/ontology/State"
    assert local_path(base + "graph/article/004", base) == "/graph/article/004"
    assert local_path("https://w3id.org/geokg/id/turkey", base) is None
    with pytest.raises(ValueError):
        Settings(store="/tmp/x", public_base="not a url")


def test_a_server_with_another_public_base_answers_for_its_own_iris(store_path) -> None:
    from tests.server import running_server

    with (
        running_server(store_path, workers=1, public_base="https://kg.example.org/") as base,
        httpx.Client(base_url=base, timeout=60) as c,
    ):
        # the data's IRIs are not under this base: the same path names another IRI
        r = c.get("/id/turkey")
        assert r.status_code == 404
        assert "https://kg.example.org/id/turkey" in r.json()["detail"]
