"""HTML documentation of the ontology (the aggregator and all its modules), made by pyLODE.

``ontology_html(root)`` renders the merged ontology of the project at ``root`` with
pyLODE's OntPub profile, with these changes to its defaults:

* every term of the ontology's namespace has the HTML id of its local name
  (``id="State"``), so ``https://w3id.org/geokg/ontology#State`` resolves to its section;
  pyLODE would derive the ids from the labels;
* the page is titled and described by the aggregator ``https://w3id.org/geokg/ontology``
  only (pyLODE takes the last title of any owl:Ontology or skos:ConceptScheme it meets,
  and the modules and the concept schemes are both);
* named individuals (the controlled terms and their schemes) get a section of their own,
  with their types; properties show their types (functional, transitive...) instead of
  a second "Functional Properties" section that would repeat their ids;
* the external terms the modules declare only to stay OWL 2 DL (``schema:Place a
  owl:Class``...) get no section: a link to one goes to its own vocabulary.

pyLODE inlines its CSS and makes no request while rendering; the page needs no network.
Rendering takes a few seconds: the result is cached per content of the ontology files,
and a server should call it in a thread.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from rdflib import OWL, RDF, RDFS, SKOS, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, PROF

from kg.manifest import _ontology_files
from kg.namespaces import GP

__all__ = ["ONTOLOGY_IRI", "ontology_html"]

#: The aggregator ontology: the one the page documents.
ONTOLOGY_IRI = URIRef("https://w3id.org/geokg/ontology")

#: The kinds of term that have a section, in page order: (type, section id, heading).
_SECTIONS = (
    (OWL.Class, "classes", "Classes"),
    (OWL.ObjectProperty, "objectproperties", "Object Properties"),
    (OWL.DatatypeProperty, "datatypeproperties", "Datatype Properties"),
    (OWL.AnnotationProperty, "annotationproperties", "Annotation Properties"),
    (RDF.Property, "properties", "Properties"),
    # "named_individuals" is the key pyLODE's legend looks for.
    (OWL.NamedIndividual, "named_individuals", "Named Individuals"),
)
_HEADER_TYPES = (OWL.Ontology, SKOS.ConceptScheme, PROF.Profile)


def ontology_html(root: Path) -> str:
    """The HTML page documenting the ontology of the project at ``root``.

    Cached per content: the files are read (and hashed) on each call, rendered only when
    they changed.
    """
    sources = tuple((f.path.name, f.path.read_bytes()) for f in _ontology_files(root / "ontology"))
    digest = hashlib.sha256()
    for name, data in sources:
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return _render(digest.hexdigest(), sources)


@lru_cache(maxsize=2)
def _render(digest: str, sources: tuple[tuple[str, bytes], ...]) -> str:
    del digest  # the cache key; sources are compared only when digests are equal
    parsed = Graph()
    for name, data in sources:
        parsed.parse(data=data, format="turtle", publicID=name)
    graph = Graph()  # in IRI order, so that each section lists its terms alphabetically
    for prefix, namespace in parsed.namespaces():
        graph.bind(prefix, namespace, override=True)
    for t in sorted(parsed):
        graph.add(t)
    with _root_logging_kept():
        return _document_class()(graph).make_html(include_css=True)


@contextmanager
def _root_logging_kept() -> Iterator[None]:
    """Undo what pyLODE does to the root logger.

    Importing ``pylode`` runs ``logging.basicConfig(level=DEBUG)`` (in its supermodel
    loader), which would send every library's debug messages to stderr, and it logs
    through the ``logging.info`` function, which adds a handler to the root logger when
    it has none.
    """
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)


@lru_cache(maxsize=1)
def _document_class() -> type:
    with _root_logging_kept():
        from pylode.profiles.ontpub import OntPub
        from pylode.rdf_elements import CLASS_PROPS, PROP_PROPS
        from pylode.utils import section_html

    ours = str(GP)
    kinds = [t for t, _, _ in _SECTIONS]
    prop_props = [*PROP_PROPS, RDF.type]
    individual_props = [
        p for p in CLASS_PROPS if p not in (RDFS.subClassOf, OWL.equivalentClass)
    ] + [RDF.type, SKOS.inScheme, SKOS.broader, SKOS.exactMatch, SKOS.closeMatch]

    class GeoKGDoc(OntPub):
        def __init__(self, graph: Graph) -> None:
            # The external terms' declarations: no section of their own.
            for kind in kinds:
                for s in list(graph.subjects(RDF.type, kind)):
                    if isinstance(s, URIRef) and not str(s).startswith(ours):
                        graph.remove((s, RDF.type, kind))
            self._hidden = [
                (s, RDF.type, kind)
                for kind in _HEADER_TYPES
                for s in graph.subjects(RDF.type, kind)
                if s != ONTOLOGY_IRI
            ]
            with self._headers_hidden(graph):
                super().__init__(graph)
            # Ids: the local names, before pyLODE makes any from the labels.
            for s in sorted(set(graph.subjects(RDF.type, None))):
                if isinstance(s, URIRef) and str(s).startswith(ours) and len(s) > len(ours):
                    self.fids[str(s)] = str(s)[len(ours) :]
            self.props_labeled.update(
                {
                    p: {
                        "title": self.back_onts.value(p, DCTERMS.title) or Literal(label),
                        "description": self.back_onts.value(p, DCTERMS.description),
                        "ont_title": ont_title,
                    }
                    for p, label, ont_title in (
                        (RDF.type, "type", "RDF"),
                        (SKOS.inScheme, "in scheme", "SKOS"),
                        (SKOS.broader, "broader", "SKOS"),
                        (SKOS.exactMatch, "exact match", "SKOS"),
                        (SKOS.closeMatch, "close match", "SKOS"),
                    )
                    if p not in self.props_labeled
                }
            )

        @contextmanager
        def _headers_hidden(self, graph: Graph) -> Iterator[None]:
            """The modules and concept schemes are not owl:Ontology / skos:ConceptScheme."""
            for t in self._hidden:
                graph.remove(t)
            try:
                yield
            finally:
                for t in self._hidden:
                    graph.add(t)

        def _make_metadata(self) -> None:
            with self._headers_hidden(self.ont):
                super()._make_metadata()

        def _make_schema_org(self) -> Graph:
            with self._headers_hidden(self.ont):
                return super()._make_schema_org()

        def _make_main_sections(self) -> None:
            with self.content:
                for kind, section_id, heading in _SECTIONS:
                    if (None, RDF.type, kind) not in self.ont:
                        continue
                    if kind == OWL.Class:
                        props = CLASS_PROPS
                    elif kind == OWL.NamedIndividual:
                        props = individual_props
                    else:
                        props = prop_props
                    section_html(
                        heading,
                        self.ont,
                        self.back_onts,
                        self.ns,
                        kind,
                        props,
                        self.toc,
                        section_id,
                        self.fids,
                        self.props_labeled,
                    ).render()

        def _make_toc(self) -> None:
            from dominate.tags import a, div, h3, h4, li, ul

            with self.doc, div(id="toc"):
                h3("Table of Contents")
                with ul(_class="first"):
                    li(h4(a("Metadata", href="#metadata")))
                    for _, section_id, heading in _SECTIONS:
                        entries = self.toc.get(section_id)
                        if entries:
                            with li():
                                h4(a(heading, href="#" + section_id))
                                with ul(_class="second"):
                                    for href, title in entries:
                                        li(a(title, href=href))
                    with li():
                        h4(a("Namespaces", href="#namespaces"))
                        with ul(_class="second"):
                            for _, prefix in self.toc.get("namespaces", []):
                                li(a(prefix, href="#" + prefix))
                    li(h4(a("Legend", href="#legend")), ul(_class="second"))

    return GeoKGDoc
