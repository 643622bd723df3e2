"""The FastAPI application: ``create_app(settings)``; the lifespan opens and closes the store."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI

from api import graph_store, linked_data, ops, rest, rest_views, rest_writes, sparql, ui, void
from api.problems import document_problems, install_problem_handlers
from api.readers import ReaderSet, SharedState
from api.settings import Settings
from kg.endpoint import Endpoint

__all__ = ["Front", "create_app"]


def _default_root() -> Path:
    return Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Front:
    """What the supervisor needs to start reader processes on the public socket."""

    listener: socket.socket
    runtime: Path  # a private folder: the Unix socket, the shared table, metrics


#: Worker processes the supervisor keeps for updates and Graph Store reads when readers
#: answer the queries.
SUPERVISOR_WORKERS = 2


def create_app(settings: Settings, front: Front | None = None) -> FastAPI:
    """The server for ``settings``; nothing is opened until the app starts.

    With a ``front``, the app is the supervisor: it also starts ``settings.workers``
    reader processes on ``front.listener`` (see :mod:`api.readers`), which answer the
    queries and forward everything else here. Without one, it answers everything itself,
    queries in its worker pool.
    """
    isolate = settings.isolate_workers and not settings.service_allowlist
    endpoint = Endpoint(
        settings.store_location(),
        settings.root or _default_root(),
        workers=SUPERVISOR_WORKERS if front else settings.workers,
        isolate=isolate,
        queue_wait=settings.queue_timeout,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await endpoint.start()
        readers: ReaderSet | None = None
        state: SharedState | None = None
        try:
            if front is not None:
                state = SharedState(front.runtime / "state", create=True)
                state.generation = endpoint.generation
                snapshots = endpoint.snapshots
                readers = ReaderSet(
                    settings, front.listener, front.runtime, snapshots.directory, state
                )
                snapshots.on_refresh = lambda generation: setattr(state, "generation", generation)
                snapshots.pinned = readers.oldest_reading
                readers.on_tick.append(endpoint.release_snapshots)
                readers.on_exit.append(_process_dead)
                await readers.start()
                app.state.readers = readers
            yield
        finally:
            if readers is not None:
                await readers.stop()
            await endpoint.close()
            if state is not None:
                state.close()
            if front is not None:
                # Here, not after the server returns: uvicorn re-raises SIGTERM once it
                # has shut down, and nothing after that runs.
                front.listener.close()
                shutil.rmtree(front.runtime, ignore_errors=True)

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
    app.add_middleware(ops.ProblemCORSMiddleware, **ops.cors_options(settings))
    app.include_router(sparql.router)
    app.include_router(graph_store.router)
    app.include_router(ops.router)
    app.include_router(rest.router)
    app.include_router(rest_views.router)
    app.include_router(rest_writes.router)
    app.include_router(ui.router)
    app.include_router(linked_data.router)
    app.include_router(void.router)
    ui.mount_assets(app, endpoint.root)
    document_problems(app)
    return app


def _process_dead(pid: int) -> None:
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        ops.fold_process_metrics(pid, Path(folder))
