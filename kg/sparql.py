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

import re
from dataclasses import dataclass
from enum import Enum

__all__ = [
    "QueryForm",
    "QueryInfo",
    "UpdateInfo",
    "inspect_query",
    "inspect_update",
    "syntax_position",
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


def _unescape(text: str) -> str:
    def repl(m: re.Match[str]) -> str:
        try:
            return chr(int(m.group(1) or m.group(2), 16))
        except (ValueError, OverflowError):
            return m.group(0)

    return _ESCAPE.sub(repl, text)


def _tokens(text: str) -> list[tuple[str, str]]:
    """The significant tokens of ``text`` as (kind, text); whitespace and comments dropped."""
    out = []
    for m in _TOKEN.finditer(_unescape(text)):
        kind = m.lastgroup or "other"
        if kind not in ("ws", "comment"):
            out.append((kind, m.group(kind)))
    return out


def _services(tokens: list[tuple[str, str]]) -> tuple[str | None, ...]:
    found: list[str | None] = []
    for i, (kind, tok) in enumerate(tokens):
        if kind == "word" and tok.upper() == "SERVICE":
            j = i + 1
            if j < len(tokens) and tokens[j][0] == "word" and tokens[j][1].upper() == "SILENT":
                j += 1
            target = tokens[j] if j < len(tokens) else ("other", "")
            found.append(target[1][1:-1] if target[0] == "iri" else None)
    return tuple(found)


def _words(tokens: list[tuple[str, str]]) -> list[str]:
    return [tok.upper() for kind, tok in tokens if kind == "word"]


def inspect_query(text: str) -> QueryInfo:
    """The form of a query, the services it calls and whether it names its own dataset."""
    tokens = _tokens(text)
    words = _words(tokens)
    form = next((_FORMS[w] for w in words if w in _FORMS), None)
    return QueryInfo(form, _services(tokens), "FROM" in words)


def inspect_update(text: str) -> UpdateInfo:
    """Whether an update loads documents, calls services or names its own dataset."""
    tokens = _tokens(text)
    words = _words(tokens)
    return UpdateInfo("LOAD" in words, _services(tokens), "USING" in words)


_POSITION = re.compile(r"error at (\d+):(\d+)")


def syntax_position(message: str) -> tuple[int | None, int | None]:
    """The (line, column) an engine syntax error message points at, if it says."""
    m = _POSITION.search(message)
    return (int(m.group(1)), int(m.group(2))) if m else (None, None)
