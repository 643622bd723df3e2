"""The SPARQL 1.1 Service Description, with VoID counts of the default dataset."""

from __future__ import annotations

from fastapi import Request, Response
from fastapi.responses import RedirectResponse
from rdflib import RDF, RDFS, BNode, Dataset, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, VOID, XSD

from api.formats import GRAPH_OFFERS, by_name
from api.negotiation import choose_or_406
from api.settings import Settings
from kg.endpoint import Endpoint
from kg.formats import RdfFormat

__all__ = ["describe_service", "service_description"]

SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
FORMATS = Namespace("http://www.w3.org/ns/formats/")
ENTAILMENT = Namespace("http://www.w3.org/ns/entailment/")
OWL_PROFILE = Namespace("http://www.w3.org/ns/owl-profile/")

_RESULT_FORMATS = [
    "SPARQL_Results_JSON",
    "SPARQL_Results_XML",
    "SPARQL_Results_CSV",
    "SPARQL_Results_TSV",
    "Turtle",
    "N-Triples",
    "JSON-LD",
    "RDF_XML",
    "TriG",
    "N-Quads",
]
_RDFLIB_NAMES = {
    RdfFormat.TURTLE: "turtle",
    RdfFormat.NTRIPLES: "nt",
    RdfFormat.NQUADS: "nquads",
    RdfFormat.TRIG: "trig",
    RdfFormat.RDFXML: "xml",
    RdfFormat.JSONLD: "json-ld",
}


def describe_service(
    endpoint_iri: str,
    *,
    writes: bool,
    federated: bool,
    default_triples: int,
    named: dict[str, int],
    dataset_iri: str | None = None,
    void_iri: str | None = None,
) -> Graph:
    """The service description graph of the endpoint at ``endpoint_iri``.

    With ``dataset_iri``, the default dataset is that IRI (else a blank node); with
    ``void_iri``, it is ``rdfs:seeAlso`` its VoID description there.
    """
    g = Graph()
    g.bind("sd", SD)
    g.bind("void", VOID)
    g.bind("formats", FORMATS)
    g.bind("ent", ENTAILMENT)
    service = URIRef(endpoint_iri + "#service")
    g.add((service, RDF.type, SD.Service))
    g.add((service, SD.endpoint, URIRef(endpoint_iri)))
    g.add((service, DCTERMS.title, Literal("GeoKG SPARQL endpoint", lang="en")))
    g.add((service, SD.supportedLanguage, SD.SPARQL11Query))
    if writes:
        g.add((service, SD.supportedLanguage, SD.SPARQL11Update))
    for name in _RESULT_FORMATS:
        g.add((service, SD.resultFormat, FORMATS[name]))
    for name in ("Turtle", "N-Triples", "JSON-LD", "RDF_XML"):
        g.add((service, SD.inputFormat, FORMATS[name]))
    g.add((service, SD.feature, SD.UnionDefaultGraph))
    if federated:
        g.add((service, SD.feature, SD.BasicFederatedQuery))
    # Queries see the stated triples plus the OWL 2 RL inferences materialised in the
    # inferred graph; `inferred=false` asks for the stated triples only.
    g.add((service, SD.defaultEntailmentRegime, ENTAILMENT["OWL-RDF-Based"]))
    g.add((service, SD.defaultSupportedEntailmentProfile, OWL_PROFILE.RL))
    g.add(
        (
            service,
            RDFS.comment,
            Literal(
                "Answers include the OWL 2 RL inferences of the ontology (materialised in "
                "the graph https://w3id.org/geokg/graph/inferred). Add the parameter "
                "inferred=false to a query request for the stated triples only.",
                lang="en",
            ),
        )
    )
    dataset = URIRef(dataset_iri) if dataset_iri else BNode("defaultDataset")
    g.add((service, SD.defaultDataset, dataset))
    if void_iri:
        g.add((dataset, RDFS.seeAlso, URIRef(void_iri)))
    g.add((dataset, RDF.type, SD.Dataset))
    g.add((dataset, RDF.type, VOID.Dataset))
    g.add((dataset, VOID.sparqlEndpoint, URIRef(endpoint_iri)))
    g.add((dataset, VOID.triples, Literal(default_triples, datatype=XSD.integer)))
    default = BNode("defaultGraph")
    g.add((dataset, SD.defaultGraph, default))
    g.add((default, RDF.type, SD.Graph))
    g.add((default, DCTERMS.description, Literal("The union of all named graphs.", lang="en")))
    g.add((default, VOID.triples, Literal(default_triples, datatype=XSD.integer)))
    for i, (name, count) in enumerate(named.items()):
        node, graph = BNode(f"named{i}"), BNode(f"graph{i}")
        g.add((dataset, SD.namedGraph, node))
        g.add((node, RDF.type, SD.NamedGraph))
        g.add((node, SD.name, URIRef(name)))
        g.add((node, SD.graph, graph))
        g.add((graph, RDF.type, SD.Graph))
        g.add((graph, VOID.triples, Literal(count, datatype=XSD.integer)))
    return g


async def service_description(request: Request, endpoint: Endpoint, settings: Settings) -> Response:
    accept = request.headers.get("accept")
    named_format = request.query_params.get("format")
    if named_format:
        accept = by_name(named_format, True) or "x-unknown/x-unknown"
    media = choose_or_406(accept, [*GRAPH_OFFERS, "text/html"], "the service description")
    if media == "text/html":
        # A browser opening the endpoint: the SPARQL editor (api.ui) is its page.
        return RedirectResponse("/query", status_code=303, headers={"Vary": "Accept"})
    fmt = GRAPH_OFFERS[media]
    from api.void import DATASET_IRI, PATH  # api.void imports this module

    counts = await endpoint.counts(settings.query_timeout)
    graph = describe_service(
        str(request.url.replace(query="", fragment="")).rstrip("?"),
        writes=settings.writes_enabled,
        federated=bool(settings.service_allowlist),
        default_triples=counts.default_graph,
        named=counts.named_graphs,
        dataset_iri=DATASET_IRI,
        void_iri=str(request.base_url).rstrip("/") + PATH,
    )
    return Response(serialise(graph, fmt), media_type=fmt.media_type)


def serialise(graph: Graph, fmt: RdfFormat) -> str:
    """``graph`` in ``fmt``; a dataset format holds it as the default graph."""
    if fmt.is_dataset:
        ds = Dataset()
        for t in graph:
            ds.add(t)
        return ds.serialize(format=_RDFLIB_NAMES[fmt])
    return graph.serialize(format=_RDFLIB_NAMES[fmt])
