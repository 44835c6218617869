"""What a client generator reads in /api/openapi.json: operation ids, nullable references, the errors
each operation can answer, enums from the code's own constants, typed objects, and the server's rules."""

from __future__ import annotations

import re
import zoneinfo

import pytest

from hep.accounts.passwords import MAX_LENGTH, MIN_LENGTH
from hep.adherence.risk import REASONS
from hep.adherence.service import RESULTS
from hep.openapi import OPERATION_ID_RE, OPERATION_IDS
from hep.reminders.consent import EVENT_METHODS, METHODS
from hep.reminders.states import Status
from hep.sessions.models import STATUSES

METHOD_NAMES = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def spec():
    from hep import create_app
    from tests.conftest import app_settings

    return create_app(app_settings("sqlite://")).test_client().get("/api/openapi.json").json


def operations(spec):
    for path, item in spec["paths"].items():
        for method in METHOD_NAMES:
            if method in item:
                yield path, method, item[method]


def schema(spec, name):
    return spec["components"]["schemas"][name]


def test_every_operation_has_a_unique_readable_id(spec):
    ids = [op.get("operationId") for _, _, op in operations(spec)]
    assert all(isinstance(i, str) and OPERATION_ID_RE.match(i) for i in ids), ids
    assert len(ids) == len(set(ids))
    ops = {(method, path): op["operationId"] for path, method, op in operations(spec)}
    assert ops["get", "/api/v1/patients/{patient_id}/today"] == "getTodayPlan"
    assert ops["post", "/api/v1/patients/{patient_id}/logs/batch"] == "syncLogs"
    assert ops["post", "/api/v1/auth/token"] == "signIn"


def test_every_override_names_a_route(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert set(OPERATION_IDS) - endpoints == set()


def test_a_nullable_reference_is_one_typed_nullable_schema(spec):
    text = str(spec)
    assert "anyOf" not in text
    assert schema(spec, "Me")["properties"]["patient"] == {
        "allOf": [{"$ref": "#/components/schemas/Patient"}],
        "nullable": True,
    }
    next_session = schema(spec, "Plan")["properties"]["next_session"]
    assert (next_session["allOf"], next_session["nullable"]) == ([{"$ref": "#/components/schemas/NextSession"}], True)


def test_every_operation_documents_422_for_a_bad_character_in_any_input(spec):
    assert [f"{m} {p}" for p, m, op in operations(spec) if "422" not in op["responses"]] == []


def test_an_operation_with_an_id_in_its_path_documents_404(spec):
    missing = [f"{m} {p}" for p, m, op in operations(spec) if "{" in p and "404" not in op["responses"]]
    assert missing == []


def test_an_operation_with_a_body_documents_the_body_errors(spec):
    missing = [
        f"{m} {p} {code}"
        for p, m, op in operations(spec)
        if "requestBody" in op
        for code in ("400", "413", "415", "422")
        if code not in op["responses"]
    ]
    assert missing == []


def test_every_error_is_a_problem_document(spec):
    responses = spec["components"]["responses"]
    for _, _, op in operations(spec):
        for code, response in op["responses"].items():
            if code == "default" or int(code) >= 400:
                name = response["$ref"].rpartition("/")[2]
                content = responses[name]["content"]
                assert content == {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


def test_rate_limited_operations_document_429(spec):
    limited = {op["operationId"] for _, _, op in operations(spec) if "429" in op["responses"]}
    assert limited == {"signIn", "activateAccount", "sendTestPush"}


@pytest.mark.parametrize(
    ("where", "values"),
    [
        ("EntryResult.status", RESULTS),
        ("Session.status", STATUSES),
        ("Reason.code", REASONS),
        ("Reminder.status", tuple(Status)),
        ("Consent.method", METHODS),
        ("ConsentEvent.method", EVENT_METHODS),
    ],
)
def test_status_strings_are_enums_of_the_codes_constants(spec, where, values):
    name, field = where.split(".")
    assert schema(spec, name)["properties"][field]["enum"] == [str(v) for v in values]


def test_counts_prescriptions_and_invalid_params_are_typed(spec):
    assert schema(spec, "BatchResult")["properties"]["counts"] == {"$ref": "#/components/schemas/BatchCounts"}
    assert set(schema(spec, "BatchCounts")["required"]) == set(RESULTS)
    assert schema(spec, "Log")["properties"]["prescribed"]["allOf"] == [{"$ref": "#/components/schemas/Prescribed"}]
    invalid = schema(spec, "EntryResult")["properties"]["invalid_params"]["items"]
    assert invalid == {"$ref": "#/components/schemas/InvalidParam"}
    counts = schema(spec, "Summary")["properties"]["counts"]
    assert set(schema(spec, counts["allOf"][0]["$ref"].rpartition("/")[2])["properties"]) == {str(s) for s in Status}


def test_the_csv_export_and_the_server_are_documented(spec):
    ok = spec["paths"]["/api/v1/patients/{patient_id}/logs.csv"]["get"]["responses"]["200"]
    assert ok["content"] == {"text/csv": {"schema": {"type": "string"}}}
    assert spec["servers"] == [{"url": "/", "description": "This HEP server"}]


def test_new_passwords_and_time_zones_say_the_servers_rules(spec):
    for name, field in (("Activate", "password"), ("ChangePassword", "new_password")):
        rule = schema(spec, name)["properties"][field]
        assert (rule["minLength"], rule["maxLength"]) == (MIN_LENGTH, MAX_LENGTH)
    zone = schema(spec, "PatientCreate")["properties"]["timezone"]
    pattern = re.compile(zone["pattern"])
    assert all(pattern.match(name) for name in zoneinfo.available_timezones())
    assert not pattern.match("Vancouver time")
    assert schema(spec, "Patient")["properties"]["timezone"]["pattern"] == zone["pattern"]
    start = schema(spec, "RoutineIn")["properties"]["start_date"]
    assert (start["x-minimum"], start["x-maximum"]) == ("2000-01-01", "2100-01-01")


def test_every_object_in_an_answer_is_typed(spec):
    """Only an exercise's figure (pose data, checked by hep.figures) is a free-form object."""
    untyped = []

    def walk(node, where):
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" not in node:
                untyped.append(where)
            for key, child in node.items():
                walk(child, f"{where}.{key}")
        elif isinstance(node, list):
            for child in node:
                walk(child, f"{where}[]")

    walk(spec["components"]["schemas"], "")
    assert [where for where in untyped if not where.endswith(".figure")] == []
