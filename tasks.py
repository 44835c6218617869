#!/usr/bin/env python3
"""The two commands: `python3 tasks.py run` and `python3 tasks.py test` (and `bench`, `simulate`).

Needs only Python 3.11+. Creates .venv, installs the pinned requirements (again only when they
change), then runs the service or the test suite.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"


def say(message: str) -> None:
    print(f"==> {message}", file=sys.stderr, flush=True)


def sh(*args: str | Path, env: dict | None = None) -> None:
    subprocess.run([str(a) for a in args], cwd=ROOT, check=True, env={**os.environ, **(env or {})})


def ensure_venv(requirements: str) -> None:
    """Create .venv and install `requirements` unless the same files are already installed."""
    if not PYTHON.exists():
        say(f"creating virtual environment in {VENV}")
        venv.EnvBuilder(with_pip=True).create(VENV)
    files = sorted(ROOT.glob("requirements*.txt"))
    digest = hashlib.sha256(b"".join(f.read_bytes() for f in files) + requirements.encode()).hexdigest()
    stamp = VENV / ".installed"
    if stamp.exists() and stamp.read_text() == digest:
        return
    say(f"installing {requirements} (first run takes a minute)")
    sh(PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", requirements)
    stamp.write_text(digest)


def flask(*args: str) -> None:
    sh(BIN / "flask", "--app", "wsgi", *args)


def run(argv: list[str]) -> None:
    """Set up and start HEP on its embedded default (SQLite in instance/, demo data, console texts)."""
    ensure_venv("requirements.txt")
    say("upgrading the database")
    flask("db", "upgrade")
    say("loading the exercise library")
    flask("load-exercises")
    say("demo clinic logins:")
    flask("seed-demo")
    bind = os.environ.get("HEP_BIND", "127.0.0.1:8000")
    say(f"serving on http://{bind}  (API docs: http://{bind}/api/docs)  Ctrl-C stops")
    say("the reminder scheduler runs alongside; texts go to the console and instance/sms-outbox.jsonl")
    processes = [
        subprocess.Popen([str(BIN / "flask"), "--app", "wsgi", "scheduler"], cwd=ROOT),
        subprocess.Popen(
            [str(BIN / "gunicorn"), "--bind", bind, "--workers", "2", "--access-logfile", "-", "wsgi:app", *argv],
            cwd=ROOT,
        ),
    ]
    try:
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=30)


CHROMIUM = Path("/usr/bin/chromium")


def ensure_chromium() -> None:
    """The web app's end-to-end tests drive Debian's chromium: install it when it is missing.

    Needs apt-get and root (or passwordless sudo). When it cannot be installed the end-to-end tests
    skip with a message, except under CI=true, where that is a failure.
    """
    if CHROMIUM.exists():
        return
    in_ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
    sudo = [] if os.name != "nt" and os.geteuid() == 0 else (["sudo", "-n"] if shutil.which("sudo") else None)
    problem = None
    if not shutil.which("apt-get"):
        problem = "apt-get is not available (not Debian or Ubuntu)"
    elif sudo is None:
        problem = "installing needs root or sudo"
    else:
        say("installing Debian's chromium for the web app's end-to-end tests (apt-get)")
        apt = [*sudo, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]
        for command in (["update", "-qq"], ["install", "-y", "-qq", "--no-install-recommends", "chromium"]):
            if subprocess.run([*apt, *command]).returncode != 0:
                problem = f"`apt-get {' '.join(command)}` failed"
                break
    if problem or not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing and could not be installed: {problem or 'apt-get did not provide it'}"
        if in_ci:
            sys.exit(f"error: {message}")
        say(f"{message}; the end-to-end browser tests will be skipped")


def test(argv: list[str]) -> None:
    """Lint, then run every test (PostgreSQL too when TEST_DATABASE_URL is set)."""
    ensure_venv("requirements-dev.txt")
    ensure_chromium()
    if not os.environ.get("TEST_DATABASE_URL"):
        say(
            "TEST_DATABASE_URL is not set: PostgreSQL runs will be skipped "
            "(e.g. TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test)"
        )
    say("ruff")
    sh(BIN / "ruff", "check", ".")
    say("pytest")
    os.chdir(ROOT)
    # One worker per core (pytest-xdist); each worker makes its own SQLite template and PostgreSQL
    # database. `-n 0` (or any -n) given on the command line wins.
    workers = [] if any(a == "-n" or a.startswith(("-n=", "--numprocesses")) for a in argv) else ["-n", "auto"]
    os.execv(PYTHON, [str(PYTHON), "-m", "pytest", *workers, *argv])


def bench(argv: list[str]) -> None:
    """Run every benchmark one after another and summarise the targets (benchmarks/run_all.py)."""
    ensure_venv("requirements-dev.txt")
    os.chdir(ROOT)
    os.execv(PYTHON, [str(PYTHON), "benchmarks/run_all.py", *argv])


def simulate(argv: list[str]) -> None:
    """The long reminder simulation with faults (tests/simulation/reminders.py): 60 days, 150 patients."""
    ensure_venv("requirements-dev.txt")
    os.chdir(ROOT)
    os.execv(PYTHON, [str(PYTHON), "-m", "tests.simulation.reminders", *argv])


COMMANDS = {"run": run, "test": test, "bench": bench, "simulate": simulate}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(f"usage: python3 {Path(__file__).name} {{{'|'.join(COMMANDS)}}} [extra args]")
    COMMANDS[sys.argv[1]](sys.argv[2:])
