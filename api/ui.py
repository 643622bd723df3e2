"""The browser UI: the SPARQL editor, the dataset timeline, and the front-end assets.

The libraries come from the npm registry (``ui/package.json``, installed into
``ui/node_modules`` by ``make install``) and are served from this server under
``/assets/vendor/``, never from a CDN: the pages work on a machine with no internet.
Our own scripts and styles are in ``api/static`` (``/assets/ui/``).

Pages (the home, entity and list pages are in :mod:`api.linked_data`):

- ``/query``: YASGUI with our prefixes, the competency queries as named examples,
  results as a table or the raw response, and a plain message on an error or timeout;
- ``/timeline``: every dated event and statement, filterable by participant, kind,
  event type and dates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from starlette.exceptions import HTTPException
from starlette.staticfiles import StaticFiles

from api.dependencies import SettingsDep
from api.rest_views import examples, overview_data
from kg.namespaces import PREFIXES

__all__ = ["VENDOR", "missing_assets", "mount_assets", "router"]

router = APIRouter(include_in_schema=False)

STATIC = Path(__file__).resolve().parent / "static"

#: URL folder under /assets/vendor/ -> folder under ui/node_modules.
VENDOR = {
    "yasgui": "@zazuko/yasgui/build",
    "vis-timeline/js": "vis-timeline/standalone/umd",
    "vis-timeline/css": "vis-timeline/styles",
    "vis-network/js": "vis-network/standalone/umd",
    "vis-network/css": "vis-network/styles",
}
#: The files the pages load, under ui/node_modules.
REQUIRED = (
    "@zazuko/yasgui/build/yasgui.min.js",
    "@zazuko/yasgui/build/yasgui.min.css",
    "vis-timeline/standalone/umd/vis-timeline-graph2d.min.js",
    "vis-timeline/styles/vis-timeline-graph2d.min.css",
    "vis-network/standalone/umd/vis-network.min.js",
    "vis-network/styles/vis-network.min.css",
)


def node_modules(root: Path) -> Path:
    return root / "ui" / "node_modules"


def missing_assets(root: Path) -> list[str]:
    """The front-end files that are not installed (``make install`` installs them)."""
    base = node_modules(root)
    return [f for f in REQUIRED if not (base / f).is_file()]


class _Assets(StaticFiles):
    """Static files whose folder may not be installed yet: then every file is a 404."""

    async def check_config(self) -> None:
        if self.directory is None or not Path(self.directory).is_dir():
            raise HTTPException(404, "not installed: run make install")
        await super().check_config()


def mount_assets(app: FastAPI, root: Path) -> None:
    """Serve our scripts and the npm libraries; a missing file is a 404 problem."""
    app.mount("/assets/ui", StaticFiles(directory=STATIC), name="assets-ui")
    base = node_modules(root)
    for url, folder in VENDOR.items():
        app.mount(
            f"/assets/vendor/{url}",
            _Assets(directory=base / folder, check_dir=False),
            name=f"vendor-{url}",
        )


def _render(request: Request, template: str, **context: Any) -> HTMLResponse:
    from api.linked_data import render

    return render(request, template, **context)


DEFAULT_QUERY = """\
# Who held which office, and when? Pick an example above, or write your own.
SELECT ?holder ?holderLabel ?office ?officeLabel ?start ?end ?attested WHERE {
  ?holding a gp:OfficeHolding ;
      gp:holder ?holder ;
      gp:office ?office .
  OPTIONAL { ?holding gp:startDate ?start }
  OPTIONAL { ?holding gp:endDate ?end }
  OPTIONAL { ?holding gp:attestedDate ?attested }
  ?holder rdfs:label ?holderLabel .
  ?office rdfs:label ?officeLabel .
}
ORDER BY ?officeLabel ?start ?attested
LIMIT 100
"""


_DEFAULT_PREFIXES = ("gp", "gpd", "rdf", "rdfs", "xsd", "skos", "prov", "oa", "schema")


def editor_config(request: Request, timeout: float) -> dict[str, Any]:
    """What editor.js needs: endpoint, prefixes, examples, default query, time limit."""
    root = request.app.state.endpoint.root
    prologue = "".join(f"PREFIX {p}: <{PREFIXES[p]}>\n" for p in _DEFAULT_PREFIXES)
    return {
        "endpoint": "/sparql",
        "publicBase": request.app.state.settings.public_base,
        "prefixes": PREFIXES,
        "defaultQuery": prologue + "\n" + DEFAULT_QUERY,
        "examples": examples(root),
        "timeoutSeconds": timeout,
    }


@router.get("/query", response_class=HTMLResponse)
async def query_page(request: Request, settings: SettingsDep):
    config = editor_config(request, settings.query_timeout)
    return _render(request, "query.html", title="SPARQL editor", config=config)


@router.get("/timeline", response_class=HTMLResponse)
async def timeline_page(request: Request):
    data = await overview_data(request)
    return _render(request, "timeline.html", title="Timeline", overview=data)
