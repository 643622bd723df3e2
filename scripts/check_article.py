"""Check one curated article file before it is committed.

Usage: python scripts/check_article.py data/articles/a004.ttl [more files...]

Reports: Turtle syntax errors; evidence quotes not found verbatim in the article text;
gp: terms that the ontology does not define; gpd: entities used but described nowhere
(no rdfs:label in the registry, the sources file or any article file given);
statement nodes without evidence; events without exactly one factuality.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from rdflib import RDF, RDFS, Graph, Namespace, URIRef

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT.parent / "shared" / "sources"
GP = Namespace("https://w3id.org/geokg/ontology#")
GPD = "https://w3id.org/geokg/id/"
OA = Namespace("http://www.w3.org/ns/oa#")
PROV = Namespace("http://www.w3.org/ns/prov#")


def main(paths: list[str]) -> int:
    onto = Graph()
    for f in sorted((ROOT / "ontology").rglob("*.ttl")):
        onto.parse(f)
    defined = set(onto.subjects())
    background = Graph()
    background.parse(ROOT / "data" / "entities.ttl")
    background.parse(ROOT / "data" / "sources.ttl")
    for f in sorted((ROOT / "data" / "articles").glob("*.ttl")):
        if str(f) not in {str(Path(p).resolve()) for p in paths}:
            with contextlib.suppress(Exception):  # another curator's file may be mid-edit
                background.parse(f)
    texts = {
        s: (SOURCES / str(background.value(s, GP.sourceFile))).read_text(encoding="utf-8")
        for s in background.subjects(RDF.type, GP.NewsArticle)
    }
    problems = 0
    given = Graph()
    for p in paths:
        with contextlib.suppress(Exception):  # reported below, file by file
            given.parse(p, format="turtle")
    for p in paths:
        g = Graph()
        try:
            g.parse(p, format="turtle")
        except Exception as exc:
            print(f"{p}: SYNTAX: {exc}")
            problems += 1
            continue
        whole = g + background + given
        for ev in g.subjects(RDF.type, GP.Evidence):
            src = g.value(ev, OA.hasSource)
            sel = g.value(ev, OA.hasSelector)
            exact = g.value(sel, OA.exact) if sel is not None else None
            if src not in texts or exact is None:
                print(f"{p}: evidence without known source or quote: {src} {exact!r}")
                problems += 1
            elif str(exact) not in texts[src]:
                print(f"{p}: QUOTE NOT VERBATIM in {src.split('/')[-1]}: {str(exact)!r}")
                problems += 1
        for term in {
            t for tr in g for t in tr if isinstance(t, URIRef) and str(t).startswith(str(GP))
        }:
            if term not in defined:
                print(f"{p}: gp term not in ontology: {term}")
                problems += 1
        for term in {t for tr in g for t in tr if isinstance(t, URIRef) and str(t).startswith(GPD)}:
            if whole.value(term, RDFS.label) is None:
                print(f"{p}: gpd entity without rdfs:label anywhere: {term}")
                problems += 1
        statement_classes = {c for c in onto.transitive_subjects(RDFS.subClassOf, GP.Statement)}
        for s, _, c in g.triples((None, RDF.type, None)):
            structural = (GP.Evidence, GP.Correction, GP.Participation)
            if (
                c in statement_classes
                and c not in structural
                and (whole.value(s, PROV.wasDerivedFrom) is None)
            ):
                print(f"{p}: statement without evidence: {s}")
                problems += 1
        for ev in g.subjects(RDF.type, GP.Event):
            n = len(set(whole.objects(ev, GP.factuality)))
            if n != 1:
                print(f"{p}: event with {n} factuality values: {ev}")
                problems += 1
        with_evidence = len(set(g.subjects(PROV.wasDerivedFrom, None)))
        print(f"{p}: {len(g)} triples, {with_evidence} nodes with evidence, {problems} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
