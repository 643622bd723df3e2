"""Operations: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.dependencies import EndpointDep
from api.problems import Problem

__all__ = ["Metrics", "MetricsMiddleware", "router"]

router = APIRouter()


class Metrics:
    """The server's metrics, in a registry of its own (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
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
        self.timeouts = Gauge(
            "geokg_query_timeouts", "Queries stopped at their time limit.", registry=self.registry
        )
        self.restarts = Gauge(
            "geokg_worker_restarts", "Query workers replaced.", registry=self.registry
        )
        self.workers = Gauge(
            "geokg_query_workers_alive", "Query worker processes alive.", registry=self.registry
        )


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


@router.get("/ready", summary="Readiness: the store is open and query workers are up")
async def ready(endpoint: EndpointDep) -> JSONResponse:
    if not endpoint.ready:
        raise Problem(503, "not-ready", "Not ready", "the store or the query workers are not up")
    pool = endpoint.pool
    assert pool is not None
    return JSONResponse(
        {
            "status": "ready",
            "workers": pool.alive,
            "workers_isolated_from_network": pool.isolated,
            "snapshot": endpoint.generation,
        }
    )


@router.get("/metrics", summary="Prometheus metrics")
async def metrics(request: Request, endpoint: EndpointDep) -> Response:
    m: Metrics = request.app.state.metrics
    if endpoint.pool is not None:
        m.timeouts.set(endpoint.pool.stats["timeouts"])
        m.restarts.set(endpoint.pool.stats["restarts"])
        m.workers.set(endpoint.pool.alive)
    return Response(generate_latest(m.registry), media_type=CONTENT_TYPE_LATEST)
