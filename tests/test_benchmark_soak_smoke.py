"""The soak still runs end to end on PostgreSQL at a tiny size, and every one of its checks passes.

Fifteen seconds of the full mix (patients, physiotherapists, two schedulers, the fake Twilio with faults and
webhooks); it asserts what the soak checks (no 5xx, nothing lost or doubled, no text outside its window),
never how fast anything was.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require_postgresql

ROOT = Path(__file__).resolve().parent.parent
CHECKS = (
    "zero 5xx responses",
    "every answer as expected (no unexpected 4xx)",
    "no exception in the gunicorn and scheduler logs",
    "every acknowledged log entry stored exactly once, as sent",
    "no log entry stored that was never sent",
    "each entry answered `created` at most once; `duplicate` only for one already sent",
    "every text at Twilio belongs to exactly one reminder (none sent twice)",
    "every due reminder sent once or settled with a recorded reason",
    "no reminder sent outside its window",
    "no text after an opt-out or a lost number; at most one exercise text a day",
    "webhooks: every callback accepted, statuses recorded, re-deliveries answered alike",
    "no session booked twice by a retried booking",
    "no routine version repeated by a re-save or a double click",
)


@pytest.mark.slow
def test_soak_runs_and_every_check_passes(tmp_path):
    url = require_postgresql("the soak")

    out = tmp_path / "RESULTS-soak.md"
    tiny = ["--minutes", "0.25", "--patients", "10", "--workers", "2", "--database-url", url, "--out", str(out)]
    command = [sys.executable, str(ROOT / "benchmarks" / "soak.py"), *tiny]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=180, check=False)

    assert out.exists(), result.stderr[-3000:]
    text = out.read_text()
    failed = re.findall(r"^\| (.+?) \| \*\*FAIL\*\* \| (.*) \|$", text, re.MULTILINE)
    assert not failed, "\n".join(f"{name}: {detail}" for name, detail in failed)
    assert result.returncode == 0, result.stderr[-3000:]
    assert text.startswith("# Soak results") and "\n## Soak\n" in text
    for check in CHECKS:
        assert f"| {check} | PASS |" in text, check
    assert re.search(r"dropped database hep_soak_\d+", result.stderr)
