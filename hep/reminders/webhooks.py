"""Twilio's webhooks: signed with X-Twilio-Signature, checked with the SDK's RequestValidator.

Behind a TLS-terminating proxy, set HEP_TRUST_PROXY_HOPS so request.url is the https URL Twilio
signed (Werkzeug's ProxyFix); otherwise every signature check fails.
"""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, Response, abort, current_app, request
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from hep.dbtypes import utcnow
from hep.reminders import inbound

bp = Blueprint("twilio_webhooks", __name__, url_prefix="/webhooks/twilio")


def signed(view):
    """Refuse (403) any request whose X-Twilio-Signature does not match; unsigned ones too."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        token = current_app.config.get("TWILIO_AUTH_TOKEN")
        signature = request.headers.get("X-Twilio-Signature", "")
        if (
            not token
            or not signature
            or not RequestValidator(token).validate(request.url, request.form.to_dict(), signature)
        ):
            abort(403)
        return view(*args, **kwargs)

    return wrapper


@bp.post("/status")
@signed
def status():
    """Delivery status callback."""
    code = request.form.get("ErrorCode")
    inbound.record_status(
        request.form.get("MessageSid", ""),
        request.form.get("MessageStatus", ""),
        int(code) if code and code.isascii() and code.isdigit() and len(code) <= 9 else None,  # fits the column
        now=utcnow(),
    )
    return Response(status=204)


@bp.post("/inbound")
@signed
def incoming():
    """A text from a patient; the answer goes back as TwiML."""
    reply = inbound.handle_text(
        request.form.get("MessageSid", ""), request.form.get("From", ""), request.form.get("Body", ""), now=utcnow()
    )
    twiml = MessagingResponse()
    if reply:
        twiml.message(reply)
    return Response(str(twiml), content_type="text/xml")
