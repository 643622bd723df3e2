"""The VoID description of the dataset at ``/.well-known/void`` (RFC 8615; VoID discovery).

The dataset ``https://w3id.org/geokg/dataset`` is what the SPARQL endpoint queries by
default: the union of all named graphs, the OWL 2 RL inferences included. Its statistics
are counted with SPARQL over that union, in one query (so over one snapshot), in the
endpoint's worker pool, and kept until the next write (per store generation):

* ``void:triples``: ``SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }``;
* ``void:entities``: distinct subject IRIs under the ``void:uriSpace``
  ``https://w3id.org/geokg/id/``, except the skolem IRIs under
  ``https://w3id.org/geokg/id/.well-known/genid/``, which stand for blank nodes;
* ``void:distinctSubjects``, ``void:distinctObjects``, ``void:properties``,
  ``void:classes`` (distinct objects of ``rdf:type``);
* a ``void:classPartition`` per class (``void:class``, ``void:entities``: its distinct
  instances) and a ``void:propertyPartition`` per property (``void:property``,
  ``void:triples``); the partitions are blank nodes;
* a ``void:subset`` per named graph, **named by the graph's IRI itself** (the name the
  service description gives with ``sd:name``; the load graph describes each graph as a
  ``void:Dataset`` with that IRI too), with its ``void:triples``, for the graphs the
  loader writes a ``dcterms:description``, and for an article's graph the article it was
  curated from (``prov:wasDerivedFrom``, from the load graph).

``void:vocabulary`` lists the known vocabularies (the standard prefixes of
:mod:`kg.namespaces`, VoID, VANN) whose terms are used as classes or properties.
No ``dcterms:modified``: the store does not record when it was last written.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

from fastapi import APIRouter, Request, Response
from rdflib import RDF, BNode, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, FOAF, PROV, RDFS, VANN, VOID, XSD

from api.dependencies import EndpointDep, SettingsDep
from api.formats import GRAPH_OFFERS, by_name
from api.negotiation import choose_or_406
from api.service import FORMATS, serialise
from kg.endpoint import Endpoint
from kg.formats import ResultFormat
from kg.namespaces import (
    DERIVED_GRAPH,
    GPD,
    GRAPH,
    INFERRED_GRAPH,
    LOAD_GRAPH,
    ONTOLOGY_GRAPH,
    PREFIXES,
    SKOLEM,
)
from kg.pool import QueryJob

__all__ = ["DATASET_IRI", "PATH", "VoidStatistics", "describe_dataset", "router"]

#: The dataset this server publishes.
DATASET_IRI = "https://w3id.org/geokg/dataset"
#: Where its description is served.
PATH = "/.well-known/void"
ONTOLOGY_IRI = "https://w3id.org/geokg/ontology"
#: Resources the description points to as examples, when the store holds them.
EXAMPLES = (str(GPD["turkey"]),)

_KNOWN_GRAPHS = {
    ONTOLOGY_GRAPH: "The ontology https://w3id.org/geokg/ontology: all its OWL modules.",
    DERIVED_GRAPH: "Shortcut triples derived from the statement nodes of the curated graphs; "
    "not asserted.",
    INFERRED_GRAPH: "The OWL 2 RL inferences of the ontology over the stated triples, "
    "materialised; leave it out with inferred=false.",
    LOAD_GRAPH: "A description of the last load: the files read, their digests, the graphs "
    "they went to and how the derived graph was made.",
    str(GRAPH["entities"]): "The entity registry: states, organisations, people, places, "
    "weapon systems... with their labels and identifiers.",
    str(GRAPH["sources"]): "The source articles: their metadata and publication dates.",
}
_ARTICLE_GRAPHS = str(GRAPH["article/"])

#: Vocabulary IRIs by namespace; the ones whose terms are used are listed.
_VOCABULARIES = (
    {
        ns: ns[:-1] if ns.endswith("#") else ns
        for prefix, ns in PREFIXES.items()
        if prefix not in {"gpd", "gps", "wd"}  # data and shapes, not vocabularies
    }
    | {str(VOID): str(VOID)[:-1], str(VANN): str(VANN)}
)

_STATISTICS_QUERY = f"""
PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX prov: <http://www.w3.org/ns/prov#>
SELECT ?kind ?key ?n ?value WHERE {{
  {{ SELECT ("triples" AS ?kind) (COUNT(*) AS ?n) WHERE {{ ?s ?p ?o }} }}
  UNION {{ SELECT ("subjects" AS ?kind) (COUNT(DISTINCT ?s) AS ?n) WHERE {{ ?s ?p ?o }} }}
  UNION {{ SELECT ("objects" AS ?kind) (COUNT(DISTINCT ?o) AS ?n) WHERE {{ ?s ?p ?o }} }}
  UNION {{
    SELECT ("entities" AS ?kind) (COUNT(DISTINCT ?s) AS ?n) WHERE {{
      ?s ?p ?o
      FILTER(isIRI(?s) && STRSTARTS(STR(?s), "{GPD}") && !STRSTARTS(STR(?s), "{SKOLEM}"))
    }}
  }}
  UNION {{
    SELECT ("class" AS ?kind) ?key (COUNT(DISTINCT ?x) AS ?n) WHERE {{ ?x rdf:type ?key }}
    GROUP BY ?key
  }}
  UNION {{
    SELECT ("property" AS ?kind) ?key (COUNT(*) AS ?n) WHERE {{ ?s ?key ?o }} GROUP BY ?key
  }}
  UNION {{
    SELECT ("graph" AS ?kind) ?key (COUNT(*) AS ?n) WHERE {{ GRAPH ?key {{ ?s ?p ?o }} }}
    GROUP BY ?key
  }}
  UNION {{
    SELECT ("example" AS ?kind) ?key WHERE {{
      VALUES ?key {{ {" ".join(f"<{e}>" for e in EXAMPLES)} }}
      FILTER EXISTS {{ ?key ?p ?o }}
    }}
  }}
  UNION {{
    SELECT ("source" AS ?kind) ?key ?value (SAMPLE(?l) AS ?n) WHERE {{
      GRAPH <{LOAD_GRAPH}> {{ ?key prov:wasDerivedFrom ?value }}
      FILTER(isIRI(?value) && STRSTARTS(STR(?value), "{GPD}"))
      OPTIONAL {{ ?value rdfs:label ?l }}
    }}
    GROUP BY ?key ?value
  }}
}}
"""


@dataclass(frozen=True)
class Statistics:
    """What the statistics query counted, at one store generation."""

    generation: int
    triples: int = 0
    entities: int = 0
    distinct_subjects: int = 0
    distinct_objects: int = 0
    classes: dict[str, int] = field(default_factory=dict)  # class -> distinct instances
    properties: dict[str, int] = field(default_factory=dict)  # property -> triples
    graphs: dict[str, int] = field(default_factory=dict)  # named graph -> triples
    examples: tuple[str, ...] = ()
    sources: dict[str, tuple[str, str | None]] = field(
        default_factory=dict
    )  # graph -> (IRI, label)

    @classmethod
    def from_rows(cls, generation: int, rows: list[dict]) -> Statistics:
        totals: dict[str, int] = {}
        classes, properties, graphs = {}, {}, {}
        examples, sources = [], {}
        for row in rows:
            kind = row["kind"]["value"]
            key = row.get("key", {}).get("value")
            n = row.get("n", {}).get("value")
            if kind == "class":
                classes[key] = int(n)
            elif kind == "property":
                properties[key] = int(n)
            elif kind == "graph":
                graphs[key] = int(n)
            elif kind == "example":
                examples.append(key)
            elif kind == "source":
                sources[key] = (row["value"]["value"], n)
            else:
                totals[kind] = int(n)
        return cls(
            generation,
            triples=totals.get("triples", 0),
            entities=totals.get("entities", 0),
            distinct_subjects=totals.get("subjects", 0),
            distinct_objects=totals.get("objects", 0),
            classes=dict(sorted(classes.items())),
            properties=dict(sorted(properties.items())),
            graphs=dict(sorted(graphs.items())),
            examples=tuple(sorted(examples)),
            sources=sources,
        )


class VoidStatistics:
    """The statistics of one endpoint's store, counted once per store generation."""

    def __init__(self, endpoint: Endpoint) -> None:
        self._endpoint = endpoint
        self._cached: Statistics | None = None
        self._lock = asyncio.Lock()

    async def get(self, timeout: float) -> Statistics:
        cached = self._cached
        if cached is not None and cached.generation == self._endpoint.generation:
            return cached
        async with self._lock:  # one count per generation, however many requests wait
            generation = self._endpoint.generation
            cached = self._cached
            if cached is not None and cached.generation == generation:
                return cached
            out = await self._endpoint.query(
                QueryJob(_STATISTICS_QUERY, table_format=ResultFormat.JSON), timeout
            )
            rows = json.loads(out.body)["results"]["bindings"]
            # Under the generation read before the query: if a write came in between, the
            # next request counts again.
            self._cached = Statistics.from_rows(generation, rows)
            return self._cached


def _int(n: int) -> Literal:
    return Literal(n, datatype=XSD.integer)


def _vocabularies(terms: list[str]) -> list[str]:
    used = set()
    for term in terms:
        for ns, vocabulary in _VOCABULARIES.items():
            if term.startswith(ns) and len(term) > len(ns):
                used.add(vocabulary)
    return sorted(used)


def describe_dataset(base: str, stats: Statistics) -> Graph:
    """The VoID description of the dataset served at ``base`` (the server's root URL)."""
    g = Graph()
    g.bind("void", VOID)
    g.bind("dcterms", DCTERMS)
    g.bind("prov", PROV)
    for prefix, ns in PREFIXES.items():
        g.bind(prefix, ns)
    ds = URIRef(DATASET_IRI)
    doc = URIRef(base + PATH)
    g.add((doc, RDF.type, VOID.DatasetDescription))
    g.add((doc, DCTERMS.title, Literal("A VoID description of the GeoKG dataset", lang="en")))
    g.add((doc, RDFS.seeAlso, URIRef(base + "/sparql")))
    g.add((doc, FOAF.primaryTopic, ds))

    g.add((ds, RDF.type, VOID.Dataset))
    g.add((ds, DCTERMS.title, Literal("GeoKG", lang="en")))
    g.add(
        (
            ds,
            DCTERMS.description,
            Literal(
                "A geopolitical knowledge graph: states, leaders and the offices they hold, "
                "weapon systems and acquisitions, treaties, alliances, conflicts, events and "
                "claims, each fact with its evidence in the news articles it is drawn from. "
                "The dataset is the union of its named graphs, including the OWL 2 RL "
                "inferences of its ontology.",
                lang="en",
            ),
        )
    )
    g.add((ds, VOID.sparqlEndpoint, URIRef(base + "/sparql")))
    g.add((ds, VOID.dataDump, URIRef(base + "/store?default")))
    for name in ("Turtle", "N-Triples", "N-Quads", "TriG", "JSON-LD", "RDF_XML"):
        g.add((ds, VOID.feature, FORMATS[name]))
    g.add((ds, VOID.uriSpace, Literal(str(GPD))))
    vocabularies = {ONTOLOGY_IRI, *_vocabularies([*stats.classes, *stats.properties])}
    for vocabulary in sorted(vocabularies):
        g.add((ds, VOID.vocabulary, URIRef(vocabulary)))
    for example in stats.examples:
        g.add((ds, VOID.exampleResource, URIRef(example)))

    g.add((ds, VOID.triples, _int(stats.triples)))
    g.add((ds, VOID.entities, _int(stats.entities)))
    g.add((ds, VOID.distinctSubjects, _int(stats.distinct_subjects)))
    g.add((ds, VOID.distinctObjects, _int(stats.distinct_objects)))
    g.add((ds, VOID.classes, _int(len(stats.classes))))
    g.add((ds, VOID.properties, _int(len(stats.properties))))
    for i, (cls, n) in enumerate(stats.classes.items()):
        part = BNode(f"class{i}")
        g.add((ds, VOID.classPartition, part))
        g.add((part, VOID["class"], URIRef(cls)))
        g.add((part, VOID.entities, _int(n)))
    for i, (prop, n) in enumerate(stats.properties.items()):
        part = BNode(f"property{i}")
        g.add((ds, VOID.propertyPartition, part))
        g.add((part, VOID.property, URIRef(prop)))
        g.add((part, VOID.triples, _int(n)))
    for name, n in stats.graphs.items():
        subset = URIRef(name)
        g.add((ds, VOID.subset, subset))
        g.add((subset, RDF.type, VOID.Dataset))
        g.add((subset, VOID.triples, _int(n)))
        description = _KNOWN_GRAPHS.get(name)
        source = stats.sources.get(name)
        if description is None and name.startswith(_ARTICLE_GRAPHS):
            about = f"{source[1]} ({source[0]})" if source and source[1] else "one news article"
            description = f"The facts curated from {about}, with their evidence."
        if description is not None:
            g.add((subset, DCTERMS.description, Literal(description, lang="en")))
        if source is not None:
            g.add((subset, PROV.wasDerivedFrom, URIRef(source[0])))
    return g


router = APIRouter()


def _statistics(request: Request, endpoint: Endpoint) -> VoidStatistics:
    holder = getattr(request.app.state, "void_statistics", None)
    if holder is None:
        holder = request.app.state.void_statistics = VoidStatistics(endpoint)
    return holder


@router.api_route(
    PATH, methods=["GET", "HEAD"], summary="VoID description of the dataset", name="void"
)
async def void_description(
    request: Request, endpoint: EndpointDep, settings: SettingsDep
) -> Response:
    accept = request.headers.get("accept")
    named_format = request.query_params.get("format")
    if named_format:
        accept = by_name(named_format, True) or "x-unknown/x-unknown"
    media = choose_or_406(accept, list(GRAPH_OFFERS), "the VoID description")
    fmt = GRAPH_OFFERS[media]
    stats = await _statistics(request, endpoint).get(settings.query_timeout)
    graph = describe_dataset(str(request.base_url).rstrip("/"), stats)
    body = serialise(graph, fmt)
    if request.method == "HEAD":
        return Response(
            status_code=200,
            media_type=fmt.media_type,
            headers={"Content-Length": str(len(body.encode()))},
        )
    return Response(body, media_type=fmt.media_type)
