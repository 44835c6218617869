"""What the benchmark scripts share: the common options, the machine and how busy it was (CPU meter),
throw-away PostgreSQL databases, the app under gunicorn, and writing a labelled section into a results
file. Each script holds only its scenario."""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import NamedTuple

import sqlalchemy as sa

from hep.config import database_url

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
# The patients' time zones, spread round the clock.
TIMEZONES = ("America/Vancouver", "Europe/London", "Australia/Sydney", "America/Toronto", "Asia/Kolkata", "UTC")
BUSY = 10  # % of all cores used by other work during a measurement that makes its figures suspect
# The web stack whose versions a results file names.
PACKAGES = ("Flask", "Werkzeug", "SQLAlchemy", "flask-smorest", "marshmallow", "gunicorn", "psycopg")


def progress(tag: str, *, elapsed: bool = False) -> Callable[[str], None]:
    """A `say(message)` that prints progress lines to stderr as `[tag] message` (with the seconds so far)."""
    started = time.monotonic()

    def say(message: str) -> None:
        prefix = f"{tag} {time.monotonic() - started:5.0f} s" if elapsed else tag
        print(f"[{prefix}] {message}", file=sys.stderr, flush=True)

    return say


def command_line(script: str, argv: list[str]) -> str:
    """The command as run, relative to the project, with any database password hidden."""
    shown = []
    for arg in argv:
        option, equals, value = arg.partition("=") if arg.startswith("--") and "=" in arg else ("", "", arg)
        if "://" in value:
            value = sa.make_url(value).render_as_string(hide_password=True)
        shown.append(option + equals + value)
    python = Path(sys.executable)
    python_shown = os.path.relpath(python, ROOT) if python.is_relative_to(ROOT) else str(python)
    return shlex.join([python_shown, f"benchmarks/{script}", *shown])


def code_version() -> str:
    """The commit measured, and any files of the service changed since (uncommitted work was measured too)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "hep", "wsgi.py", "migrations"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
    except OSError:
        return "unknown (no git)"
    if head.returncode != 0:
        return "unknown (not a git checkout)"
    changed = [line[3:] for line in dirty.stdout.splitlines()]
    return f"commit {head.stdout.strip()}" + (f", with uncommitted changes to {', '.join(changed)}" if changed else "")


def machine_ticks() -> tuple[int, int] | None:
    """(busy, total) clock ticks of all cores from /proc/stat, or None off Linux."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


def write_section(path: Path, label: str, text: str, header: str) -> None:
    """Put a `## label` section into a results file: replace the one with that label, else append it.
    The file's header (before its first section) and its other sections are kept; `header` starts a new file."""
    sections: dict[str, str] = {}
    if path.exists():
        current: str | None = None
        chunks: dict[str | None, list[str]] = {None: []}
        for line in path.read_text().splitlines(keepends=True):
            if line.startswith("## "):
                current = line[3:].strip()
                chunks[current] = []
            chunks[current].append(line)
        header = "".join(chunks.pop(None))
        sections = {k: "".join(v).rstrip("\n") + "\n" for k, v in chunks.items()}
    sections[label] = text.rstrip("\n") + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header.rstrip("\n") + "\n\n" + "\n".join(sections.values()))


def publish(out: Path, label: str, text: str, header: str, errors: int, say: Callable[[str], None]) -> int:
    """Print a section, write it into `out`, and say whether it is a valid measurement; the exit status."""
    print(text)
    write_section(out, label, text, header)
    say(f"wrote section {label!r} to {out}")
    if errors:
        say(f"!!! {errors} REQUESTS FAILED: the figures are not a valid measurement (see {out})")
        return 1
    return 0


# --- the command line -----------------------------------------------------------------------


def arguments(doc: str, results: str, *, database_default: str | None, label: bool = True) -> argparse.ArgumentParser:
    """A parser with the options every benchmark shares: --database-url, --out (benchmarks/<results>), --label."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    shown = f" (default {database_default})" if database_default else " to create a throw-away database on"
    parser.add_argument("--database-url", default=database_default, help=f"PostgreSQL server{shown}")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / results, help="results file")
    if label:
        parser.add_argument("--label", help="section title in the results file")
    return parser


# --- figures -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spread:
    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: list[float]) -> Spread:
        return cls(statistics.median(values), min(values), max(values))


def show(values: list[float], unit: str = "", digits: int | None = None) -> str:
    """The runs' 'median (min-max) unit', the single figure when they agree, or '-' when there were none."""
    if not values:
        return "-"
    spread = Spread.of(values)
    if digits is None:
        top = max(abs(v) for v in values)
        digits = 0 if top >= 100 else 1 if top >= 10 else 2 if top >= 0.1 else 4

    def one(v: float) -> str:
        return f"{v:,.{digits}f}"

    text = one(spread.median)
    if one(spread.low) != one(spread.high):
        text += f" ({one(spread.low)}-{one(spread.high)})"
    return f"{text} {unit}".rstrip()


# --- the machine ----------------------------------------------------------------------------


def _proc_field(path: str, prefix: str) -> str | None:
    """The value of the first `prefix: value` line of a /proc file, or None."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo."""
    return _proc_field("/proc/cpuinfo", "model name") or platform.processor() or "unknown CPU"


def memory() -> str:
    """Total memory from /proc/meminfo."""
    total = _proc_field("/proc/meminfo", "MemTotal:")
    return f"{int(total.split()[0]) / 1024**2:.1f} GiB" if total else "unknown memory"


def versions(packages: Iterable[str]) -> str:
    """Python and the given packages' versions."""
    found = []
    for name in packages:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return f"Python {platform.python_version()}; " + ", ".join(found)


def process_ticks(pid: int) -> tuple[int, int] | None:
    """(parent pid, user + system clock ticks) of a process, or None when it is gone."""
    try:
        rest = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(rest[1]), int(rest[11]) + int(rest[12])


def status_kb(pid: int | str, name: str) -> int | None:
    """A KiB figure of a process from /proc/<pid>/status (e.g. VmRSS, or VmHWM: its peak), or None."""
    value = _proc_field(f"/proc/{pid}/status", f"{name}:")
    try:
        return int(value.split()[0]) if value else None
    except ValueError:
        return None


def children(pid: int) -> list[int]:
    """The pids of a process's children (e.g. gunicorn's workers, children of its master)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := process_ticks(int(entry.name))) and stat[0] == pid:
            found.append(int(entry.name))
    return sorted(found)


class CpuSample(NamedTuple):
    busy: int
    total: int
    ours: dict[int, int]  # pid: clock ticks used so far, for this benchmark's own processes


class CpuMeter:
    """The machine's CPU use, and how much of it went to work that is not this benchmark's.

    Ours: this process, the `roots` (e.g. gunicorn's master) and their children, and the PostgreSQL
    backends serving our database (their command line shows its name, `marker`).
    """

    def __init__(self, roots: Callable[[], set[int]], marker: str | None):
        self.roots, self.marker = roots, marker.encode() if marker else None

    def _ours(self, pid: int, ppid: int, roots: set[int]) -> bool:
        if pid in roots or ppid in roots:
            return True
        if self.marker is None:
            return False
        try:
            return self.marker in Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False

    def sample(self) -> CpuSample | None:
        """The machine's busy and total ticks, and each of our processes' ticks."""
        machine = machine_ticks()
        if machine is None:
            return None
        roots, ours = self.roots() | {os.getpid()}, {}
        for pid in (int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()):
            stat = process_ticks(pid)
            if stat and self._ours(pid, stat[0], roots):
                ours[pid] = stat[1]
        return CpuSample(machine[0], machine[1], ours)

    @staticmethod
    def usage(before: CpuSample | None, after: CpuSample | None) -> tuple[float | None, float | None]:
        """(machine %, other work %) of all cores between two samples."""
        if before is None or after is None or after.total <= before.total:
            return None, None
        span = after.total - before.total
        ours = sum(ticks - before.ours.get(pid, 0) for pid, ticks in after.ours.items())
        busy = after.busy - before.busy
        return 100 * busy / span, max(0.0, 100 * (busy - ours) / span)


# --- the database ---------------------------------------------------------------------------


class PgServer:
    """A PostgreSQL server to make the benchmark's throw-away databases on."""

    def __init__(self, server_url: str, why: str = ""):
        self.admin_url = sa.make_url(database_url(server_url, ""))
        if self.admin_url.get_backend_name() != "postgresql":
            raise SystemExit(f"--database-url must be a postgresql:// URL{why}")
        self.admin = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with self.admin.connect() as conn:
            self.version = conn.execute(sa.text("SHOW server_version")).scalar_one().split()[0]
        host = self.admin_url.host
        self.where = "same machine" if host in ("127.0.0.1", "localhost", None) else host
        self.address = f"{host}:{self.admin_url.port or 5432}"

    def url(self, name: str) -> str:
        """The SQLAlchemy URL of a database on this server."""
        return self.admin_url.set(database=name).render_as_string(hide_password=False)

    def create(self, name: str, template: str | None = None) -> str:
        """Create a database (a copy of `template` when given); return its URL."""
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
        return self.url(name)

    def drop(self, name: str) -> None:
        """Drop a database, closing whatever is still connected to it."""
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def dispose(self) -> None:
        self.admin.dispose()


@dataclass(frozen=True)
class Database:
    url: str  # SQLAlchemy URL of the benchmark's own database
    description: str
    name: str | None = None  # PostgreSQL database name (its server processes show it), None for SQLite
    version: str = ""


@contextmanager
def throwaway_database(
    server_url: str, name: str, say: Callable[[str], None], *, keep: bool = False, why: str = ""
) -> Iterator[Database]:
    """A fresh database `name` on a PostgreSQL server, dropped after (also after an error or Ctrl-C) unless `keep`."""
    server = PgServer(server_url, why)
    url = server.create(name)
    say(f"created database {name} on {server.address} (PostgreSQL {server.version})")
    try:
        yield Database(url, f"PostgreSQL {server.version} ({server.where})", name, server.version)
    finally:
        if keep:
            say(f"kept database {name} (--keep): drop it with DROP DATABASE {name}")
        else:
            server.drop(name)
            say(f"dropped database {name}")
        server.dispose()


# --- the server -----------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Server:
    address: tuple[str, int]
    pid: int  # gunicorn's master; its workers are its children


@contextmanager
def gunicorn(
    url: str, workdir: Path, say: Callable[[str], None], workers: int = 2, app: str = "wsgi:app"
) -> Iterator[Server]:
    """Serve `app` (HEP's wsgi:app) under gunicorn on a free port; yield its address once /livez answers;
    stop it after."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(DATABASE_URL=url, SECRET_KEY=os.environ["SECRET_KEY"])
    log_path = workdir / f"gunicorn-{app.replace(':', '-')}.log"
    command = [str(Path(sys.executable).parent / "gunicorn"), "-w", str(workers), "--bind", f"127.0.0.1:{port}"]
    with log_path.open("wb") as log:
        # Own session: a Ctrl-C reaches only us, and we stop gunicorn gracefully in `finally`.
        proc = subprocess.Popen([*command, app], cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True)
    try:
        _wait_live(proc, port, log_path)
        say(f"gunicorn ({workers} workers) serving {app} on 127.0.0.1:{port}")
        yield Server(("127.0.0.1", port), proc.pid)
    finally:
        stop([proc])
        say("gunicorn stopped")


def stop(procs: list[subprocess.Popen], timeout: float = 15) -> None:
    """SIGTERM every process still running, then wait for each; kill one that does not end in `timeout`."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_live(proc: subprocess.Popen, port: int, log_path: Path, timeout: float = 30) -> None:
    """Poll /livez until it answers 200; fail with gunicorn's log if it dies or never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", "/livez")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.2)
    tail = log_path.read_text(errors="replace")[-3000:]
    raise RuntimeError(f"gunicorn did not come up on port {port}; its log ends:\n{tail}")
