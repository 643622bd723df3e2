"""The shapes themselves: well-formed, complete, in step with the ontology."""

from __future__ import annotations

from rdflib import Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import OWL, RDF, RDFS, SH, SKOS

from kg._pyshacl import check_shapes_graph
from kg.namespaces import GP, GPS
from kg.store import GraphStore
from kg.validation import Shapes, validate_store


def test_the_shapes_conform_to_shacl_for_shacl(shapes: Shapes) -> None:
    conforms, text = check_shapes_graph(shapes.graph)
    assert conforms, text


def test_every_ontology_class_has_a_node_shape_named_after_it(
    shapes: Shapes, ontology: Graph
) -> None:
    classes = {c for c in ontology.subjects(RDF.type, OWL.Class) if str(c).startswith(str(GP))}
    assert len(classes) > 80
    missing = []
    for cls in classes:
        shape = GPS[str(cls)[len(str(GP)) :] + "Shape"]
        if (shape, SH.targetClass, cls) not in shapes.graph:
            missing.append(cls)
    assert not missing, f"classes without a shape: {sorted(missing)}"


def _shapes_needing_message(g: Graph) -> set:
    """Node shapes, and property shapes that node shapes use (not helper operands)."""
    node_shapes = set(g.subjects(RDF.type, SH.NodeShape))
    return (
        node_shapes
        | set(g.objects(None, SH.property))
        | set(g.subjects(RDF.type, SH.PropertyShape))
    )


def test_every_shape_has_a_message_and_an_explicit_severity(shapes: Shapes) -> None:
    g = shapes.graph
    checked = _shapes_needing_message(g)
    assert len(checked) > 200
    no_message = [s for s in checked if (s, SH.message, None) not in g]
    no_severity = [s for s in checked if (s, SH.severity, None) not in g]
    assert not no_message, no_message
    assert not no_severity, no_severity
    for shape, constraint in g.subject_objects(SH.sparql):
        # a SPARQL constraint without a message reports with its shape's message
        assert (constraint, SH.message, None) in g or (shape, SH.message, None) in g, shape


def test_controlled_lists_in_the_shapes_match_the_vocabulary(
    shapes: Shapes, ontology: Graph
) -> None:
    """Each sh:in list of concepts names all the concepts of one controlled list, no more."""
    members: dict[URIRef, set] = {}
    for concept, cls in ontology.subject_objects(RDF.type):
        if (cls, RDFS.subClassOf, GP.ControlledTerm) in ontology:
            members.setdefault(cls, set()).add(concept)
    lists = [set(Collection(shapes.graph, lst)) for lst in shapes.graph.objects(None, SH["in"])]
    concept_lists = [
        lst for lst in lists if lst and all((c, SKOS.inScheme, None) in ontology for c in lst)
    ]
    assert len(concept_lists) >= 10
    for lst in concept_lists:
        kinds = {cls for cls, concepts in members.items() if lst <= concepts}
        assert len(kinds) == 1, f"{sorted(lst)} mixes controlled lists"
        (kind,) = kinds
        assert lst == members[kind], f"{kind}: shapes list {sorted(lst)}"


def test_sparql_constraints_declare_what_they_read(shapes: Shapes) -> None:
    constraints = list(shapes.graph.objects(None, SH.sparql))
    assert constraints
    for c in constraints:
        assert (c, GPS.reads, None) in shapes.graph or (
            c,
            GPS.readsFocusOnly,
            Literal(True),
        ) in shapes.graph, c


def test_incremental_validation_knows_how_far_the_shapes_read(shapes: Shapes) -> None:
    # sh:class reads a value's type (1 step); the claim-voice check reads the publisher of
    # the article of the evidence (2 steps); the alliance check reads members' types (2).
    assert shapes.reach == 2
    vias = {tuple(p for p, _inv in r.via) for r in shapes.reads if r.predicate == RDF.type}
    assert (GP.holder,) in vias


def test_the_curated_data_conforms(store: GraphStore, shapes: Shapes) -> None:
    report = validate_store(store, shapes)
    assert report.conforms, report.to_text()
    assert not report.results, report.to_text()
