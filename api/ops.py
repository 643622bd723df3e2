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
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

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


class MetricsMiddleware(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        start = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        name = getattr(route, "path", "unmatched")
        metrics: Metrics = request.app.state.metrics
        metrics.requests.labels(name, request.method, str(response.status_code)).inc()
        metrics.latency.labels(name).observe(time.perf_counter() - start)
        response.headers["Vary"] = "Accept"  # every representation here is negotiated
        return response


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
