"""The ontology is OWL 2 DL that HermiT accepts, with a header, labels and definitions."""

from __future__ import annotations

from rdflib import OWL, RDF, RDFS, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, SKOS, XSD

from kg._owlready import check_consistency
from kg.namespaces import GP

VANN = "http://purl.org/vocab/vann/"
TERM_TYPES = (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty)


def _our_terms(ontology: Graph) -> set[URIRef]:
    terms = {s for t in TERM_TYPES for s in ontology.subjects(RDF.type, t)}
    terms |= set(ontology.subjects(RDF.type, OWL.NamedIndividual))
    return {t for t in terms if isinstance(t, URIRef) and str(t).startswith(str(GP))}


def test_hermit_finds_the_ontology_consistent_with_no_unsatisfiable_class(ontology: Graph) -> None:
    report = check_consistency(ontology)
    assert report.consistent, report.message
    assert report.unsatisfiable == []


def test_hermit_finds_ontology_and_curated_data_consistent(
    ontology: Graph, asserted_data: Graph
) -> None:
    report = check_consistency(ontology + asserted_data)
    assert report.consistent, report.message
    assert report.unsatisfiable == []
    assert report.projected_out > 100  # the dates were there, and were projected out


def test_a_type_mistake_makes_the_data_inconsistent(ontology: Graph) -> None:
    # A state put in the holder slot of an office holding: holder's range is Person,
    # Person and State are disjoint, so HermiT must object.
    bad = Graph()
    h = URIRef("https://w3id.org/geokg/id/test-holding")
    bad.add((URIRef("https://w3id.org/geokg/id/turkey"), RDF.type, GP.State))
    bad.add((h, RDF.type, GP.OfficeHolding))
    bad.add((h, GP.holder, URIRef("https://w3id.org/geokg/id/turkey")))
    assert not check_consistency(ontology + bad).consistent


def test_every_term_has_one_english_label_and_one_definition(ontology: Graph) -> None:
    terms = _our_terms(ontology)
    assert len(terms) > 200  # the check looked at the real vocabulary
    problems = []
    for t in sorted(terms):
        labels = [
            o
            for o in ontology.objects(t, RDFS.label)
            if isinstance(o, Literal) and o.language == "en"
        ]
        definitions = [
            o
            for o in ontology.objects(t, SKOS.definition)
            if isinstance(o, Literal) and o.language == "en"
        ]
        if len(labels) != 1 or len(definitions) != 1:
            problems.append(f"{t}: {len(labels)} labels, {len(definitions)} definitions")
    assert problems == []


def test_every_module_has_a_full_header(ontology: Graph) -> None:
    ontologies = set(ontology.subjects(RDF.type, OWL.Ontology))
    assert len(ontologies) == 10  # aggregator and nine modules
    for o in ontologies:
        for p in (
            DCTERMS.title,
            DCTERMS.description,
            OWL.versionIRI,
            DCTERMS.license,
            DCTERMS.creator,
        ):
            assert ontology.value(o, p) is not None, f"{o} lacks {p}"
    top = URIRef("https://w3id.org/geokg/ontology")
    assert ontology.value(top, URIRef(VANN + "preferredNamespacePrefix")) == Literal("gp")


def test_no_range_axiom_uses_xsd_date(ontology: Graph) -> None:
    assert (None, RDFS.range, XSD.date) not in ontology


def test_weapon_type_taxonomy_puts_missile_systems_under_air_defence(ontology: Graph) -> None:
    for cls in (GP.SurfaceToAirMissileSystem, GP.AntiAircraftSystem, GP.MissileDefenceSystem):
        assert (cls, RDFS.subClassOf, GP.AirDefenceSystem) in ontology
    assert (GP.locatedIn, RDF.type, OWL.TransitiveProperty) in ontology
