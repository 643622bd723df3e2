"""HTTP content negotiation (RFC 9110 section 12.5.1): q-values, wildcards, 406.

Offers are media types in the server's order of preference; the client's Accept
header picks among them. The most specific range that matches an offer gives its
quality; a quality of 0 refuses it. Ties go to the server's order.

>>> choose("text/csv;q=0.5, application/json", ["text/csv", "application/json"])
'application/json'
>>> choose("text/*;q=0.9, */*;q=0.1", ["application/sparql-results+json", "text/csv"])
'text/csv'
>>> choose("image/png", ["text/turtle"]) is None
True
"""

from __future__ import annotations

from collections.abc import Sequence

from api.problems import Problem

__all__ = ["choose", "choose_or_406", "parse_accept"]


def parse_accept(header: str) -> list[tuple[str, str, float, int]]:
    """The ranges of an Accept header as (type, subtype, quality, specificity)."""
    ranges = []
    for item in header.split(","):
        item = item.strip()
        if not item:
            continue
        media, *params = (p.strip() for p in item.split(";"))
        kind, _, sub = media.lower().partition("/")
        if not kind or not sub:
            continue
        q = 1.0
        extra = 0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = min(1.0, max(0.0, float(value.strip())))
                except ValueError:
                    q = 0.0
            else:
                extra += 1
        specificity = 0 if kind == "*" else 1 if sub == "*" else 2 + extra
        ranges.append((kind, sub, q, specificity))
    return ranges


def choose(accept: str | None, offers: Sequence[str]) -> str | None:
    """The offer the client prefers, or None if it accepts none of them."""
    if not accept or not accept.strip():
        return offers[0] if offers else None
    ranges = parse_accept(accept)
    if not ranges:
        return offers[0] if offers else None
    best, best_q = None, 0.0
    for offer in offers:
        kind, _, sub = offer.partition("/")
        matches = [
            (spec, q)
            for rk, rs, q, spec in ranges
            if (rk == "*" or rk == kind) and (rs == "*" or rs == sub)
        ]
        if not matches:
            continue
        q = max(matches)[1]
        if q > best_q:
            best, best_q = offer, q
    return best


def choose_or_406(accept: str | None, offers: Sequence[str], what: str) -> str:
    """The offer the client prefers; a 406 problem naming what ``what`` can be sent as."""
    media = choose(accept, offers)
    if media is None:
        raise Problem(
            406,
            "not-acceptable",
            "No acceptable format",
            f"{what} can be sent as: " + ", ".join(offers),
        )
    return media
