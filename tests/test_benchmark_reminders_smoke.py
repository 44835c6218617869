"""The reminder-engine benchmark still runs end to end on PostgreSQL (at a tiny size; no timing is asserted)."""

from __future__ import annotations

import pytest

from tests.benchmark_runs import run_benchmark
from tests.conftest import require_postgresql


@pytest.mark.slow
def test_reminders_benchmark_runs_and_writes_every_figure(tmp_path):
    url = require_postgresql("the reminders benchmark")

    out = tmp_path / "RESULTS-reminders.md"
    tiny = ["--patients", "50", "--claims", "200", "--messages", "10", "--jobs", "20", "--runs", "1", "--no-profile"]
    result = run_benchmark("reminders.py", out, *tiny, "--database-url", url, timeout=600)

    text = out.read_text()
    assert text.startswith("# Benchmark results: the reminder engine")
    for line in (
        "| planning: wall time, 50 patients |",
        "| planning: rows/s |",
        "| planning: peak RSS of the planner process |",
        "| claim, 1 process: rows/s |",
        "| claim, 2 processes in parallel: rows/s (together) |",
        "| send through TwilioBackend, 150 ms latency: messages/s |",
        "| busiest 1-second window at the fake (150 ms latency) |",
        "| busiest 1-second window at the fake (0 ms latency) |",
        "| APScheduler: schedule 20 one-off jobs (one per patient) |",
        "| APScheduler: job store table size (pg_total_relation_size) |",
        "| APScheduler: reschedule one patient's 7 jobs |",
    ):
        assert line in text, line
    assert "hep_bench_rem_" in result.stderr and "dropped database" in result.stderr
