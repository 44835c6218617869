"""Charts as server-side SVG: no JavaScript, no dependency, sharp in print.

Each chart has a <title> and a <desc> that says in words what it shows, and the page puts the same
numbers in a table next to it. Nothing depends on colour alone: heat-map cells carry their
percentage, and the three pain lines (before and after exercise, and scores texted in) differ in dash
pattern and marker shape as well as colour.
Colours come from CSS classes (app.css), so the page's Content-Security-Policy needs no inline style.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from markupsafe import Markup, escape

WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class Chart:
    svg: Markup
    title: str
    summary: str


def _fmt(day: date) -> str:
    return f"{day.day} {day:%b}"


def _bucket(adherence: float | None) -> str:
    if adherence is None:
        return "hm-none"
    if adherence >= 0.999:
        return "hm-full"
    if adherence >= 0.5:
        return "hm-mid"
    if adherence > 0:
        return "hm-low"
    return "hm-zero"


def _cell_text(row: dict | None) -> str:
    if row is None:
        return ""
    return "-" if row["adherence"] is None else f"{round(row['adherence'] * 100)}%"


def _cell_title(row: dict | None, day: date) -> str:
    name = f"{WEEKDAY_NAMES[day.weekday()]} {_fmt(day)}"
    if row is None:
        return f"{name}: not in this period"
    if row["adherence"] is None:
        return f"{name}: nothing due"
    return f"{name}: {row['done']:g} of {row['due']:g} done ({round(row['adherence'] * 100)}%)"


def heatmap(days: list[dict], today: date) -> Chart:
    """Adherence per day as a calendar: one row per week (Monday first), one column per weekday."""
    by_day = {row["date"]: row for row in days}
    first = days[0]["date"] - timedelta(days=days[0]["date"].weekday())
    weeks = (today - first).days // 7 + 1
    cell_w, cell_h, gap, left, top = 46, 30, 4, 84, 22
    width = left + 7 * (cell_w + gap)
    height = top + weeks * (cell_h + gap) + 4
    due_days = [r for r in days if r["adherence"] is not None]
    full = sum(1 for r in due_days if r["adherence"] >= 0.999)
    mean = sum(r["adherence"] for r in due_days) / len(due_days) if due_days else None
    title = f"Adherence per day, last {weeks} weeks"
    summary = (
        f"Exercises were due on {len(due_days)} days; all of them were done on {full}. "
        f"Mean daily adherence {round(mean * 100)}%."
        if due_days
        else "No exercises were due in this period."
    )
    parts = [
        f'<svg class="chart heatmap" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-labelledby="heatmap-title heatmap-desc" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="heatmap-title">{escape(title)}</title>',
        f'<desc id="heatmap-desc">{escape(summary)}</desc>',
    ]
    for col, name in enumerate(WEEKDAY_NAMES):
        x = left + col * (cell_w + gap) + cell_w / 2
        parts.append(f'<text class="axis" x="{x:g}" y="14" text-anchor="middle">{name}</text>')
    for week in range(weeks):
        monday = first + timedelta(days=7 * week)
        y = top + week * (cell_h + gap)
        parts.append(
            f'<text class="axis" x="{left - 8}" y="{y + cell_h / 2 + 4:g}" text-anchor="end">'
            f"{escape(_fmt(monday))}</text>"
        )
        for col in range(7):
            day = monday + timedelta(days=col)
            if day > today:
                continue
            row = by_day.get(day)
            x = left + col * (cell_w + gap)
            css = _bucket(row["adherence"]) if row else "hm-out"
            tip = _cell_title(row, day) + (" (today, still under way)" if day == today else "")
            parts.append(
                f'<g class="cell{" today" if day == today else ""}"><title>{escape(tip)}</title>'
                f'<rect class="{css}" x="{x}" y="{y}" width="{cell_w}" height="{cell_h}" rx="3"/>'
                f'<text class="cell-text {css}-text" x="{x + cell_w / 2:g}" y="{y + cell_h / 2 + 4:g}" '
                f'text-anchor="middle">{escape(_cell_text(row))}</text></g>'
            )
    parts.append("</svg>")
    return Chart(Markup("".join(parts)), title, summary)


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


SERIES = (  # key, CSS class, marker, what a point is
    ("pain_before", "before", "circle", "pain before exercise"),
    ("pain_after", "after", "square", "pain after exercise"),
    ("pain_texted", "texted", "triangle", "pain texted in"),
)


def _pain_summary(days: list[dict], sessions: list[date]) -> str:
    scored = [r for r in days if any(r.get(key) is not None for key, *_ in SERIES)]
    if not scored:
        return "No pain scores were logged or texted in this period."
    first, last = scored[:7], days[-7:]
    words = [f"Mean daily pain on a 0-10 scale, scored on {len(scored)} days from {_fmt(scored[0]['date'])}."]
    for key, name in (
        ("pain_before", "Before exercise"),
        ("pain_after", "After exercise"),
        ("pain_texted", "Texted in"),
    ):
        start = _mean([r[key] for r in first if r.get(key) is not None])
        end = _mean([r[key] for r in last if r.get(key) is not None])
        words.append(
            f"{name}: {start if start is not None else 'no scores'} over the first scored week, "
            f"{end if end is not None else 'no scores'} over the last 7 days."
        )
    if sessions:
        words.append("Needling sessions on " + ", ".join(_fmt(d) for d in sessions) + ".")
    else:
        words.append("No needling sessions in this period.")
    return " ".join(words)


def _marker(shape: str, css: str, x: float, y: float) -> str:
    if shape == "circle":
        return f'<circle class="dot-{css}" cx="{x:.1f}" cy="{y:.1f}" r="3.5"/>'
    if shape == "square":
        return f'<rect class="dot-{css}" x="{x - 3.5:.1f}" y="{y - 3.5:.1f}" width="7" height="7"/>'
    corners = f"{x:.1f},{y - 4.5:.1f} {x + 4.5:.1f},{y + 3.5:.1f} {x - 4.5:.1f},{y + 3.5:.1f}"
    return f'<polygon class="dot-{css}" points="{corners}"/>'


def pain_chart(days: list[dict], sessions: list[date]) -> Chart:
    """Mean pain before and after exercise per day, and the scores texted in (SMS replies), with needling
    sessions as dashed vertical lines."""
    width, height = 720, 270
    left, right, top, bottom = 40, 14, 26, 58
    plot_w, plot_h = width - left - right, height - top - bottom
    span = max(len(days) - 1, 1)
    start = days[0]["date"]
    in_range = sorted({d for d in sessions if start <= d <= days[-1]["date"]})
    title = "Pain before and after exercise"
    summary = _pain_summary(days, in_range)

    def x_of(day: date) -> float:
        return left + plot_w * (day - start).days / span

    def y_of(score: float) -> float:
        return top + plot_h * (1 - score / 10)

    parts = [
        f'<svg class="chart pain" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="pain-title pain-desc" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="pain-title">{escape(title)}</title>',
        f'<desc id="pain-desc">{escape(summary)}</desc>',
    ]
    for score in range(0, 11, 2):
        y = y_of(score)
        parts.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="axis" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{score}</text>')
    for row in days:
        if row["date"].weekday() == 0:
            x = x_of(row["date"])
            parts.append(
                f'<text class="axis" x="{x:.1f}" y="{top + plot_h + 16}" text-anchor="middle">'
                f"{escape(_fmt(row['date']))}</text>"
            )
    for day in in_range:
        x = x_of(day)
        parts.append(
            f'<g class="session"><title>Needling session, {escape(_fmt(day))}</title>'
            f'<line class="session-line" x1="{x:.1f}" x2="{x:.1f}" y1="{top - 6}" y2="{top + plot_h}"/>'
            f'<text class="session-label" x="{x:.1f}" y="{top - 10}" text-anchor="middle">N</text></g>'
        )
    for key, css, marker, what in SERIES:
        segment: list[str] = []
        segments: list[list[str]] = []
        points = []
        for row in days:
            if row.get(key) is None:
                if segment:
                    segments.append(segment)
                segment = []
                continue
            x, y = x_of(row["date"]), y_of(row[key])
            segment.append(f"{x:.1f},{y:.1f}")
            points.append((x, y, row))
        if segment:
            segments.append(segment)
        for seg in segments:
            parts.append(f'<polyline class="line-{css}" points="{" ".join(seg)}"/>')
        for x, y, row in points:
            tip = f"{_fmt(row['date'])}: {what} {row[key]:g}"
            parts.append(f"<g><title>{escape(tip)}</title>{_marker(marker, css, x, y)}</g>")
    legend_y = height - 14
    parts.append(
        f'<g class="legend">'
        f'<line class="line-before" x1="{left}" x2="{left + 26}" y1="{legend_y}" y2="{legend_y}"/>'
        f'<circle class="dot-before" cx="{left + 13}" cy="{legend_y}" r="3.5"/>'
        f'<text class="axis" x="{left + 32}" y="{legend_y + 4}">Before exercise</text>'
        f'<line class="line-after" x1="{left + 150}" x2="{left + 176}" y1="{legend_y}" y2="{legend_y}"/>'
        f'<rect class="dot-after" x="{left + 159.5}" y="{legend_y - 3.5}" width="7" height="7"/>'
        f'<text class="axis" x="{left + 182}" y="{legend_y + 4}">After exercise</text>'
        f'<line class="line-texted" x1="{left + 290}" x2="{left + 316}" y1="{legend_y}" y2="{legend_y}"/>'
        f"{_marker('triangle', 'texted', left + 303, legend_y)}"
        f'<text class="axis" x="{left + 322}" y="{legend_y + 4}">Texted in (SMS)</text>'
        f'<line class="session-line" x1="{left + 450}" x2="{left + 450}" y1="{legend_y - 8}" y2="{legend_y + 8}"/>'
        f'<text class="axis" x="{left + 458}" y="{legend_y + 4}">N = needling session</text>'
        f"</g>"
    )
    parts.append("</svg>")
    return Chart(Markup("".join(parts)), title, summary)
