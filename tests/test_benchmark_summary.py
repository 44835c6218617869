"""The benchmark summary collects every row with a target from the results files, whatever their table shape."""

from __future__ import annotations

from benchmarks.run_all import summary, write_summary

HOT_PATHS = """# Benchmark results

## PostgreSQL

| figure | median (min-max) | target | met? |
|---|---|---|---|
| today's plan ÷ baseline (requests/s) | 0.31 (0.30-0.32) | >= 0.25 | met |
| library search ÷ baseline (requests/s) | 0.2 (0.19-0.21) | >= 0.25 | **not met** |
| batch sync (entries/s) | 1310 | (target is for PostgreSQL) | - |
"""

REMINDERS = """# Reminders

## Summary

| target | measured | met? |
|---|---|---|
| planning: wall time, 100,000 patients: <= 20 s | 41 s | **not met** |

## 1. Planning

| planning: wall time, 100,000 patients: <= 20 s | 41 s | **not met** |
| planning: peak RSS: <= 200 MB | 128 MB | **met** |
"""


def test_summary_lists_each_target_row_with_its_file_section_and_verdict(tmp_path):
    (tmp_path / "RESULTS.md").write_text(HOT_PATHS)
    (tmp_path / "RESULTS-reminders.md").write_text(REMINDERS)
    block = summary([tmp_path / "RESULTS.md", tmp_path / "RESULTS-reminders.md"])
    rows = [line for line in block.splitlines() if line.startswith("| [")]
    assert rows == [
        "| [RESULTS.md](RESULTS.md) | PostgreSQL | today's plan ÷ baseline (requests/s) | 0.31 (0.30-0.32) | >= 0.25"
        " | met |",
        "| [RESULTS.md](RESULTS.md) | PostgreSQL | library search ÷ baseline (requests/s) | 0.2 (0.19-0.21) | >= 0.25"
        " | **not met** |",
        "| [RESULTS-reminders.md](RESULTS-reminders.md) | 1. Planning | planning: wall time, 100,000 patients | 41 s"
        " | <= 20 s | **not met** |",
        "| [RESULTS-reminders.md](RESULTS-reminders.md) | 1. Planning | planning: peak RSS | 128 MB | <= 200 MB"
        " | met |",
    ]


def test_writing_the_summary_twice_replaces_it_and_keeps_the_sections(tmp_path):
    results = tmp_path / "RESULTS.md"
    results.write_text(HOT_PATHS)
    write_summary(results, summary([results]))
    once = results.read_text()
    write_summary(results, summary([results]))
    assert results.read_text().count("## Summary: every target") == 1
    assert once.count("## PostgreSQL") == 1 and results.read_text().index("## Summary") < results.read_text().index(
        "## PostgreSQL"
    )
