"""How HEP's OpenAPI document is written, in one place: operation ids, the error statuses every
operation can answer, nullable references a generated client can read, and the bounds of dates.

Routes only declare what is their own (their schemas, a 409 a service raises, a rate limit's 429);
what follows from the route's shape is added here for every operation:
- `operationId`: the view function's name in camelCase, or the name in OPERATION_IDS where that reads
  badly. Renaming a view renames its operation (and a generated client's method): to keep an old id,
  add it to OPERATION_IDS.
- 422 everywhere: hep.inputs refuses a NUL or a lone surrogate in any path, query or header.
- 404 when the path takes an id or a key (another clinic's object answers 404 too, never 403).
- 400, 413, 415 and 422 when the operation takes a JSON body (hep.api.StrictParser and hep.inputs).
- 401 and 403 come from hep.accounts.auth.login_required, which knows the roles.
"""

from __future__ import annotations

import re
from http import HTTPStatus

from apispec import BasePlugin
from apispec.ext.marshmallow import MarshmallowPlugin, OpenAPIConverter

# Where the function's own name reads badly as an operation; keyed by Flask endpoint.
OPERATION_IDS = {
    "auth.token": "signIn",
    "auth.refresh": "refreshToken",
    "auth.activate": "activateAccount",
    "auth.logout": "signOut",
    "accounts.me": "getMe",
    "library.search": "searchExercises",
    "library.create": "createExercise",
    "library.get": "getExercise",
    "library.update": "updateExercise",
    "library.figure": "getExerciseFigure",
    "programs.today": "getTodayPlan",
    "programs.current_routine": "getCurrentRoutines",
    "programs.draft_from_template": "draftRoutineFromTemplate",
    "adherence.sync_batch": "syncLogs",
    "adherence.adherence": "getAdherence",
    "adherence.risk_list": "listAtRiskPatients",
    "adherence.clinic_adherence_report": "getClinicAdherenceReport",
    "sessions.schedule": "scheduleSession",
    "sessions.patient_sessions": "listPatientSessions",
    "sessions.physio_sessions": "listSessions",
    "sessions.issue_feed": "createCalendarFeed",
    "reminders.sms_status": "getSmsStatus",
    "reminders.grant_consent": "grantSmsConsent",
    "reminders.revoke_consent": "revokeSmsConsent",
    "reminders.set_times": "setReminderTimes",
    "reminders.reminder_history": "listReminders",
    "reminders.summary": "getReminderSummary",
    "reminders.get_settings": "getReminderSettings",
    "reminders.update_settings": "updateReminderSettings",
    "push.push_status": "getPushStatus",
    "push.subscribe": "subscribePush",
    "push.unsubscribe": "unsubscribePush",
    "push.send_test": "sendTestPush",
    "push.set_channel": "setReminderChannel",
    "audit.list_events": "listAuditEvents",
}
OPERATION_ID_RE = re.compile(r"^[a-z][a-zA-Z0-9]*$")

ALWAYS = (422,)
BODY_ERRORS = (400, 413, 415, 422)
PATH_ERRORS = (404,)


def spec_kwargs() -> dict:
    """What create_app gives flask-smorest's Api to build the document with (new plugins per app)."""
    return {
        "marshmallow_plugin": HepMarshmallowPlugin(),
        "extra_plugins": [OperationsPlugin()],
        # Paths carry their /api/v1 prefix: the server is wherever the document was loaded from.
        "servers": [{"url": "/", "description": "This HEP server"}],
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Access token from /api/v1/auth/token",
                }
            }
        },
    }


def operation_id(endpoint: str) -> str:
    """The operationId of a Flask endpoint ("programs.today" -> "getTodayPlan")."""
    if endpoint in OPERATION_IDS:
        return OPERATION_IDS[endpoint]
    first, *rest = endpoint.rpartition(".")[2].split("_")
    return first + "".join(word.capitalize() for word in rest)


class OperationsPlugin(BasePlugin):
    """Gives every operation its id and the error statuses its route's shape implies."""

    def operation_helper(self, path=None, operations=None, **kwargs) -> None:
        rule = kwargs.get("rule")
        if rule is None or not operations:
            return
        for operation in operations.values():
            operation.setdefault("operationId", operation_id(rule.endpoint))
            responses = operation.setdefault("responses", {})
            implied = (
                ALWAYS + (PATH_ERRORS if rule.arguments else ()) + (BODY_ERRORS if "requestBody" in operation else ())
            )
            documented = {str(code) for code in responses}
            for code in implied:
                if str(code) not in documented:
                    # hep.api.Api registers a problem-details response under each status's name.
                    responses[str(code)] = HTTPStatus(code).name
            operation["responses"] = dict(sorted(responses.items(), key=lambda item: str(item[0])))


class HepConverter(OpenAPIConverter):
    """apispec's marshmallow converter, with nullable references a generated client can read."""

    def field2nullable(self, field, ret) -> dict:
        # A nullable nested schema as one typed schema, `allOf: [$ref]` with `nullable: true` (OpenAPI 3.0).
        # apispec writes `anyOf: [{type: object, nullable: true}, {$ref}]`, which generated clients read as an
        # empty model whenever the first branch matches.
        if field.allow_none and "$ref" in ret:
            return {"allOf": [{"$ref": ret.pop("$ref")}], "nullable": True}
        if field.allow_none and "allOf" in ret:
            return {"nullable": True}
        return super().field2nullable(field, ret)

    def field2range(self, field, ret) -> dict:
        attributes = super().field2range(field, ret)
        if {"x-minimum", "x-maximum"} <= attributes.keys():
            # OpenAPI 3.0 bounds numbers only: say a date's bounds in words too.
            attributes["description"] = f"From {attributes['x-minimum']} to {attributes['x-maximum']}"
        return attributes


class HepMarshmallowPlugin(MarshmallowPlugin):
    Converter = HepConverter
