"""Memory of a process tree from /proc (Linux): RSS and PSS by role, for bench.load."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any


def _children_by_parent() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(parent, []).append(int(entry.name))
    return tree


def process_tree(root: int) -> list[int]:
    """``root`` and every process descended from it."""
    tree = _children_by_parent()
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(tree.get(pid, []))
    return found


def role_of(pid: int, root: int) -> str:
    """What ``pid`` is in the tree of the server ``root``: supervisor, readers, workers."""
    if pid == root:
        return "supervisor"
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "other"
    if b"api.reader" in cmdline:
        return "readers"
    if b"_worker_entry" in cmdline:
        return "workers"
    return "other"


def kib_field(path: Path, field_name: str) -> int | None:
    try:
        for line in path.read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def tree_memory(root: int) -> dict[str, Any]:
    """RSS and PSS (MiB) of ``root``'s process tree, in all and by role, with the pids."""
    by_role: dict[str, dict[str, float]] = {}
    pids: dict[str, list[int]] = {}
    for pid in process_tree(root):
        rss = kib_field(Path(f"/proc/{pid}/status"), "VmRSS")
        if rss is None:  # gone meanwhile, or a kernel thread
            continue
        pss = kib_field(Path(f"/proc/{pid}/smaps_rollup"), "Pss") or 0
        role = role_of(pid, root)
        entry = by_role.setdefault(role, {"rss_mib": 0.0, "pss_mib": 0.0, "processes": 0})
        entry["rss_mib"] += rss / 1024
        entry["pss_mib"] += pss / 1024
        entry["processes"] += 1
        pids.setdefault(role, []).append(pid)
    for entry in by_role.values():
        entry["rss_mib"] = round(entry["rss_mib"], 1)
        entry["pss_mib"] = round(entry["pss_mib"], 1)
    return {
        "rss_mib": round(sum(e["rss_mib"] for e in by_role.values()), 1),
        "pss_mib": round(sum(e["pss_mib"] for e in by_role.values()), 1),
        "by_role": dict(sorted(by_role.items())),
        "pids": {k: sorted(v) for k, v in sorted(pids.items())},
    }


def runtime_files(root: int) -> dict[str, int] | None:
    """Files and bytes in the server's runtime folder (the readers' ``--runtime``)."""
    for pid in process_tree(root):
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"--runtime" in args:
            folder = Path(args[args.index(b"--runtime") + 1].decode())
            files = [p for p in folder.rglob("*") if p.is_file()]
            size = 0
            for p in files:
                with contextlib.suppress(OSError):
                    size += p.stat().st_blocks * 512
            return {"files": len(files), "disk_bytes": size}
    return None
