"""What checking every pooled connection costs: the hot paths with a ping on every request against HEP's default.

Usage: .venv/bin/python benchmarks/pool_ping.py --database-url postgresql://postgres@127.0.0.1:5432/test

One throw-away database and data set (benchmarks/hot_paths.py's), served by two gunicorns (2 workers
each) at once: one with HEP_DB_PING_AFTER_IDLE_SECONDS=0 (a ping before every request, as SQLAlchemy's
pool_pre_ping), one with the default (a ping only after 1 s idle, hep/db_connections.py). /livez, today's
plan, library search and the batch sync each run as pairs of short runs, one per setting, back to back
and in alternating order, so the machine's drift meets both alike; each pair gives a ratio. Writes its
section into benchmarks/RESULTS.md.
"""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script: make `hep` importable

from benchmarks.common import (
    PACKAGES,
    CpuMeter,
    Server,
    arguments,
    command_line,
    cpu_model,
    gunicorn,
    publish,
    show,
    versions,
)
from benchmarks.hot_paths import (
    BASELINE,
    HEADER,
    PLAN,
    SEARCH,
    SYNC,
    RunResult,
    _other_work,
    bench_database,
    build_dataset,
    load_for,
    run_scenario,
    say,
    warm_up,
)

SETTINGS = {"every request": "0", "after 1 s idle (default)": "1"}


def _rate(run: RunResult) -> float:
    """A run's throughput in its own unit: entries/s for the sync, requests/s otherwise."""
    return run.eps if run.entries else run.rps


@contextmanager
def servers(database, workdir: Path, data) -> Iterator[dict[str, Server]]:
    """Both settings served at once, each by its own gunicorn (-w 2); only one is driven at a time."""
    with ExitStack() as stack:
        started = {}
        for name, value in SETTINGS.items():
            os.environ["HEP_DB_PING_AFTER_IDLE_SECONDS"] = value
            started[name] = stack.enter_context(gunicorn(database.url, workdir, say))
            warm_up(started[name].address, data.patients)
        yield started


def alternate(database, served: dict[str, Server], data, args) -> dict[str, list[tuple[RunResult, RunResult]]]:
    """Each scenario as `pairs` back-to-back pairs of short runs, the order flipped every pair, so that the
    machine's drift (its speed moves by tens of percent within minutes) meets both settings alike."""
    every, default = SETTINGS
    meters = {name: CpuMeter(lambda server=server: {server.pid}, database.name) for name, server in served.items()}
    pairs: dict[str, list[tuple[RunResult, RunResult]]] = {}
    for scenario in (BASELINE, PLAN, SEARCH, SYNC):
        pairs[scenario] = []
        for number in range(args.pairs):
            order = (every, default) if number % 2 == 0 else (default, every)
            runs = {}
            for name in order:
                load = load_for(
                    scenario, data.patients, data.physio_token, args.connections, seed=number * 97 + len(runs) * 31
                )
                runs[name] = run_scenario(served[name], meters[name], scenario, load, args.seconds)
            pairs[scenario].append((runs[every], runs[default]))
            shown = ", ".join(f"{name} {_rate(runs[name]):,.0f}" for name in SETTINGS)
            say(f"{scenario} pair {number + 1}/{args.pairs}: {shown}")
    return pairs


def table(pairs: dict[str, list[tuple[RunResult, RunResult]]]) -> list[str]:
    """Each scenario's rate under both settings (median, min-max over pairs) and the ratio within each pair."""
    lines = ["| figure | ping on every request | ping after 1 s idle | default ÷ every request, per pair |"]
    lines.append("|---|---|---|---|")
    for scenario, unit in ((BASELINE, "req/s"), (PLAN, "req/s"), (SEARCH, "req/s"), (SYNC, "entries/s")):
        a = [_rate(every) for every, _ in pairs[scenario]]
        b = [_rate(default) for _, default in pairs[scenario]]
        ratios = [y / x for x, y in zip(a, b, strict=True)]
        lines.append(f"| {scenario} ({unit}) | {show(a)} | {show(b)} | {show(ratios)} |")
    return lines


def main(argv: list[str]) -> int:
    """Build the data, serve both settings, alternate them, report; 1 when a request failed."""
    parser = arguments(__doc__, "RESULTS.md", database_default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--patients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=4, help="length of each run (default 4)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--pairs", type=int, default=6, help="pairs of runs per scenario (default 6)")
    args = parser.parse_args(argv)
    os.environ["SECRET_KEY"] = secrets.token_urlsafe(32)
    with tempfile.TemporaryDirectory(prefix="hep-bench-") as tmp, bench_database(args.database_url, Path(tmp)) as db:
        data = build_dataset(db.url, args.patients, 3600 + int(args.pairs * 8 * (args.seconds + 5)))
        with servers(db, Path(tmp), data) as served:
            pairs = alternate(db, served, data, args)
    runs = [r for runs in pairs.values() for pair in runs for r in pair]
    errors = sum(sum(r.errors.values()) for r in runs)
    label = args.label or "PostgreSQL: checking pooled connections"
    text = "\n".join(
        [
            f"## {label}",
            "",
            f"- machine: {os.cpu_count()} cores ({cpu_model()}); {versions(PACKAGES)}",
            f"- database: {db.description}",
            f"- command: `{command_line('benchmarks/pool_ping.py', argv)}`",
            f"- load: {args.connections} connections; per scenario {args.pairs} pairs of {args.seconds:g} s runs, one"
            " under each setting, back to back, the order flipped every pair; both settings served at once by two"
            " gunicorns (-w 2 each), only one driven at a time",
            f"- other work on the machine: {_other_work({'all': runs})}",
            f"- requests that failed: {errors}",
            "",
            *table(pairs),
            "",
        ]
    )
    return publish(args.out, label, text, HEADER, errors, say)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
