"""``kg serve``: the server, added to the ``kg`` command here so that kg/ never imports api/."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from pydantic import ValidationError as SettingsError

from api.settings import Settings
from kg.cli import app

__all__ = ["app"]


@app.command()
def serve(
    store: Annotated[
        str | None,
        typer.Option(
            help="Store directory, or the SPARQL query URL of an external store (env KG_STORE; "
            "the external store's other settings: KG_STORE_* variables, docs/deployment.md).",
            show_default=False,
        ),
    ] = None,
    host: Annotated[str | None, typer.Option(help="Address to bind [127.0.0.1].")] = None,
    port: Annotated[int | None, typer.Option(help="Port [8000].")] = None,
    workers: Annotated[int | None, typer.Option(help="Query worker processes [4].")] = None,
    query_timeout: Annotated[
        float | None, typer.Option(help="Seconds a query may run [30]; clients may ask less.")
    ] = None,
    max_rows: Annotated[
        int | None, typer.Option(help="Most rows or triples in a result [10000].")
    ] = None,
    service: Annotated[
        list[str] | None,
        typer.Option("--allow-service", help="An endpoint SERVICE may call (repeatable)."),
    ] = None,
    root: Annotated[
        Path | None, typer.Option(help="Project folder with shapes/.", show_default=False)
    ] = None,
    access_log: Annotated[
        bool | None,
        typer.Option("--access-log/--no-access-log", help="Log every request (default: off)."),
    ] = None,
) -> None:
    """Serve the store: SPARQL 1.1 query and update at /sparql, Graph Store at /store.

    Writes are off unless a token is set in the environment (KG_WRITE_TOKEN); then they
    need `Authorization: Bearer <token>`. Every other option also reads KG_<OPTION>.
    """
    given = {
        "store": store,
        "host": host,
        "port": port,
        "workers": workers,
        "query_timeout": query_timeout,
        "max_rows": max_rows,
        "service_allowlist": service or None,
        "root": root,
        "access_log": access_log,
    }
    try:
        settings = Settings(**{k: v for k, v in given.items() if v is not None})
    except SettingsError as exc:
        typer.echo(f"error: invalid settings: {exc}", err=True)
        raise typer.Exit(code=2) from None
    if settings.store is not None and not (settings.store / "CURRENT").is_file():
        typer.echo(
            f"error: no store at {settings.store}; create it with `kg load --store PATH`",
            err=True,
        )
        raise typer.Exit(code=2)
    _serve(settings)


#: The longest path a Unix socket can have on Linux (sun_path is 108 bytes with its NUL).
_MAX_SOCKET_PATH = 107


def _runtime_folder() -> Path:
    """A new private folder for the supervisor's socket and the metrics: in the temporary
    folder (``TMPDIR``), or in /tmp if that path is too long for a Unix socket in it."""
    runtime = Path(tempfile.mkdtemp(prefix="geokg-"))
    if len(os.fsencode(runtime / "supervisor.sock")) <= _MAX_SOCKET_PATH:
        return runtime
    runtime.rmdir()
    runtime = Path(tempfile.mkdtemp(prefix="geokg-", dir="/tmp"))
    typer.echo(f"GeoKG: TMPDIR is too long a path for a Unix socket; using {runtime}", err=True)
    return runtime


def _serve(settings: Settings) -> None:
    """Bind the public socket, then run the supervisor on a private Unix socket.

    The reader processes accept on the public socket; the supervisor's own app (writes,
    metadata, everything but queries) listens on ``<runtime>/supervisor.sock``.
    """
    try:
        listener = socket.create_server((settings.host, settings.port), backlog=2048)
    except OSError as exc:
        typer.echo(f"error: cannot listen on {settings.host}:{settings.port}: {exc}", err=True)
        raise typer.Exit(code=2) from None
    runtime = _runtime_folder()
    metrics_dir = runtime / "metrics"
    metrics_dir.mkdir()
    # Before prometheus_client is imported: every process records into this folder.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    from api.app import Front, create_app
    from api.http_protocol import protocol_class

    host, port = listener.getsockname()[:2]
    typer.echo(
        f"GeoKG: serving {settings.store or settings.store_url} on http://{host}:{port} "
        f"({settings.workers} readers)"
    )
    try:
        uvicorn.run(
            create_app(settings, Front(listener, runtime)),
            uds=str(runtime / "supervisor.sock"),
            proxy_headers=True,
            forwarded_allow_ips="*",  # only our readers can reach this socket
            log_level="info",
            access_log=settings.access_log,
            http=protocol_class(),
        )
    finally:  # reached when the app never started (the app's shutdown cleans up otherwise)
        listener.close()
        shutil.rmtree(runtime, ignore_errors=True)
