"""Run the real server (`kg serve`) in a subprocess on 127.0.0.1, for HTTP tests."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

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
    store: Path, *, workers: int = 3, writable: bool = False, wait: bool = True, **settings: str
) -> Iterator[ServerURL]:
    """Start `kg serve` on a copy of ``store``; yield its base URL; stop it afterwards.

    With ``wait=False`` the URL is yielded as soon as the process is started.

    ``settings`` become KG_<NAME> environment variables (for example ``max_rows="50"``).
    """
    work = store.parent.parent / f"server-{os.getpid()}-{free_port()}"
    copy = work / "store"
    shutil.copytree(store, copy)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KG_")}
    env.update({f"KG_{k.upper()}": v for k, v in settings.items()})
    if writable:
        env["KG_WRITE_TOKEN"] = TOKEN
    cmd = [
        sys.executable,
        "-c",
        "from api.cli import app; app()",
        "serve",
        "--store",
        str(copy),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--root",
        str(ROOT),
    ]
    log = (work / "server.log").open("wb")
    process = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=work)
    base = ServerURL(f"http://127.0.0.1:{port}")
    base.pid = process.pid
    base.store = copy
    try:
        deadline = time.monotonic() + 60
        while wait:
            if process.poll() is not None:
                raise RuntimeError(
                    "server exited: " + (work / "server.log").read_text(errors="replace")
                )
            try:
                if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not become ready within 60 s")
            time.sleep(0.2)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        log.close()
        shutil.rmtree(work, ignore_errors=True)


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
