"""The UI's server side: its pages, the front-end assets (served locally from npm's
install, never from a CDN) and the JSON the charts draw (timeline, neighbourhood,
overview, example queries). The pages in a real browser: test_browser."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from api.rest_views import examples
from api.ui import REQUIRED, missing_assets

ROOT = Path(__file__).resolve().parent.parent


class _Assets(HTMLParser):
    """Every script src, stylesheet href and other href/src on a page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.urls.append(value)


def _urls(html: str) -> list[str]:
    parser = _Assets()
    parser.feed(html)
    return parser.urls


# ---------------------------------------------------------------- assets
def test_the_front_end_libraries_are_installed_from_npm() -> None:
    # `make install` runs `npm ci` in ui/; the lock file pins what it installs.
    assert (ROOT / "ui" / "package-lock.json").is_file()
    assert missing_assets(ROOT) == [], "run make install"


@pytest.mark.parametrize("path", ["/", "/query", "/timeline", "/doc/turkey.html"])
def test_pages_load_scripts_and_styles_only_from_this_server(
    client: httpx.Client, path: str
) -> None:
    r = client.get(path)
    assert r.status_code == 200
    parser = _Assets()
    parser.feed(r.text)
    assets = [u for u in parser.urls if re.search(r"\.(js|css)$", u.split("?")[0])]
    assert assets, "the page loads no scripts or styles"
    for url in assets:
        assert url.startswith("/assets/"), f"{url} is not served by us"
        got = client.get(url)
        assert got.status_code == 200, url
        kind = "javascript" if url.endswith(".js") else "css"
        assert kind in got.headers["content-type"]
    # Nothing in our own scripts reaches out to another host.
    for url in assets:
        if url.startswith("/assets/ui/"):
            body = client.get(url).text
            assert not re.search(r"https?://(?!www\.w3\.org)", body), url


def test_every_required_library_file_is_served(client: httpx.Client) -> None:
    from api.ui import VENDOR

    for file in REQUIRED:
        url = next(
            f"/assets/vendor/{name}/{file[len(folder) + 1 :]}"
            for name, folder in VENDOR.items()
            if file.startswith(folder + "/")
        )
        r = client.head(url)
        assert r.status_code == 200, url


@pytest.mark.parametrize(
    "path",
    [
        "/assets/vendor/yasgui/nothing.js",
        "/assets/vendor/yasgui/../../package.json",
        "/assets/vendor/yasgui/%2e%2e/%2e%2e/package.json",
        "/assets/ui/../linked_data.py",
        "/assets/ui/%2e%2e/settings.py",
    ],
)
def test_a_missing_asset_or_a_path_outside_the_assets_is_a_404_problem(
    client: httpx.Client, path: str
) -> None:
    r = client.get(path)
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")


def test_without_the_libraries_pages_still_work_and_say_how_to_install_them(
    tmp_path: Path, store_path: Path
) -> None:
    import shutil

    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import Settings

    # A project root with the shapes, queries and ontology but no ui/node_modules.
    for name in ("shapes", "queries", "ontology"):
        (tmp_path / name).symlink_to(ROOT / name)
    assert missing_assets(tmp_path) == list(REQUIRED)
    shutil.copytree(store_path, tmp_path / "store")
    settings = Settings(store=tmp_path / "store", root=tmp_path, workers=1)
    with TestClient(create_app(settings)) as c:
        page = c.get("/query")
        assert page.status_code == 200
        assert "make install" in page.text
        assert c.get("/assets/vendor/yasgui/yasgui.min.js").status_code == 404


# ---------------------------------------------------------------- pages
def test_the_home_page_has_counts_search_and_entry_points(client: httpx.Client) -> None:
    r = client.get("/")
    assert r.status_code == 200
    overview = client.get("/api/v1/overview").json()
    states = client.get("/api/v1/states").json()["total"]
    assert overview["counts"]["states"] == states
    assert re.search(rf'data-kind="states">\s*{states}\s*<', r.text)
    assert "data-suggest" in r.text  # search box with suggestions
    hrefs = set(_urls(r.text))
    for entry in (
        "/browse/states",
        "/browse/persons",
        "/browse/weapon-systems",
        "/browse/agreements",
        "/browse/conflicts",
        "/timeline",
        "/query",
    ):
        assert entry in hrefs


def test_the_editor_page_offers_every_competency_query_as_an_example(
    client: httpx.Client,
) -> None:
    r = client.get("/query")
    assert r.status_code == 200
    codes = sorted(p.stem for p in (ROOT / "queries" / "competency").glob("*.rq"))
    for code in codes:
        assert f'<option value="{code}">' in r.text
    config = re.search(
        r'<script id="editor-config" type="application/json">(.*?)</script>', r.text, re.S
    )
    assert config is not None
    import json

    data = json.loads(config.group(1))
    assert data["endpoint"] == "/sparql"
    assert data["prefixes"]["gp"] == "https://w3id.org/geokg/ontology#"
    assert data["defaultQuery"].startswith("PREFIX gp: <https://w3id.org/geokg/ontology#>")
    assert [e["id"] for e in data["examples"]] == codes


def test_every_example_query_declares_its_prefixes_and_runs(client: httpx.Client) -> None:
    found = examples(ROOT)
    assert len(found) >= 20
    for ex in found:
        assert ex["title"] and not ex["title"].startswith("#")
        r = client.post(
            "/sparql",
            data={"query": ex["query"]},
            headers={"Accept": "application/sparql-results+json"},
        )
        assert r.status_code == 200, (ex["id"], r.text[:300])
        assert r.json()["results"]["bindings"], f"{ex['id']} returns nothing"


def test_the_sparql_endpoint_sends_a_browser_to_the_editor(client: httpx.Client) -> None:
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    r = client.get("/sparql", headers={"Accept": browser})
    assert r.status_code == 303
    assert r.headers["location"] == "/query"
    # An RDF client still gets the service description.
    sd = client.get("/sparql", headers={"Accept": "text/turtle"})
    assert sd.status_code == 200
    assert sd.headers["content-type"].startswith("text/turtle")


def test_the_timeline_page_offers_participants_kinds_and_event_types(
    client: httpx.Client,
) -> None:
    r = client.get("/timeline")
    assert r.status_code == 200
    assert '<option value="recep-tayyip-erdogan"' in r.text
    assert '<option value="https://w3id.org/geokg/ontology#Event"' in r.text
    assert '<option value="https://w3id.org/geokg/ontology#Meeting"' in r.text
    # A participant from the address is kept even when it is not among the listed ones.
    r = client.get("/timeline?participant=s-400-contract")
    assert '<option value="s-400-contract" selected>' in r.text


def test_an_entity_page_has_a_timeline_and_a_graph(client: httpx.Client) -> None:
    r = client.get("/doc/recep-tayyip-erdogan.html")
    assert 'data-timeline-url="/api/v1/timeline?participant=recep-tayyip-erdogan"' in r.text
    assert 'data-graph-url="/api/v1/neighbourhood/recep-tayyip-erdogan"' in r.text


# ---------------------------------------------------------------- timeline JSON
def test_the_timeline_lists_dated_things_in_date_order(client: httpx.Client) -> None:
    page = client.get("/api/v1/timeline", params={"limit": 1000}).json()
    assert page["total"] == len(page["items"]) > 100
    starts = [i["start"] for i in page["items"]]
    assert starts == sorted(starts)
    for item in page["items"]:
        assert re.fullmatch(r"\d{4}-\d\d-\d\d", item["start"])
        if "end" in item:
            assert item["end"] > item["start"]
        assert item["href"] == f"/id/{item['id']}"
        for who in item["involves"]:
            # Entities only, not the ontology's own individuals (roles, precisions).
            assert who["iri"].startswith("https://w3id.org/geokg/id/")


def test_the_timeline_of_an_entity_has_its_events_and_dated_statements(
    client: httpx.Client,
) -> None:
    page = client.get("/api/v1/timeline", params={"participant": "recep-tayyip-erdogan"}).json()
    labels = {i["label"] for i in page["items"]}
    # An event he takes part in through a participation node:
    assert "Erdogan\u2013Putin meeting in Moscow, 10 March 2017" in labels
    classes = {i["class"]["label"] for i in page["items"]}
    assert {"event", "claim", "office holding"} <= classes
    # Each one names him in a role (not merely as who reported it).
    for item in page["items"]:
        assert any(w.get("id") == "recep-tayyip-erdogan" for w in item["involves"]), item["id"]


def test_the_timeline_filters_by_kind_event_type_and_dates(client: httpx.Client) -> None:
    meetings = client.get("/api/v1/timeline", params={"type": "gp:Meeting"}).json()
    assert meetings["total"] >= 3
    assert all(
        any(t["iri"].endswith("#Meeting") for t in i["eventTypes"]) for i in meetings["items"]
    )
    both = client.get(
        "/api/v1/timeline", params=[("kind", "gp:Acquisition"), ("kind", "gp:Sanction")]
    ).json()
    kinds = {i["class"]["label"] for i in both["items"]}
    assert kinds == {"acquisition", "sanction"}
    window = client.get("/api/v1/timeline", params={"from": "2020-01-01", "to": "2020-02-29"})
    assert window.json()["total"] > 0
    for item in window.json()["items"]:
        assert item["start"] <= "2020-02-29"
        dates = item["dates"]
        open_ended = "startDate" in dates and not {"endDate", "endedBefore"} & dates.keys()
        every = [*dates.values(), *item.get("attested", [])]
        assert open_ended or max(every) >= "2020-01-01", item
    putin_meetings = client.get(
        "/api/v1/timeline", params={"participant": "vladimir-putin", "type": "gp:Meeting"}
    ).json()
    assert 0 < putin_meetings["total"] <= meetings["total"]


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2020-13-01"},
        {"from": "2021-01-01", "to": "2020-01-01"},
        {"participant": "<bad>"},
        {"kind": "nope:Thing"},
        {"limit": "0"},
        {"type": '" } ; DROP ALL ; #'},
    ],
)
def test_bad_timeline_parameters_are_a_400_problem(
    client: httpx.Client, params: dict[str, str]
) -> None:
    r = client.get("/api/v1/timeline", params=params)
    assert r.status_code in (400, 422)
    assert r.headers["content-type"].startswith("application/problem+json")


def test_a_timeline_participant_with_nothing_dated_is_empty_not_an_error(
    client: httpx.Client,
) -> None:
    r = client.get("/api/v1/timeline", params={"participant": "no-such-entity"})
    assert r.status_code == 200
    assert r.json()["total"] == 0


# ---------------------------------------------------------------- neighbourhood JSON
def test_the_neighbourhood_joins_an_entity_to_its_statements_and_their_parties(
    client: httpx.Client,
) -> None:
    g = client.get("/api/v1/neighbourhood/turkey", params={"max_nodes": 300}).json()
    nodes = {n["iri"]: n for n in g["nodes"]}
    turkey = "https://w3id.org/geokg/id/turkey"
    assert nodes[turkey]["kind"] == "focus"
    for edge in g["edges"]:
        assert edge["from"] in nodes and edge["to"] in nodes
        assert edge["label"] and edge["origin"]
    # Turkey buys the S-400 from Russia: the acquisition links both to Turkey.
    acquisitions = [
        n for n in g["nodes"] if n["kind"] == "statement" and n["class"] == "acquisition"
    ]
    assert acquisitions
    s400 = "https://w3id.org/geokg/id/s-400"
    assert any(e["from"] == a["iri"] and e["to"] == s400 for a in acquisitions for e in g["edges"])
    assert all(n["href"] == f"/id/{n['id']}" for n in g["nodes"])


def test_the_neighbourhood_is_bounded(client: httpx.Client) -> None:
    g = client.get("/api/v1/neighbourhood/turkey", params={"max_nodes": 10}).json()
    assert len(g["nodes"]) == 10
    assert g["truncated"] is True


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v1/neighbourhood/no-such-entity", 404),
        ("/api/v1/neighbourhood/turkey?max_nodes=1", 422),
        ("/api/v1/neighbourhood/turkey?max_nodes=100000", 422),
        ("/api/v1/neighbourhood/%00", 422),
    ],
)
def test_bad_neighbourhood_requests_are_problems(
    client: httpx.Client, path: str, status: int
) -> None:
    r = client.get(path)
    assert r.status_code in (status, 400)
    assert r.headers["content-type"].startswith("application/problem+json")


def test_the_overview_counts_agree_with_the_lists(client: httpx.Client) -> None:
    overview = client.get("/api/v1/overview").json()
    for kind in ("states", "persons", "events", "agreements"):
        assert overview["counts"][kind] == client.get(f"/api/v1/{kind}").json()["total"]
    total = client.get("/api/v1/timeline", params={"limit": 1}).json()["total"]
    assert sum(k["count"] for k in overview["kinds"]) == total
    assert overview["span"][0] <= overview["span"][1]
