"""The UI in a real headless browser: Debian's Chromium driven by Playwright (its own
browser download would need the internet), started with the flags that keep it off the
network. Each test saves a screenshot under ``var/test-artifacts/screenshots/`` (or
``$KG_TEST_ARTIFACTS/screenshots``).

`make test` installs Chromium (scripts/ensure-chromium); without it these tests fail
rather than skip, unless KG_SKIP_BROWSER_TESTS=1 says to leave them out.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("KG_TEST_ARTIFACTS", ROOT / "var" / "test-artifacts"))
SHOTS = ARTIFACTS / "screenshots"
# The flags the machine notes ask for: no sandbox as root, no GPU, and none of the
# background connections that a closed network refuses.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
WAIT = 20_000  # ms: the longest any page waits for something that should appear

pytestmark = pytest.mark.skipif(
    os.environ.get("KG_SKIP_BROWSER_TESTS") == "1", reason="KG_SKIP_BROWSER_TESTS=1"
)

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    assert Path(CHROMIUM).exists(), "Chromium is missing: run scripts/ensure-chromium"
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, timeout=60_000)
        yield b
        b.close()


class Watch:
    """What a page did that it should not: script errors, requests to other hosts."""

    def __init__(self, page: object, base: str) -> None:
        self.errors: list[str] = []
        self.external: list[str] = []
        page.on("pageerror", lambda e: self.errors.append(str(e)))  # type: ignore[attr-defined]
        page.on(  # type: ignore[attr-defined]
            "request",
            lambda r: (
                None
                if r.url.startswith((base, "data:", "blob:", "about:"))
                else self.external.append(r.url)
            ),
        )

    def check(self) -> None:
        assert not self.errors, f"script errors: {self.errors}"
        assert not self.external, f"requests that left the server: {self.external}"


@pytest.fixture
def page(browser: object, server: str, request: pytest.FixtureRequest) -> Iterator[object]:
    context = browser.new_context(  # type: ignore[attr-defined]
        viewport={"width": 1280, "height": 900}, base_url=server
    )
    context.set_default_timeout(WAIT)
    pg = context.new_page()
    pg.watch = Watch(pg, server)
    yield pg
    SHOTS.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^\w.-]+", "_", request.node.name)
    try:
        pg.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)
    finally:
        context.close()


def _shot(page: object, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))  # type: ignore[attr-defined]


# ---------------------------------------------------------------- search
def test_search_erdogan_from_the_home_page_and_reach_his_page(page: object) -> None:
    page.goto("/")
    assert "GeoKG" in page.title()
    box = page.locator("#home-search")
    box.fill("erdogan")  # no diacritic: the label is "Recep Tayyip Erdoğan"
    option = page.locator("ul.suggestions li a", has_text="Recep Tayyip Erdoğan")
    option.wait_for()
    _shot(page, "home-suggestions")
    option.click()
    page.wait_for_url(re.compile(r"/doc/recep-tayyip-erdogan\.html$"))
    assert page.locator("h1").inner_text() == "Recep Tayyip Erdoğan"
    page.watch.check()


def test_the_suggestions_answer_the_keyboard(page: object) -> None:
    page.goto("/")
    box = page.locator("#home-search")
    box.fill("s400")
    page.locator("ul.suggestions li a", has_text="S-400").first.wait_for()
    box.press("ArrowDown")
    box.press("Enter")
    page.wait_for_url(re.compile(r"/doc/s-400\.html$"))
    page.watch.check()


def test_the_search_form_lists_matches_without_scripts_too(page: object) -> None:
    page.goto("/search?q=putin")
    assert page.locator("main li a", has_text="Vladimir Putin").count() >= 1


# ---------------------------------------------------------------- entity page
def test_an_entity_page_draws_its_timeline_with_events(page: object, client: httpx.Client) -> None:
    expected = client.get("/api/v1/timeline", params={"participant": "recep-tayyip-erdogan"}).json()
    page.goto("/id/recep-tayyip-erdogan")
    timeline = page.locator("#timeline[data-state=drawn]")
    timeline.wait_for()
    assert int(timeline.get_attribute("data-count")) == expected["total"] > 10
    items = page.locator("#timeline .vis-item")
    items.first.wait_for()
    assert items.count() >= 10
    timeline.scroll_into_view_if_needed()
    _shot(page, "entity-timeline")
    # An event he takes part in, drawn on the chart (the chart draws what is in view:
    # bring it into view first, as a reader scrolling to it would).
    meeting = "Erdogan\u2013Putin meeting in Moscow, 10 March 2017"
    iri = next(i["iri"] for i in expected["items"] if i["label"] == meeting)
    page.evaluate("iri => window.GeoKG.current.focus(iri, { animation: false })", iri)
    page.locator("#timeline .vis-item", has_text=meeting).wait_for()
    assert str(len(expected["items"])) in page.locator("#timeline-status").inner_text()
    page.watch.check()


def test_an_entity_page_draws_its_neighbourhood_and_a_click_opens_a_neighbour(
    page: object,
) -> None:
    page.goto("/id/turkey")
    graph = page.locator("#graph[data-state=stable]")
    graph.wait_for(timeout=60_000)
    assert int(graph.get_attribute("data-nodes")) > 10
    assert page.locator("#graph canvas").count() == 1
    graph.scroll_into_view_if_needed()
    _shot(page, "entity-graph")
    # Click on the S-400's node, where the network drew it.
    point = page.evaluate(
        """() => {
        const { network } = window.GeoKG.network;
        const id = "https://w3id.org/geokg/id/s-400";
        network.focus(id, { scale: 1.2, animation: false });
        const pos = network.canvasToDOM(network.getPositions([id])[id]);
        const box = document.querySelector("#graph canvas").getBoundingClientRect();
        return { x: box.left + pos.x, y: box.top + pos.y };
    }"""
    )
    page.mouse.click(point["x"], point["y"])
    page.wait_for_url(re.compile(r"/doc/s-400\.html$"))
    assert page.locator("h1").inner_text() == "S-400"
    page.watch.check()


# ---------------------------------------------------------------- dataset timeline
def test_the_timeline_page_filters_by_participant_and_event_type(
    page: object, client: httpx.Client
) -> None:
    page.goto("/timeline")
    page.locator("#timeline[data-state=drawn]").wait_for()
    everything = client.get("/api/v1/timeline", params={"limit": 1}).json()["total"]
    assert page.locator("#timeline-list li").count() == everything
    page.select_option("#filter-participant", "vladimir-putin")
    page.select_option("#filter-type", "https://w3id.org/geokg/ontology#Meeting")
    expected = client.get(
        "/api/v1/timeline", params={"participant": "vladimir-putin", "type": "gp:Meeting"}
    ).json()
    assert 0 < expected["total"] < everything
    page.wait_for_function(
        "n => document.querySelectorAll('#timeline-list li').length === n", arg=expected["total"]
    )
    labels = page.locator("#timeline-list li a").all_inner_texts()
    assert labels == [i["label"] for i in expected["items"]]
    assert "participant=vladimir-putin" in page.url  # the filters are in the address
    _shot(page, "timeline-filtered")
    # The address reproduces the view.
    page.goto(page.url)
    page.wait_for_function(
        "n => document.querySelectorAll('#timeline-list li').length === n", arg=expected["total"]
    )
    page.watch.check()


# ---------------------------------------------------------------- the SPARQL editor
def _editor(page: object) -> None:
    page.goto("/query")
    page.locator(".yasqe .CodeMirror").first.wait_for()
    page.evaluate("() => localStorage.clear()")


def _run(page: object) -> None:
    page.locator(".yasqe_queryButton >> visible=true").click()


def test_an_example_query_runs_and_shows_result_rows(page: object) -> None:
    _editor(page)
    page.select_option("#examples", "A01")
    query = page.evaluate("() => window.geokgYasgui.getTab().getYasqe().getValue()")
    assert "PREFIX gp: <https://w3id.org/geokg/ontology#>" in query
    assert "gpd:russia" in query
    _run(page)
    status = page.locator("#editor-status[data-state=ok]")
    status.wait_for()
    assert re.match(r"1 result in", status.inner_text())
    rows = page.locator(".yasr table tbody tr >> visible=true")
    rows.first.wait_for()
    assert rows.count() == 1
    assert "S-400" in rows.first.inner_text()
    _shot(page, "editor-results")
    page.watch.check()
    # A result IRI opens here, not at the public base.
    with page.expect_navigation():
        rows.first.locator("a", has_text="s-400").click()
    assert re.search(r"/doc/s-400\.html$", page.url)
    page.go_back()
    page.locator(".yasr table tbody tr >> visible=true").first.wait_for()
    # The raw response, as the server sent it.
    page.locator(".yasr .select_response >> visible=true").click()
    raw = page.locator(".yasr .CodeMirror >> visible=true")
    raw.first.wait_for()
    assert '"bindings"' in raw.first.inner_text()
    page.watch.check()


def test_a_malformed_query_shows_a_clear_error(page: object) -> None:
    _editor(page)
    page.evaluate(
        "() => window.geokgYasgui.getTab().getYasqe().setValue('SELECT ?x WHERE { ?x ?y ')"
    )
    _run(page)
    status = page.locator("#editor-status[data-state=error]")
    status.wait_for()
    text = status.inner_text()
    assert text.startswith("Syntax error")
    assert "HTTP 400" in text and "line" in text
    assert status.get_attribute("role") == "alert"
    _shot(page, "editor-syntax-error")
    page.watch.check()


def test_the_editor_completes_our_classes(page: object) -> None:
    _editor(page)
    page.evaluate(
        "() => { const y = window.geokgYasgui.getTab().getYasqe();"
        " y.setValue('PREFIX gp: <https://w3id.org/geokg/ontology#>\\n"
        "SELECT * WHERE { ?x a gp:Acqu');"
        " y.focus(); y.setCursor(y.lastLine(), 1000); }"
    )
    page.keyboard.press("Control+Space")
    hint = page.locator(".CodeMirror-hints li", has_text="gp:Acquisition")
    hint.first.wait_for()
    page.watch.check()


@pytest.fixture(scope="module")
def slow_server(store_path: Path) -> Iterator[str]:
    """A server whose queries stop after one second."""
    from tests.server import running_server

    with running_server(store_path, workers=1, query_timeout="1") as base:
        yield base


def test_a_query_over_the_time_limit_says_so(browser: object, slow_server: str) -> None:
    context = browser.new_context(base_url=slow_server)  # type: ignore[attr-defined]
    context.set_default_timeout(WAIT)
    page = context.new_page()
    watch = Watch(page, slow_server)
    try:
        _editor(page)
        page.evaluate(
            "() => window.geokgYasgui.getTab().getYasqe().setValue("
            "'SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }')"
        )
        _run(page)
        status = page.locator("#editor-status[data-state=error]")
        status.wait_for()
        assert status.inner_text().startswith("The query took too long")
        assert "1 s" in page.locator("main p.muted").first.inner_text()
        _shot(page, "editor-timeout")
        watch.check()
    finally:
        context.close()
