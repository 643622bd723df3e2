"""Writers for SPARQL query results (JSON, XML, CSV, TSV), with an explicit cut-off mark.

The engine's own writers cannot say that a result was cut at the server's row limit,
so SELECT and ASK results are written here, from terms already taken apart into plain
tuples (see :data:`Term`). When a result was cut, JSON and XML carry a ``link`` in their
head to :data:`TRUNCATED` (both formats define ``link`` for such metadata); CSV and TSV
have no place for it, and the HTTP header is the only mark.

>>> body = write_results(ResultFormat.JSON, ["x"], [(("uri", "http://ex/a"),)], truncated=True)
>>> b'"link": ["https://w3id.org/geokg/problems/result-truncated"]' in body
True
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from xml.sax.saxutils import escape, quoteattr

from kg.formats import ResultFormat

__all__ = ["TRUNCATED", "Term", "write_boolean", "write_results"]

#: ("uri", iri) | ("bnode", id) | ("literal", lexical form, datatype or None, language or None)
Term = tuple
Row = Sequence[Term | None]

#: The IRI a truncated result links to from its head.
TRUNCATED = "https://w3id.org/geokg/problems/result-truncated"

_XSD = "http://www.w3.org/2001/XMLSchema#"
_INTEGER = re.compile(r"[+-]?[0-9]+")


def write_results(
    fmt: ResultFormat, variables: Sequence[str], rows: Sequence[Row], *, truncated: bool = False
) -> bytes:
    """Serialise solutions (``rows`` aligned with ``variables``; None is unbound)."""
    if fmt is ResultFormat.JSON:
        return _json(variables, rows, truncated)
    if fmt is ResultFormat.XML:
        return _xml(variables, rows, truncated)
    if fmt is ResultFormat.CSV:
        return _csv(variables, rows)
    return _tsv(variables, rows)


def write_boolean(fmt: ResultFormat, value: bool) -> bytes:
    """Serialise an ASK result (CSV and TSV write the bare ``true``/``false``)."""
    word = "true" if value else "false"
    if fmt is ResultFormat.JSON:
        return json.dumps({"head": {}, "boolean": value}).encode()
    if fmt is ResultFormat.XML:
        return (
            '<?xml version="1.0"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#">'
            f"<head/><boolean>{word}</boolean></sparql>\n"
        ).encode()
    return (word + "\n").encode()


def _json_term(t: Term) -> dict[str, str]:
    if t[0] == "uri":
        return {"type": "uri", "value": t[1]}
    if t[0] == "bnode":
        return {"type": "bnode", "value": t[1]}
    out = {"type": "literal", "value": t[1]}
    if t[3]:
        out["xml:lang"] = t[3]
    elif t[2]:
        out["datatype"] = t[2]
    return out


def _json(variables: Sequence[str], rows: Sequence[Row], truncated: bool) -> bytes:
    head: dict[str, object] = {"vars": list(variables)}
    if truncated:
        head["link"] = [TRUNCATED]
    bindings = [
        {v: _json_term(t) for v, t in zip(variables, row, strict=True) if t is not None}
        for row in rows
    ]
    return json.dumps(
        {"head": head, "results": {"bindings": bindings}}, ensure_ascii=False
    ).encode()


def _xml_term(t: Term) -> str:
    if t[0] == "uri":
        return f"<uri>{escape(t[1])}</uri>"
    if t[0] == "bnode":
        return f"<bnode>{escape(t[1])}</bnode>"
    if t[3]:
        return f"<literal xml:lang={quoteattr(t[3])}>{escape(t[1])}</literal>"
    if t[2]:
        return f"<literal datatype={quoteattr(t[2])}>{escape(t[1])}</literal>"
    return f"<literal>{escape(t[1])}</literal>"


def _xml(variables: Sequence[str], rows: Sequence[Row], truncated: bool) -> bytes:
    parts = ['<?xml version="1.0"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#"><head>']
    parts.extend(f"<variable name={quoteattr(v)}/>" for v in variables)
    if truncated:
        parts.append(f"<link href={quoteattr(TRUNCATED)}/>")
    parts.append("</head><results>")
    for row in rows:
        parts.append("<result>")
        for v, t in zip(variables, row, strict=True):
            if t is not None:
                parts.append(f"<binding name={quoteattr(v)}>{_xml_term(t)}</binding>")
        parts.append("</result>")
    parts.append("</results></sparql>\n")
    return "".join(parts).encode()


def _csv_field(t: Term | None) -> str:
    if t is None:
        return ""
    value = t[1] if t[0] != "bnode" else "_:" + t[1]
    if any(c in value for c in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def _csv(variables: Sequence[str], rows: Sequence[Row]) -> bytes:
    lines = [",".join(variables)]
    lines.extend(",".join(_csv_field(t) for t in row) for row in rows)
    return ("\r\n".join(lines) + "\r\n").encode()


def _tsv_string(s: str) -> str:
    return (
        s.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )


def _tsv_field(t: Term | None) -> str:
    if t is None:
        return ""
    if t[0] == "uri":
        return f"<{t[1]}>"
    if t[0] == "bnode":
        return f"_:{t[1]}"
    if t[3]:
        return f'"{_tsv_string(t[1])}"@{t[3]}'
    if (t[2] == _XSD + "integer" and _INTEGER.fullmatch(t[1])) or (
        t[2] == _XSD + "boolean" and t[1] in ("true", "false")
    ):
        return t[1]  # Turtle's short forms read back as the same literal
    if t[2]:
        return f'"{_tsv_string(t[1])}"^^<{t[2]}>'
    return f'"{_tsv_string(t[1])}"'


def _tsv(variables: Sequence[str], rows: Sequence[Row]) -> bytes:
    lines = ["\t".join("?" + v for v in variables)]
    lines.extend("\t".join(_tsv_field(t) for t in row) for row in rows)
    return ("\n".join(lines) + "\n").encode()
