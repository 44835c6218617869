"""Every unique constraint a client can race has one documented answer (hep/unique.py)."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from hep import unique
from hep.extensions import db
from hep.programs.models import ProgramTemplate
from tests.factories import NOW


def test_every_unique_constraint_has_an_answer(app):
    answered = set(unique.CONFLICTS) | set(unique.HANDLED)
    assert unique.unique_keys() - answered == set(), "add these to hep/unique.py: CONFLICTS or HANDLED"
    assert answered - unique.unique_keys() == set(), "hep/unique.py names constraints that no longer exist"


def _template(clinic_id: int) -> ProgramTemplate:
    return ProgramTemplate(
        key="twice",
        clinic_id=clinic_id,
        name="T",
        condition="neck-pain",
        summary="s",
        duration_weeks=1,
        phases=[],
        content_hash="",
        created_at=NOW,
    )


def test_a_duplicate_that_got_past_the_check_is_the_same_409_on_either_database(make):
    clinic = make.clinic()
    db.session.add(_template(clinic.id))
    db.session.commit()
    db.session.add(_template(clinic.id))
    with pytest.raises(IntegrityError) as caught:
        db.session.commit()
    db.session.rollback()
    conflict = unique.conflict_for(caught.value)
    assert conflict is not None and conflict.status == 409
    assert conflict.invalid_params == [{"name": "key", "location": "json", "reason": "is already in use"}]


def test_an_unknown_integrity_error_is_not_dressed_up_as_a_conflict(make):
    from hep.accounts.models import User

    db.session.add(User(clinic_id=999_999, role="physiotherapist", name="x", email="x@example.test", created_at=NOW))
    with pytest.raises(IntegrityError) as caught:  # a foreign key, not a duplicate
        db.session.commit()
    db.session.rollback()
    assert unique.conflict_for(caught.value) is None
