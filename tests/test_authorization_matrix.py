"""Every route in the OpenAPI document, called by every kind of caller, answers as the rules say.

A patient sees only themself; staff see only their own clinic; clinic admins manage staff;
another clinic's objects answer 404, never 403. Adding a route without a row here fails
test_every_documented_route_has_a_row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from hep.accounts import tokens
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


def _new_exercise(world: w.World) -> dict:
    body = exercise_data()
    del body["slug"]
    return body


MATRIX = [
    # auth
    Row(
        "POST",
        "/api/v1/auth/token",
        {w.ANON: 200},
        body=lambda world: {"username": world.physio.email, "password": PASSWORD},
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
        "PATCH",
        "/api/v1/exercises/{slug}",
        staff_only(200, cross=404),
        url=lambda world: "/api/v1/exercises/home-clinic-exercise",
        body=lambda world: {"name": "Renamed one"},
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
