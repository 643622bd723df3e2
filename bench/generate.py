"""Deterministic synthetic data in the project's ontology, valid under its shapes.

The graph repeats a small world: states with heads of state and their office holdings,
weapon system models and acquisitions between states, meetings between states, and
articles with an evidence node and quote for every statement. The seed fixes every
choice, so a size always gives the same triples.

    python -m bench.generate --triples 100000 --out bench/data/100k.nt
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Iterator
from pathlib import Path

GP = "https://w3id.org/geokg/ontology#"
ID = "https://w3id.org/geokg/id/bench/"
RDF_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
LABEL = "<http://www.w3.org/2000/01/rdf-schema#label>"
DESCRIPTION = "<https://schema.org/description>"
DERIVED_FROM = "<http://www.w3.org/ns/prov#wasDerivedFrom>"
OA = "http://www.w3.org/ns/oa#"
XSD_DATE = "<http://www.w3.org/2001/XMLSchema#date>"
XSD_INTEGER = "<http://www.w3.org/2001/XMLSchema#integer>"
SCHEMA = "https://schema.org/"

STATUSES = ["AcquisitionContracted", "AcquisitionDelivered", "AcquisitionPlanned"]

#: Triples per cluster, on average (measured; used to size the output).
TRIPLES_PER_CLUSTER = 51


def _i(local: str) -> str:
    return f"<{ID}{local}>"


def _g(local: str) -> str:
    return f"<{GP}{local}>"


def _text(s: str, lang: str | None = "en") -> str:
    return f'"{s}"@{lang}' if lang else f'"{s}"'


def _date(rng: random.Random) -> str:
    return (
        f'"{rng.randint(1995, 2024)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"^^{XSD_DATE}'
    )


def triples(clusters: int, seed: int = 42) -> Iterator[str]:
    """N-Triples lines for ``clusters`` clusters of the synthetic world."""
    rng = random.Random(seed)
    for c in range(clusters):
        article = _i(f"article-{c // 20}")
        if c % 20 == 0:
            yield f"{article} {RDF_TYPE} {_g('NewsArticle')} ."
            yield f"{article} {LABEL} {_text(f'Synthetic article {c // 20}')} ."
            yield f"{article} <{SCHEMA}datePublished> {_date(rng)} ."
            yield f"{article} {_g('datePublishedPrecision')} {_g('DayPrecision')} ."
            yield f"{article} {_g('sourceCode')} {_text(f'{c // 20 % 1000:03d}', None)} ."
            yield f"{article} {_g('sourceFile')} {_text(f'synthetic-{c // 20}.txt', None)} ."
            yield f"{article} <{SCHEMA}inLanguage> {_text('en', None)} ."
        state, other = _i(f"state-{c}"), _i(f"state-{(c + 1) % clusters}")
        person, office = _i(f"person-{c}"), _i(f"office-{c}")
        weapon = _i(f"weapon-{c // 10}")
        yield f"{state} {RDF_TYPE} {_g('State')} ."
        yield f"{state} {LABEL} {_text(f'State {c}')} ."
        yield f"{state} {DESCRIPTION} {_text(f'A synthetic state, number {c}.')} ."
        yield f"{person} {RDF_TYPE} {_g('Person')} ."
        yield f"{person} {LABEL} {_text(f'Person {c}')} ."
        yield f"{person} {DESCRIPTION} {_text(f'Head of state of state {c}.')} ."
        yield f"{office} {RDF_TYPE} {_g('HeadOfStateOffice')} ."
        yield f"{office} {LABEL} {_text(f'President of state {c}')} ."
        yield f"{office} {DESCRIPTION} {_text('A synthetic office.')} ."
        yield f"{office} {_g('officeOf')} {state} ."
        if c % 10 == 0:
            yield f"{weapon} {RDF_TYPE} {_g('SurfaceToAirMissileSystem')} ."
            yield f"{weapon} {LABEL} {_text(f'Weapon {c // 10}')} ."
            yield f"{weapon} {DESCRIPTION} {_text('A synthetic air defence system.')} ."
        statements = {
            "holding": [
                f"{RDF_TYPE} {_g('OfficeHolding')}",
                f"{_g('holder')} {person}",
                f"{_g('office')} {office}",
                f"{_g('startDate')} {_date(rng)}",
                f"{_g('startDatePrecision')} {_g('DayPrecision')}",
            ],
            "meeting": [
                f"{RDF_TYPE} {_g('Event')}",
                f"{_g('eventType')} {_g('Meeting')}",
                f"{_g('factuality')} {_g('Actual')}",
                f"{_g('eventParticipant')} {state}",
                f"{_g('eventParticipant')} {other}",
                f"{_g('date')} {_date(rng)}",
                f"{_g('datePrecision')} {_g(rng.choice(['DayPrecision', 'MonthPrecision']))}",
            ],
            "acquisition": [
                f"{RDF_TYPE} {_g('Acquisition')}",
                f"{_g('buyer')} {state}",
                f"{_g('seller')} {other}",
                f"{_g('system')} {weapon}",
                f"{_g('acquisitionStatus')} {_g(rng.choice(STATUSES))}",
                f'{_g("quantity")} "{rng.randint(1, 40)}"^^{XSD_INTEGER}',
                f"{_g('quantityUnit')} {_g('UnitBattery')}",
            ],
        }
        for kind, body in statements.items():
            node = _i(f"{kind}-{c}")
            evidence, selector = _i(f"{kind}-{c}-evidence"), _i(f"{kind}-{c}-quote")
            for po in body:
                yield f"{node} {po} ."
            yield f"{node} {LABEL} {_text(f'{kind} {c}')} ."
            yield f"{node} {DERIVED_FROM} {evidence} ."
            yield f"{evidence} {RDF_TYPE} {_g('Evidence')} ."
            yield f"{evidence} <{OA}hasSource> {article} ."
            yield f"{evidence} <{OA}hasSelector> {selector} ."
            yield f"{selector} {RDF_TYPE} <{OA}TextQuoteSelector> ."
            yield f"{selector} <{OA}exact> {_text(f'The {kind} number {c} happened.', None)} ."


def write(path: Path, target_triples: int, seed: int = 42) -> int:
    """Write about ``target_triples`` triples as N-Triples; return how many were written."""
    clusters = max(1, target_triples // TRIPLES_PER_CLUSTER)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", encoding="utf-8") as out:
        for line in triples(clusters, seed):
            if line:
                out.write(line + "\n")
                n += 1
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triples", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    n = write(args.out, args.triples, args.seed)
    print(f"wrote {n} triples to {args.out}")


if __name__ == "__main__":
    main()
