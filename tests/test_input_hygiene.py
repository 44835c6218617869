"""Bad input is a clean 4xx problem that names the field, on every route, and changes nothing.

One layer (hep/inputs.py, the API's strict JSON parser, the cursor decoder) answers for every field;
these tests probe it through representative routes of each kind: signed out, JSON bodies, query
parameters, path segments, web forms and cursors.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from hep.accounts.models import User
from hep.dbtypes import utcnow
from hep.extensions import db
from hep.fields import MAX_ID
from tests.factories import item, routine_body, web_sign_in
from tests.test_errors_and_health import assert_problem


def names(response) -> set[tuple[str, str]]:
    return {(p["name"], p["location"]) for p in response.json["invalid_params"]}


def patient_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(User))


# --- JSON bodies ------------------------------------------------------------------------------


def test_json_nested_100000_deep_at_sign_in_is_a_400_naming_the_body(client):
    response = client.post("/api/v1/auth/token", data="[" * 100_000, content_type="application/json")
    assert_problem(response, 400)
    assert "nested" in response.json["detail"]
    assert names(response) == {("(body)", "json")}


def test_json_nested_deeper_than_the_limit_but_parseable_is_a_400(client, make):
    admin = make.admin()
    deep = {"name": "x"}
    for _ in range(40):
        deep = {"a": deep}
    response = client.patch("/api/v1/clinic", json=deep, headers=make.headers(admin))
    assert_problem(response, 400)


def test_malformed_json_says_the_body_is_not_json(client):
    response = client.post("/api/v1/auth/token", data='{"username": ', content_type="application/json")
    assert_problem(response, 400)
    assert response.json["detail"].startswith("The request body is not valid JSON")
    assert names(response) == {("(body)", "json")}


def test_invalid_utf8_is_a_400(client):
    response = client.post("/api/v1/auth/token", data=b'{"username": "\xff"}', content_type="application/json")
    assert_problem(response, 400)
    assert "UTF-8" in response.json["detail"]


def test_nan_is_not_a_json_number(client, make):
    admin = make.admin()
    response = client.patch(
        "/api/v1/clinic", data='{"risk_pain_rise": NaN}', content_type="application/json", headers=make.headers(admin)
    )
    assert_problem(response, 400)


def test_valid_json_sent_as_text_plain_is_a_415_naming_the_content_type(client):
    body = json.dumps({"username": "someone@example.test", "password": "whatever-it-is"})
    response = client.post("/api/v1/auth/token", data=body, content_type="text/plain")
    assert_problem(response, 415)
    assert "text/plain" in response.json["detail"]
    assert names(response) == {("Content-Type", "header")}


def test_a_body_without_content_type_is_a_415(client):
    response = client.post("/api/v1/auth/token", data='{"username": "a", "password": "b"}')
    assert_problem(response, 415)


def test_duplicate_keys_are_refused_not_resolved(client, make):
    admin = make.admin()
    response = client.patch(
        "/api/v1/clinic",
        data='{"name": "One", "name": "Two"}',
        content_type="application/json",
        headers=make.headers(admin),
    )
    assert_problem(response, 400)
    assert "'name' twice" in response.json["detail"]
    db.session.expire_all()
    assert admin.clinic.name not in ("One", "Two")


def test_a_patch_with_no_body_is_a_400_and_an_empty_object_changes_nothing(client, make):
    admin = make.admin()
    before = admin.clinic.name
    empty = client.patch("/api/v1/clinic", headers=make.headers(admin))
    assert_problem(empty, 400)
    assert names(empty) == {("(body)", "json")}
    nothing = client.patch("/api/v1/clinic", json={}, headers=make.headers(admin))
    assert nothing.status_code == 200 and nothing.json["name"] == before


def test_a_body_over_the_size_limit_is_a_413_problem(app, client):
    limit = app.config["MAX_CONTENT_LENGTH"]
    response = client.post("/api/v1/auth/token", data=b" " * (limit + 1), content_type="application/json")
    assert_problem(response, 413)
    assert str(limit) in response.json["detail"]


def test_the_largest_possible_batch_fits_under_the_size_limit(app, client, make):
    make.exercise(slug="daily")
    patient = make.patient(timezone="UTC")
    now = utcnow()
    routine = make.routine(patient, routine_body(now.date() - timedelta(days=3), items=[item("daily")]), now=now)
    item_id = routine.current.phases[0].items[0].id
    note = "\U0001f600" * 1000  # the longest note, in the costliest escaping: 12 bytes a character
    entries = [
        {
            "id": str(uuid.uuid4()),
            "routine_item_id": item_id,
            "performed_at": (now - timedelta(minutes=n + 1)).isoformat(),
            "sets_done": 20,
            "reps_done": 200,
            "hold_seconds_done": 600,
            "pain_before": 10,
            "pain_after": 10,
            "difficulty": 10,
            "note": note,
        }
        for n in range(500)
    ]
    body = json.dumps({"entries": entries})  # ensure_ascii: every emoji becomes \\ud83d\\ude00
    assert len(body) < app.config["MAX_CONTENT_LENGTH"]
    response = client.post(
        f"/api/v1/patients/{patient.id}/logs/batch",
        data=body,
        content_type="application/json",
        headers=make.headers(patient),
    )
    assert response.status_code == 200
    assert response.json["counts"]["created"] == 500


# --- NUL and lone surrogates, wherever a string comes in --------------------------------------


@pytest.mark.parametrize("bad", ["\x00", "\ud800"])
def test_sign_in_refuses_nul_and_lone_surrogates(client, bad):
    response = client.post(
        "/api/v1/auth/token",
        data=json.dumps({"username": f"a{bad}@example.test", "password": "long-enough-pw"}),
        content_type="application/json",
    )
    assert_problem(response, 422)
    assert names(response) == {("username", "json")}


@pytest.mark.parametrize("bad", ["\x00", "\ud800"])
def test_a_name_with_nul_or_a_lone_surrogate_stores_nothing(client, make, bad):
    physio = make.physio()
    before = patient_count()
    response = client.post(
        "/api/v1/patients",
        data=json.dumps({"name": f"Ann{bad}", "email": "ann@example.test", "timezone": "UTC"}),
        content_type="application/json",
        headers=make.headers(physio),
    )
    assert_problem(response, 422)
    assert names(response) == {("name", "json")}
    assert patient_count() == before


def test_nul_in_a_nested_field_names_its_path(client, make):
    make.exercise(slug="daily")
    patient = make.patient(timezone="UTC")
    now = utcnow()
    routine = make.routine(patient, routine_body(now.date(), items=[item("daily")]), now=now)
    entry = {
        "id": str(uuid.uuid4()),
        "routine_item_id": routine.current.phases[0].items[0].id,
        "performed_at": now.isoformat(),
        "sets_done": 1,
        "note": "fine\x00",
    }
    response = client.post(
        f"/api/v1/patients/{patient.id}/logs/batch", json={"entries": [entry]}, headers=make.headers(patient)
    )
    assert_problem(response, 422)
    assert names(response) == {("entries.0.note", "json")}


def test_nul_in_a_key_is_refused(client, make):
    admin = make.admin()
    response = client.patch(
        "/api/v1/clinic", data='{"na\\u0000me": "x"}', content_type="application/json", headers=make.headers(admin)
    )
    assert_problem(response, 422)


def test_nul_in_a_query_parameter_is_refused(client, make):
    physio = make.physio()
    response = client.get("/api/v1/patients?q=an%00n", headers=make.headers(physio))
    assert_problem(response, 422)
    assert names(response) == {("q", "query")}


def test_nul_in_a_path_segment_is_refused(client, make):
    physio = make.physio()
    for url in ("/api/v1/templates/a%00b", "/api/v1/exercises/a%00b", "/calendar/a%00b.ics"):
        response = client.get(url, headers=make.headers(physio))
        assert_problem(response, 422)
        assert "path" in {p["location"] for p in response.json["invalid_params"]}, url


def test_nul_in_a_web_form_is_a_page_not_a_broken_session(client, make):
    physio = make.physio()
    csrf = web_sign_in(client, physio)
    before = patient_count()
    response = client.post(
        "/patients/new",
        data={"csrf_token": csrf, "name": "Ann\x00", "email": "ann@example.test", "timezone": "UTC"},
    )
    assert response.status_code == 422
    assert "text/html" in response.headers["Content-Type"]
    assert patient_count() == before
    assert client.get("/patients").status_code == 200  # the next request works as usual


def test_nul_at_web_sign_in_is_refused(client):
    response = client.post("/login", data={"username": "a\x00@example.test", "password": "x"})
    assert response.status_code == 422


# --- integers and cursors ---------------------------------------------------------------------


def _cursor(values) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "values",
    [
        [2**31],
        [10**30],
        [-(2**31) - 1],
        [True],
        [1.5],
    ],
)
def test_a_cursor_with_a_number_no_column_can_hold_is_a_422(client, make, values):
    physio = make.physio()
    response = client.get(f"/api/v1/staff?cursor={_cursor(values)}", headers=make.headers(physio))
    assert_problem(response, 422)
    assert names(response) == {("cursor", "query")}


@pytest.mark.parametrize("name", ["a\x00", "\ud800"])
def test_a_cursor_with_unstorable_text_is_a_422(client, make, name):
    physio = make.physio()
    response = client.get(f"/api/v1/patients?cursor={_cursor([name, 1])}", headers=make.headers(physio))
    assert_problem(response, 422)
    assert names(response) == {("cursor", "query")}


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_a_cursor_with_a_time_outside_utc_is_a_422(client, make, moment):
    make.exercise(slug="daily")
    patient = make.patient()
    response = client.get(
        f"/api/v1/patients/{patient.id}/logs?cursor={_cursor([moment, str(uuid.uuid4())])}",
        headers=make.headers(patient),
    )
    assert_problem(response, 422)


def test_a_cursor_nested_deeply_is_a_422(client, make):
    physio = make.physio()
    response = client.get(f"/api/v1/staff?cursor={_cursor([[[[[[1]]]]]])[:900]}", headers=make.headers(physio))
    assert_problem(response, 422)
    long = client.get(f"/api/v1/staff?cursor={'W' * 5000}", headers=make.headers(physio))
    assert_problem(long, 422)


def test_every_integer_input_in_the_api_is_bounded_to_32_bits(client):
    """Each integer a request can carry (query, path, body, however nested) has a minimum and a maximum
    that a 32-bit column holds, so no integer input can reach SQL out of range."""
    spec = client.get("/api/openapi.json").json
    components = spec["components"]

    def deref(schema):
        while "$ref" in schema:
            kind, name = schema["$ref"].split("/")[2:]
            schema = components[kind][name]
        return schema

    unbounded = []

    def walk(schema, where, seen=frozenset()):
        ref = schema.get("$ref")
        if ref in seen:
            return
        schema = deref(schema)
        if schema.get("type") == "integer" and not schema.get("readOnly"):
            low, high = schema.get("minimum"), schema.get("maximum")
            if low is None or high is None or low < -MAX_ID - 1 or high > MAX_ID:
                unbounded.append(where)
        for key, child in schema.get("properties", {}).items():
            walk(child, f"{where}.{key}", seen | {ref})
        if "items" in schema:
            walk(schema["items"], f"{where}[]", seen | {ref})

    for path, operations in spec["paths"].items():
        for parameter in map(deref, operations.get("parameters", [])):  # path parameters
            walk(parameter.get("schema", {}), f"{path} {parameter['name']}")
        for method, operation in operations.items():
            if method == "parameters":
                continue
            for parameter in map(deref, operation.get("parameters", [])):
                walk(parameter.get("schema", {}), f"{method} {path} {parameter['name']}")
            for content in operation.get("requestBody", {}).get("content", {}).values():
                walk(content["schema"], f"{method} {path} body")
    assert unbounded == []


def test_a_status_callback_with_an_absurd_error_code_is_answered(app, client):
    app.config["TWILIO_AUTH_TOKEN"] = "a-token"
    from twilio.request_validator import RequestValidator

    url = "http://localhost/webhooks/twilio/status"
    params = {"MessageSid": "SM" + "0" * 32, "MessageStatus": "failed", "ErrorCode": "9" * 40}
    signature = RequestValidator("a-token").compute_signature(url, params)
    response = client.post("/webhooks/twilio/status", data=params, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 204
