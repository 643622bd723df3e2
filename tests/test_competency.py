"""Each competency question (../shared/competency-questions.md) has a query in
queries/competency/ that returns the expected answers and none that must not appear."""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import URIRef

from kg.namespaces import GPD, sparql_prologue
from kg.store import GraphStore

QUERIES = Path(__file__).resolve().parent.parent / "queries" / "competency"

pytestmark = pytest.mark.backends


@pytest.fixture
def store(backend_store: GraphStore) -> GraphStore:
    """The curated data on each backend in turn (tests/backends.py)."""
    return backend_store


def run(store: GraphStore, code: str) -> tuple[list[str], list[tuple]]:
    text = (QUERIES / f"{code}.rq").read_text(encoding="utf-8")
    return store.query(sparql_prologue() + text)  # type: ignore[return-value]


def column(store: GraphStore, code: str, name: str | None = None) -> set:
    variables, rows = run(store, code)
    i = variables.index(name) if name else 0
    return {r[i] for r in rows}


def d(slug: str) -> URIRef:
    return GPD[slug]


# code: (must return, must not return), over the first column
FIRST_COLUMN = {
    "A01": ({d("s-400")}, {d("s-500")}),
    "A03": ({d("hulusi-akar")}, set()),
    "A06": ({d("turkey")}, {d("russia"), d("united-states")}),
    "A07": ({d("ukraine")}, {d("azerbaijan")}),
    "A09": ({d("germany")}, {d("turkey")}),
    "A10": ({d("turkey")}, set()),
    "A11": ({d("article-003")}, {d("article-002"), d("article-000")}),
    "A12": (
        {d("s-400"), d("s-500"), d("patriot")},
        {d("f-35"), d("f-16"), d("su-24"), d("bayraktar-drone")},
    ),
    "A13": ({d("joe-biden")}, {d("donald-trump")}),
    "A19": (
        {
            d("idlib-province"),
            d("idlib-de-escalation-zone"),
            d("idlib-demilitarised-zone"),
            d("damascus"),
            d("aleppo"),
        },
        {d("sochi"), d("astana")},
    ),
    "A20": ({d("syrian-civil-war"), d("libyan-civil-war")}, set()),
}


@pytest.mark.parametrize("code", sorted(FIRST_COLUMN))
def test_first_column_answers(store: GraphStore, code: str) -> None:
    must, must_not = FIRST_COLUMN[code]
    got = column(store, code)
    assert must <= got, f"{code} is missing {must - got}"
    assert not (must_not & got), f"{code} returned {must_not & got}"


def test_a01_and_a12_answers_are_exact(store: GraphStore) -> None:
    assert column(store, "A01") == {d("s-400")}
    assert column(store, "A12") == {d("s-400"), d("s-500"), d("patriot")}


def test_a02_maker_and_type_of_the_f35(store: GraphStore) -> None:
    _variables, rows = run(store, "A02")
    assert {(r[0], r[2]) for r in rows} == {
        (d("lockheed-martin"), URIRef("https://w3id.org/geokg/ontology#StealthFighter"))
    }


def test_a04_the_shootdown_happened_on_24_november_2015(store: GraphStore) -> None:
    got = column(store, "A04")
    assert d("event-2015-11-24-su-24-shootdown") in got
    assert all("2015" in str(e) for e in got)


def test_a05_events_are_in_date_order_and_all_took_place(store: GraphStore) -> None:
    _, rows = run(store, "A05")
    events = [r[0] for r in rows]
    dates = [str(r[1]) for r in rows]
    assert dates == sorted(dates)
    expected_days = [
        "2015-11-24",
        "2016-06-27",
        "2016-06-29",
        "2016-08-09",
        "2016-10-10",
        "2017-03-10",
        "2017-09-12",
        "2018-04-03",
        "2019-04-08",
        "2019-05-18",
        "2019-07-12",
    ]
    expected_months = ["2015-11-01", "2016-07-01", "2017-01-01", "2017-05-01", "2018-09-01"]
    for day in expected_days + expected_months:
        assert day in dates, f"no event dated {day}"
    assert "2017-01-01" in dates  # Turkey Stream begins (year precision)
    assert d("event-2019-07-s-400-delivery-expected") not in events  # planned, not done
    assert len(events) >= 17


def test_a07_ukraine_bought_12_in_2018(store: GraphStore) -> None:
    variables, rows = run(store, "A07")
    row = next(r for r in rows if r[0] == d("ukraine"))
    assert int(row[variables.index("quantity")]) == 12
    assert str(row[variables.index("date")]).startswith("2018")


def test_a08_three_phone_calls_on_the_right_days(store: GraphStore) -> None:
    _variables, rows = run(store, "A08")
    assert int(rows[0][0]) == 3
    assert set(str(rows[0][1]).split()) == {"2016-06-29", "2020-02-21", "2021-04-09"}


def test_a14_hosted_and_potential_refugees(store: GraphStore) -> None:
    variables, rows = run(store, "A14")
    by_kind = {str(r[1]).rsplit("#", 1)[1]: dict(zip(variables, r, strict=True)) for r in rows}
    hosted, potential = by_kind["RefugeesHosted"], by_kind["PotentialRefugees"]
    assert float(hosted["value"]) == 3_600_000
    assert str(hosted["factuality"]).endswith("#Actual")
    assert (float(potential["min"]), float(potential["max"])) == (1_000_000, 2_000_000)
    assert not str(potential["factuality"]).endswith("#Actual")


def test_a15_ankara_and_moscow_contradict_each_other(store: GraphStore) -> None:
    _variables, rows = run(store, "A15")
    claims = {(r[0], r[2]) for r in rows}
    assert (d("turkey"), d("turkish-airspace")) in claims
    assert (d("russia"), d("syrian-airspace")) in claims


def test_a16_three_states_in_the_capital_of_kazakhstan(store: GraphStore) -> None:
    variables, rows = run(store, "A16")
    assert len(rows) == 1
    row = dict(zip(variables, rows[0], strict=True))
    assert int(row["parties"]) == 3
    assert set(str(row["states"]).split(", ")) == {"Russia", "Iran", "Turkey"}
    assert (row["city"], row["country"]) == (d("astana"), d("kazakhstan"))


def test_a17_the_20_point_declaration_signed_in_istanbul(store: GraphStore) -> None:
    variables, rows = run(store, "A17")
    rows = [dict(zip(variables, r, strict=True)) for r in rows]
    assert {r["place"] for r in rows} == {d("istanbul")}
    assert {int(r["points"]) for r in rows} == {20}
    texts = " ".join(str(r["text"]).lower() for r in rows)
    for topic in ("crimea", "donbass", "membership action plan", "nato membership"):
        assert topic in texts, topic


def test_a18_article_meeting_and_cited_outlet(store: GraphStore) -> None:
    variables, rows = run(store, "A18")
    rows = [dict(zip(variables, r, strict=True)) for r in rows]
    assert {r["article"] for r in rows} == {d("article-002")}
    assert {r["cited"] for r in rows} == {d("bloomberg")}
    assert {str(r["meetingDate"]) for r in rows} == {"2019-04-08"}
    assert {r["meeting"] for r in rows} == {d("event-2019-04-08-putin-erdogan-meeting-moscow")}


def test_every_question_has_a_query_and_a_test() -> None:
    codes = {p.stem for p in QUERIES.glob("A*.rq")}
    assert codes == {f"A{i:02d}" for i in range(1, 21)}
