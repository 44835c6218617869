"""The scale benchmark still runs end to end on PostgreSQL (`--quick`: tiny sizes; no timing is asserted)."""

from __future__ import annotations

import pytest

from tests.benchmark_runs import run_benchmark
from tests.conftest import require_postgresql


@pytest.mark.slow
def test_scale_benchmark_runs_and_writes_every_figure(tmp_path):
    url = require_postgresql("the scale benchmark")

    out = tmp_path / "RESULTS-scale.md"
    result = run_benchmark("scale.py", out, "--quick", "--database-url", url)

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
