"""What every benchmark script reports the same way: the command, the code measured, the machine's
CPU ticks, and writing its labelled section into a results file."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent


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
