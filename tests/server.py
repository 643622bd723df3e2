"""Run the real server (`kg serve`) in a subprocess on 127.0.0.1, for HTTP tests."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from kg.store import RemoteConfig

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "test-token-0123456789"


class ServerURL(str):
    """A server's base URL that also knows the server's process id and store copy."""

    pid: int
    store: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_server(
    store: Path | RemoteConfig,
    *,
    workers: int = 3,
    writable: bool = False,
    wait: bool = True,
    **settings: str,
) -> Iterator[ServerURL]:
    """Start `kg serve` on a copy of ``store``; yield its base URL; stop it afterwards.

    A remote ``store`` (an external engine) is served as it is, not copied.

    With ``wait=False`` the URL is yielded as soon as the process is started.

    ``settings`` become KG_<NAME> environment variables (for example ``max_rows="50"``).
    """
    env = server_environment(writable=writable, **settings)
    if isinstance(store, RemoteConfig):
        work = Path(tempfile.mkdtemp(prefix="geokg-server-"))
        copy: Path | str = store.query_url
        # The explicit settings win (inherited KG_* variables are not in env).
        env |= {k: v for k, v in remote_environment(store).items() if k not in env}
    else:
        work = store.parent.parent / f"server-{os.getpid()}-{free_port()}"
        copy = work / "store"
        shutil.copytree(store, copy)
    work.mkdir(parents=True, exist_ok=True)
    log = (work / "server.log").open("wb")
    process: subprocess.Popen | None = None
    try:
        # A port free now may be taken before the server binds it (another test process
        # picking ports too, under pytest-xdist): such a start is retried on a new port.
        for attempt in range(3):
            port = free_port()
            process = subprocess.Popen(
                serve_command(copy, port, workers),
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=work,
            )
            base = ServerURL(f"http://127.0.0.1:{port}")
            base.pid = process.pid
            base.store = copy  # type: ignore[assignment]
            if not wait:
                break
            try:
                wait_until_ready(process, base, work / "server.log")
                break
            except RuntimeError as e:
                if "address already in use" not in str(e).lower() or attempt == 2:
                    raise
                process.wait(5)
        yield base
    finally:
        if process is not None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        log.close()
        shutil.rmtree(work, ignore_errors=True)


def wait_until_ready(
    process: subprocess.Popen, base: str, log: Path, timeout: float = 60.0
) -> None:
    """Return once the server at ``base`` answers /ready with 200; raise RuntimeError (with
    its ``log``) if its process exits first or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError("server exited: " + log.read_text(errors="replace"))
        try:
            if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"server did not become ready within {timeout:.0f} s")
        time.sleep(0.2)


def server_environment(*, writable: bool = False, **settings: str) -> dict[str, str]:
    """This process's environment without its ``KG_*`` variables, plus ``settings`` as
    ``KG_<NAME>`` (and the write token, if ``writable``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KG_")}
    env.update({f"KG_{k.upper()}": v for k, v in settings.items()})
    if writable:
        env["KG_WRITE_TOKEN"] = TOKEN
    return env


def serve_command(store: Path | str, port: int, workers: int) -> list[str]:
    """The ``kg serve`` command line for ``store`` on 127.0.0.1:``port``."""
    return [
        sys.executable,
        "-c",
        "from api.cli import app; app()",
        "serve",
        "--store",
        str(store),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--root",
        str(ROOT),
    ]


def worker_pids(server_pid: int) -> set[int]:
    """The reader processes (they run the queries) of the server with ``server_pid``."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == server_pid and b"api.reader" in cmdline:
            found.add(int(entry.name))
    return found


def remote_environment(config: RemoteConfig) -> dict[str, str]:
    """The ``KG_STORE_*`` variables that point a server or ``kg`` at a remote store."""
    env = {
        "KG_STORE_UPDATE_URL": config.update_url or "",
        "KG_STORE_GSP_URL": config.gsp_url or "",
        "KG_STORE_AUTH": config.auth,
        "KG_STORE_USER": config.user or "",
        "KG_STORE_PASSWORD": config.password or "",
        "KG_STORE_TOKEN": config.token or "",
        "KG_STORE_DIALECT": config.dialect,
    }
    return {k: v for k, v in env.items() if v}
