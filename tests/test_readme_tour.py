"""The README's tour queries give the answers it shows, over HTTP with curl."""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess

import pytest

from tests.server import ROOT

_BLOCK = re.compile(r"```sh\n\$ \.venv/bin/kg query (?P<cmd>.*?)\n(?P<out>.*?)```", re.DOTALL)


def _tour() -> list[tuple[str, str]]:
    """(query, expected CSV) for every `kg query ... -o csv` example of the README."""
    examples = []
    for m in _BLOCK.finditer((ROOT / "README.md").read_text()):
        cmd, out = m.group("cmd"), m.group("out")
        if "-o csv" not in cmd:
            continue
        if "--file" in cmd:
            query = (ROOT / re.search(r"--file (\S+)", cmd).group(1)).read_text()
            expected = out
        else:
            body = cmd + "\n" + out
            quoted = re.search(r"'(.*?)'\n", body, re.DOTALL)
            query = quoted.group(1)
            expected = body[quoted.end() :]
        examples.append((query, expected))
    return examples


TOUR = _tour()


def test_the_readme_has_a_tour() -> None:
    assert len(TOUR) >= 5


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.parametrize("query,expected", TOUR, ids=[f"tour-{i}" for i in range(len(TOUR))])
def test_tour_query_over_http(server: str, query: str, expected: str) -> None:
    out = subprocess.run(
        [
            "curl",
            "-sS",
            "--fail-with-body",
            "-H",
            "Accept: text/csv",
            f"{server}/sparql",
            "--data-urlencode",
            f"query={query}",
        ],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.decode()
    got = list(csv.reader(io.StringIO(out)))
    want = list(csv.reader(io.StringIO(expected)))
    assert got[0] == want[0]
    truncated = [r for r in want[1:] if any(c.endswith("...") for c in r)]
    if truncated:  # the README shortens long quotes
        assert len(got) - 1 == len(want) - 1
        for g, w in zip(got[1:], want[1:], strict=True):
            assert all(gc.startswith(wc.removesuffix("...")) for gc, wc in zip(g, w, strict=True))
    else:
        assert got[1:] == want[1:]
