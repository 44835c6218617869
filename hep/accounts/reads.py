"""What staff read about the clinic's people: patient lists (each read audited and committed here) and names."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from hep.accounts.models import PHYSIOTHERAPIST, Patient, User
from hep.accounts.service import patients_query, staff_query
from hep.audit import service as audit
from hep.extensions import db
from hep.pagination import paginate


def patient_page(
    actor: User,
    *,
    physiotherapist_id: int | None,
    q: str | None,
    cursor: str | None,
    limit: int | None,
    now: datetime,
) -> dict:
    """One page of the clinic's patients, by name."""
    items, next_cursor = paginate(
        patients_query(actor, physiotherapist_id=physiotherapist_id, q=q),
        [User.name, User.id],
        cursor=cursor,
        limit=limit,
        cursor_values=lambda p: (p.user.name, p.user_id),
    )
    audit.record(actor, audit.READ, "patient_list", now=now)
    db.session.commit()
    return {"items": items, "next_cursor": next_cursor}


def search_patients(actor: User, q: str, *, limit: int, now: datetime) -> list[Patient]:
    """The first `limit` patients whose name, e-mail or phone contains `q`, by name."""
    found = list(db.session.scalars(patients_query(actor, q=q).order_by(User.name, User.id).limit(limit)))
    audit.record(actor, audit.READ, "patient_list", now=now)
    db.session.commit()
    return found


def physiotherapists(actor: User) -> list[User]:
    """The clinic's active physiotherapists, by name (for choosers)."""
    query = staff_query(actor).where(User.role == PHYSIOTHERAPIST, User.is_active.is_(True))
    return list(db.session.scalars(query.order_by(User.name, User.id)))


def patient_names(actor: User, ids: set[int]) -> dict[int, str]:
    """Names of patients of the caller's clinic, for lists whose rows the services already authorised."""
    if not ids:
        return {}
    rows = db.session.execute(select(User.id, User.name).where(User.id.in_(ids), User.clinic_id == actor.clinic_id))
    return dict(rows.all())
