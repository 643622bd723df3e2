"""The HTML documentation of the ontology (kg.ontodoc, made with pyLODE)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest
from rdflib import OWL, RDF, RDFS, SKOS, Graph, URIRef

from kg.manifest import _ontology_files
from kg.ontodoc import ontology_html

ROOT = Path(__file__).resolve().parent.parent
NS = "https://w3id.org/geokg/ontology#"
KINDS = (
    OWL.Class,
    OWL.ObjectProperty,
    OWL.DatatypeProperty,
    OWL.AnnotationProperty,
    OWL.NamedIndividual,
)


class Page(HTMLParser):
    """The ids, the external asset references and the sections of an HTML page."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.ids: Counter[str] = Counter()
        self.assets: list[str] = []
        self.text: dict[str, list[str]] = {}  # id of a div -> the text in it
        self.links: dict[str, list[str]] = {}  # id of a div -> the links in it
        self._open: list[tuple[str, str | None]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids[a["id"]] += 1
        if tag in ("script", "img", "iframe", "audio", "video", "source") and a.get("src"):
            self.assets.append(f"{tag} src={a['src']}")
        if tag == "link" and (a.get("href") or "").startswith(("http:", "https:", "//")):
            self.assets.append(f"link {a.get('rel')} href={a['href']}")
        if tag == "a" and a.get("href"):
            for _, div_id in self._open:
                if div_id is not None:
                    self.links[div_id].append(a["href"] or "")
        if tag == "div":
            self._open.append((tag, a.get("id")))
            if a.get("id"):
                self.text[a["id"]] = []
                self.links[a["id"]] = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "div" and self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        for _, div_id in self._open:
            if div_id is not None and data.strip():
                self.text[div_id].append(data.strip())


@pytest.fixture(scope="module")
def ontology() -> Graph:
    g = Graph()
    for f in _ontology_files(ROOT / "ontology"):
        g.parse(f.path)
    return g


@pytest.fixture(scope="module")
def html() -> str:
    return ontology_html(ROOT)


@pytest.fixture(scope="module")
def page(html: str) -> Page:
    return Page(html)


def terms(ontology: Graph, kind: URIRef) -> list[str]:
    return sorted(
        str(s)[len(NS) :] for s in ontology.subjects(RDF.type, kind) if str(s).startswith(NS)
    )


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: str(k).rsplit("#")[-1])
def test_every_term_has_an_anchor_of_its_local_name(
    ontology: Graph, page: Page, kind: URIRef
) -> None:
    names = terms(ontology, kind)
    assert names, kind
    missing = [n for n in names if n not in page.ids]
    assert not missing, f"no element with id=<local name> for {missing}"


def test_ids_are_unique(page: Page) -> None:
    assert [i for i, n in page.ids.items() if n > 1] == []


def test_terms_have_label_definition_and_axioms(page: Page, ontology: Graph) -> None:
    state = URIRef(NS + "State")
    text = " ".join(page.text["State"])
    assert str(ontology.value(state, RDFS.label)) in text
    assert str(ontology.value(state, SKOS.definition)).split(".")[0] in text
    assert "Sub Class Of" in text and "#Agent" in page.links["State"]
    checked = 0
    for prop in ontology.subjects(RDF.type, OWL.ObjectProperty):
        domain, range_ = ontology.value(prop, RDFS.domain), ontology.value(prop, RDFS.range)
        if not str(prop).startswith(NS) or not isinstance(domain, URIRef):
            continue
        if not str(domain).startswith(NS) or not str(range_).startswith(NS):
            continue
        name = str(prop)[len(NS) :]
        assert "Domain" in page.text[name] and "Range" in page.text[name], name
        assert "#" + str(domain)[len(NS) :] in page.links[name], name
        assert "#" + str(range_)[len(NS) :] in page.links[name], name
        checked += 1
    assert checked > 10


def test_sections_and_title(html: str, page: Page) -> None:
    assert "<title>Geopolitical KG ontology</title>" in html
    assert "<h1>Geopolitical KG ontology</h1>" in html
    for section in (
        "classes",
        "objectproperties",
        "datatypeproperties",
        "annotationproperties",
        "named_individuals",
    ):
        assert section in page.ids


def test_no_external_assets(html: str, page: Page) -> None:
    assert page.assets == []
    assert 'src="http' not in html
    assert "@import" not in html and "url(http" not in html
    assert "<style>" in html  # the stylesheet is inline


def test_cached_per_content(tmp_path: Path, html: str) -> None:
    assert ontology_html(ROOT) is html  # same files, same content: no new rendering
    shutil.copytree(ROOT / "ontology", tmp_path / "ontology")
    assert ontology_html(tmp_path) is html  # a copy: same content
    core = tmp_path / "ontology" / "modules" / "core.ttl"
    core.write_text(
        core.read_text(encoding="utf-8") + '\ngp:State rdfs:comment "CHANGED-FOR-A-TEST"@en .\n',
        encoding="utf-8",
    )
    changed = ontology_html(tmp_path)
    assert "CHANGED-FOR-A-TEST" in changed and "CHANGED-FOR-A-TEST" not in html


def test_renders_offline_and_leaves_logging_alone() -> None:
    """No network while rendering, and pyLODE's logging.basicConfig does not stick."""
    code = f"""
import logging, socket
from pathlib import Path

def refuse(*args, **kwargs):
    raise OSError("network access while rendering")

socket.socket.connect = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse
from kg.ontodoc import ontology_html
html = ontology_html(Path({str(ROOT)!r}))
assert 'id="State"' in html
root = logging.getLogger()
assert root.handlers == [], root.handlers
assert root.level == logging.WARNING, root.level
print("ok")
"""
    r = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().endswith("ok")
    assert r.stderr == ""
