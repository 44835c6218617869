"""The scale benchmark still runs end to end on PostgreSQL (`--quick`: tiny sizes; no timing is asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require_postgresql

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_scale_benchmark_runs_and_writes_every_figure(tmp_path):
    url = require_postgresql("the scale benchmark")

    out = tmp_path / "RESULTS-scale.md"
    command = [
        sys.executable,
        str(ROOT / "benchmarks" / "scale.py"),
        "--quick",
        "--database-url",
        url,
        "--out",
        str(out),
    ]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]

    text = out.read_text()
    assert text.startswith("# Benchmark results: scale")
    assert "REQUESTS FAILED" not in text
    for line in (
        "| risk list: GET /risk, server time |",
        "| clinic report, 28 days (default): server time |",
        "| clinic report, 90 days (the longest window): server time |",
        "| flat cost: today's plan p50, large ÷ small |",
        "| flat cost: batch sync p50, large ÷ small |",
        "| baseline: GET /livez, client time |",
        "| baseline: bare SELECT 1 round trip |",
        "| today's plan p50 at 30 patients |",
        "| batch sync p50 at 6 patients |",
    ):
        assert line in text, line
    assert "30 patients" in text and "2000 log entries" in text
    assert "hep_scale_" in result.stderr and "dropped database" in result.stderr
