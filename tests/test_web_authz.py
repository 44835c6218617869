"""Every web URL, as every kind of caller: the same object-level rules as the API.

For each URL that names an object: anonymous callers and patients are sent to the sign-in page,
staff of another clinic get 404 (ids reveal nothing), a form posted without its CSRF token is
refused with 400, and staff of the object's clinic get the page. Pages without an object id refuse
anonymous callers and patients. A new web route without a row fails test_every_web_route_has_a_row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from hep.extensions import db
from tests import authz_world as w
from tests.factories import exercise_data, web_sign_in


@dataclass(frozen=True)
class Row:
    method: str
    rule: str  # as in the URL map
    ok: int
    url: Callable[[w.World], str]
    form: Callable[[w.World], dict] | None = None


def _p(world):
    return f"/patients/{world.patient.id}"


def _r(world):
    return f"/routines/{world.extra['routine'].id}"


def _s(world):
    return f"/sessions/{world.extra['session'].id}"


def _tomorrow(world) -> dict:
    day = (datetime.now(UTC) + timedelta(days=2)).date()
    return {"date": day.isoformat(), "time": "10:00", "duration_minutes": "30"}


def _exercise_form(world) -> dict:
    data = exercise_data(name="Renamed home exercise")
    form = {k: "\n".join(v) if isinstance(v, list) else v for k, v in data.items() if k != "default_dosage"}
    form.update({k: str(v) for k, v in data["default_dosage"].items() if v is not None and k != "per_side"})
    form["body_regions"], form["conditions"] = data["body_regions"], data["conditions"]
    form["difficulty"] = str(data["difficulty"])
    return form


OBJECT_ROWS = [
    Row("GET", "/patients/<id:patient_id>", 200, _p),
    Row("POST", "/patients/<id:patient_id>/activation", 200, lambda world: f"{_p(world)}/activation"),
    Row("POST", "/patients/<id:patient_id>/consent", 302, lambda world: f"{_p(world)}/consent",
        lambda world: {"action": "grant", "method": "written"}),
    Row("POST", "/patients/<id:patient_id>/sessions", 302, lambda world: f"{_p(world)}/sessions", _tomorrow),
    Row("GET", "/patients/<id:patient_id>/routines/new", 200, lambda world: f"{_p(world)}/routines/new"),
    Row("POST", "/patients/<id:patient_id>/routines/new", 200, lambda world: f"{_p(world)}/routines/new",
        lambda world: {"action": "update", "title": "Draft"}),
    Row("GET", "/routines/<id:routine_id>/edit", 200, lambda world: f"{_r(world)}/edit"),
    Row("POST", "/routines/<id:routine_id>/edit", 200, lambda world: f"{_r(world)}/edit",
        lambda world: {"action": "update", "title": "Draft"}),
    Row("POST", "/routines/<id:routine_id>/archive", 302, lambda world: f"{_r(world)}/archive"),
    Row("GET", "/routines/<id:routine_id>/handout", 200, lambda world: f"{_r(world)}/handout"),
    Row("GET", "/routines/<id:routine_id>/handout.pdf", 200, lambda world: f"{_r(world)}/handout.pdf"),
    Row("GET", "/sessions/<id:session_id>", 200, _s),
    Row("POST", "/sessions/<id:session_id>", 302, _s, lambda world: {"action": "cancelled"}),
    Row("GET", "/library/<string:slug>", 200, lambda world: "/library/home-clinic-exercise"),
    Row("GET", "/library/<string:slug>/figure.svg", 200, lambda world: "/library/home-clinic-exercise/figure.svg"),
    Row("GET", "/library/<string:slug>/edit", 200, lambda world: "/library/home-clinic-exercise/edit"),
    Row("POST", "/library/<string:slug>/edit", 302, lambda world: "/library/home-clinic-exercise/edit",
        _exercise_form),
    Row("POST", "/library/<string:slug>/archive", 302, lambda world: "/library/home-clinic-exercise/archive",
        lambda world: {"action": "archive"}),
]  # fmt: skip

# Pages without an object id: staff of any clinic see their own clinic's; others are refused.
PAGE_ROWS = [
    Row("GET", "/", 302, lambda world: "/"),
    Row("GET", "/patients", 200, lambda world: "/patients"),
    Row("GET", "/patients/new", 200, lambda world: "/patients/new"),
    Row("POST", "/patients/new", 200, lambda world: "/patients/new",
        lambda world: {"name": "New One", "email": "new-one@example.test", "timezone": "UTC"}),
    Row("GET", "/routines/picker", 200, lambda world: "/routines/picker?q=exercise"),
    Row("GET", "/sessions", 200, lambda world: "/sessions"),
    Row("GET", "/library", 200, lambda world: "/library"),
    Row("GET", "/library/exercises/new", 200, lambda world: "/library/exercises/new"),
    Row("POST", "/library/exercises/new", 302, lambda world: "/library/exercises/new",
        lambda world: _exercise_form(world) | {"name": "Brand new exercise"}),
    Row("POST", "/logout", 302, lambda world: "/logout"),
]  # fmt: skip

PUBLIC = {("GET", "/login"), ("POST", "/login"), ("GET", "/web-static/<path:filename>")}


def test_every_web_route_has_a_row(app):
    routes = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("web.")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    covered = {(row.method, row.rule) for row in OBJECT_ROWS + PAGE_ROWS} | PUBLIC
    assert routes - covered == set(), "add these web routes to a table here"
    assert covered - routes == set(), "these rows name routes that no longer exist"


def _call(client, row: Row, world: w.World, csrf: str | None):
    data = dict(row.form(world)) if row.form else {}
    if row.method == "POST" and csrf is not None:
        data["csrf_token"] = csrf
    return client.open(row.url(world), method=row.method, data=data if row.method == "POST" else None)


def _assert_sent_to_sign_in(response):
    assert response.status_code == 302, response.status_code
    assert response.headers["Location"].startswith("/login")


@pytest.mark.parametrize("row", OBJECT_ROWS, ids=lambda row: f"{row.method} {row.rule}")
def test_object_url_answers_each_caller_as_the_rules_say(app, make, row):
    world = w.build(make)
    # Anonymous: to the sign-in page.
    _assert_sent_to_sign_in(_call(app.test_client(), row, world, csrf=None))
    # A patient (even one holding a valid token of their own): to the sign-in page.
    patient_client = app.test_client()
    _assert_sent_to_sign_in(_call(patient_client, row, world, web_sign_in(patient_client, world.patient)))
    # Staff of another clinic: 404, naming nothing of the object.
    for outsider in (w.OUT_PHYSIO, w.OUT_ADMIN):
        outsider_client = app.test_client()
        response = _call(outsider_client, row, world, web_sign_in(outsider_client, world.users[outsider]))
        assert response.status_code == 404, (outsider, response.status_code)
        assert world.patient.name not in response.get_data(as_text=True)
    db.session.expire_all()
    # Staff of the object's clinic: a form without its CSRF token is refused, with it the page answers.
    home_client = app.test_client()
    csrf = web_sign_in(home_client, world.physio)
    if row.method == "POST":
        assert _call(home_client, row, world, csrf="forged").status_code == 400
        assert _call(home_client, row, world, csrf=None).status_code == 400
    response = _call(home_client, row, world, csrf)
    assert response.status_code == row.ok, response.get_data(as_text=True)[:2000]
    admin_client = app.test_client()
    assert _call(admin_client, row, world, web_sign_in(admin_client, world.users[w.ADMIN])).status_code in (
        row.ok,
        302,  # a second archive, cancel or consent is a redirect too
        422,  # a second change of a cancelled session is refused as a validation error
    )


@pytest.mark.parametrize("row", PAGE_ROWS, ids=lambda row: f"{row.method} {row.rule}")
def test_page_refuses_anonymous_and_patients_and_serves_staff(app, make, row):
    home = make.clinic()
    physio = make.physio(home)
    patient = make.patient(home, physio)
    make.exercise(slug="library-exercise")
    world = w.World()
    _assert_sent_to_sign_in(_call(app.test_client(), row, world, csrf=None))
    patient_client = app.test_client()
    _assert_sent_to_sign_in(_call(patient_client, row, world, web_sign_in(patient_client, patient)))
    staff_client = app.test_client()
    csrf = web_sign_in(staff_client, physio)
    if row.method == "POST":
        assert _call(staff_client, row, world, csrf=None).status_code == 400
    assert _call(staff_client, row, world, csrf).status_code == row.ok
