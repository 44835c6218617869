"""The rush benchmark still runs end to end on PostgreSQL (`--quick`: tiny sizes; no timing is asserted)."""

from __future__ import annotations

import re

import pytest

from tests.benchmark_runs import run_benchmark
from tests.conftest import require_postgresql


@pytest.mark.slow
def test_rush_benchmark_runs_and_writes_every_figure(tmp_path):
    url = require_postgresql("the rush benchmark")

    out = tmp_path / "RESULTS-rush.md"
    result = run_benchmark("rush.py", out, "--quick", "--database-url", url)

    text = out.read_text()
    assert text.startswith("# Benchmark results: the 18:00 rush")
    assert "## PostgreSQL, --quick (dry run)" in text
    assert "ERRORS" not in text
    for line in (
        "| today's plan: saturated throughput, closed loop, 16 connections (req/s) |",
        "| today's plan p99 at 50 % of saturated throughput, open loop (ms) |",
        "| GET /livez: highest rate swept with p99 <= 30 ms |",
        "| today's plan: GET /patients/{id}/today | 25 |",
        "| GET /livez | 25 |",
        "gunicorn workers' peak RSS (VmHWM) after the rush: ",
    ):
        assert line in text, line
    # Every text the dispatcher sent was followed by that patient's plan and sync, each answered.
    sent = int(re.search(r"'sent': (\d+)", text)[1])
    assert sent > 0
    assert f"| today's plan: GET /patients/{{id}}/today | {sent} |" in text
    assert f"| sync: POST /patients/{{id}}/logs/batch | {sent} |" in text
    assert "hep_rush_" in result.stderr and "dropped database" in result.stderr
