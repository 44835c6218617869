"""The SVG charts: text alternatives, escaping, gaps and session marks (no app needed)."""

from __future__ import annotations

from datetime import date, timedelta

from hep.web import charts

TODAY = date(2026, 11, 25)  # a Wednesday


def days(n: int = 14, **per_day) -> list[dict]:
    rows = []
    for back in range(n - 1, -1, -1):
        day = TODAY - timedelta(days=back)
        rows.append(
            {
                "date": day, "due": 2.0, "done": 2.0 if back % 3 else 1.0,
                "adherence": 1.0 if back % 3 else 0.5, "pain_before": 4.0 if back != 5 else None,
                "pain_after": 3.0 if back != 5 else None, "entries": 2,
            }
            | {k: v(back) for k, v in per_day.items()}
        )  # fmt: skip
    return rows


def test_heatmap_is_weeks_by_days_with_words_for_every_cell():
    chart = charts.heatmap(days(), TODAY)
    svg = str(chart.svg)
    # Three calendar weeks (Monday 9 Nov to today): 14 days in the period, 3 before it, none after today.
    assert svg.count("<rect") == 17 and svg.count('class="hm-out"') == 3
    assert '<title id="heatmap-title">Adherence per day, last 3 weeks</title>' in svg
    assert "all of them were done on 9" in chart.summary
    assert "Wed 25 Nov: 1 of 2 done (50%) (today, still under way)" in svg
    assert ">50%<" in svg and "hm-mid" in svg


def test_heatmap_says_when_nothing_was_due():
    rows = days(7, adherence=lambda b: None, due=lambda b: 0.0, done=lambda b: 0.0)
    chart = charts.heatmap(rows, TODAY)
    assert chart.summary == "No exercises were due in this period."
    assert "nothing due" in str(chart.svg)


def test_pain_chart_breaks_lines_at_gaps_and_marks_sessions():
    chart = charts.pain_chart(days(), [TODAY - timedelta(days=3), date(2020, 1, 1)])
    svg = str(chart.svg)
    assert svg.count('class="line-before"') == 2 + 1  # two segments around the gap, one in the legend
    assert svg.count('<g class="session">') == 1  # sessions outside the period are left out
    assert "Needling sessions on 22 Nov." in chart.summary
    assert '<desc id="pain-desc">' in svg


def test_pain_chart_without_scores_says_so():
    chart = charts.pain_chart(days(7, pain_before=lambda b: None, pain_after=lambda b: None), [])
    assert chart.summary == "No pain scores were logged or texted in this period."


def test_pain_chart_marks_scores_texted_in_with_their_own_line_and_shape():
    rows = days(7, pain_texted=lambda b: 6.0 if b in (1, 4) else None)
    chart = charts.pain_chart(rows, [])
    svg = str(chart.svg)
    assert svg.count('<polygon class="dot-texted"') == 2 + 1  # two days, one in the legend
    assert "<title>24 Nov: pain texted in 6</title>" in svg and "Texted in (SMS)" in svg
    assert "Texted in: 6.0 over the first scored week, 6.0 over the last 7 days." in chart.summary


def test_pain_chart_with_only_texted_scores_is_not_empty():
    rows = days(7, pain_before=lambda b: None, pain_after=lambda b: None, pain_texted=lambda b: 3.0 if b == 2 else None)
    chart = charts.pain_chart(rows, [])
    assert chart.summary.startswith("Mean daily pain on a 0-10 scale, scored on 1 days")
    assert "Before exercise: no scores" in chart.summary
