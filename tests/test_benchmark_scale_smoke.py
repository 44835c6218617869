"""The scale benchmark still runs end to end on PostgreSQL (`--quick`: tiny sizes; no timing is asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import IN_CI, PG_URL, pg_admin_url

ROOT = Path(__file__).resolve().parent.parent


def _skip_or_fail(message: str) -> None:
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


@pytest.mark.slow
def test_scale_benchmark_runs_and_writes_every_figure(tmp_path):
    if not PG_URL:
        _skip_or_fail("TEST_DATABASE_URL is not set: the scale benchmark needs PostgreSQL (.ci/run sets it)")
    engine = sa.create_engine(pg_admin_url())
    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError as exc:
        _skip_or_fail(f"PostgreSQL at TEST_DATABASE_URL is unreachable: {exc.orig}")
    finally:
        engine.dispose()

    out = tmp_path / "RESULTS-scale.md"
    command = [
        sys.executable,
        str(ROOT / "benchmarks" / "scale.py"),
        "--quick",
        "--database-url",
        PG_URL,
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
