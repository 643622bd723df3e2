"""Loading the ontology and the curated data into a store, atomically.

Every file is parsed and the result validated against the SHACL shapes before the
store is touched; one syntax error stops the load with its file, line and column, and
one violation stops it with the validation report. Either way the store stays as it
was. The graphs are then replaced in one transaction, so a reader sees the old
dataset or the new one, never a mix. Blank nodes are skolemised from their content,
so loading twice gives the same store.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rdflib import RDF, Graph, Literal, Namespace, URIRef
from rdflib.namespace import PROV, XSD

from kg._oxigraph import (
    OxigraphStore,
    ParsedGraph,
    construct_graph,
    graph_from_rdflib,
    parse_rdf_file,
)
from kg.derivation import DERIVATION_RULES, derivation_query
from kg.errors import ValidationError
from kg.manifest import DataFile, Manifest, read_manifest
from kg.namespaces import (
    DERIVED_GRAPH,
    GP,
    INFERRED_GRAPH,
    LOAD_GRAPH,
    NON_ASSERTED_GRAPHS,
)
from kg.reasoning import InferenceStats, materialise
from kg.store import GraphStore
from kg.validation import Shapes, ValidationReport, load_shapes, validate_graph

__all__ = ["LoadReport", "load_dataset", "parse_dataset", "validate_dataset"]

VOID = Namespace("http://rdfs.org/ns/void#")
DCTERMS = Namespace("http://purl.org/dc/terms/")

#: Called after each step with (description, steps done, total steps).
ProgressCallback = Callable[[str, int, int], None]


@dataclass(frozen=True)
class LoadReport:
    """What a load wrote (triples per named graph) and what validation said of it."""

    graphs: dict[str, int]
    validation: ValidationReport
    inference: InferenceStats | None = None  # the OWL RL materialisation after the load

    @property
    def total(self) -> int:
        return sum(self.graphs.values())


def parse_dataset(
    manifest: Manifest, progress: ProgressCallback | None = None
) -> list[ParsedGraph]:
    """Parse every file of the manifest, derive the shortcut graph, describe the load.

    Nothing is written anywhere: the result is what :func:`load_dataset` stores.
    """
    files = manifest.files
    total = len(files) + 2
    by_graph: dict[str, list[ParsedGraph]] = {}
    for i, f in enumerate(files):
        if progress:
            progress(f"parsing {f.path.name}", i, total)
        by_graph.setdefault(f.graph, []).append(parse_rdf_file(f.path, f.graph))
    graphs = [_merge(g, parts) for g, parts in by_graph.items()]
    if progress:
        progress("deriving shortcut triples", len(files), total)
    derived = construct_graph(graphs, derivation_query(), DERIVED_GRAPH, "derivation rules")
    graphs.append(derived)
    graphs.append(_load_description(manifest, graphs))
    if progress:
        progress("parsed", total, total)
    return graphs


def validate_dataset(graphs: list[ParsedGraph], shapes: Shapes) -> ValidationReport:
    """Validate the asserted graphs of a parsed dataset (the ontology included), in full."""
    data = Graph()
    for g in graphs:
        if g.graph_iri not in NON_ASSERTED_GRAPHS:
            data += g.to_rdflib()
    return validate_graph(data, shapes)


def load_dataset(
    store: GraphStore,
    root: Path,
    progress: ProgressCallback | None = None,
    shapes: Shapes | None = None,
) -> LoadReport:
    """Load ontology and curated data from the project at ``root`` into ``store``.

    Raises :class:`kg.errors.ManifestError` or :class:`kg.errors.RDFSyntaxError` before
    writing anything if a file is missing, unlisted, empty or malformed, and
    :class:`kg.errors.ValidationError` if the data violates the shapes of ``root/shapes``
    (or ``shapes``). Warnings do not stop the load; they are in the report.
    """
    manifest = read_manifest(root)
    shapes = shapes or load_shapes(root)
    graphs = parse_dataset(manifest, progress)
    if progress:
        progress("validating against the shapes", 0, 1)
    validation = validate_dataset(graphs, shapes)
    if not validation.conforms:
        raise ValidationError(validation)
    # Graphs a previous load read from files that this manifest no longer lists are dropped
    # too. Graphs written through the server (the change log, facts added through the API,
    # Graph Store uploads) were committed by someone: a reload keeps them.
    loaded_before = {str(q[0]) for q in store.match(None, DCTERMS.source, None, URIRef(LOAD_GRAPH))}
    stale = [
        g
        for g in store.named_graphs()
        if g in loaded_before or g in (DERIVED_GRAPH, LOAD_GRAPH, INFERRED_GRAPH)
    ]
    store.replace_graphs(graphs, drop=stale)
    inference = None
    if isinstance(store, OxigraphStore):
        if progress:
            progress("materialising OWL RL inferences", 0, 1)
        inference = materialise(store.raw)
        store.flush()
    return LoadReport({g.graph_iri: len(g) for g in graphs}, validation, inference)


def _merge(graph_iri: str, parts: list[ParsedGraph]) -> ParsedGraph:
    if len(parts) == 1:
        return parts[0]
    triples = list(dict.fromkeys(t for p in parts for t in p._triples))
    return ParsedGraph(graph_iri, triples, ", ".join(p.origin for p in parts))


def _load_description(manifest: Manifest, graphs: list[ParsedGraph]) -> ParsedGraph:
    """Describe each graph: which file it came from (with its hash) or that it is derived.

    No timestamps: the same files give the same description, so loads are idempotent.
    """
    g = Graph()
    sizes = {p.graph_iri: len(p) for p in graphs}
    for f in manifest.files:
        node = URIRef(f.graph)
        g.add((node, RDF.type, VOID.Dataset))
        g.add((node, VOID.triples, Literal(sizes[f.graph])))
        g.add((node, DCTERMS.source, Literal(_relative(f, manifest.root))))
        g.add(
            (node, GP.note, Literal(f"sha256 {_sha256(f.path)} of {_relative(f, manifest.root)}"))
        )
        if f.source:
            g.add((node, PROV.wasDerivedFrom, URIRef(f.source)))
    derived = URIRef(DERIVED_GRAPH)
    g.add((derived, RDF.type, VOID.Dataset))
    g.add((derived, VOID.triples, Literal(sizes[DERIVED_GRAPH])))
    g.add((derived, GP.derivedFrom, Literal(", ".join(n for n, _, _ in DERIVATION_RULES))))
    for f in manifest.data:
        g.add((derived, PROV.wasDerivedFrom, URIRef(f.graph)))
    g.add(
        (
            derived,
            GP.note,
            Literal(
                "Shortcut triples derived from statement nodes; not asserted.", datatype=XSD.string
            ),
        )
    )
    return graph_from_rdflib(g, LOAD_GRAPH, "load description")


def _relative(f: DataFile, root: Path) -> str:
    try:
        return str(f.path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(f.path)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
