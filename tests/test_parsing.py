"""Parsing RDF (kg._oxigraph.parse_rdf_bytes): blank nodes get deterministic names at any depth."""

from __future__ import annotations

import pytest

from kg._oxigraph import parse_rdf_bytes
from kg.errors import RDFSyntaxError
from kg.formats import RdfFormat
from kg.namespaces import SKOLEM

G = "http://example.org/g"
NESTED = b"""@prefix e: <http://example.org/> .
e:a e:p [ e:q "x" ; e:r [ e:s ( 1 2 ) ] ] .
_:c1 e:next _:c2 . _:c2 e:next _:c1 .
"""
#: The names the recursive skolemisation gave NESTED before it was made iterative: the
#: names of data already stored must not change.
PINNED = {
    "1d9a698b675539cc9f2453df",  # [ e:q "x" ; e:r [...] ]
    "992950ed1f3e27d6bd2f7266",  # [ e:s (1 2) ]
    "cb7604c26404ed4ba4600a61",  # ( 1 2 )
    "a534a314af4765077465b4d6",  # ( 2 )
}


def _names(triples: list) -> set[str]:
    return {
        str(t.value).removeprefix(SKOLEM)
        for triple in triples
        for t in (triple.subject, triple.object)
        if str(getattr(t, "value", "")).startswith(SKOLEM)
    }


def test_blank_node_names_are_stable() -> None:
    first = parse_rdf_bytes(NESTED, G, RdfFormat.TURTLE)
    again = parse_rdf_bytes(NESTED, G, RdfFormat.TURTLE)
    assert first._triples == again._triples
    names = _names(first._triples)
    assert names >= PINNED
    assert len(names) == len(PINNED) + 2  # and the two nodes of the cycle


@pytest.mark.parametrize(
    ("shape", "document"),
    [
        ("collection", lambda n: b"<urn:a> <urn:p> ( " + b"1 " * n + b") ."),
        ("nested", lambda n: b"<urn:a> <urn:p> " + b"[ <urn:p> " * n + b"1" + b" ]" * n + b" ."),
        (
            "cycle",
            lambda n: b"".join(b"_:b%d <urn:p> _:b%d . " % (i, (i + 1) % n) for i in range(n)),
        ),
    ],
)
@pytest.mark.timeout(120)
def test_deep_blank_node_structures_are_named(shape: str, document) -> None:
    """A 20,000-deep nesting is named, each node apart (the recursive version stopped
    near 1,000 with a RecursionError, a 500 on upload, and its descriptions grew with
    the depth: quadratic time)."""
    n = 20_000
    parsed = parse_rdf_bytes(document(n), G, RdfFormat.TURTLE)
    assert len(_names(parsed._triples)) == n


RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"


def _rdfxml(doctype: str, literal: str) -> bytes:
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [{doctype}]>\n'
        f'<rdf:RDF xmlns:rdf="{RDF_NS}" xmlns:e="urn:e:">'
        f'<rdf:Description rdf:about="urn:e:a"><e:p>{literal}</e:p></rdf:Description></rdf:RDF>'
    ).encode()


def test_rdf_xml_entities_expand_within_bounds() -> None:
    """The RDF/XML parser expands internal entities eagerly: a billion laughs (ten levels
    of ten) asked it for 10 GB, and its process was killed. Entities are bounded first.
    (These cases would expand to 20 MB: harmless, should the bounds ever go.)"""
    laughs = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10 if i else "ha"}">' for i in range(8))
    for doctype, literal in (
        (laughs, "&l7;"),
        (laughs, ""),  # expanded when declared, even if never used
        (f'<!ENTITY a "{"x" * 5_000}">', "&a;" * 4_000),  # by repetition
        ('<!ENTITY x SYSTEM "file:///etc/passwd">', "&x;"),
        ("<!ENTITY x 'single quotes'>", "&x;"),
    ):
        with pytest.raises(RDFSyntaxError):
            parse_rdf_bytes(_rdfxml(doctype, literal), G, RdfFormat.RDFXML)
    # Entities as ontology editors write them (namespace abbreviations) still work.
    doc = _rdfxml(
        '<!ENTITY xsd "http://www.w3.org/2001/XMLSchema#"> <!ENTITY e "urn:e:">'
        '<!ENTITY two "&e;&e;">',
        "&e;-&two;",
    )
    (triple,) = parse_rdf_bytes(doc, G, RdfFormat.RDFXML)._triples
    assert triple.object.value == "urn:e:-urn:e:urn:e:"
