"""IRIs of the ontology, the data and the named graphs, and the standard query prefixes."""

from __future__ import annotations

from rdflib import Namespace

__all__ = [
    "API_GRAPH",
    "CHANGES_GRAPH",
    "DERIVED_GRAPH",
    "GP",
    "GPD",
    "GPS",
    "GRAPH",
    "INFERRED_GRAPH",
    "LOAD_GRAPH",
    "NON_ASSERTED_GRAPHS",
    "ONTOLOGY_GRAPH",
    "PREFIXES",
    "graph_iri",
    "sparql_prologue",
]

GP = Namespace("https://w3id.org/geokg/ontology#")
GPD = Namespace("https://w3id.org/geokg/id/")
GRAPH = Namespace("https://w3id.org/geokg/graph/")
GPS = Namespace("https://w3id.org/geokg/shapes#")
SKOLEM = "https://w3id.org/geokg/id/.well-known/genid/"

#: Named graph holding the ontology (all modules).
ONTOLOGY_GRAPH = str(GRAPH["ontology"])
#: Named graph holding the shortcut triples derived from statement nodes.
DERIVED_GRAPH = str(GRAPH["derived"])
#: Named graph describing the load itself (when, which files, which derivation).
LOAD_GRAPH = str(GRAPH["load"])
#: Named graph holding the triples an OWL reasoner infers.
INFERRED_GRAPH = str(GRAPH["inferred"])
#: Named graph logging every write made through the server (who, when, what): PROV records.
CHANGES_GRAPH = str(GRAPH["changes"])
#: Named graph of the facts added through the REST API (``POST /api/v1/facts``).
API_GRAPH = str(GRAPH["api"])
#: Graphs computed from the others or kept by the server itself: never validated, never
#: written by users, never read by the reasoner.
NON_ASSERTED_GRAPHS = frozenset({DERIVED_GRAPH, LOAD_GRAPH, INFERRED_GRAPH, CHANGES_GRAPH})

PREFIXES: dict[str, str] = {
    "gp": str(GP),
    "gpd": str(GPD),
    "gps": str(GPS),
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "prov": "http://www.w3.org/ns/prov#",
    "oa": "http://www.w3.org/ns/oa#",
    "schema": "https://schema.org/",
    "org": "http://www.w3.org/ns/org#",
    "sem": "http://semanticweb.cs.vu.nl/2009/11/sem/",
    "dcterms": "http://purl.org/dc/terms/",
    "wd": "http://www.wikidata.org/entity/",
    "sh": "http://www.w3.org/ns/shacl#",
}


def graph_iri(name: str) -> str:
    """The IRI of the named graph ``name`` (for example ``article/004``)."""
    return str(GRAPH[name])


def sparql_prologue() -> str:
    """PREFIX declarations for every standard prefix, to put before a query."""
    return "".join(f"PREFIX {p}: <{iri}>\n" for p, iri in PREFIXES.items())
