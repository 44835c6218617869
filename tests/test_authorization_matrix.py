"""Every route in the OpenAPI document, called by every kind of caller, answers as the rules say.

A patient sees only themself; staff see only their own clinic; clinic admins manage staff;
another clinic's objects answer 404, never 403. Adding a route without a row here fails
test_every_documented_route_has_a_row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest

from hep.accounts import tokens
from hep.accounts.passwords import hash_password
from hep.dbtypes import utcnow
from hep.extensions import db
from tests import authz_world as w
from tests.factories import PASSWORD, exercise_data


@dataclass(frozen=True)
class Row:
    method: str
    path: str  # as in the OpenAPI document
    expect: dict[str, int]
    url: Callable[[w.World], str] | None = None
    body: Callable[[w.World], dict] | None = None


def each(status: int, actors=w.AUTHENTICATED) -> dict[str, int]:
    return dict.fromkeys(actors, status)


def staff_only(ok: int, cross: int | None = None, admin_only: bool = False) -> dict[str, int]:
    """Anonymous 401, patients 403; home staff `ok`; outsider staff `cross` (default: same as ok)."""
    cross = ok if cross is None else cross
    expect = {w.ANON: 401, **each(403, w.PATIENTS), w.PHYSIO: ok, w.ADMIN: ok, w.OUT_PHYSIO: cross, w.OUT_ADMIN: cross}
    if admin_only:
        expect.update({w.PHYSIO: 403, w.OUT_PHYSIO: 403})
    return expect


def _refresh_body(world: w.World) -> dict:
    pair = tokens.issue(world.physio, now=utcnow(), access_ttl=60, refresh_ttl=60)
    db.session.commit()
    return {"refresh_token": pair.refresh_token}


def _with_password(user) -> dict:
    user.password_hash = hash_password(PASSWORD)
    db.session.commit()
    return {"username": user.email, "password": PASSWORD}


def _new_exercise(world: w.World) -> dict:
    body = exercise_data()
    del body["slug"]
    return body


SELF_OR_STAFF = {
    w.ANON: 401,
    w.SELF: 200,
    w.PEER: 404,
    w.OUT_PATIENT: 404,
    w.PHYSIO: 200,
    w.ADMIN: 200,
    w.OUT_PHYSIO: 404,
    w.OUT_ADMIN: 404,
}


def patient_self(ok: int) -> dict[str, int]:
    """Only the patient themself; other patients see 404, staff 403 (they never log for a patient)."""
    return {w.ANON: 401, w.SELF: ok, w.PEER: 404, w.OUT_PATIENT: 404, **each(403, w.STAFF)}


def _p(world: w.World) -> str:
    return f"/api/v1/patients/{world.patient.id}"


def _r(world: w.World) -> str:
    return f"/api/v1/routines/{world.extra['routine'].id}"


def _s(world: w.World) -> str:
    return f"/api/v1/sessions/{world.extra['session'].id}"


def _log(world: w.World) -> str:
    return f"{_p(world)}/logs/{world.extra['log_id']}"


def _routine(world: w.World, sets: int = 3) -> dict:
    from datetime import date

    from tests.factories import item, routine_body

    return routine_body(date(2026, 12, 1), items=[item("library-exercise", sets=sets)])


def _template() -> dict:
    from tests.factories import item

    return {
        "key": "new-template",
        "name": "New template",
        "condition": "neck-pain",
        "summary": "Something new.",
        "duration_weeks": 2,
        "phases": [{"name": "All", "start_week": 1, "items": [item("library-exercise")]}],
    }


def _entry(world: w.World) -> dict:
    import uuid

    return {
        "id": str(uuid.uuid4()),
        "routine_item_id": world.extra["item_id"],
        "performed_at": (utcnow() - timedelta(minutes=5)).isoformat(),
        "sets_done": 3,
    }


def _push_subscription(world: w.World) -> dict:
    import base64
    import secrets

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    return {
        "endpoint": f"https://fcm.googleapis.com/fcm/send/{secrets.token_urlsafe(12)}",
        "keys": {"p256dh": b64(point), "auth": b64(secrets.token_bytes(16))},
    }


def _push_subscription_url(world: w.World) -> str:
    from hep.push import service

    subscription, _ = service.subscribe(
        world.patient,
        world.patient.id,
        _push_subscription(world),
        user_agent=None,
        allowed_hosts=("fcm.googleapis.com",),
        now=utcnow(),
    )
    return f"{_p(world)}/push/subscriptions/{subscription.id}"


MATRIX = [
    # auth
    Row(
        "POST",
        "/api/v1/auth/token",
        {w.ANON: 200},
        body=lambda world: _with_password(world.physio),
    ),
    Row("POST", "/api/v1/auth/refresh", {w.ANON: 200}, body=_refresh_body),
    Row(
        "POST",
        "/api/v1/auth/activate",
        {w.ANON: 422},
        body=lambda world: {"code": "AAAAA-AAAAA", "password": "long-enough-pw"},
    ),
    Row("POST", "/api/v1/auth/logout", {w.ANON: 401, **each(204)}),
    Row(
        "POST",
        "/api/v1/auth/password",
        {w.ANON: 401, **each(422)},
        body=lambda world: {"current_password": "not-the-password", "new_password": "long-enough-pw"},
    ),
    # me and clinic
    Row("GET", "/api/v1/me", {w.ANON: 401, **each(200)}),
    Row("GET", "/api/v1/clinic", {w.ANON: 401, **each(200)}),
    Row("PATCH", "/api/v1/clinic", staff_only(200, admin_only=True), body=lambda world: {"name": "Renamed"}),
    # staff
    Row("GET", "/api/v1/staff", staff_only(200)),
    Row(
        "POST",
        "/api/v1/staff",
        staff_only(201, admin_only=True),
        body=lambda world: {"name": "New", "email": "new-staff@example.test", "role": "physiotherapist"},
    ),
    Row(
        "GET",
        "/api/v1/staff/{staff_id}",
        staff_only(200, cross=404),
        url=lambda world: f"/api/v1/staff/{world.physio.id}",
    ),
    Row(
        "PATCH",
        "/api/v1/staff/{staff_id}",
        staff_only(200, cross=404, admin_only=True) | {w.OUT_PHYSIO: 403},
        url=lambda world: f"/api/v1/staff/{world.physio.id}",
        body=lambda world: {"name": "Renamed"},
    ),
    # patients
    Row("GET", "/api/v1/patients", staff_only(200)),
    Row(
        "POST",
        "/api/v1/patients",
        staff_only(201, cross=422),
        body=lambda world: {
            "name": "New",
            "email": "new-patient@example.test",
            "timezone": "UTC",
            "physiotherapist_id": world.physio.id,
        },
    ),
    Row(
        "GET",
        "/api/v1/patients/{patient_id}",
        {
            w.ANON: 401,
            w.SELF: 200,
            w.PEER: 404,
            w.OUT_PATIENT: 404,
            w.PHYSIO: 200,
            w.ADMIN: 200,
            w.OUT_PHYSIO: 404,
            w.OUT_ADMIN: 404,
        },
        url=lambda world: f"/api/v1/patients/{world.patient.id}",
    ),
    Row(
        "PATCH",
        "/api/v1/patients/{patient_id}",
        {
            w.ANON: 401,
            w.SELF: 200,
            w.PEER: 404,
            w.OUT_PATIENT: 404,
            w.PHYSIO: 200,
            w.ADMIN: 200,
            w.OUT_PHYSIO: 404,
            w.OUT_ADMIN: 404,
        },
        url=lambda world: f"/api/v1/patients/{world.patient.id}",
        body=lambda world: {"language": "fr"},
    ),
    Row(
        "POST",
        "/api/v1/patients/{patient_id}/activation",
        staff_only(201, cross=404),
        url=lambda world: f"/api/v1/patients/{world.patient.id}/activation",
    ),
    # library
    Row("GET", "/api/v1/exercises", {w.ANON: 401, **each(200)}),
    Row("POST", "/api/v1/exercises", staff_only(201), body=_new_exercise),
    Row(
        "GET",
        "/api/v1/exercises/{slug}",
        {
            w.ANON: 401,
            w.SELF: 200,
            w.PEER: 200,
            w.PHYSIO: 200,
            w.ADMIN: 200,
            w.OUT_PATIENT: 404,
            w.OUT_PHYSIO: 404,
            w.OUT_ADMIN: 404,
        },
        url=lambda world: "/api/v1/exercises/home-clinic-exercise",
    ),
    Row(
        "GET",
        "/api/v1/exercises/{slug}/figure.svg",
        {
            w.ANON: 401,
            w.SELF: 200,
            w.PEER: 200,
            w.PHYSIO: 200,
            w.ADMIN: 200,
            w.OUT_PATIENT: 404,
            w.OUT_PHYSIO: 404,
            w.OUT_ADMIN: 404,
        },
        url=lambda world: "/api/v1/exercises/home-clinic-exercise/figure.svg",
    ),
    Row(
        "PATCH",
        "/api/v1/exercises/{slug}",
        staff_only(200, cross=404),
        url=lambda world: "/api/v1/exercises/home-clinic-exercise",
        body=lambda world: {"name": "Renamed one"},
    ),
    # routines
    Row("GET", "/api/v1/patients/{patient_id}/routines", SELF_OR_STAFF, url=lambda world: f"{_p(world)}/routines"),
    Row(
        "POST",
        "/api/v1/patients/{patient_id}/routines",
        staff_only(201, cross=404),
        url=lambda world: f"{_p(world)}/routines",
        body=lambda world: _routine(world),
    ),
    Row("GET", "/api/v1/routines/{routine_id}", SELF_OR_STAFF, url=_r),
    Row(
        "PUT",
        "/api/v1/routines/{routine_id}",
        staff_only(201, cross=404),
        url=_r,
        body=lambda world: _routine(world, sets=5),
    ),
    Row("DELETE", "/api/v1/routines/{routine_id}", staff_only(204, cross=404), url=_r),
    Row("GET", "/api/v1/routines/{routine_id}/versions", SELF_OR_STAFF, url=lambda world: f"{_r(world)}/versions"),
    Row(
        "GET",
        "/api/v1/routines/{routine_id}/versions/{number}",
        SELF_OR_STAFF,
        url=lambda world: f"{_r(world)}/versions/1",
    ),
    # templates
    Row("GET", "/api/v1/templates", staff_only(200)),
    Row("POST", "/api/v1/templates", staff_only(201), body=lambda world: _template()),
    Row(
        "GET",
        "/api/v1/templates/{key}",
        staff_only(200, cross=404),
        url=lambda world: "/api/v1/templates/home-template",
    ),
    Row(
        "GET",
        "/api/v1/templates/{key}/draft",
        staff_only(200, cross=404),
        url=lambda world: "/api/v1/templates/home-template/draft?start_date=2026-12-01",
    ),
    # the patient's day and logs
    Row("GET", "/api/v1/patients/{patient_id}/today", SELF_OR_STAFF, url=lambda world: f"{_p(world)}/today"),
    Row("GET", "/api/v1/patients/{patient_id}/routine", SELF_OR_STAFF, url=lambda world: f"{_p(world)}/routine"),
    Row(
        "POST",
        "/api/v1/patients/{patient_id}/logs/batch",
        patient_self(200),
        url=lambda world: f"{_p(world)}/logs/batch",
        body=lambda world: {"entries": [_entry(world)]},
    ),
    Row(
        "POST",
        "/api/v1/patients/{patient_id}/logs",
        patient_self(201),
        url=lambda world: f"{_p(world)}/logs",
        body=_entry,
    ),
    Row("GET", "/api/v1/patients/{patient_id}/logs", SELF_OR_STAFF, url=lambda world: f"{_p(world)}/logs"),
    Row(
        "PATCH",
        "/api/v1/patients/{patient_id}/logs/{log_id}",
        patient_self(200),
        url=_log,
        body=lambda world: {"pain_after": 2},
    ),
    Row("DELETE", "/api/v1/patients/{patient_id}/logs/{log_id}", patient_self(204), url=_log),
    Row(
        "GET",
        "/api/v1/patients/{patient_id}/logs.csv",
        staff_only(200, cross=404),
        url=lambda world: f"{_p(world)}/logs.csv",
    ),
    Row("GET", "/api/v1/patients/{patient_id}/adherence", SELF_OR_STAFF, url=lambda world: f"{_p(world)}/adherence"),
    Row("GET", "/api/v1/risk", staff_only(200) | {w.ADMIN: 422, w.OUT_ADMIN: 422}),
    Row("GET", "/api/v1/clinic/adherence-report", staff_only(200)),  # each clinic's staff see their own clinic's
    # needling sessions
    Row(
        "POST",
        "/api/v1/patients/{patient_id}/sessions",
        staff_only(201, cross=404),
        url=lambda world: f"{_p(world)}/sessions",
        body=lambda world: {"starts_at": (utcnow() + timedelta(days=5)).isoformat()},
    ),
    Row("GET", "/api/v1/patients/{patient_id}/sessions", SELF_OR_STAFF, url=lambda world: f"{_p(world)}/sessions"),
    Row("GET", "/api/v1/sessions", staff_only(200)),
    Row("GET", "/api/v1/sessions/{session_id}", SELF_OR_STAFF, url=_s),
    Row(
        "PATCH",
        "/api/v1/sessions/{session_id}",
        staff_only(200, cross=404),
        url=_s,
        body=lambda world: {"status": "cancelled"},
    ),
    Row(
        "POST",
        "/api/v1/patients/{patient_id}/calendar-feed",
        {**SELF_OR_STAFF, w.SELF: 201, w.PHYSIO: 201, w.ADMIN: 201},
        url=lambda world: f"{_p(world)}/calendar-feed",
    ),
    # text reminders
    Row("GET", "/api/v1/patients/{patient_id}/sms", SELF_OR_STAFF, url=lambda world: f"{_p(world)}/sms"),
    Row(
        "POST",
        "/api/v1/patients/{patient_id}/sms/consent",
        {**SELF_OR_STAFF, w.SELF: 201, w.PHYSIO: 201, w.ADMIN: 201},
        url=lambda world: f"{_p(world)}/sms/consent",
        body=lambda world: {"method": "verbal"},
    ),
    Row(
        "DELETE",
        "/api/v1/patients/{patient_id}/sms/consent",
        {**SELF_OR_STAFF, w.SELF: 204, w.PHYSIO: 204, w.ADMIN: 204},
        url=lambda world: f"{_p(world)}/sms/consent",
    ),
    Row(
        "PUT",
        "/api/v1/patients/{patient_id}/sms/times",
        SELF_OR_STAFF,
        url=lambda world: f"{_p(world)}/sms/times",
        body=lambda world: {"exercise_times": ["07:30"]},
    ),
    Row("GET", "/api/v1/patients/{patient_id}/reminders", SELF_OR_STAFF, url=lambda world: f"{_p(world)}/reminders"),
    Row("GET", "/api/v1/reminders/summary", staff_only(200)),
    Row("GET", "/api/v1/clinic/reminder-settings", staff_only(200)),
    Row(
        "PATCH",
        "/api/v1/clinic/reminder-settings",
        staff_only(200, admin_only=True),
        body=lambda world: {"max_per_week": 4},
    ),
    Row("GET", "/api/v1/clinic/message-templates", staff_only(200)),
    Row(
        "PUT",
        "/api/v1/clinic/message-templates/{kind}/{language}",
        staff_only(200, admin_only=True),
        url=lambda world: "/api/v1/clinic/message-templates/exercise/en",
        body=lambda world: {"body": "{clinic}: a gentle nudge for today. Open the HEP app. Reply STOP to opt out."},
    ),
    # push notifications
    Row("GET", "/api/v1/patients/{patient_id}/push", SELF_OR_STAFF, url=lambda world: f"{_p(world)}/push"),
    Row(
        "POST",
        "/api/v1/patients/{patient_id}/push/subscriptions",
        patient_self(201),
        url=lambda world: f"{_p(world)}/push/subscriptions",
        body=_push_subscription,
    ),
    Row(
        "DELETE",
        "/api/v1/patients/{patient_id}/push/subscriptions/{subscription_id}",
        patient_self(204),
        url=_push_subscription_url,
    ),
    Row(
        "POST", "/api/v1/patients/{patient_id}/push/test", patient_self(200), url=lambda world: f"{_p(world)}/push/test"
    ),
    Row(
        "PUT",
        "/api/v1/patients/{patient_id}/reminder-channel",
        SELF_OR_STAFF,
        url=lambda world: f"{_p(world)}/reminder-channel",
        body=lambda world: {"channel": "sms"},
    ),
    # audit
    Row("GET", "/api/v1/audit-events", staff_only(200, admin_only=True)),
]


def _cases():
    for row in MATRIX:
        for actor, status in row.expect.items():
            yield pytest.param(row, actor, status, id=f"{row.method} {row.path} as {actor} -> {status}")


def test_every_documented_route_has_a_row(app):
    spec = app.test_client().get("/api/openapi.json").json
    documented = {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }
    covered = {(row.method, row.path) for row in MATRIX}
    assert documented - covered == set(), "add these routes to MATRIX"
    assert covered - documented == set(), "MATRIX names routes that no longer exist"


def test_every_answer_in_the_matrix_is_documented(app):
    spec = app.test_client().get("/api/openapi.json").json
    undocumented = [
        f"{row.method} {row.path} -> {status}"
        for row in MATRIX
        for status in set(row.expect.values())
        if str(status) not in spec["paths"][row.path][row.method.lower()]["responses"]
    ]
    assert undocumented == []


def test_every_row_covers_every_caller_unless_public():
    for row in MATRIX:
        public = set(row.expect) == {w.ANON}
        assert public or set(row.expect) == set(w.ACTORS), f"{row.method} {row.path} misses a caller"


@pytest.mark.parametrize(("row", "actor", "status"), list(_cases()))
def test_route_answers_caller_as_the_rules_say(client, make, row, actor, status):
    world = w.build(make)
    url = row.url(world) if row.url else row.path
    kwargs = {"json": row.body(world)} if row.body else {}
    response = client.open(url, method=row.method, headers=world.headers[actor], **kwargs)
    assert response.status_code == status, response.get_json()


def test_lists_show_only_the_callers_clinic(client, make):
    world = w.build(make)
    outsider = world.headers[w.OUT_PHYSIO]
    patients = client.get("/api/v1/patients", headers=outsider).json["items"]
    staff = client.get("/api/v1/staff", headers=outsider).json["items"]
    exercises = client.get("/api/v1/exercises", headers=outsider).json["items"]
    assert {p["id"] for p in patients} == {world.users[w.OUT_PATIENT].id}
    assert {s["id"] for s in staff} == {world.users[w.OUT_PHYSIO].id, world.users[w.OUT_ADMIN].id}
    assert [e["slug"] for e in exercises] == ["library-exercise"]
    client.get(f"/api/v1/patients/{world.patient.id}", headers=world.headers[w.PHYSIO])
    audit = client.get("/api/v1/audit-events", headers=world.headers[w.OUT_ADMIN]).json["items"]
    away_staff = {world.users[w.OUT_PHYSIO].id, world.users[w.OUT_ADMIN].id}
    assert audit and {e["actor_id"] for e in audit} <= away_staff
    assert world.patient.id not in {e["patient_id"] for e in audit}
