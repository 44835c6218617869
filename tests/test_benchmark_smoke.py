"""The hot-path benchmark still runs end to end (at a tiny size; no timing is asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require_postgresql

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_hot_paths_benchmark_runs_and_writes_its_ratios(tmp_path):
    out = tmp_path / "RESULTS.md"
    tiny = ["--patients", "3", "--seconds", "1", "--connections", "2", "--runs", "1", "--out", str(out)]
    command = [sys.executable, str(ROOT / "benchmarks" / "hot_paths.py"), *tiny]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    text = out.read_text()
    assert text.startswith("# Benchmark results")
    assert "## SQLite" in text
    for line in (
        "| today's plan ÷ baseline (requests/s) |",
        "| batch sync (entries/s) |",
        "| resend ÷ first",
        "| today's plan ÷ its floor: how close HEP comes |",
        "| batch sync ÷ its floor (entries/s) |",
    ):
        assert line in text
    assert "ERRORS" not in text


@pytest.mark.slow
def test_pool_ping_benchmark_runs_both_settings_on_postgresql(tmp_path):
    url = require_postgresql("the pool-ping benchmark")
    out = tmp_path / "RESULTS.md"
    tiny = ["--patients", "3", "--seconds", "0.5", "--connections", "2", "--pairs", "1", "--out", str(out)]
    command = [sys.executable, str(ROOT / "benchmarks" / "pool_ping.py"), "--database-url", url, *tiny]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    text = out.read_text()
    assert "## PostgreSQL: checking pooled connections" in text
    for line in ("| plan (req/s) |", "| sync (entries/s) |", "| search (req/s) |"):
        assert line in text
    assert "- requests that failed: 0" in text
