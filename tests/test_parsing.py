"""Parsing RDF (kg._oxigraph.parse_rdf_bytes): blank nodes get deterministic names at any depth."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kg._oxigraph import parse_rdf_bytes
from kg.errors import RDFSyntaxError
from kg.formats import RdfFormat
from kg.namespaces import SKOLEM

G = "http://example.org/g"
ROOT = Path(__file__).resolve().parent.parent
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


def test_json_ld_nests_at_most_256_deep() -> None:
    """Objects nested about 3,000 deep overflowed the JSON-LD parser's stack and killed
    its process (a 500, or the server before uploads were parsed in workers). The deep
    document is tried in a subprocess, so that a regression fails here, not the session."""

    def nested(n: int) -> bytes:
        return (
            '{"@id": "urn:e:a", "urn:e:q": ' + '{"urn:e:p": ' * n + "1" + "}" * n + "}"
        ).encode()

    assert len(parse_rdf_bytes(nested(200), G, RdfFormat.JSONLD)) == 201
    # Brackets in strings do not nest; long flat arrays do not either.
    flat = '{"@id": "urn:e:a", "urn:e:p": "' + "{[" * 10_000 + '", "urn:e:q": [' + "[1]," * 5_000
    assert len(parse_rdf_bytes((flat + "1]}").encode(), G, RdfFormat.JSONLD)) == 5_002
    code = (
        "from kg._oxigraph import parse_rdf_bytes\n"
        "from kg.errors import RDFSyntaxError\n"
        "from kg.formats import RdfFormat\n"
        f"data = {nested(5_000)!r}\n"
        "try:\n"
        "    parse_rdf_bytes(data, 'urn:g', RdfFormat.JSONLD)\n"
        "except RDFSyntaxError as exc:\n"
        "    print(exc.detail)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr[-500:]
    assert "more than 256 deep" in done.stdout
