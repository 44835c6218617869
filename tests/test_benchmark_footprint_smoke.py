"""The footprint benchmark still runs end to end on PostgreSQL (`--quick`: tiny sizes; no timing is asserted)."""

from __future__ import annotations

import pytest

from tests.benchmark_runs import run_benchmark
from tests.conftest import require_postgresql


@pytest.mark.slow
def test_footprint_benchmark_runs_and_writes_every_figure(tmp_path):
    url = require_postgresql("the footprint benchmark")

    out = tmp_path / "RESULTS-footprint.md"
    result = run_benchmark("footprint.py", out, "--quick", "--database-url", url)

    text = out.read_text()
    assert text.startswith("# Benchmark results: footprint")
    for line in (
        "| GET /patients/{id}/today (today's plan) |",
        "| GET /patients/{id}/routine |",
        "| GET /exercises?q=...&condition=... (library search) |",
        "| POST /patients/{id}/logs (one entry, Idempotency-Key) |",
        "| POST /patients/{id}/logs/batch, 1 new |",
        "| POST /patients/{id}/logs/batch, 10 new |",
        "| POST /patients/{id}/logs/batch, 50 new |",
        "| the same batch of 50 resent (all duplicate) |",
        "| reminder: POST /webhooks/twilio/status (delivered, signed) |",
        "| reminder: one exercise text end to end (the 3 above) |",
        "| adherence_logs |",
        "| reminders |",
        "| audit_events |",
        "| idempotency_records |",
        "| auth_tokens |",
        "| GET today: first request |",
        "| library search: first request |",
        "| after create_app |",
        "| after 100 mixed requests (RSS) |",
    ):
        assert line in text, line
    # Counts, not timings: a batch of 50 new entries writes its 50 rows, and its resend writes none.
    rows = {line.split(" | ")[0]: line for line in text.splitlines() if line.startswith("| ")}
    assert "adherence_logs 50," in rows["| POST /patients/{id}/logs/batch, 50 new"]
    assert rows["| the same batch of 50 resent (all duplicate)"].endswith("| - |")
    assert "hep_foot_" in result.stderr and "dropped database" in result.stderr
