"""Hostile inputs for the fuzz targets of tests/test_hostile_input.py, and their tally.

Strategies (Hypothesis) for SPARQL query and update texts, RDF documents in every upload
format, REST parameter values and fact bodies: malformed, huge, deeply nested, wrongly
encoded, and pointing at a canary server. :func:`judge` says what is wrong with an
answer (None: a 2xx, or a 4xx with an RFC 9457 problem body); :class:`Tally` counts the
inputs tried per target and writes them as JSON when ``GEOKG_FUZZ_REPORT`` names a file.

``GEOKG_FUZZ_EXAMPLES`` sets the examples per fuzz target (default 40: a few minutes
in all); a longer run raises it.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import hypothesis
from hypothesis import strategies as st

#: Examples per fuzz target, from the environment: small in CI, large in a long run.
EXAMPLES = int(os.environ.get("GEOKG_FUZZ_EXAMPLES", "40"))
#: A fuzz test's own time limit: generous per example (a deep upload takes seconds).
FUZZ_TIMEOUT = 300 + 6 * EXAMPLES
#: Where to write the tally (a JSON file), if anywhere.
REPORT = os.environ.get("GEOKG_FUZZ_REPORT")

SETTINGS = hypothesis.settings(
    max_examples=EXAMPLES,
    derandomize=True,  # the same inputs on every run with the same EXAMPLES
    database=None,  # no .hypothesis folder replaying old inputs
    deadline=None,  # the client's own time limit says what a hang is
    suppress_health_check=list(hypothesis.HealthCheck),
    # No shrinking: a failure is recorded with its input and the run goes on, so that
    # every target runs its examples and one failure does not hide another.
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    print_blob=False,
)

PROBLEM = "application/problem+json"
#: Strings that must never come back: file contents a resolved entity would show.
LEAKS = ("root:x:0:0", "CANARY-CONTENT")


# ---------------------------------------------------------------- judging answers
def problem_error(r: httpx.Response) -> str | None:
    """What is wrong with an error answer's body (None: an RFC 9457 problem)."""
    media = r.headers.get("content-type", "").split(";")[0].strip()
    if media != PROBLEM:
        return f"{r.status_code} with media type {media!r}, not {PROBLEM}"
    try:
        body = r.json()
    except ValueError:
        return f"{r.status_code} problem body is not JSON"
    if not isinstance(body, dict) or body.get("status") != r.status_code:
        return f"{r.status_code} problem body without that status"
    if not all(isinstance(body.get(k), str) and body[k] for k in ("type", "title", "detail")):
        return f"{r.status_code} problem body without type, title and detail"
    return None


def judge(r: httpx.Response, *, timeouts: bool = False) -> str | None:
    """What is wrong with an answer to a hostile input (None: nothing).

    A 2xx is a legitimate answer to a valid (if odd) input; a 4xx must be a problem.
    A 5xx never is, except, with ``timeouts``, the 503 of a query that reached the
    time limit (a valid query can be expensive; that is the limit doing its job).
    """
    status = r.status_code
    if any(leak in r.text for leak in LEAKS):
        return f"{status} answer shows content fetched or read for the request"
    if 200 <= status < 300 or status in (301, 302, 303, 304, 307, 308):
        return None
    if 400 <= status < 500:
        return problem_error(r)
    timed_out = status == 503 and problem_error(r) is None and "/query-timeout" in r.text
    if timeouts and timed_out and r.json()["type"].endswith("/query-timeout"):
        return None
    return f"server error {status}: {r.text[:200]!r}"


# ---------------------------------------------------------------- the tally
@dataclass
class Target:
    """What one fuzz target tried and got."""

    inputs: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    failures: dict[str, str] = field(default_factory=dict)  # kind -> first input showing it
    seconds: float = 0.0

    def failed(self, kind: str, example: str) -> None:
        self.failures.setdefault(kind, example[:600])


class Tally:
    """Inputs tried per target; written to ``REPORT`` (JSON) by :meth:`write`."""

    def __init__(self) -> None:
        self.targets: dict[str, Target] = {}
        self.started = time.monotonic()
        self.notes: dict[str, Any] = {}

    def target(self, name: str) -> Target:
        return self.targets.setdefault(name, Target())

    def send(
        self,
        name: str,
        request: Any,
        shown: str,
        *,
        timeouts: bool = False,
    ) -> httpx.Response | None:
        """Send one hostile request (a callable returning the response), judge the answer.

        A transport error (the connection dropped, the client's time limit: a hang) is
        a failure too. ``shown`` is how the input is shown if it fails.
        """
        target = self.target(name)
        target.inputs += 1
        started = time.monotonic()
        try:
            r = request()
        except httpx.TimeoutException:
            target.statuses["hang"] += 1
            target.failed("hang (client time limit)", shown)
            return None
        except httpx.TransportError as exc:
            target.statuses["dropped"] += 1
            target.failed(f"connection dropped ({type(exc).__name__})", shown)
            return None
        finally:
            target.seconds += time.monotonic() - started
        target.statuses[str(r.status_code)] += 1
        wrong = judge(r, timeouts=timeouts)
        if wrong is not None:
            target.failed(wrong.split(":")[0], f"{shown}\n  -> {wrong}")
        return r

    def failures(self, *names: str) -> list[str]:
        return [
            f"[{name}] {kind}\n  {example}"
            for name in names
            for kind, example in self.targets.get(name, Target()).failures.items()
        ]

    def write(self, path: str | None = REPORT) -> None:
        if not path:
            return
        out = {
            "examples_per_target": EXAMPLES,
            "hypothesis": hypothesis.__version__,
            "python": platform.python_version(),
            "seconds": round(time.monotonic() - self.started, 1),
            "targets": {
                name: {
                    "inputs": t.inputs,
                    "statuses": dict(sorted(t.statuses.items())),
                    "failures": len(t.failures),
                    "seconds": round(t.seconds, 1),
                }
                for name, t in sorted(self.targets.items())
            },
            **self.notes,
        }
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(out, indent=2) + "\n")


def shown(value: str | bytes, limit: int = 300) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(value)} long)"


# ---------------------------------------------------------------- building blocks
def _deep(opening: str, inner: str, closing: str) -> st.SearchStrategy[str]:
    """``opening`` * n + ``inner`` + ``closing`` * m: balanced or not, up to 20,000 deep."""
    depth = st.one_of(st.integers(0, 40), st.integers(100, 400), st.integers(1000, 20_000))
    return st.tuples(depth, st.one_of(st.just(None), st.integers(0, 20_000))).map(
        lambda nm: opening * nm[0] + inner + closing * (nm[0] if nm[1] is None else nm[1])
    )


def _repeated(piece: str, prefix: str = "", suffix: str = "") -> st.SearchStrategy[str]:
    count = st.one_of(st.integers(0, 50), st.integers(500, 1500), st.integers(2000, 12_000))
    return count.map(lambda n: prefix + piece * n + suffix)


def mutated(seeds: list[bytes]) -> st.SearchStrategy[bytes]:
    """A valid document with bytes inserted, deleted, replaced, cut or repeated."""

    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        data = bytearray(draw(st.sampled_from(seeds)))
        for _ in range(draw(st.integers(1, 4))):
            at = draw(st.integers(0, len(data)))
            op = draw(st.sampled_from(["insert", "delete", "replace", "cut", "repeat"]))
            if op == "insert":
                data[at:at] = draw(st.binary(min_size=1, max_size=12))
            elif op == "delete":
                del data[at : at + draw(st.integers(1, 20))]
            elif op == "replace" and at < len(data):
                data[at] = draw(st.integers(0, 255))
            elif op == "cut":
                del data[at:]
            else:
                end = min(len(data), at + draw(st.integers(1, 30)))
                data[at:at] = bytes(data[at:end]) * draw(st.integers(2, 200))
        return bytes(data)

    return build()


def encoded(texts: st.SearchStrategy[str]) -> st.SearchStrategy[bytes]:
    """Texts in the right encoding (UTF-8), and in wrong ones, with byte order marks."""
    encodings = st.sampled_from(
        ["utf-8", "utf-8", "utf-8", "utf-8-sig", "utf-16", "utf-16-be", "utf-32", "latin-1"]
    )
    return st.tuples(texts, encodings).map(
        lambda te: (
            te[0].encode(te[1], errors="replace")
            if te[1] != "latin-1"
            else te[0].encode("latin-1", errors="ignore") + b"\xe9\xff"
        )
    )


# Lone surrogates, overlong forms, stray continuation bytes, NULs, a UTF-16 BOM.
BAD_BYTES = [b"\xff\xfe", b"\xc0\xaf", b"\xed\xa0\x80", b"\x80", b"\x00", b"\xf8\x88\x80\x80\x80"]
ODD_TEXT = st.sampled_from(
    ["\x00", "\x01", "\x7f", "\u0085", "\u2028", "\u202e", "\ufeff", "\ud7ff", "\U0001f600"]
)


# ---------------------------------------------------------------- SPARQL
_KEYWORDS = (
    "SELECT ASK CONSTRUCT DESCRIBE WHERE FROM NAMED GRAPH SERVICE SILENT OPTIONAL UNION MINUS "
    "FILTER BIND VALUES EXISTS NOT IN AS DISTINCT ORDER BY GROUP HAVING LIMIT OFFSET PREFIX "
    "BASE a true false UNDEF COUNT SUM STR REGEX IRI BNODE INSERT DELETE DATA LOAD INTO CLEAR "
    "DROP CREATE ADD MOVE COPY WITH USING DEFAULT ALL"
)
_PUNCTUATION = "{ } ( ) [ ] . ; , * / | ^ ^^ ? + - ! && || = != < > <= >= @en :"


def sparql_vocabulary(canary: str) -> list[str]:
    """Tokens of queries and updates: keywords, punctuation, terms, the canary's IRIs."""
    return [
        *_KEYWORDS.split(),
        *_PUNCTUATION.split(),
        "?s", "?p", "?o", "$x", "_:b", "ex:p", "rdfs:label", "gp:State", "1", "2.5", "-3e9",
        '"x"', "'y'", '"""long\nstring"""', '"\\u0053ERVICE"', "\\u0053ERVICE", "\\U0000007B",
        "<http://example.org/x>", "<urn:fuzz:g>", "<https://w3id.org/geokg/id/turkey>",
        f"<{canary}/sparql>", f"<{canary}/data.ttl>", f"<{canary}/graph>",
        "<file:///etc/passwd>", "# comment\n", "\n", "\t",
    ]  # fmt: skip


def sparql_texts(canary: str, *, update: bool) -> st.SearchStrategy[str]:
    """Token soups, deep nestings, long chains, huge literals and broken valid texts."""
    vocabulary = sparql_vocabulary(canary)
    soup = st.lists(
        st.one_of(st.sampled_from(vocabulary), ODD_TEXT, st.text(max_size=8)), max_size=60
    ).map(" ".join)
    if update:
        valid = [
            "INSERT DATA { GRAPH <urn:fuzz:g> { <urn:fuzz:a> <urn:fuzz:b> 'c' } }",
            f"LOAD <{canary}/data.ttl> INTO GRAPH <urn:fuzz:g>",
            f"INSERT {{ GRAPH <urn:fuzz:g> {{ ?s ?p ?o }} }} USING <{canary}/g> "
            "WHERE { ?s ?p ?o }",
            f"DELETE {{ ?s ?p ?o }} WHERE {{ SERVICE <{canary}/sparql> {{ ?s ?p ?o }} }}",
            "WITH <urn:fuzz:g> DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }",
            "CLEAR SILENT GRAPH <urn:fuzz:none>",
        ]  # fmt: skip
        head, tail = "INSERT DATA { GRAPH <urn:fuzz:g> { <urn:fuzz:a> <urn:fuzz:b> ", " } }"
    else:
        valid = [
            "SELECT * WHERE { ?s ?p ?o } LIMIT 3",
            f"SELECT * FROM <{canary}/data> FROM NAMED <{canary}/named> WHERE {{ ?s ?p ?o }}",
            f"SELECT * WHERE {{ SERVICE SILENT <{canary}/sparql> {{ ?s ?p ?o }} }}",
            "ASK { ?s a <https://w3id.org/geokg/ontology#State> }",
            "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o } LIMIT 2",
            f"DESCRIBE <{canary}/thing>",
        ]
        head, tail = "SELECT * WHERE { ", " }"
    nested = st.one_of(
        _deep("(", "1", ")").map(lambda t: f"{head}FILTER({t}){tail}"),
        _deep("{", "", "}").map(lambda t: f"{head}{t}{tail}"),
        _deep("[ <urn:p> ", "1", " ]").map(lambda t: f"{head}<urn:s> <urn:p> {t}{tail}"),
        _deep("( ", "1", " )").map(lambda t: f"{head}<urn:s> <urn:p> {t}{tail}"),
        _deep("FILTER EXISTS { ", "", " }").map(lambda t: f"{head}{t}{tail}"),
        _deep("STR(", "1", ")").map(lambda t: f"{head}BIND({t} AS ?x){tail}"),
        _deep("OPTIONAL { ", "?s ?p ?o", " }").map(lambda t: f"{head}{t}{tail}"),
    )
    chained = st.one_of(
        _repeated("MINUS { ?s ?p ?o } ", head, tail),
        _repeated("|| true ", head + "FILTER(true ", ")" + tail),
        _repeated("UNION {} ", head + "{} ", tail),
        _repeated("/<urn:p>", head + "?s <urn:p>", " ?o" + tail),
        _repeated("?s <urn:p> ?o . ", head, tail),
    )
    huge = st.integers(1_000, 60_000).map(lambda n: f"{head}?s ?p '{'x' * n}'{tail}")
    broken = st.tuples(st.sampled_from(valid), st.integers(0, 120), soup).map(
        lambda v: v[0][: v[1]] + v[2] + v[0][v[1] :]
    )
    # The shapes that reach the engine's limits are drawn more often than the others.
    return st.one_of(nested, chained, nested, chained, soup, huge, broken, st.sampled_from(valid))


#: How a query or update reaches the endpoint: (method, content type or None for GET).
SPARQL_TRANSPORTS = [
    ("GET", None),
    ("POST", "application/x-www-form-urlencoded"),
    ("POST", "application/sparql-query"),
    ("POST", "application/sparql-update"),
    ("POST", "application/x-www-form-urlencoded"),
    ("POST", "application/sparql-query"),
    ("POST", "application/sparql-update"),
    ("POST", "application/sparql-query; charset=latin-1"),
    ("POST", "application/sparql-update; charset=utf-16"),
    ("POST", "application/x-www-form-urlencoded; charset=utf-16"),
    ("POST", "multipart/form-data; boundary=x"),
    ("POST", "text/plain"),
    ("POST", "application/json"),
    ("POST", ""),
    ("POST", "application/sparql-query;;;=;"),
]


def sparql_extras(canary: str) -> st.SearchStrategy[dict[str, str]]:
    """Extra protocol parameters, hostile or pointing at the canary."""
    names = st.sampled_from(
        ["default-graph-uri", "named-graph-uri", "using-graph-uri", "using-named-graph-uri",
         "timeout", "format", "inferred", "query", "update"]
    )  # fmt: skip
    values = st.one_of(
        st.sampled_from([f"{canary}/g", "file:///etc/passwd", "-1", "1e999", "nan", "x", ""]),
        st.text(max_size=30),
    )
    return st.dictionaries(names, values, max_size=3)


# ---------------------------------------------------------------- RDF uploads
#: The media types of the upload formats (one graph) and the others the server refuses.
UPLOAD_TYPES = {
    "turtle": "text/turtle",
    "ntriples": "application/n-triples",
    "rdfxml": "application/rdf+xml",
    "jsonld": "application/ld+json",
}
REFUSED_TYPES = ["application/trig", "application/n-quads", "application/json", "text/plain", ""]

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"


def rdf_seeds(canary: str) -> dict[str, list[bytes]]:
    """Small valid documents of each format (and some hostile but well-formed ones)."""
    xml_head = f'<?xml version="1.0"?>\n<rdf:RDF xmlns:rdf="{RDF}" xmlns:e="urn:fuzz:">'
    return {
        "turtle": [
            b'@prefix e: <urn:fuzz:> .\ne:a e:p "x"@en ; e:q ( 1 2 [ e:r e:b ] ) .\n',
            f"@base <{canary}/> .\n<a> <b> <c> .\n".encode(),
        ],
        "ntriples": [
            b'<urn:fuzz:a> <urn:fuzz:p> "x\\u00e9"@en .\n<urn:fuzz:a> <urn:fuzz:q> _:b .\n'
        ],
        "rdfxml": [
            (
                f'{xml_head}<rdf:Description rdf:about="urn:fuzz:a"><e:p>x</e:p>'
                '<e:q rdf:parseType="Resource"><e:r>1</e:r></e:q></rdf:Description></rdf:RDF>'
            ).encode(),
            (
                f'<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [<!ENTITY x SYSTEM "{canary}/e">]>\n'
                f'<rdf:RDF xmlns:rdf="{RDF}" xmlns:e="urn:fuzz:">'
                '<rdf:Description rdf:about="urn:fuzz:a"><e:p>&x;</e:p></rdf:Description></rdf:RDF>'
            ).encode(),
        ],
        "jsonld": [
            b'{"@id": "urn:fuzz:a", "urn:fuzz:p": [{"@value": "x", "@language": "en"}, '
            b'{"@id": "urn:fuzz:b"}], "urn:fuzz:q": {"@list": [1, 2]}}',
            f'{{"@context": "{canary}/context.jsonld", "@id": "urn:fuzz:a", "p": "x"}}'.encode(),
        ],
    }  # fmt: skip


def billion_laughs(depth: int, width: int) -> bytes:
    """RDF/XML whose one literal is entity ``l{depth}``, ``width``-fold at each level."""
    entities = ['<!ENTITY l0 "ha">'] + [
        f'<!ENTITY l{i} "{f"&l{i - 1};" * width}">' for i in range(1, depth + 1)
    ]
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [{"".join(entities)}]>\n'
        f'<rdf:RDF xmlns:rdf="{RDF}" xmlns:e="urn:fuzz:">'
        f'<rdf:Description rdf:about="urn:fuzz:laugh"><e:p>&l{depth};</e:p>'
        "</rdf:Description></rdf:RDF>"
    ).encode()


def rdf_bodies(fmt: str, canary: str) -> st.SearchStrategy[bytes]:
    """Bodies for an upload in ``fmt``: mutated, nested, re-encoded, binary, hostile XML."""
    seeds = rdf_seeds(canary)[fmt]
    nested = {
        "turtle": st.one_of(
            _deep("[ <urn:fuzz:p> ", "1", " ]").map(lambda t: f"<urn:fuzz:a> <urn:fuzz:p> {t} ."),
            _deep("( ", "1", " )").map(lambda t: f"<urn:fuzz:a> <urn:fuzz:p> {t} ."),
            _repeated("1 ", "<urn:fuzz:a> <urn:fuzz:p> ( ", ") ."),
        ),
        "ntriples": _repeated("<urn:fuzz:a> <urn:fuzz:p> _:b .\n_:b <urn:fuzz:p> _:b .\n"),
        "rdfxml": st.one_of(
            _deep("<e:p><rdf:Description>", "<e:q>1</e:q>", "</rdf:Description></e:p>"),
            _deep('<e:p rdf:parseType="Resource">', "<e:q>1</e:q>", "</e:p>"),
        ).map(
            lambda t: f'<rdf:RDF xmlns:rdf="{RDF}" xmlns:e="urn:fuzz:">'
            f'<rdf:Description rdf:about="urn:fuzz:a">{t}</rdf:Description></rdf:RDF>'
        ),
        "jsonld": st.one_of(
            _deep('{"urn:fuzz:p": ', "1", "}"),
            _deep("[", "1", "]"),
            _deep('{"@list": [', "1", "]}"),
        ).map(lambda t: f'{{"@id": "urn:fuzz:a", "urn:fuzz:q": {t}}}'),
    }[fmt]  # fmt: skip
    special: list[st.SearchStrategy[bytes]] = []
    if fmt == "rdfxml":
        special.append(
            # At most 10^7 laughs (20 MB), should the parser's bounds ever go.
            st.tuples(st.integers(1, 7), st.integers(2, 10)).map(lambda dw: billion_laughs(*dw))
        )
    if fmt == "jsonld":
        contexts = st.sampled_from(
            [f'"{canary}/c.jsonld"', f'["{canary}/c.jsonld"]',
             f'{{"@import": "{canary}/i.jsonld"}}',
             f'{{"t": {{"@id": "urn:fuzz:t", "@context": "{canary}/scoped.jsonld"}}}}',
             f'{{"@base": "{canary}/", "@vocab": "{canary}/v#"}}']
        )  # fmt: skip
        special.append(
            contexts.map(lambda c: f'{{"@context": {c}, "@id": "a", "t": {{"x": 1}}}}'.encode())
        )
    return st.one_of(
        mutated(seeds),
        nested.map(str.encode),
        encoded(nested.filter(lambda t: len(t) < 50_000)),
        encoded(st.sampled_from(seeds).map(lambda b: b.decode())),
        st.binary(max_size=2000),
        st.sampled_from(seeds).map(lambda b: b + st_bad(b)),
        *special,
    )


def st_bad(data: bytes) -> bytes:
    """A byte that is not UTF-8, chosen from the document's length (no randomness)."""
    return BAD_BYTES[len(data) % len(BAD_BYTES)]


# ---------------------------------------------------------------- REST and facts
#: Pieces of injection strings: quotes, IRI and group breakers, comments, keywords.
INJECTION = [
    '"', "'", "'''", ">", "<", "}", "{", ")", "(", "#", "\n", "\r\n", "\\", "\\u003E",
    "%3E", "%", "%00", "?s", "$x", ".", ";", ",", "|", "^^", "@en",
    " UNION { ?s ?p ?o } ", " } ; DROP ALL ; ", " FILTER(true) ", " LIMIT 1 ", " SERVICE ",
    "SELECT", "INSERT DATA", "<script>", "turkey", "http://example.org/x", "urn:x",
]  # fmt: skip


def injections(canary: str) -> st.SearchStrategy[str]:
    pieces = st.one_of(
        st.sampled_from([*INJECTION, f"{canary}/x", f"<{canary}/x>"]),
        ODD_TEXT,
        st.text(max_size=12),
    )
    return st.one_of(
        st.lists(pieces, min_size=1, max_size=8).map("".join),
        st.integers(1000, 20_000).map(lambda n: "}" * n),
    )


def json_values(canary: str) -> st.SearchStrategy[Any]:
    leaves = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=True),
        injections(canary),
    )
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
        ),
        max_leaves=12,
    )


def fact_bodies(canary: str, valid: dict[str, Any]) -> st.SearchStrategy[bytes]:
    """Fact bodies: a valid fact with one field hostile, any JSON, deep JSON, raw bytes."""
    one_field = st.tuples(st.sampled_from(sorted(valid)), json_values(canary)).map(
        lambda kv: json.dumps({**valid, kv[0]: kv[1]}).encode()
    )
    deep = _deep("[", "1", "]").map(str.encode)
    deep_objects = _deep('{"a": ', "1", "}").map(str.encode)
    return st.one_of(
        one_field,
        json_values(canary).map(lambda v: json.dumps(v).encode()),
        deep,
        deep_objects,
        st.binary(max_size=500),
        encoded(st.just(json.dumps(valid))),
    )
