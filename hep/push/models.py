"""A browser's push subscription (where the push service delivers to it, and the keys to encrypt for it)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hep.dbtypes import UTCDateTime
from hep.extensions import db

# Why a subscription ended: the push service said 404/410, the patient turned push off, or signed out there.
GONE, UNSUBSCRIBED = "gone", "unsubscribed"


class PushSubscription(db.Model):
    """One browser of one patient. Ended rows stay (with when and why) so the history explains a fallback to texts."""

    __tablename__ = "push_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.user_id"), index=True)
    endpoint: Mapped[str] = mapped_column(Text)
    # Endpoints are long URLs: uniqueness is on their SHA-256, so one browser is one row whoever signs in on it.
    endpoint_hash: Mapped[str] = mapped_column(String(64), unique=True)
    p256dh: Mapped[str] = mapped_column(String(100))
    auth: Mapped[str] = mapped_column(String(40))
    user_agent: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_reason: Mapped[str | None] = mapped_column(String(40))

    @property
    def origin(self) -> str:
        """The push service's address (scheme and host), which is all staff need to see of an endpoint."""
        scheme, _, rest = self.endpoint.partition("://")
        return f"{scheme}://{rest.split('/', 1)[0]}"
