"""What a SPARQL request asks for, read from its text before any engine sees it.

The endpoint must know a query's form (to negotiate the response format before running
it) and must refuse operations that would make the server fetch a location the caller
chose (``SERVICE``, ``LOAD``). Both are decided here by a lexer that follows the SPARQL
1.1 grammar's terminals: strings, IRIs, comments, variables and prefixed names are
skipped as whole tokens, so a keyword inside a string or an IRI is not a keyword. Code
point escapes (``\\u0053ERVICE``) are expanded first, as the grammar requires and as the
engine does, so they cannot hide a keyword.

>>> inspect_query('PREFIX ex: <http://ex/> SELECT * WHERE { ?s ex:service "SERVICE" }').form
<QueryForm.SELECT: 'SELECT'>
>>> inspect_query('SELECT * { SERVICE <http://evil/> { ?s ?p ?o } }').services
('http://evil/',)
>>> inspect_update('LOAD <http://example.org/data.ttl>').loads
True
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from enum import Enum

from kg.nesting import deepest_nesting

__all__ = [
    "MAX_ELEMENTS",
    "MAX_NESTING",
    "DatasetClauses",
    "QueryForm",
    "QueryInfo",
    "QueryShape",
    "UpdateInfo",
    "form_keyword_span",
    "inspect_query",
    "inspect_update",
    "query_shape",
    "split_dataset_clauses",
    "syntax_position",
    "within_engine_limits",
]


class QueryForm(Enum):
    SELECT = "SELECT"
    CONSTRUCT = "CONSTRUCT"
    DESCRIBE = "DESCRIBE"
    ASK = "ASK"

    @property
    def is_graph(self) -> bool:
        """True for the forms whose result is an RDF graph."""
        return self in (QueryForm.CONSTRUCT, QueryForm.DESCRIBE)


@dataclass(frozen=True)
class QueryInfo:
    form: QueryForm | None  # None when the text has no query form keyword (a syntax error)
    services: tuple[str | None, ...]  # endpoint IRIs of SERVICE clauses; None for SERVICE ?var
    has_dataset_clause: bool  # FROM or FROM NAMED


@dataclass(frozen=True)
class UpdateInfo:
    loads: bool
    services: tuple[str | None, ...]
    uses_dataset_clause: bool  # USING or USING NAMED


_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
# One alternative per terminal that can contain other characters; order matters.
_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>\#[^\n\r]*)
  | (?P<string>'''(?:[^'\\]|\\.|'(?!''))*'''|\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"
               |'(?:[^'\\\n\r]|\\.)*'|"(?:[^"\\\n\r]|\\.)*")
  | (?P<iri><[^<>"{}|^`\\\x00-\x20]*>)
  | (?P<var>[?$][\w\u00B7\u0300-\u036F\u203F-\u2040]+)
  | (?P<pname>(?:[^\W\d][\w\-.]*)?:[\w\-.:%\\]*)
  | (?P<word>[A-Za-z_][\w\-]*)
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)
_FORMS = {f.value: f for f in QueryForm}
# The common case in one match: a prologue of BASE and PREFIX declarations (with space
# and comments), then the query form keyword. Same terminals as _TOKEN.
_IRI = r"<[^<>\"{}|^`\\\x00-\x20]*>"
_PROLOGUE_FORM = re.compile(
    r"(?:\s+|\#[^\n\r]*|BASE\s*" + _IRI + r"|PREFIX\s+(?:[^\W\d][\w\-.]*)?:\s*" + _IRI + r")*"
    r"(SELECT|CONSTRUCT|DESCRIBE|ASK)(?![\w\-])(?![\w\-.]*:)",  # not part of a name
    re.IGNORECASE,
)
_WORD_CHAR = re.compile(r"[\w\-]")
_SKIPPED = ("ws", "comment")


def _may_have_keyword(text: str, words: tuple[str, ...] = ("SERVICE", "FROM")) -> bool:
    """False only if none of ``words`` can be a keyword token of ``text``.

    A token's upper case is a substring of the text's upper case, so a keyword the lexer
    finds is found here too; an occurrence right after an ASCII letter or an underscore
    (the token before would have gone on) or before a word character is not a keyword.
    """
    upper = text.upper()
    if len(upper) != len(text):  # a character widened: positions no longer line up
        return True
    for word in words:
        i = upper.find(word)
        while i != -1:
            before = text[i - 1] if i else " "
            after = text[i + len(word) : i + len(word) + 1]
            if not (before.isascii() and (before.isalpha() or before == "_")) and not (
                after and _WORD_CHAR.match(after)
            ):
                return True
            i = upper.find(word, i + 1)
    return False


def _unescape(text: str) -> str:
    def repl(m: re.Match[str]) -> str:
        try:
            return chr(int(m.group(1) or m.group(2), 16))
        except (ValueError, OverflowError):
            return m.group(0)

    return _ESCAPE.sub(repl, text)


# Runs of tokens that are not keywords of interest, skipped in C (one match a run): the
# alternatives of _TOKEN in its order (first a run of spaces, digits and punctuation,
# which start no other token), a word that is not one of _KEYWORDS, any other character.
# What is left to match is a keyword of interest.
_KEYWORDS = ("SELECT", "CONSTRUCT", "DESCRIBE", "ASK", "FROM", "SERVICE", "LOAD", "USING")
_KEYWORD_SCAN = re.compile(
    r"""(?:[^A-Za-z_\#'"<?$:\x80-\U0010FFFF]+|\#[^\n\r]*
  | '''(?:[^'\\]|\\.|'(?!''))*'''|\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"
  | '(?:[^'\\\n\r]|\\.)*'|"(?:[^"\\\n\r]|\\.)*"
  | <[^<>"{}|^`\\\x00-\x20]*>
  | [?$][\w\u00B7\u0300-\u036F\u203F-\u2040]+
  | (?:[^\W\d][\w\-.]*)?:[\w\-.:%\\]*
  | (?!(?i:"""
    + "|".join(_KEYWORDS)
    + r""")(?![\w\-]))[A-Za-z_][\w\-]*
  | [^A-Za-z_]
    )++
  | (?P<keyword>[A-Za-z_][\w\-]*)
    """,
    re.VERBOSE | re.DOTALL,
)


def _keywords(text: str) -> list[tuple[str, int]]:
    """The keywords of interest in ``text`` (escapes expanded), upper-cased, each with
    the position where it ends."""
    return [
        (m.group("keyword").upper(), m.end())
        for m in _KEYWORD_SCAN.finditer(text)
        if m.lastgroup == "keyword"
    ]


def _services(text: str, keywords: list[tuple[str, int]]) -> tuple[str | None, ...]:
    """The target of each SERVICE keyword: the IRI after it (and SILENT), else None."""
    found: list[str | None] = []
    for word, end in keywords:
        if word != "SERVICE":
            continue
        following = (m for m in _TOKEN.finditer(text, end) if m.lastgroup not in _SKIPPED)
        target = next(following, None)
        if target is not None and target.group().upper() == "SILENT":
            target = next(following, None)  # a word (an IRI or a variable is not SILENT)
        iri = target is not None and target.lastgroup == "iri"
        found.append(target.group()[1:-1] if iri else None)
    return tuple(found)


def inspect_query(text: str) -> QueryInfo:
    """The form of a query, the services it calls and whether it names its own dataset.

    Most queries are a prologue and a form keyword, with no ``SERVICE`` or ``FROM`` that
    could be a keyword: those are answered without the full lexer (which is the same
    answer, since a keyword token is a substring of the text; a test compares both).
    """
    if "\\" not in text and not _may_have_keyword(text):
        m = _PROLOGUE_FORM.match(text)
        if m is not None:
            return QueryInfo(_FORMS[m.group(1).upper()], (), False)
    return _inspect_query_lexed(text)


def _inspect_query_lexed(text: str) -> QueryInfo:
    text = _unescape(text)
    keywords = _keywords(text)
    form = next((_FORMS[w] for w, _ in keywords if w in _FORMS), None)
    return QueryInfo(form, _services(text, keywords), any(w == "FROM" for w, _ in keywords))


def inspect_update(text: str) -> UpdateInfo:
    """Whether an update loads documents, calls services or names its own dataset."""
    text = _unescape(text)
    keywords = _keywords(text)
    words = {w for w, _ in keywords}
    return UpdateInfo("LOAD" in words, _services(text, keywords), "USING" in words)


# ---------------------------------------------------------------- shape
#: The engine parses and plans a query by recursion on its own stack (8 MiB): measured
#: with pyoxigraph 0.5, a query nested about 800 deep (``FILTER EXISTS { ... }``,
#: ``SUM(SUM(...))``, ``STR(STR(...))``: about 10 KiB of stack a level) or chaining
#: about 2,600 elements (``MINUS { } MINUS { } ...``: about 3.2 KiB an element) ends
#: the process, which no error handler survives. Queries are held well below both.
MAX_NESTING = 128
MAX_ELEMENTS = 1000


@dataclass(frozen=True)
class QueryShape:
    """How deep a query nests and how many elements the engine would chain.

    ``nesting`` is the deepest nesting of ``(``, ``[`` and ``{``; ``elements`` counts
    the operators, groups, ``FILTER``, ``BIND`` and ``VALUES`` clauses (not the values
    of a ``VALUES`` block nor the arguments of a list, which the engine keeps flat).
    Both are counted outside strings, IRIs, variables, prefixed names, numbers and
    comments, after code point escapes are expanded.
    """

    nesting: int
    elements: int

    @property
    def within_limits(self) -> bool:
        return self.nesting <= MAX_NESTING and self.elements <= MAX_ELEMENTS


# What may hold a bracket or an operator character without being one; each alternative
# starts with a literal character, so the search skips the rest of the text in C.
_NOT_STRUCTURE = re.compile(
    r"""\#[^\n\r]*
  | '''(?:[^'\\]|\\.|'(?!''))*'''|'(?:[^'\\\n\r]|\\.)*'
  | \"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"|"(?:[^"\\\n\r]|\\.)*"
  | <[^<>"{}|^`\\\x00-\x20]*>
  | \?[\w\u00B7\u0300-\u036F\u203F-\u2040]+|\$[\w\u00B7\u0300-\u036F\u203F-\u2040]+
  | :[\w\-.:%\\]*
  | \.\d
  | \^\^
    """,
    re.VERBOSE | re.DOTALL,
)
# A VALUES block once the rest is blanked (no brace is left inside it), upper-cased.
_VALUES_BLOCK = re.compile(r"VALUES\s*(?:\([^()]*\)|[^\s{]*)\s*\{[^{}]*\}")
_ELEMENT_WORDS = ("FILTER", "BIND", "VALUES")
_OPERATORS = tuple("{.;|/^!&=<>+-*?")
_NOT_BRACKET = re.compile(r"[^()\[\]{}]+")
_BRACKETS = str.maketrans("[{]}", "(())")


def query_shape(text: str) -> QueryShape:
    """The :class:`QueryShape` of a query, counted in C (regular expressions, no tokens).

    Both are upper bounds: the prefix of a prefixed name, say, may count as a word.

    >>> query_shape("SELECT * { ?s ?p ?o FILTER (?o > 1) VALUES ?o { 1 2 (3) } }")
    QueryShape(nesting=2, elements=5)
    """
    bare = _NOT_STRUCTURE.sub(" ", _unescape(text)).upper()
    bare = _VALUES_BLOCK.sub(" VALUES ", bare)
    brackets = _NOT_BRACKET.sub("", bare).translate(_BRACKETS)
    return QueryShape(deepest_nesting(brackets, MAX_NESTING), _elements(bare))


def _elements(upper: str) -> int:
    return sum(map(upper.count, _OPERATORS)) + sum(map(upper.count, _ELEMENT_WORDS))


def within_engine_limits(text: str) -> QueryShape | None:
    """None if the engine can take ``text``; else its shape, which is beyond the limits.

    The characters of the whole text are counted first: most queries have too few
    brackets and operators to reach either limit, wherever they are. (A text of at most
    MAX_ELEMENTS characters has at most as many elements, unless escapes expand.)
    """
    short = len(text) <= MAX_ELEMENTS and "\\" not in text
    if short and sum(map(text.count, "([{")) <= MAX_NESTING:
        return None
    upper = _unescape(text).upper()
    if sum(map(upper.count, "([{")) <= MAX_NESTING and _elements(upper) <= MAX_ELEMENTS:
        return None
    shape = query_shape(text)
    return None if shape.within_limits else shape


_POSITION = re.compile(r"error at (\d+):(\d+)")


@dataclass(frozen=True)
class DatasetClauses:
    """A query's FROM and FROM NAMED graphs, and its text without those clauses."""

    default: tuple[str, ...]
    named: tuple[str, ...]
    text: str


def split_dataset_clauses(text: str) -> DatasetClauses | None:
    """Take the FROM and FROM NAMED clauses out of a query (for a remote engine's protocol).

    Only clauses with full IRIs are taken out; None if there are none, or if one uses a
    prefixed name or the text has escapes (then the query is left as it is).

    >>> split_dataset_clauses("SELECT * FROM <http://a/> FROM NAMED <http://b/> { ?s ?p ?o }")
    DatasetClauses(default=('http://a/',), named=('http://b/',), text='SELECT *   { ?s ?p ?o }')
    """
    if "\\" in text or not _may_have_keyword(text, ("FROM",)):
        return None
    default: list[str] = []
    named: list[str] = []
    out: list[str] = []
    pos = 0
    matches = list(_TOKEN.finditer(text))
    i = 0
    while i < len(matches):
        m = matches[i]
        if m.lastgroup == "word" and m.group().upper() == "FROM":
            j = i + 1
            significant = list(
                itertools.islice(
                    (k for k in range(j, len(matches)) if matches[k].lastgroup not in _SKIPPED), 2
                )
            )
            if not significant:
                return None
            k = significant[0]
            target = (
                named
                if matches[k].lastgroup == "word" and matches[k].group().upper() == "NAMED"
                else default
            )
            if target is named:
                if len(significant) < 2:
                    return None
                k = significant[1]
            if matches[k].lastgroup != "iri":
                return None
            target.append(matches[k].group()[1:-1])
            out.append(text[pos : m.start()])
            pos = matches[k].end()
            i = k + 1
            continue
        i += 1
    if not default and not named:
        return None
    out.append(text[pos:])
    return DatasetClauses(tuple(default), tuple(named), "".join(out))


def form_keyword_span(text: str) -> tuple[int, int] | None:
    """Where the query form keyword (SELECT, ASK...) is in ``text``, as a lexer sees it.

    >>> form_keyword_span("PREFIX ask: <http://x/ask> ASK { ?s ?p ?o }")
    (27, 30)
    """
    if "\\" in text:
        return None  # escapes shift positions: not located
    for m in _TOKEN.finditer(text):
        if m.lastgroup == "word" and m.group().upper() in _FORMS:
            return m.start(), m.end()
    return None


def syntax_position(message: str) -> tuple[int | None, int | None]:
    """The (line, column) an engine syntax error message points at, if it says."""
    m = _POSITION.search(message)
    return (int(m.group(1)), int(m.group(2))) if m else (None, None)
