"""The reliability report (issue 9): bench/results/RELIABILITY.md from the runs' JSON.

Reads what the longer runs of ``scripts/reliability`` wrote:

- ``bench/results/crash.json`` (bench.crash): rounds survived, writes acknowledged and
  checked, what happened to the writes in flight at each kill;
- ``bench/results/load.json`` (bench.load): throughput, p50/p99 latency and error rate per
  request class, memory of the server's process tree per round;
- ``bench/results/hostile.json`` (tests/test_hostile_input.py with ``GEOKG_FUZZ_REPORT``):
  inputs tried per target and the statuses they got.

A missing file is said to be missing, not skipped silently.

    PYTHONPATH=. .venv/bin/python -m bench.reliability_report
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
OUT = RESULTS / "RELIABILITY.md"


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS / name
    return json.loads(path.read_text()) if path.exists() else None


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1000:.1f} s" if value >= 1000 else f"{value:.0f} ms"


def crash_section(d: dict[str, Any] | None) -> list[str]:
    lines = ["## Crash safety (`python -m bench.crash`)", ""]
    if d is None:
        return [*lines, "No result: bench/results/crash.json is missing.", ""]
    w, c, k = d["writes"], d["checks"], d["kills"]
    cfg = d["config"]
    outcomes = ", ".join(f"{n} {what}" for what, n in sorted(w["in_flight_outcomes"].items()))
    lines += [
        f"{cfg['clients']} clients wrote through SPARQL Update, the Graph Store and REST facts "
        f"while every server process was killed with SIGKILL at a random moment (seed "
        f"{cfg['seed']}); after each kill the server was restarted on the same store.",
        "",
        "| | |",
        "|---|---|",
        f"| rounds survived | **{d['rounds_survived']} of {d['rounds']}** "
        f"(plus {k['during_start']} kills during a start) |",
        f"| writes sent / acknowledged | {w['sent']} / {w['acknowledged']} |",
        f"| acknowledged writes checked, lost | {c['acknowledged_writes_checked']}, "
        f"**{c['lost']} lost** |",
        f"| writes in flight at a kill | {w['in_flight_at_kill']}: {outcomes}; "
        f"**{c['half_applied']} half-applied** |",
        f"| item checks / triples compared | {c['item_checks']} / {c['triples_compared']} |",
        f"| derived and inferred graphs recomputed and compared | {c['deep_checks']} times, "
        f"{c['derived_triples_compared']} derived triples |",
        f"| kills during an inference refresh, healed at restart | "
        f"{c['pending_inference_at_kill']}, {c['healed_at_restart']} |",
        f"| restart time, median / max | {d['restart_s']['median']} s / "
        f"{d['restart_s']['max']} s |",
        f"| failures | {len(d['failures'])} |",
        "",
        f"Run from commit `{d['code']['commit'][:10]}`, {d['wall_s']:.0f} s, load average at "
        f"start {d['machine']['loadavg_at_start'][0]} on {d['machine']['cpus']} CPUs.",
        "",
    ]
    return lines


def load_section(d: dict[str, Any] | None) -> list[str]:
    lines = ["## Load (`python -m bench.load`)", ""]
    if d is None:
        return [*lines, "No result: bench/results/load.json is missing.", ""]
    totals = d["totals"]
    settings = d["server"].get("settings", {})
    lines += [
        f"{d['clients']} closed-loop clients, {len(d['rounds'])} rounds of {d['round_seconds']} s, "
        f"against `kg serve` with {d['server'].get('readers', '?')} readers, a "
        f"{settings.get('query_timeout', '?')} s query time limit. Heavy queries are "
        "expected to end in their time limit (`503 query-timeout`); for every other class "
        "an error is anything but the expected answer. The reference is one client alone, "
        "in the same run.",
        "",
        "| class | requests | throughput | p50 | p99 | p50 alone | errors |",
        "|---|---|---|---|---|---|---|",
    ]
    reference = d.get("reference", {})
    for name, c in totals["classes"].items():
        alone = reference.get(name, {}).get("p50_ms")
        lines.append(
            f"| {name} | {c['count']} | {c['throughput_rps']} req/s | "
            f"{_ms(c['p50_ms_median_of_rounds'])} | {_ms(c['p99_ms_median_of_rounds'])} | "
            f"{_ms(alone)} | {c['errors']} ({c['error_rate']:.1%}) |"
        )
    memory = totals["memory"]
    rss = memory["tree_rss"]["per_round_mib"]
    lines += [
        "",
        f"Memory of the whole process tree (RSS, MiB) after each round: "
        f"{', '.join(f'{x:.0f}' for x in rss)}; growth after the first round "
        f"{memory['tree_rss']['growth_after_first_mib']:+.1f} MiB (supervisor "
        f"{memory['supervisor_rss']['growth_after_first_mib']:+.1f} MiB).",
        "",
    ]
    last = d["rounds"][-1].get("server_counters", {})
    if last:
        lines += [
            f"Server counters at the end: {last.get('query_timeouts_total', 0):.0f} time-limit "
            f"stops, {last.get('worker_restarts_total', 0):.0f} worker restarts.",
            "",
        ]
    return lines


def hostile_section(d: dict[str, Any] | None) -> list[str]:
    lines = ["## Hostile input (`tests/test_hostile_input.py`)", ""]
    if d is None:
        return [*lines, "No result: bench/results/hostile.json is missing.", ""]
    targets = d["targets"]
    total = sum(t["inputs"] for t in targets.values())
    failures = sum(t["failures"] for t in targets.values())
    lines += [
        f"{total} inputs in all ({d['examples_per_target']} generated examples per fuzz "
        f"target, plus the fixed cases), {d['seconds']:.0f} s; **{failures} failures** "
        "(a 5xx, a hang, a body that is not a problem, a request reaching the canary).",
        "",
        "| target | inputs | statuses | failures |",
        "|---|---|---|---|",
    ]
    for name, t in targets.items():
        statuses = ", ".join(f"{k}: {v}" for k, v in t["statuses"].items())
        lines.append(f"| {name} | {t['inputs']} | {statuses} | {t['failures']} |")
    lines.append("")
    return lines


def main() -> None:
    text = [
        "# Reliability and security: figures from the runs",
        "",
        "Written by `bench/reliability_report.py` from the JSON of the longer runs "
        "(`scripts/reliability`); CI runs the same code with smaller bounds. What the "
        "server promises, and which test holds each promise, is in SECURITY.md.",
        "",
        *crash_section(_load("crash.json")),
        *load_section(_load("load.json")),
        *hostile_section(_load("hostile.json")),
    ]
    OUT.write_text("\n".join(text))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
