"""A contact sheet of every figure, grouped by condition, so a physiotherapist can review the
library at a glance: an HTML page (each exercise's keyframes beside its steps) and PNG images of
it, a page of cards at a time, taken with the system's Chromium through Playwright."""

from __future__ import annotations

from html import escape
from pathlib import Path

from hep.figures import draw

CARDS_PER_PNG = 12
CSS = (
    "body{font:13px/1.35 system-ui,sans-serif;margin:16px;color:#1d2b36;width:1360px}"
    "h2{margin:20px 0 8px;border-bottom:2px solid #ccd3da}"
    ".grid{display:grid;grid-template-columns:repeat(3,1fr);gap:10px}"
    ".card{border:1px solid #ccd3da;border-radius:6px;padding:8px;break-inside:avoid}"
    ".card img{display:block;height:150px;max-width:100%;margin:0 auto 6px}"
    ".card h3{font-size:14px;margin:0 0 2px}.slug{color:#6b7a86;font-size:11px}"
    "ol{margin:4px 0 0;padding-left:18px;font-size:11.5px}"
)


def _card(slug: str, exercise: dict) -> str:
    steps = "".join(f"<li>{escape(s)}</li>" for s in exercise["steps"])
    return (
        f'<div class="card" id="{slug}"><img src="svg/{slug}.svg" alt="">'
        f'<h3>{escape(exercise["name"])}</h3><div class="slug">{slug} · {escape(exercise["position"])}</div>'
        f"<ol>{steps}</ol></div>"
    )


def write(exercises: dict[str, dict], figures: dict[str, dict], out: Path) -> tuple[Path, list[tuple[str, int]]]:
    """Write out/index.html and out/svg/*.svg; return the page and its (condition, cards) sections."""
    (out / "svg").mkdir(parents=True, exist_ok=True)
    for slug, raw in figures.items():
        exercise = exercises[slug]
        svg = draw.draw(raw, title=exercise["name"], desc=exercise["summary"], static=True)
        (out / "svg" / f"{slug}.svg").write_text(svg, encoding="utf-8")
    conditions: dict[str, list[str]] = {}
    for slug in sorted(figures, key=lambda s: exercises[s]["name"]):
        conditions.setdefault(exercises[slug]["conditions"][0], []).append(slug)
    sections, parts = [], []
    for condition in sorted(conditions):
        slugs = conditions[condition]
        for page, start in enumerate(range(0, len(slugs), CARDS_PER_PNG), 1):
            cards = "".join(_card(s, exercises[s]) for s in slugs[start : start + CARDS_PER_PNG])
            parts.append(
                f'<section id="{condition}-{page}"><h2>{escape(condition)} ({page})</h2>'
                f'<div class="grid">{cards}</div></section>'
            )
            sections.append((f"{condition}-{page}", len(slugs[start : start + CARDS_PER_PNG])))
    missing = sorted(set(exercises) - set(figures))
    if missing:
        parts.append(f"<h2>No figure yet ({len(missing)})</h2><p>{escape(', '.join(missing))}</p>")
    page = out / "index.html"
    page.write_text(
        f'<!doctype html><html lang="en"><meta charset="utf-8"><title>HEP figures</title>'
        f"<style>{CSS}</style><h1>HEP exercise figures: {len(figures)} of {len(exercises)}</h1>{''.join(parts)}",
        encoding="utf-8",
    )
    return page, sections


def screenshots(page: Path, sections: list[tuple[str, int]], out: Path, chromium: str) -> list[Path]:
    """A PNG of each section of the sheet (needs Playwright and Chromium, the end-to-end tests' tools)."""
    from playwright.sync_api import sync_playwright

    (out / "png").mkdir(parents=True, exist_ok=True)
    written = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium)
        tab = browser.new_page(viewport={"width": 1400, "height": 900})
        tab.goto(page.resolve().as_uri())
        for name, _ in sections:
            path = out / "png" / f"{name}.png"
            tab.locator(f"#{name}").screenshot(path=str(path))
            written.append(path)
        browser.close()
    return written
