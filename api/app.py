"""The FastAPI application: ``create_app(settings)``; the lifespan opens and closes the store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from api import graph_store, ops, sparql
from api.problems import install_problem_handlers
from api.settings import Settings
from kg.endpoint import Endpoint

__all__ = ["create_app"]


def _default_root() -> Path:
    return Path(__file__).resolve().parent.parent


def create_app(settings: Settings) -> FastAPI:
    """The server for ``settings``; nothing is opened until the app starts."""
    endpoint = Endpoint(
        settings.store,
        settings.root or _default_root(),
        workers=settings.workers,
        isolate=settings.isolate_workers and not settings.service_allowlist,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await endpoint.start()
        try:
            yield
        finally:
            await endpoint.close()

    app = FastAPI(
        title="GeoKG",
        summary="A geopolitical knowledge graph: SPARQL 1.1 endpoint and Graph Store.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.endpoint = endpoint
    app.state.metrics = ops.Metrics()
    install_problem_handlers(app)
    app.add_middleware(ops.MetricsMiddleware, metrics=app.state.metrics)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=False,
        allow_methods=["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"],
        allow_headers=["Accept", "Content-Type", "Authorization"],
        expose_headers=[sparql.TRUNCATED_HEADER, sparql.ROW_LIMIT_HEADER, "X-GeoKG-Warnings"],
    )
    app.include_router(sparql.router)
    app.include_router(graph_store.router)
    app.include_router(ops.router)
    return app
