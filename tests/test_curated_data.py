"""The curated data: every fact has evidence, every quote is verbatim in its article,
every article has its metadata, every entity one English label."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from rdflib import RDF, RDFS, Graph, Literal, URIRef
from rdflib.namespace import PROV, XSD

from kg.namespaces import GP, GPD

from .conftest import SOURCES

OA = "http://www.w3.org/ns/oa#"
SCHEMA = "https://schema.org/"
STRUCTURAL = {GP.Evidence, GP.Correction}


def _statement_classes(ontology: Graph) -> set[URIRef]:
    return set(ontology.transitive_subjects(RDFS.subClassOf, GP.Statement)) - STRUCTURAL


def _statements(data: Graph, ontology: Graph) -> set[URIRef]:
    classes = _statement_classes(ontology)
    return {s for s, _, c in data.triples((None, RDF.type, None)) if c in classes}


def _article_text(data: Graph, article: URIRef) -> str:
    return (SOURCES / str(data.value(article, GP.sourceFile))).read_text(encoding="utf-8")


def test_every_quote_occurs_verbatim_in_its_article(asserted_data: Graph) -> None:
    texts = {
        a: _article_text(asserted_data, a) for a in asserted_data.subjects(RDF.type, GP.NewsArticle)
    }
    assert len(texts) == 4
    checked = 0
    for ev in asserted_data.subjects(RDF.type, GP.Evidence):
        source = asserted_data.value(ev, URIRef(OA + "hasSource"))
        selector = asserted_data.value(ev, URIRef(OA + "hasSelector"))
        exact = asserted_data.value(selector, URIRef(OA + "exact"))
        assert source in texts, f"{ev} cites an unknown source {source}"
        assert exact is not None and str(exact).strip(), f"{ev} has no quote"
        assert str(exact) in texts[source], f"not verbatim in {source}: {exact!r}"
        checked += 1
    assert checked >= 250


def test_every_statement_node_has_evidence(asserted_data: Graph, ontology: Graph) -> None:
    statements = _statements(asserted_data, ontology)
    missing = [s for s in statements if (s, PROV.wasDerivedFrom, None) not in asserted_data]
    assert missing == []


def test_there_are_at_least_250_facts_from_every_article(
    asserted_data: Graph, ontology: Graph
) -> None:
    statements = _statements(asserted_data, ontology)
    assert len(statements) >= 250
    per_article: Counter[str] = Counter()
    for s in statements:
        for ev in asserted_data.objects(s, PROV.wasDerivedFrom):
            per_article[str(asserted_data.value(ev, URIRef(OA + "hasSource")))] += 1
    for code in ("000", "002", "003", "004"):
        assert per_article[str(GPD[f"article-{code}"])] >= 30, per_article


def test_every_article_has_its_metadata(asserted_data: Graph) -> None:
    articles = list(asserted_data.subjects(RDF.type, GP.NewsArticle))
    assert len(articles) == 4
    for a in articles:
        assert asserted_data.value(a, RDFS.label) is not None
        date = asserted_data.value(a, URIRef(SCHEMA + "datePublished"))
        assert isinstance(date, Literal) and date.datatype == XSD.date
        assert asserted_data.value(a, GP.dateDeduction) is not None
        assert (SOURCES / str(asserted_data.value(a, GP.sourceFile))).is_file()
    assert asserted_data.value(GPD["article-003"], URIRef(SCHEMA + "publisher")) == GPD.bloomberg


@pytest.mark.parametrize(
    ("code", "date"),
    [("000", "2021-04-12"), ("002", "2019-04-08"), ("003", "2020-02-21"), ("004", "2019-07-12")],
)
def test_article_dates_are_the_deduced_ones(asserted_data: Graph, code: str, date: str) -> None:
    value = asserted_data.value(GPD[f"article-{code}"], URIRef(SCHEMA + "datePublished"))
    assert str(value) == date


def test_every_entity_has_exactly_one_english_label(asserted_data: Graph, ontology: Graph) -> None:
    statement_classes = _statement_classes(ontology) | STRUCTURAL | {GP.Participation}
    entities = {
        s
        for s, _, c in asserted_data.triples((None, RDF.type, None))
        if str(s).startswith(str(GPD))
        and "/.well-known/" not in str(s)
        and c not in statement_classes
    }
    assert len(entities) > 100
    bad = []
    for e in sorted(entities):
        labels = [
            o
            for o in asserted_data.objects(e, RDFS.label)
            if isinstance(o, Literal) and o.language == "en"
        ]
        if len(labels) != 1:
            bad.append((str(e), [str(x) for x in labels]))
    assert bad == []


def test_every_referenced_entity_is_described(asserted_data: Graph, ontology: Graph) -> None:
    used = {
        o for o in asserted_data.objects() if isinstance(o, URIRef) and str(o).startswith(str(GPD))
    }
    undescribed = sorted(
        str(u)
        for u in used
        if "/.well-known/" not in str(u) and (u, RDF.type, None) not in asserted_data
    )
    assert undescribed == []


def test_dates_are_xsd_date_and_have_a_precision(asserted_data: Graph) -> None:
    pairs = [
        (GP.date, GP.datePrecision),
        (GP.startDate, GP.startDatePrecision),
        (GP.endDate, GP.endDatePrecision),
    ]
    checked = 0
    for date_p, prec_p in pairs:
        for s, o in asserted_data.subject_objects(date_p):
            assert isinstance(o, Literal) and o.datatype == XSD.date, f"{s} {date_p} {o!r}"
            assert asserted_data.value(s, prec_p) is not None, f"{s} has {date_p} without precision"
            checked += 1
    for p in (GP.attestedDate, GP.endedBefore):
        for s, o in asserted_data.subject_objects(p):
            assert isinstance(o, Literal) and o.datatype == XSD.date, f"{s} {p} {o!r}"
    assert checked > 50


def test_every_event_has_one_factuality(asserted_data: Graph) -> None:
    events = set(asserted_data.subjects(RDF.type, GP.Event))
    assert len(events) > 40
    assert [e for e in events if len(set(asserted_data.objects(e, GP.factuality))) != 1] == []


@pytest.mark.parametrize("original", ["Akoyo", "In 29", "Ukrainian coins"])
def test_translation_errors_are_recorded_with_their_correction(
    asserted_data: Graph, original: str
) -> None:
    corrections = [c for c in asserted_data.subjects(GP.originalWording, Literal(original))]
    assert corrections, f"no correction recorded for {original!r}"
    assert all(asserted_data.value(c, GP.correctedWording) is not None for c in corrections)


def test_wikidata_links_are_only_the_checked_ones(asserted_data: Graph, root: Path) -> None:
    checked = (root.parent / "shared" / "wikidata-qids.md").read_text(encoding="utf-8")
    allowed = set(checked.split("## Not checked")[0].split("| QID |")[1].split())
    for _, qid in asserted_data.subject_objects(GP.wikidataEntity):
        assert str(qid).rsplit("/", 1)[-1] in allowed
    assert (None, URIRef("http://www.w3.org/2002/07/owl#sameAs"), None) not in asserted_data
