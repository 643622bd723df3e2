"""Operations: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.mmap_dict import MmapedDict
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.dependencies import EndpointDep
from api.problems import Problem, problem_response
from api.protocol import ROW_LIMIT_HEADER, TRUNCATED_HEADER
from api.settings import Settings

__all__ = ["Metrics", "MetricsMiddleware", "cors_options", "fold_process_metrics", "router"]

router = APIRouter()


class Metrics:
    """The server's metrics, in a registry of its own (one per app).

    ``kg serve`` runs several processes (the supervisor and its readers); it sets
    ``PROMETHEUS_MULTIPROC_DIR`` before this module is imported, every process records
    into that folder, and :meth:`exposition` adds them all up.
    """

    def __init__(self) -> None:
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        self.registry = CollectorRegistry()
        self._seen = {"timeouts": 0, "restarts": 0}
        self.requests = Counter(
            "geokg_http_requests",
            "HTTP requests by route, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "geokg_http_request_seconds",
            "HTTP request latency by route.",
            ["route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.truncated = Counter(
            "geokg_results_truncated", "Results cut at the row limit.", registry=self.registry
        )
        self.timeouts = Counter(
            "geokg_query_timeouts", "Queries stopped at their time limit.", registry=self.registry
        )
        self.restarts = Counter(
            "geokg_worker_restarts",
            "Reader and worker processes replaced.",
            registry=self.registry,
        )
        self.workers = Gauge(
            "geokg_query_workers_alive",
            "Reader processes ready to answer queries.",
            registry=self.registry,
            multiprocess_mode="mostrecent",
        )

    def count_up(self, name: str, total: int) -> None:
        """Bring counter ``name`` up to ``total`` (a running total kept elsewhere)."""
        counter = getattr(self, name)
        if total > self._seen[name]:
            counter.inc(total - self._seen[name])
            self._seen[name] = total

    def exposition(self) -> bytes:
        if not self.multiprocess:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)


def fold_process_metrics(pid: int, folder: Path) -> None:
    """Fold the metric files of the ended process ``pid`` into one archive per type.

    Every process writes its counters and histograms to files of its own in ``folder``
    (``counter_<pid>.db``...), which must outlive it, or the totals would go down. A reader
    is replaced after every query stopped at its time limit: left alone, the files add
    up (three per reader) and each scrape of /metrics reads them all. Counters and
    histogram buckets are sums over processes, so adding a dead process's values into
    ``counter_archive.db`` and ``histogram_archive.db`` keeps every total; its gauges
    (the latest value of a live process) are dropped. Run it in the process that answers
    /metrics, between scrapes (both run on its event loop).
    """
    multiprocess.mark_process_dead(pid, str(folder))
    for kind in ("counter", "histogram"):
        dead = folder / f"{kind}_{pid}.db"
        if not dead.exists():
            continue
        archive = MmapedDict(str(folder / f"{kind}_archive.db"))
        try:
            for key, value, _timestamp, _pos in MmapedDict.read_all_values_from_file(str(dead)):
                total, _ = archive.read_value(key)
                archive.write_value(key, total + value, 0.0)
        finally:
            archive.close()
        dead.unlink()
    for gauge in folder.glob(f"gauge_*_{pid}.db"):
        gauge.unlink(missing_ok=True)


def cors_options(settings: Settings) -> dict[str, Any]:
    """CORS for every process of the server: never credentials, so no cross-site write."""
    return {
        "allow_origins": settings.cors_origins,
        "allow_credentials": False,
        "allow_methods": ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"],
        "allow_headers": ["Accept", "Content-Type", "Authorization"],
        "expose_headers": [TRUNCATED_HEADER, ROW_LIMIT_HEADER, "X-GeoKG-Warnings"],
    }


class ProblemCORSMiddleware(CORSMiddleware):
    """Starlette's CORS middleware, whose refused preflight is a problem body too.

    Starlette answers a preflight it refuses (another origin, a method or header not
    allowed, a private-network request) with ``400`` and a ``text/plain`` line; every
    error of this server is ``application/problem+json``.
    """

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        reason = bytes(response.body).decode("utf-8", "replace")
        kept = {
            k: v for k, v in response.headers.items() if k not in ("content-type", "content-length")
        }
        problem = Problem(
            response.status_code,
            "cors-refused",
            "Cross-origin request refused",
            f"{reason}: this server allows the origins, methods and request headers its "
            "Access-Control-Allow-* headers name (never credentials)",
            headers=kept,
        )
        return problem_response(problem)


class MetricsMiddleware:
    """Counts and times every request, and adds ``Vary: Accept`` (pure ASGI: cheap)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_with_vary(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                vary = {v.strip().lower() for v in headers.get("vary", "").split(",")}
                if "accept" not in vary:
                    headers.add_vary_header("Accept")  # every representation here is negotiated
            await send(message)

        try:
            await self.app(scope, receive, send_with_vary)
        finally:
            route = scope.get("route")
            name = getattr(route, "path", "unmatched")
            self.metrics.requests.labels(name, scope["method"], str(status)).inc()
            self.metrics.latency.labels(name).observe(time.perf_counter() - start)


@router.get("/health", summary="Liveness: the process answers")
async def health() -> JSONResponse:
    return JSONResponse({"status": "ok"})


@router.get("/ready", summary="Readiness: the store is open and the readers are up")
async def ready(request: Request, endpoint: EndpointDep) -> JSONResponse:
    readers = getattr(request.app.state, "readers", None)
    pool = endpoint.pool
    up = endpoint.ready and (readers is None or readers.ready_count() > 0)
    if not up or pool is None:
        raise Problem(503, "not-ready", "Not ready", "the store or the query processes are not up")
    return JSONResponse(
        {
            "status": "ready",
            "workers": readers.ready_count() if readers is not None else pool.alive,
            "workers_isolated_from_network": (
                readers.isolated and pool.isolated if readers is not None else pool.isolated
            ),
            "snapshot": endpoint.generation,
        }
    )


@router.get("/metrics", summary="Prometheus metrics")
async def metrics(request: Request, endpoint: EndpointDep) -> Response:
    m: Metrics = request.app.state.metrics
    readers = getattr(request.app.state, "readers", None)
    if endpoint.pool is not None:
        m.count_up("timeouts", endpoint.pool.stats["timeouts"])
        reader_restarts = readers.restarts if readers is not None else 0
        m.count_up("restarts", endpoint.pool.stats["restarts"] + reader_restarts)
        m.workers.set(readers.ready_count() if readers is not None else endpoint.pool.alive)
    return Response(m.exposition(), media_type=CONTENT_TYPE_LATEST)
