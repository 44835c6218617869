"""HTTP API for logging exercises, progress and adherence, the risk list, and CSV export."""

from __future__ import annotations

import io
import time
import uuid

from flask import Response, current_app, g, request, stream_with_context

from hep import exports
from hep.accounts.auth import current_user, login_required
from hep.accounts.models import PATIENT, STAFF_ROLES
from hep.adherence import reads, service
from hep.adherence.models import AdherenceLog
from hep.adherence.schemas import (
    AdherenceSchema,
    BatchResultSchema,
    BatchSchema,
    ClinicReportSchema,
    LogCorrectionSchema,
    LogEntrySchema,
    LogListArgsSchema,
    LogPageSchema,
    LogSchema,
    RangeArgsSchema,
    ReportArgsSchema,
    RiskArgsSchema,
    RiskListSchema,
)
from hep.api import Blueprint
from hep.dbtypes import utcnow
from hep.idempotency.replay import IdempotencyHeaderSchema, idempotent

blp = Blueprint("adherence", __name__, url_prefix="/api/v1", description="Logging, progress and adherence")


def _rules() -> service.LogRules:
    return service.LogRules(max_age_days=current_app.config["LOG_MAX_AGE_DAYS"])


@blp.route("/patients/<id:patient_id>/logs/batch", methods=["POST"])
@login_required(PATIENT)
@blp.arguments(BatchSchema)
@blp.response(200, BatchResultSchema)
def sync_batch(body, patient_id):
    """Sync logged exercises from the app; each entry is answered on its own, resends create nothing"""
    results = service.sync(current_user(), patient_id, body["entries"], now=utcnow(), rules=_rules())
    counts = {
        status: sum(1 for r in results if r["status"] == status)
        for status in (service.CREATED, service.DUPLICATE, service.CONFLICT, service.REJECTED)
    }
    return {"results": results, "counts": counts}


@blp.route("/patients/<id:patient_id>/logs", methods=["POST"])
@login_required(PATIENT)
@idempotent
@blp.arguments(IdempotencyHeaderSchema, location="headers", as_kwargs=True)
@blp.arguments(LogEntrySchema)
@blp.response(201, LogSchema)
@blp.alt_response(200, schema=LogSchema, description="Already had this entry", success=True)
@blp.alt_response(409, response="CONFLICT")
def create_log(entry, patient_id, **_headers):
    """Log one exercise (201 created, 200 when already had it)"""
    log, created = service.log_one(current_user(), patient_id, entry, now=utcnow(), rules=_rules())
    return log, 201 if created else 200


@blp.route("/patients/<id:patient_id>/logs", methods=["GET"])
@login_required()
@blp.arguments(LogListArgsSchema, location="query")
@blp.response(200, LogPageSchema)
def list_logs(args, patient_id):
    """List a patient's log entries, newest first"""
    return reads.log_page(
        current_user(),
        patient_id,
        date_from=args.get("date_from"),
        date_to=args.get("date_to"),
        cursor=args.get("cursor"),
        limit=args.get("limit"),
        now=utcnow(),
    )


@blp.route("/patients/<id:patient_id>/logs/<uuid:log_id>", methods=["PATCH"])
@login_required(PATIENT)
@idempotent
@blp.arguments(IdempotencyHeaderSchema, location="headers", as_kwargs=True)
@blp.arguments(LogCorrectionSchema)
@blp.response(200, LogSchema)
def correct_log(changes, patient_id, log_id: uuid.UUID, **_headers):
    """Correct one of your entries"""
    return service.correct(current_user(), patient_id, log_id, changes, now=utcnow(), rules=_rules())


@blp.route("/patients/<id:patient_id>/logs/<uuid:log_id>", methods=["DELETE"])
@login_required(PATIENT)
@idempotent
@blp.arguments(IdempotencyHeaderSchema, location="headers", as_kwargs=True)
@blp.response(204)
def delete_log(patient_id, log_id: uuid.UUID, **_headers):
    """Delete one of your entries (deleting again is harmless)"""
    service.delete(current_user(), patient_id, log_id, now=utcnow())


CSV_COLUMNS = [
    "id",
    "performed_at",
    "utc_offset_minutes",
    "local_date",
    "exercise",
    "side",
    "prescribed_sets",
    "prescribed_reps",
    "prescribed_hold_seconds",
    "prescribed_times_per_day",
    "sets_done",
    "reps_done",
    "hold_seconds_done",
    "pain_before",
    "pain_after",
    "difficulty",
    "credit",
    "note",
]


def _csv_row(log: AdherenceLog) -> list:
    p = log.prescribed
    return [
        log.id,
        log.performed_at.isoformat(),
        log.utc_offset_minutes,
        log.local_date.isoformat(),
        p["exercise"],
        log.side,
        p["sets"],
        p["reps"],
        p["hold_seconds"],
        p["times_per_day"],
        log.sets_done,
        log.reps_done,
        log.hold_seconds_done,
        log.pain_before,
        log.pain_after,
        log.difficulty,
        log.credit,
        log.note or "",
    ]


@blp.route("/patients/<id:patient_id>/logs.csv", methods=["GET"])
@login_required(*STAFF_ROLES)
@blp.response(200, {"type": "string"}, content_type="text/csv", description="Every entry, oldest first, one row each")
def export_logs(patient_id):
    """Export a patient's log entries as CSV"""
    logs = reads.export_logs(current_user(), patient_id, now=utcnow())

    def rows():
        buffer = io.StringIO()
        writer = exports.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        for log in logs:
            writer.writerow(_csv_row(log))
            if buffer.tell() > 64_000:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return Response(
        stream_with_context(rows()),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="patient-{patient_id}-logs.csv"'},
    )


@blp.route("/patients/<id:patient_id>/adherence", methods=["GET"])
@login_required()
@blp.arguments(RangeArgsSchema, location="query")
@blp.response(200, AdherenceSchema)
def adherence(args, patient_id):
    """Daily and weekly adherence, streak, pain trends and last activity"""
    return reads.patient_adherence(current_user(), patient_id, days=args["days"], now=utcnow())


@blp.route("/risk", methods=["GET"])
@login_required(*STAFF_ROLES)
@blp.arguments(RiskArgsSchema, location="query")
@blp.response(200, RiskListSchema)
def risk_list(args):
    """A physiotherapist's patients, the most at risk first, with the reasons"""
    return {"items": reads.risk_list(current_user(), args.get("physiotherapist_id"), now=utcnow())}


@blp.route("/clinic/adherence-report", methods=["GET"])
@login_required(*STAFF_ROLES)
@blp.arguments(ReportArgsSchema, location="query")
@blp.response(200, ClinicReportSchema)
def clinic_adherence_report(args):
    """Your clinic's adherence and pain over the last N whole days: totals, weeks, physiotherapists"""
    return reads.clinic_report(
        current_user(), days=args["days"], physiotherapist_id=args.get("physiotherapist_id"), now=utcnow()
    )


# Staff reports that read many patients say how long the server spent on them (a W3C Server-Timing header,
# in ms), so a slow answer can be told apart from a slow network in the browser's tools and in benchmarks.
TIMED = frozenset({"adherence.risk_list", "adherence.clinic_adherence_report"})


@blp.before_request
def _start_clock() -> None:
    if request.endpoint in TIMED:
        g.server_timing_start = time.perf_counter()


@blp.after_request
def _server_timing(response: Response) -> Response:
    started = g.pop("server_timing_start", None)
    if started is not None:
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
    return response
