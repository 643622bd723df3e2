"""api.ops: the metric files of ended processes are folded, and no total changes."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.multiprocess import MultiProcessCollector

from api.ops import fold_process_metrics

SPARQL = {"route": "/sparql"}


def _write(folder: Path, kind: str, pid: int, samples: list[tuple[str, str, dict, float]]) -> None:
    """What a process with ``pid`` leaves in the metrics folder."""
    values = MmapedDict(str(folder / f"{kind}_{pid}.db"))
    for metric, name, labels, value in samples:
        key = mmap_key(metric, name, list(labels), list(labels.values()), "help")
        values.write_value(key, value, 0.0)
    values.close()


def _process(folder: Path, pid: int, n: float) -> None:
    _write(folder, "counter", pid, [("geokg_query_timeouts", "geokg_query_timeouts_total", {}, n)])
    seconds = "geokg_http_request_seconds"
    _write(
        folder,
        "histogram",
        pid,
        [
            (seconds, seconds + "_bucket", {**SPARQL, "le": "0.1"}, n),
            (seconds, seconds + "_bucket", {**SPARQL, "le": "1.0"}, 2 * n),
            (seconds, seconds + "_bucket", {**SPARQL, "le": "+Inf"}, 0.0),
            (seconds, seconds + "_sum", SPARQL, 0.5 * n),
        ],
    )
    _write(folder, "gauge_mostrecent", pid, [("geokg_workers", "geokg_workers", {}, 3.0)])


def _totals(folder: Path) -> dict[tuple, float]:
    collector = MultiProcessCollector(None, str(folder))
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for metric in collector.collect()
        if metric.type != "gauge"
        for s in metric.samples
    }


def test_an_ended_process_is_folded_into_the_archive_and_no_total_changes(tmp_path: Path) -> None:
    for pid, n in ((11, 3.0), (12, 5.0), (13, 7.0)):
        _process(tmp_path, pid, n)
    before = _totals(tmp_path)
    assert before[("geokg_query_timeouts_total", ())] == 15.0
    fold_process_metrics(11, tmp_path)
    fold_process_metrics(12, tmp_path)
    fold_process_metrics(12, tmp_path)  # reported twice: nothing more happens
    assert _totals(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "counter_13.db",
        "counter_archive.db",
        "gauge_mostrecent_13.db",
        "histogram_13.db",
        "histogram_archive.db",
    ]
    # A later process folds into the same archive.
    _process(tmp_path, 14, 1.0)
    before = _totals(tmp_path)
    fold_process_metrics(14, tmp_path)
    assert _totals(tmp_path) == before
    assert len(list(tmp_path.iterdir())) == 5
