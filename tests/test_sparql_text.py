"""The SPARQL lexer that finds query forms and outbound operations, and the result writers."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rdflib.query import Result

from kg.formats import ResultFormat
from kg.results import TRUNCATED, write_boolean, write_results
from kg.sparql import (
    _TOKEN,
    MAX_ELEMENTS,
    MAX_NESTING,
    QueryForm,
    QueryShape,
    _inspect_query_lexed,
    inspect_query,
    inspect_update,
    query_shape,
    syntax_position,
    within_engine_limits,
)


@pytest.mark.parametrize(
    "query,form",
    [
        ("SELECT * { ?s ?p ?o }", QueryForm.SELECT),
        ("PREFIX select: <http://x/> CONSTRUCT WHERE { ?s select:p ?o }", QueryForm.CONSTRUCT),
        ("# SELECT in a comment\nDESCRIBE <http://x/>", QueryForm.DESCRIBE),
        ("BASE <http://x/select> ask { ?s ?p 'SELECT' }", QueryForm.ASK),
        ("garbage", None),
    ],
)
def test_query_form(query: str, form: QueryForm | None) -> None:
    assert inspect_query(query).form is form


@pytest.mark.parametrize(
    "query,services",
    [
        ("SELECT * { SERVICE <http://a/> { ?s ?p ?o } }", ("http://a/",)),
        ("SELECT * { service silent <http://a/> { } }", ("http://a/",)),
        ("SELECT * { SERVICE ?x { } }", (None,)),
        ("SELECT * { \\u0053ERVICE <http://a/> { } }", ("http://a/",)),
        ("SELECT * { \\U00000053ERVICE <http://a/> { } }", ("http://a/",)),
        ('SELECT * { ?s ?p "SERVICE <http://a/> {}" }', ()),
        ("SELECT * { ?s ?p '''x\nSERVICE <http://a/> {}''' }", ()),
        ("SELECT * { ?s <http://x/SERVICE> ?service }", ()),
        ("PREFIX service: <http://x/> SELECT * { ?s service:p ?o } # SERVICE <http://a/>", ()),
        ("SELECT * { FILTER(?a<?b) SERVICE <http://a/> { } }", ("http://a/",)),
        ("SELECT * { SERVICE # a comment\n SILENT\n<http://a/> { } }", ("http://a/",)),
        ("SELECT * { SERVICE SILENT ?e { } SERVICE SILENT }", (None, None)),
        ("SELECT * { SERVICE <http://a/> {} SERVICE <http://b/> {} }", ("http://a/", "http://b/")),
    ],
)
def test_services_are_found_only_where_they_are_keywords(query: str, services: tuple) -> None:
    assert inspect_query(query).services == services


# Pieces that stress the shortcut in inspect_query: keywords glued to other tokens, in
# strings, IRIs, comments and names, in odd cases, and with characters that change width
# or turn into ASCII letters when upper-cased.
_PIECES = [
    " ",
    "\n",
    "\t",
    "# c\n",
    "#SERVICE\n",
    "PREFIX ",
    "prefix ",
    "BASE ",
    "ex:",
    "from:",
    "<http://x/>",
    "<http://x/FROM>",
    "SELECT",
    "select",
    "ASK",
    "Construct",
    "DESCRIBE",
    "SERVICE",
    "service",
    "SERV\u0131CE",
    "\u017fervice",
    "FROM",
    "From",
    "fROM",
    "derivedFrom",
    "NAMED",
    "?from",
    "$service",
    "_",
    "-",
    "1",
    "\u00e9",
    "\u00df",
    "\ufb01",
    "{",
    "}",
    ".",
    ";",
    "*",
    "'FROM'",
    '"SERVICE"',
    "'''x\nFROM'''",
    "\\u0053ERVICE",
    "WHERE",
    "?s",
    "<",
    ">",
    ":",
    "SERVICEX",
    "FROM-",
    "aFROM",
    "1FROM",
    "\u00e9FROM",
    "-SERVICE",
    ":SERVICE",
    "SELECT:",
    "ASK.",
    ".:",
    "x",
]


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=14))
def test_the_shortcut_answers_as_the_lexer_does(pieces: list[str]) -> None:
    text = "".join(pieces)
    assert inspect_query(text) == _inspect_query_lexed(text)


def test_dataset_clauses_and_updates() -> None:
    assert inspect_query("SELECT * FROM <http://g> { ?s ?p ?o }").has_dataset_clause
    assert not inspect_query("SELECT * { ?s <http://x/from> ?o }").has_dataset_clause
    assert inspect_update("LOAD <http://x/a.ttl> INTO GRAPH <http://g>").loads
    assert inspect_update("load silent <http://x/>").loads
    assert not inspect_update(
        "INSERT DATA { GRAPH <http://g> { <http://x/load> <p:p> 'LOAD' } }"
    ).loads
    info = inspect_update("DELETE { } USING <http://g> WHERE { SERVICE <http://s/> { } }")
    assert info.uses_dataset_clause and info.services == ("http://s/",)


@pytest.mark.timeout(120)
def test_a_large_text_is_inspected_without_a_token_list() -> None:
    """16 MB of VALUES data after FROM: the lexer made a token per digit before (83 s and
    600 MB on a reader's event loop); runs of tokens that are not keywords are skipped
    in C."""
    text = (
        "SELECT * FROM <urn:g> WHERE { VALUES ?x { "
        + "1 " * 8_000_000
        + "} SERVICE <http://a/> { } }"
    )
    info = inspect_query(text)
    assert info == inspect_query("SELECT * FROM <urn:g> { SERVICE <http://a/> { } }")
    assert info.services == ("http://a/",) and info.has_dataset_clause
    update = "INSERT DATA { GRAPH <urn:g> { <urn:a> <urn:b> " + "1, " * 5_000_000 + "1 } }"
    assert inspect_update(update + " ; LOAD <http://a/>").loads


# ---------------------------------------------------------------- shape
@pytest.mark.parametrize(
    "query,shape",
    [
        ("ASK {}", QueryShape(1, 1)),
        ("SELECT * { { { } } FILTER (STR(?x) = 'a(((') }", QueryShape(3, 6)),
        ("SELECT * { ?s ?p <http://x/(((> . ?s ?p ex:a.b } # {{{", QueryShape(1, 3)),
        ("SELECT * { VALUES (?a ?b) { (1 2) (3 4) } }", QueryShape(1, 3)),
        ("SELECT * { ?s ?p \\u007B\\u007B }", QueryShape(3, 4)),
        ("SELECT * { FILTER(?x IN (1, 2.5, 3e4, 'a'^^xsd:string)) }", QueryShape(3, 3)),
    ],
)
def test_query_shape(query: str, shape: QueryShape) -> None:
    assert query_shape(query) == shape


def _nested(n: int) -> str:
    return "SELECT * { FILTER(" + "STR(" * n + "1" + ")" * n + ") }"


def _chained(n: int) -> str:
    return "SELECT * { ?s ?p ?o " + "MINUS { ?s ?p ?o } " * n + "}"


def test_the_engine_limits() -> None:
    """Queries the engine would die of are told apart from those it takes."""
    assert within_engine_limits(_nested(MAX_NESTING - 2)) is None
    assert within_engine_limits(_nested(MAX_NESTING)).nesting > MAX_NESTING
    assert within_engine_limits(_chained(MAX_ELEMENTS - 2)) is None
    assert within_engine_limits(_chained(MAX_ELEMENTS)).elements > MAX_ELEMENTS
    # Data is not structure: a long VALUES block, a long argument list, long strings.
    rows = " ".join(f"(<http://x/{i}> {i})" for i in range(5000))
    assert within_engine_limits(f"SELECT * {{ VALUES (?s ?n) {{ {rows} }} }}") is None
    items = ", ".join(f'"{i}({{"' for i in range(5000))
    assert within_engine_limits(f"ASK {{ FILTER(?x IN ({items})) }}") is None
    # Escapes are brackets too.
    assert within_engine_limits("ASK { FILTER(" + "\\u0028" * 200 + ") }") is not None


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="(){}[] x'\"<>#\n", max_size=200))
def test_nesting_is_an_upper_bound(text: str) -> None:
    """Never below the nesting the engine reaches (up to a closer with no opener), after
    strings, IRIs and comments as the lexer reads them."""
    bare = query_shape(text)
    depth = deepest = 0
    for kind, token in ((m.lastgroup, m.group()) for m in _TOKEN.finditer(text)):
        if kind == "other" and token in "([{":
            depth += 1
        elif kind == "other" and token in ")]}":
            depth -= 1
            if depth < 0:
                break
        deepest = max(deepest, depth)
    assert bare.nesting >= deepest


def test_the_projects_queries_are_within_the_limits(root) -> None:
    queries = sorted(root.glob("queries/**/*.rq")) + sorted(root.glob("ontology/qc/*.rq"))
    assert queries
    for path in queries:
        assert within_engine_limits(path.read_text()) is None, path


def test_syntax_position() -> None:
    assert syntax_position("error at 3:17: expected one of ...") == (3, 17)
    assert syntax_position("something else") == (None, None)


ROWS = [
    (("uri", "http://ex/a"), ("literal", "Türkiye", None, "en")),
    (("bnode", "b0"), ("literal", '4,"2"\n', "http://www.w3.org/2001/XMLSchema#string", None)),
    (("uri", "http://ex/c"), ("literal", "42", "http://www.w3.org/2001/XMLSchema#integer", None)),
    (("uri", "http://ex/d"), None),
]


@pytest.mark.parametrize("fmt", [ResultFormat.JSON, ResultFormat.XML, ResultFormat.TSV])
def test_results_read_back_with_rdflib(fmt: ResultFormat) -> None:
    body = write_results(fmt, ["s", "v"], ROWS)
    result = Result.parse(
        source=io.BytesIO(body),
        format={"json": "json", "xml": "xml", "tsv": "tsv"}[fmt.label],
    )
    rows = list(result)
    assert len(rows) == 4
    assert str(rows[0][1]) == "Türkiye" and rows[0][1].language == "en"
    assert str(rows[1][1]) == '4,"2"\n'
    assert int(rows[2][1]) == 42
    assert rows[3][1] is None


def test_csv_quotes_and_truncation_marks() -> None:
    csv_body = write_results(ResultFormat.CSV, ["s", "v"], ROWS).decode()
    assert csv_body.startswith("s,v\r\n")
    assert '"4,""2""\n"' in csv_body
    assert TRUNCATED.encode() in write_results(ResultFormat.JSON, ["s"], [], truncated=True)
    assert TRUNCATED.encode() in write_results(ResultFormat.XML, ["s"], [], truncated=True)
    assert TRUNCATED.encode() not in write_results(ResultFormat.JSON, ["s"], [])
    assert write_boolean(ResultFormat.CSV, True) == b"true\n"
