"""``kg serve``: the server, added to the ``kg`` command here so that kg/ never imports api/."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from pydantic import ValidationError as SettingsError

from api.app import create_app
from api.settings import Settings
from kg.cli import app

__all__ = ["app"]


@app.command()
def serve(
    store: Annotated[
        Path | None, typer.Option(help="Store directory (env KG_STORE).", show_default=False)
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
    }
    try:
        settings = Settings(**{k: v for k, v in given.items() if v is not None})
    except SettingsError as exc:
        typer.echo(f"error: invalid settings: {exc}", err=True)
        raise typer.Exit(code=2) from None
    if not (settings.store / "CURRENT").is_file():
        typer.echo(
            f"error: no store at {settings.store}; create it with `kg load --store PATH`",
            err=True,
        )
        raise typer.Exit(code=2)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")
