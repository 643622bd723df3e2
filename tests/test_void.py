"""The VoID description at /.well-known/void: formats, statistics, link from the service
description, and a recount after a write."""

from __future__ import annotations

import httpx
import pytest
from rdflib import RDF, RDFS, Graph, Literal, Namespace, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import DCTERMS, VOID

from tests.server import TOKEN

GP = Namespace("https://w3id.org/geokg/ontology#")
GPD = Namespace("https://w3id.org/geokg/id/")
SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
DATASET = URIRef("https://w3id.org/geokg/dataset")
GRAPHS = "https://w3id.org/geokg/graph/"
JSON_RESULTS = "application/sparql-results+json"
XSD_INTEGER = URIRef("http://www.w3.org/2001/XMLSchema#integer")
COUNT_QUERY = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"

# rdflib's JSON-LD parser warns about its own internals.
pytestmark = pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")


def media_type(r: httpx.Response) -> str:
    return r.headers.get("content-type", "").split(";")[0].strip()


def count(client: httpx.Client, query: str) -> int:
    r = client.get("/sparql", params={"query": query}, headers={"Accept": JSON_RESULTS})
    assert r.status_code == 200, r.text
    rows = r.json()["results"]["bindings"]
    assert len(rows) == 1
    return int(rows[0]["n"]["value"])


def one(g: Graph, s: URIRef, p: URIRef) -> object:
    values = list(g.objects(s, p))
    assert len(values) == 1, (s, p, values)
    return values[0]


def number(g: Graph, s: URIRef, p: URIRef) -> int:
    value = one(g, s, p)
    assert isinstance(value, Literal) and value.datatype == XSD_INTEGER, value
    return int(value)


def get_void(client: httpx.Client, accept: str = "text/turtle", **params: str) -> httpx.Response:
    return client.get("/.well-known/void", headers={"Accept": accept}, params=params)


@pytest.fixture(scope="module")
def void(client: httpx.Client) -> Graph:
    r = get_void(client)
    assert r.status_code == 200, r.text
    assert media_type(r) == "text/turtle"
    return Graph().parse(data=r.text, format="turtle")


@pytest.mark.parametrize(
    ("accept", "rdflib_format"),
    [
        ("application/n-triples", "nt"),
        ("application/ld+json", "json-ld"),
        ("application/rdf+xml", "xml"),
    ],
)
def test_the_description_in_each_format(
    client: httpx.Client, void: Graph, accept: str, rdflib_format: str
) -> None:
    r = get_void(client, accept)
    assert r.status_code == 200, r.text
    assert media_type(r) == accept
    assert "accept" in {v.strip().lower() for v in r.headers.get("vary", "").split(",")}
    assert isomorphic(Graph().parse(data=r.text, format=rdflib_format), void)


def test_format_parameter_and_head(client: httpx.Client, void: Graph) -> None:
    r = get_void(client, "text/turtle", format="ntriples")
    assert r.status_code == 200 and media_type(r) == "application/n-triples"
    assert isomorphic(Graph().parse(data=r.text, format="nt"), void)
    r = client.head("/.well-known/void", headers={"Accept": "application/ld+json"})
    assert r.status_code == 200 and media_type(r) == "application/ld+json"
    assert r.content == b""


def test_unacceptable_format_is_406(client: httpx.Client) -> None:
    r = get_void(client, "image/png")
    assert r.status_code == 406
    assert media_type(r) == "application/problem+json"
    assert "text/turtle" in r.json()["detail"]
    assert get_void(client, "text/turtle", format="png").status_code == 406


def test_the_dataset_and_its_access(client: httpx.Client, server: str, void: Graph) -> None:
    assert (DATASET, RDF.type, VOID.Dataset) in void
    assert one(void, DATASET, DCTERMS.title)
    assert one(void, DATASET, DCTERMS.description)
    assert one(void, DATASET, VOID.sparqlEndpoint) == URIRef(server + "/sparql")
    assert one(void, DATASET, VOID.uriSpace) == Literal("https://w3id.org/geokg/id/")
    assert one(void, DATASET, VOID.exampleResource) == GPD["turkey"]
    vocabularies = set(void.objects(DATASET, VOID.vocabulary))
    assert URIRef("https://w3id.org/geokg/ontology") in vocabularies
    assert URIRef("http://www.w3.org/2004/02/skos/core") in vocabularies
    dump = one(void, DATASET, VOID.dataDump)
    assert dump == URIRef(server + "/store?default")
    r = client.head(str(dump), headers={"Accept": "application/n-triples"})
    assert r.status_code == 200, r.text
    doc = URIRef(server + "/.well-known/void")
    assert (doc, RDF.type, VOID.DatasetDescription) in void


def test_statistics_match_sparql_counts(client: httpx.Client, void: Graph) -> None:
    assert number(void, DATASET, VOID.triples) == count(client, COUNT_QUERY)
    assert number(void, DATASET, VOID.distinctSubjects) == count(
        client, "SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s ?p ?o }"
    )
    assert number(void, DATASET, VOID.distinctObjects) == count(
        client, "SELECT (COUNT(DISTINCT ?o) AS ?n) WHERE { ?s ?p ?o }"
    )
    assert number(void, DATASET, VOID.properties) == count(
        client, "SELECT (COUNT(DISTINCT ?p) AS ?n) WHERE { ?s ?p ?o }"
    )
    assert number(void, DATASET, VOID.classes) == count(
        client, f"SELECT (COUNT(DISTINCT ?c) AS ?n) WHERE {{ ?x <{RDF.type}> ?c }}"
    )
    entities = number(void, DATASET, VOID.entities)
    assert entities == count(
        client,
        "SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s ?p ?o FILTER(isIRI(?s) && "
        f'STRSTARTS(STR(?s), "{GPD}") && !STRSTARTS(STR(?s), "{GPD}.well-known/genid/")) }}',
    )
    assert 0 < entities < number(void, DATASET, VOID.distinctSubjects)


def test_class_and_property_partitions(client: httpx.Client, void: Graph) -> None:
    classes = {
        one(void, part, VOID["class"]): number(void, part, VOID.entities)
        for part in void.objects(DATASET, VOID.classPartition)
    }
    assert len(classes) == number(void, DATASET, VOID.classes)
    assert classes[GP.State] == count(
        client, f"SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE {{ ?x a <{GP.State}> }}"
    )
    assert classes[GP.State] > 0
    properties = {
        one(void, part, VOID.property): number(void, part, VOID.triples)
        for part in void.objects(DATASET, VOID.propertyPartition)
    }
    assert len(properties) == number(void, DATASET, VOID.properties)
    assert properties[RDFS.label] == count(
        client, f"SELECT (COUNT(*) AS ?n) WHERE {{ ?s <{RDFS.label}> ?o }}"
    )
    assert sum(properties.values()) == number(void, DATASET, VOID.triples)


def test_a_subset_per_named_graph(client: httpx.Client, void: Graph) -> None:
    subsets = {s: number(void, s, VOID.triples) for s in void.objects(DATASET, VOID.subset)}
    r = client.get(
        "/sparql",
        params={"query": "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"},
        headers={"Accept": JSON_RESULTS},
    )
    graphs = {
        URIRef(b["g"]["value"]): int(b["n"]["value"]) for b in r.json()["results"]["bindings"]
    }
    assert subsets == graphs
    for name in ("ontology", "derived", "inferred", "load", "entities", "article/000"):
        subset = URIRef(GRAPHS + name)
        assert (subset, RDF.type, VOID.Dataset) in void
        assert one(void, subset, DCTERMS.description).language == "en"
    assert "Article 000" in one(void, URIRef(GRAPHS + "article/000"), DCTERMS.description)


def test_the_service_description_links_to_it(client: httpx.Client, server: str) -> None:
    r = client.get("/sparql", headers={"Accept": "text/turtle"})
    assert r.status_code == 200, r.text
    sd = Graph().parse(data=r.text, format="turtle")
    assert (None, SD.endpoint, URIRef(server + "/sparql")) in sd
    datasets = list(sd.objects(None, SD.defaultDataset))
    assert datasets == [DATASET]
    assert (DATASET, RDFS.seeAlso, URIRef(server + "/.well-known/void")) in sd


def test_statistics_are_counted_again_after_a_write(writable_server: str) -> None:
    graph = GRAPHS + "void-test"
    update = (
        f"INSERT DATA {{ GRAPH <{graph}> {{ <{GPD}void-land> a <{GP.State}> ; "
        f'<{RDFS.label}> "Void-land"@en . }} }}'
    )
    with httpx.Client(base_url=writable_server, timeout=60) as c:
        before = Graph().parse(data=get_void(c).text, format="turtle")
        r = c.post(
            "/sparql",
            content=update.encode(),
            headers={
                "Content-Type": "application/sparql-update",
                "Authorization": f"Bearer {TOKEN}",
            },
        )
        assert r.status_code == 200, r.text
        after = Graph().parse(data=get_void(c).text, format="turtle")
        assert number(after, DATASET, VOID.triples) == count(c, COUNT_QUERY)
        assert number(after, DATASET, VOID.triples) > number(before, DATASET, VOID.triples)
        assert (DATASET, VOID.subset, URIRef(graph)) in after
        assert (DATASET, VOID.subset, URIRef(graph)) not in before
