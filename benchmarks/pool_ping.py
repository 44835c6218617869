"""What checking every pooled connection costs: the hot paths with a ping on every request against HEP's default.

Usage: .venv/bin/python benchmarks/pool_ping.py --database-url postgresql://postgres@127.0.0.1:5432/test

One throw-away database and data set (benchmarks/hot_paths.py's), then gunicorn (2 workers) started
alternately with HEP_DB_PING_AFTER_IDLE_SECONDS=0 (SQLAlchemy's pool_pre_ping: one round trip before
every request) and with the default (a ping only after 1 s idle, hep/db_connections.py). Each round runs
/livez, today's plan, library search and the batch sync under both settings, so both meet the same
machine; the ratios are judged per round. Writes its section into benchmarks/RESULTS.md.
"""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script: make `hep` importable

from benchmarks.common import (
    BUSY,
    PACKAGES,
    CpuMeter,
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
    _report_run,
    _share,
    baseline_source,
    bench_database,
    build_dataset,
    loggable_patients,
    plan_source,
    run_scenario,
    say,
    search_source,
    sync_source,
    warm_up,
)

SETTINGS = {"every request": "0", "after 1 s idle (default)": "1"}


def measure(database, workdir: Path, data, ping_after: str, seconds: float, connections: int, seed: int) -> dict:
    """One gunicorn with this ping setting: each scenario once; {scenario: RunResult}."""
    os.environ["HEP_DB_PING_AFTER_IDLE_SECONDS"] = ping_after
    loggable = loggable_patients(data.patients)
    sources = {
        BASELINE: lambda: [baseline_source(k) for k in range(connections)],
        PLAN: lambda: [plan_source(_share(data.patients, k, connections)) for k in range(connections)],
        SEARCH: lambda: [search_source(data.physio_token, k) for k in range(connections)],
        SYNC: lambda: [sync_source(_share(loggable, k, connections), seed=seed + k) for k in range(connections)],
    }
    results = {}
    with gunicorn(database.url, workdir, say) as server:
        warm_up(server.address, data.patients)
        meter = CpuMeter(lambda: {server.pid}, database.name)
        for scenario, make in sources.items():
            results[scenario] = run_scenario(server, meter, scenario, make(), seconds)
            _report_run(results[scenario], 1, 1)
    return results


def table(rounds: list[dict[str, dict[str, RunResult]]]) -> list[str]:
    """Per setting: each scenario's rate (median, min-max over rounds), and default ÷ ping-every-request per round."""
    every, default = SETTINGS
    lines = ["| figure | ping on every request | ping after 1 s idle | default ÷ every request |", "|---|---|---|---|"]
    for scenario, unit in ((BASELINE, "req/s"), (PLAN, "req/s"), (SEARCH, "req/s"), (SYNC, "entries/s")):

        def rate(r: RunResult, unit=unit) -> float:
            return r.eps if unit == "entries/s" else r.rps

        a = [rate(rd[every][scenario]) for rd in rounds]
        b = [rate(rd[default][scenario]) for rd in rounds]
        lines.append(
            f"| {scenario} ({unit}) | {show(a)} | {show(b)} | {show([y / x for x, y in zip(a, b, strict=True)])} |"
        )
    for scenario in (PLAN, SEARCH):
        a = [rd[every][scenario].rps / rd[every][BASELINE].rps for rd in rounds]
        b = [rd[default][scenario].rps / rd[default][BASELINE].rps for rd in rounds]
        lines.append(f"| {scenario} ÷ /livez | {show(a)} | {show(b)} | - |")
    return lines


def main(argv: list[str]) -> int:
    """Build the data, alternate the two settings `--rounds` times, report; 1 when a request failed."""
    parser = arguments(__doc__, "RESULTS.md", database_default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--patients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10, help="length of each run (default 10)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of both settings (default 3)")
    args = parser.parse_args(argv)
    os.environ["SECRET_KEY"] = secrets.token_urlsafe(32)
    rounds: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="hep-bench-") as tmp, bench_database(args.database_url, Path(tmp)) as db:
        data = build_dataset(db.url, args.patients, 3600 + int(args.rounds * 8 * (args.seconds + 30)))
        for number in range(args.rounds):
            say(f"round {number + 1}/{args.rounds}")
            rounds.append(
                {
                    name: measure(db, Path(tmp), data, value, args.seconds, args.connections, seed=number * 97)
                    for name, value in SETTINGS.items()
                }
            )
    runs = [r for rd in rounds for setting in rd.values() for r in setting.values()]
    errors = sum(sum(r.errors.values()) for r in runs)
    busiest = max((r.other_cpu for r in runs if r.other_cpu is not None), default=None)
    label = args.label or "PostgreSQL: checking pooled connections"
    text = "\n".join(
        [
            f"## {label}",
            "",
            f"- machine: {os.cpu_count()} cores ({cpu_model()}); {versions(PACKAGES)}",
            f"- database: {db.description}",
            f"- command: `{command_line('benchmarks/pool_ping.py', argv)}`",
            f"- load: {args.connections} connections, {args.seconds:g} s per run, {args.rounds} rounds, each running"
            " every scenario under both settings (gunicorn -w 2 started anew for each setting)",
            f"- other work on the machine: at most {busiest:.0f} % of all cores in any run"
            + (" (**shared: skewed**)" if busiest is not None and busiest > BUSY else "")
            if busiest is not None
            else "- other work on the machine: unknown",
            f"- requests that failed: {errors}",
            "",
            *table(rounds),
            "",
        ]
    )
    return publish(args.out, label, text, HEADER, errors, say)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
