"""Running a benchmark script from a smoke test: the one way the tests start benchmarks/<script>."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_benchmark(script: str, out: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run benchmarks/<script> with `args`, writing to `out`; fail with its stderr unless it exited 0."""
    command = [sys.executable, str(ROOT / "benchmarks" / script), *args, "--out", str(out)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return result
