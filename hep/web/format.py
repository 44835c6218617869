"""Jinja filters and globals: dosage in words, dates and times in a time zone, static asset URLs."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import Flask, url_for

from hep.programs import schedule
from hep.programs.schedule import WEEKDAYS

STATIC = Path(__file__).parent / "static"
DAY_NAMES = dict(zip(WEEKDAYS, ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), strict=True))


def dosage(item) -> str:
    """'3 sets x 10 reps, hold 5 s, rest 30 s; both sides; red band; twice a day, every day', with
    'heavy enough that you could do only 12 repetitions' for a repetition maximum. A once-a-day task
    (1 set x 1 rep and nothing else: a splint, a diary) shows only how often, and the side if one."""
    get = item.get if isinstance(item, dict) else lambda k, d=None: getattr(item, k, d)
    parts = []
    task = (
        str(get("sets")) == "1"
        and str(get("reps")) == "1"
        and not any(get(k) for k in ("hold_seconds", "load", "rep_max"))
    )
    if not task:
        amount = f"{get('sets')} {'set' if str(get('sets')) == '1' else 'sets'}"
        if get("reps"):
            amount += f" x {get('reps')} {'rep' if str(get('reps')) == '1' else 'reps'}"
        if get("hold_seconds"):
            amount += f", hold {seconds(get('hold_seconds'))}"
        parts.append(amount)
        if get("rest_seconds"):
            parts.append(f"rest {seconds(get('rest_seconds'))}")
    side = get("side") or "both"
    if not (task and side == "both"):
        parts.append({"both": "both sides", "left": "left side", "right": "right side"}.get(side, side))
    if get("rep_max"):
        parts.append(f"heavy enough that you could do only {get('rep_max')} repetitions")
    if get("load"):
        parts.append(str(get("load")))
    parts.append(how_often(get("times_per_day"), get("days_per_week"), get("weekdays")))
    return "; ".join(parts)


def seconds(value) -> str:
    """'45 s', or '5 min' for whole minutes."""
    value = int(value)
    return f"{value // 60} min" if value >= 60 and value % 60 == 0 else f"{value} s"


def how_often(times_per_day, days_per_week, weekdays) -> str:
    times = {1: "once a day", 2: "twice a day"}.get(times_per_day or 1, f"{times_per_day} times a day")
    if weekdays:
        days = ", ".join(DAY_NAMES[d] for d in weekdays)
    elif (days_per_week or 7) >= 7:
        days = "every day"
    else:
        days = f"{days_per_week} days a week"
    return f"{times}, {days}"


def local(moment: datetime | None, timezone: str, fmt: str = "%a %d %b %Y, %H:%M") -> str:
    """A UTC datetime shown in `timezone`."""
    if moment is None:
        return ""
    return moment.astimezone(ZoneInfo(timezone)).strftime(fmt)


def day(value: date | None, fmt: str = "%a %d %b %Y") -> str:
    return value.strftime(fmt) if value else ""


def log_time(log) -> str:
    """When a log entry was done, by the patient's own clock (the offset their phone sent)."""
    from datetime import timedelta, timezone

    offset = timezone(timedelta(minutes=log.utc_offset_minutes))
    return log.performed_at.astimezone(offset).strftime("%a %d %b, %H:%M")


def label(value: str | None) -> str:
    """'lower-back' -> 'Lower back'."""
    if not value:
        return ""
    text = value.replace("-", " ").replace("_", " ")
    return text[:1].upper() + text[1:]


@cache
def _fingerprint(filename: str) -> str:
    return hashlib.sha256((STATIC / filename).read_bytes()).hexdigest()[:10]


def asset(filename: str) -> str:
    """URL of a static file with a content fingerprint, so browsers never run stale code."""
    return url_for("web.static", filename=filename, v=_fingerprint(filename))


def percent(value: float | None) -> str:
    return "-" if value is None else f"{round(value * 100)}%"


def register(app: Flask) -> None:
    from hep.web.auth import csrf_token, current_staff_or_none
    from hep.web.library import figure_urls

    app.jinja_env.filters.update(dosage=dosage, local=local, day=day, label=label, percent=percent, log_time=log_time)
    app.jinja_env.globals.update(
        csrf_token=csrf_token,
        asset=asset,
        web_user=current_staff_or_none,
        phase_on=schedule.phase_on,
        figure_urls=figure_urls,
    )
