"""Every benchmark in one command, then a summary of every target at the top of benchmarks/RESULTS.md.

    python3 tasks.py bench                      # the full run (about an hour and a quarter on 2 cores)
    python3 tasks.py bench --quick              # every script at a tiny size (a few minutes): a dry run
    python3 tasks.py bench --only hot_paths,reminders --database-url postgresql://...

The parts run one after another, never side by side (they would skew each other on a small machine):
<<<<<<< HEAD
hot paths on SQLite and on PostgreSQL, the reminder engine, the scale figures, the 18:00 rush, and the
10-minute soak.
=======
hot paths on SQLite and on PostgreSQL, the reminder engine, the scale figures, the footprint (no targets:
nothing of it in the summary), and the 10-minute soak.
Each writes its own results file (see benchmarks/README.md); this script then collects every row
that has a target into the summary at the top of RESULTS.md, so the targets are read in one place.
Progress goes to stderr; the exit status is 1 when any part failed to run.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
DEFAULT_PG = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
SUMMARY_START, SUMMARY_END = "<!-- summary: written by benchmarks/run_all.py -->", "<!-- end of summary -->"


@dataclass(frozen=True)
class Part:
    name: str
    results: Path  # the file the script writes
    full: tuple[str, ...]  # its arguments for the full run
    quick: tuple[str, ...]  # and for the dry run


def parts(pg: str) -> list[Part]:
    """The benchmark scripts, in the order they run."""
    return [
        Part("hot_paths_sqlite", BENCH / "RESULTS.md", ("hot_paths.py",), ("hot_paths.py", *_tiny_http())),
        Part(
            "hot_paths_postgresql",
            BENCH / "RESULTS.md",
            ("hot_paths.py", "--database-url", pg),
            ("hot_paths.py", "--database-url", pg, *_tiny_http()),
        ),
        Part(
            "reminders",
            BENCH / "RESULTS-reminders.md",
            ("reminders.py", "--database-url", pg),
            (
                "reminders.py",
                "--database-url",
                pg,
                *("--patients", "300", "--claims", "500", "--messages", "60", "--jobs", "200", "--runs", "1"),
                "--no-profile",
            ),
        ),
        Part("scale", BENCH / "RESULTS-scale.md", ("scale.py", "--database-url", pg), ("scale.py", "--quick")),
        Part(
            "rush",
            BENCH / "RESULTS-rush.md",
            ("rush.py", "--database-url", pg),
            ("rush.py", "--database-url", pg, "--quick"),
        ),
        Part(
            "footprint",
            BENCH / "RESULTS-footprint.md",
            ("footprint.py", "--database-url", pg),
            ("footprint.py", "--database-url", pg, "--quick"),
        ),
        Part(
            "soak",
            BENCH / "RESULTS-soak.md",
            ("soak.py", "--database-url", pg),
            ("soak.py", "--database-url", pg, "--minutes", "0.5", "--patients", "30"),
        ),
    ]


def _tiny_http() -> tuple[str, ...]:
    return ("--patients", "12", "--seconds", "1", "--runs", "1")


def say(message: str) -> None:
    """A progress line on stderr."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def run(part: Part, quick: bool, out_dir: Path | None) -> bool:
    """Run one script to completion; True when it exited 0."""
    args = list(part.quick if quick else part.full)
    if out_dir is not None:
        args += ["--out", str(out_dir / part.results.name)]
    say(f"{part.name}: {' '.join(args)}")
    started = time.monotonic()
    done = subprocess.run([sys.executable, str(BENCH / args[0]), *args[1:]], cwd=ROOT, stdout=subprocess.DEVNULL)
    minutes = (time.monotonic() - started) / 60
    say(f"{part.name}: {'done' if done.returncode == 0 else f'FAILED (exit {done.returncode})'} in {minutes:.1f} min")
    return done.returncode == 0


TARGET_ROW = re.compile(r"^\|(?P<cells>.*)\|\s*(?P<met>met|\*\*met\*\*|\*\*not met\*\*)\s*\|\s*$")


def target_rows(path: Path) -> list[list[str]]:
    """Every table row of a results file whose last cell says met or not met, as (section, cells...)."""
    if not path.exists():
        return []
    rows, section = [], ""
    for line in path.read_text().splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
        elif SUMMARY_START in line:
            return rows  # never summarise a summary
        match = TARGET_ROW.match(line)
        if match and section != "Summary":  # a file's own summary repeats rows found in its sections
            cells = [c.strip() for c in match["cells"].split("|")]
            rows.append([section, *cells, match["met"].replace("**met**", "met")])
    return rows


def summary(files: list[Path]) -> str:
    """The summary block: one row per target, from each results file."""
    lines = [
        SUMMARY_START,
        "## Summary: every target",
        "",
        f"Collected by `benchmarks/run_all.py` on {datetime.now(UTC):%Y-%m-%d %H:%M UTC} from the files below;"
        " each row links the figure to the section it came from, where its spread, baseline and machine load are.",
        "",
        "| file | section | figure | measured (median) | target | met? |",
        "|---|---|---|---|---|---|",
    ]
    for path in files:
        for section, *cells in target_rows(path):
            met = cells[-1]
            body = cells[:-1]
            if len(body) >= 3:  # figure | measured | ... | target
                figure, measured, target = body[0], body[1], body[-1]
            else:  # "figure: target" | measured
                figure, _, target = body[0].rpartition(": ")
                measured = body[1] if len(body) > 1 else ""
            lines.append(f"| [{path.name}]({path.name}) | {section} | {figure} | {measured} | {target} | {met} |")
    lines += ["", SUMMARY_END]
    return "\n".join(lines)


def write_summary(results: Path, block: str) -> None:
    """Put the summary block right after RESULTS.md's header (replacing the previous one)."""
    text = results.read_text() if results.exists() else "# Benchmark results\n"
    if SUMMARY_START in text and SUMMARY_END in text:
        head, rest = text.split(SUMMARY_START, 1)
        text = head + block + rest.split(SUMMARY_END, 1)[1]
    else:
        first_section = text.find("\n## ")
        cut = len(text) if first_section < 0 else first_section + 1
        text = text[:cut] + block + "\n\n" + text[cut:]
    results.write_text(text)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="every script at a tiny size (a dry run)")
    parser.add_argument("--only", help="comma-separated parts (default all): " + ", ".join(p.name for p in parts("")))
    parser.add_argument("--database-url", default=DEFAULT_PG, help=f"PostgreSQL server (default {DEFAULT_PG})")
    parser.add_argument("--out-dir", type=Path, help="write results files here instead of benchmarks/")
    parser.add_argument("--summary-only", action="store_true", help="run nothing; rewrite the summary from the files")
    args = parser.parse_args(argv)
    chosen = parts(args.database_url)
    if args.only:
        names = set(args.only.split(","))
        if unknown := names - {p.name for p in chosen}:
            parser.error(f"unknown parts: {', '.join(sorted(unknown))}")
        chosen = [p for p in chosen if p.name in names]
    if args.out_dir:
        args.out_dir.mkdir(parents=True, exist_ok=True)
    failed = [] if args.summary_only else [p.name for p in chosen if not run(p, args.quick, args.out_dir)]
    base = args.out_dir or BENCH
    files = list(dict.fromkeys(base / p.results.name for p in parts(args.database_url)))
    write_summary(base / "RESULTS.md", summary(files))
    say(f"summary of every target written to {base / 'RESULTS.md'}")
    if failed:
        say(f"!!! parts that failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
