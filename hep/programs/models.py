"""Routines (a patient's home exercise program), their immutable versions, phases and items."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hep.dbtypes import UTCDateTime, utcnow
from hep.extensions import db
from hep.library.models import Exercise
from hep.programs.schedule import WeeklySchedule

SIDES = ("left", "right", "both")


class Routine(db.Model):
    """A patient's program. Its content lives in versions; editing adds a version."""

    __tablename__ = "routines"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.user_id"), index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    versions: Mapped[list[RoutineVersion]] = relationship(
        back_populates="routine", order_by="RoutineVersion.number", lazy="selectin", cascade="all"
    )

    @property
    def current(self) -> RoutineVersion:
        return self.versions[-1]


class RoutineVersion(db.Model):
    """One immutable edition of a routine. It governs days from `effective_from` on."""

    __tablename__ = "routine_versions"
    __table_args__ = (UniqueConstraint("routine_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    routine_id: Mapped[int] = mapped_column(ForeignKey("routines.id"))
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    effective_from: Mapped[date] = mapped_column(Date)
    notes: Mapped[str | None] = mapped_column(Text)
    template_key: Mapped[str | None] = mapped_column(String(80))
    content_hash: Mapped[str] = mapped_column(String(64))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    routine: Mapped[Routine] = relationship(back_populates="versions")
    phases: Mapped[list[RoutinePhase]] = relationship(
        order_by="RoutinePhase.position", lazy="selectin", cascade="all, delete-orphan"
    )


class RoutinePhase(db.Model):
    __tablename__ = "routine_phases"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("routine_versions.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(120))
    start_date: Mapped[date] = mapped_column(Date)

    items: Mapped[list[RoutineItem]] = relationship(
        order_by="RoutineItem.position", lazy="selectin", cascade="all, delete-orphan"
    )


class RoutineItem(WeeklySchedule, db.Model):
    """One prescribed exercise with its dosage."""

    __tablename__ = "routine_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    phase_id: Mapped[int] = mapped_column(ForeignKey("routine_phases.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    exercise_id: Mapped[int] = mapped_column(ForeignKey("exercises.id"))
    sets: Mapped[int] = mapped_column(Integer)
    reps: Mapped[int | None] = mapped_column(Integer)
    hold_seconds: Mapped[int | None] = mapped_column(Integer)
    rest_seconds: Mapped[int] = mapped_column(Integer)
    side: Mapped[str] = mapped_column(String(5))
    load: Mapped[str | None] = mapped_column(String(80))
    # A weight the patient can lift only this many times (a repetition maximum), when load is set that way.
    rep_max: Mapped[int | None] = mapped_column(Integer)
    # When and how to make it harder, in the patient's words.
    progression: Mapped[str | None] = mapped_column(String(300))
    times_per_day: Mapped[int] = mapped_column(Integer)
    days_per_week: Mapped[int | None] = mapped_column(Integer)
    weekdays: Mapped[list | None] = mapped_column(JSON)  # ["mon", "thu"], or None with days_per_week
    notes: Mapped[str | None] = mapped_column(Text)

    exercise: Mapped[Exercise] = relationship(lazy="joined")

    @property
    def slug(self) -> str:
        return self.exercise.slug

    def prescription(self) -> dict:
        """What was prescribed, as stored next to each log done against this item."""
        return {
            "exercise": self.exercise.slug,
            "name": self.exercise.name,
            "sets": self.sets,
            "reps": self.reps,
            "hold_seconds": self.hold_seconds,
            "rest_seconds": self.rest_seconds,
            "side": self.side,
            "load": self.load,
            "rep_max": self.rep_max,
            "progression": self.progression,
            "times_per_day": self.times_per_day,
            "days_per_week": self.days_per_week,
            "weekdays": self.weekdays,
            "notes": self.notes,
        }


class ProgramTemplate(db.Model):
    """A ready-made program for a condition; clinic_id None for the shipped ones."""

    __tablename__ = "program_templates"
    __table_args__ = (
        UniqueConstraint("clinic_id", "key"),
        Index(
            "uq_program_templates_library_key",
            "key",
            unique=True,
            sqlite_where=db.text("clinic_id IS NULL"),
            postgresql_where=db.text("clinic_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(80))
    clinic_id: Mapped[int | None] = mapped_column(ForeignKey("clinics.id"))
    name: Mapped[str] = mapped_column(String(120))
    condition: Mapped[str] = mapped_column(String(60))
    summary: Mapped[str] = mapped_column(Text)
    duration_weeks: Mapped[int] = mapped_column(Integer)
    phases: Mapped[list] = mapped_column(JSON)
    # The guidelines and trials it follows: [{citation, year, kind, follows}].
    sources: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def owner(self) -> str:
        return "library" if self.clinic_id is None else "clinic"
