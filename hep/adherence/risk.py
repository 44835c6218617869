"""The physiotherapist's at-risk list: who is falling behind or getting worse, and why."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from hep.accounts.models import PHYSIOTHERAPIST, Clinic, Patient, User
from hep.adherence.metrics import days_between, last_activity
from hep.adherence.summaries import DaySum, asks, closed_days, tally_days
from hep.errors import Forbidden, Invalid
from hep.extensions import db
from hep.programs.models import Routine, RoutineVersion
from hep.programs.service import local_today

INACTIVE, ADHERENCE_DROP, PAIN_RISING, PAIN_AFTER_HIGH = "inactive", "adherence_drop", "pain_rising", "pain_after_high"
REASONS = (INACTIVE, ADHERENCE_DROP, PAIN_RISING, PAIN_AFTER_HIGH)


def _physio_id(actor: User, physiotherapist_id: int | None) -> int:
    if not actor.is_staff:
        raise Forbidden("Only staff see the risk list.")
    if physiotherapist_id is None:
        if actor.role != PHYSIOTHERAPIST:
            raise Invalid("physiotherapist_id", "is required for clinic admins", location="query")
        return actor.id
    physio = db.session.get(User, physiotherapist_id)
    if physio is None or physio.clinic_id != actor.clinic_id or physio.role != PHYSIOTHERAPIST:
        raise Invalid("physiotherapist_id", "is not a physiotherapist of your clinic", location="query")
    return physio.id


def risk_list(actor: User, physiotherapist_id: int | None, *, now: datetime) -> list[dict]:
    """Every active patient of a physiotherapist, the most at risk first, with the reasons."""
    physio_id = _physio_id(actor, physiotherapist_id)
    clinic = db.session.get(Clinic, actor.clinic_id)
    patients = db.session.execute(
        select(Patient.user_id, Patient.timezone, User.name)
        .join(User, User.id == Patient.user_id)
        .where(Patient.physiotherapist_id == physio_id, User.is_active.is_(True))
    ).all()
    if not patients:
        return []
    ids = [p.user_id for p in patients]
    todays = {p.user_id: local_today(p, now) for p in patients}
    # Whole days only: today is still under way and would read as a drop every morning.
    spans = {pid: days_between(today - timedelta(days=14), today - timedelta(days=1)) for pid, today in todays.items()}
    kept = closed_days(spans)
    starts = _first_starts(ids)
    last = last_activity(ids)
    rows = [
        _row(
            p, spans[p.user_id], starts.get(p.user_id), todays[p.user_id], kept[p.user_id], last.get(p.user_id), clinic
        )
        for p in patients
    ]
    rows.sort(
        key=lambda r: (-len(r["reasons"]), r["adherence_7d"] if r["adherence_7d"] is not None else 2.0, r["name"])
    )
    return rows


def _first_starts(ids: list[int]) -> dict[int, date]:
    """When each patient's earliest live routine started (its first version's start date)."""
    return dict(
        db.session.execute(
            select(Routine.patient_id, func.min(RoutineVersion.start_date))
            .join(RoutineVersion, RoutineVersion.routine_id == Routine.id)
            .where(Routine.patient_id.in_(ids), Routine.archived_at.is_(None), RoutineVersion.number == 1)
            .group_by(Routine.patient_id)
        ).all()
    )


def _row(patient, span: list[date], first_start, today, days: dict[date, DaySum], last, clinic: Clinic) -> dict:
    before, recent = span[:7], span[7:]
    _both, (prev_t, now_t) = tally_days([before, recent], days)
    active = any(asks(days[day]) for day in recent if day in days)
    first_day = first_start or today
    since = last or max(first_day - timedelta(days=1), today - timedelta(days=365))
    days_inactive = (today - since).days if active else None
    reasons = []
    if days_inactive is not None and days_inactive >= clinic.risk_inactive_days:
        reasons.append({"code": INACTIVE, "detail": f"no exercise logged for {days_inactive} days"})
    if now_t.adherence is not None and prev_t.adherence is not None:
        drop = round((prev_t.adherence - now_t.adherence) * 100)
        if drop >= clinic.risk_adherence_drop:
            reasons.append(
                {
                    "code": ADHERENCE_DROP,
                    "detail": f"adherence fell {drop} points to {round(now_t.adherence * 100)}% over the last 7 days",
                }
            )
    pb_now, pb_prev = now_t.mean_pain_before, prev_t.mean_pain_before
    pt_now, pt_prev = now_t.mean_pain_texted, prev_t.mean_pain_texted
    rises = []
    if pb_now is not None and pb_prev is not None and pb_now - pb_prev >= clinic.risk_pain_rise:
        rises.append(f"pain rose from {pb_prev} to {pb_now} (mean, 0-10)")
    if pt_now is not None and pt_prev is not None and pt_now - pt_prev >= clinic.risk_pain_rise:
        rises.append(f"texted pain rose from {pt_prev} to {pt_now} (mean, 0-10)")
    if rises:
        reasons.append({"code": PAIN_RISING, "detail": "; ".join(rises)})
    pa_now = now_t.mean_pain_after
    if pa_now is not None and pa_now >= clinic.risk_pain_after:
        reasons.append({"code": PAIN_AFTER_HIGH, "detail": f"pain after exercise averages {pa_now}/10"})
    return {
        "patient_id": patient.user_id,
        "name": patient.name,
        "reasons": reasons,
        "adherence_7d": now_t.adherence,
        "adherence_prev_7d": prev_t.adherence,
        "pain_before_7d": pb_now,
        "pain_before_prev_7d": pb_prev,
        "pain_after_7d": pa_now,
        "pain_texted_7d": pt_now,
        "pain_texted_prev_7d": pt_prev,
        "last_activity": last,
        "days_inactive": days_inactive,
    }
