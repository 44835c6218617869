"""Exercises: the shared library (from exercises/) and each clinic's own."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hep.dbtypes import UTCDateTime, utcnow
from hep.extensions import db

REGION, CONDITION, EQUIPMENT = "region", "condition", "equipment"


class Exercise(db.Model):
    """An exercise. clinic_id is None for the shared library."""

    __tablename__ = "exercises"
    __table_args__ = (
        UniqueConstraint("clinic_id", "slug"),
        # Library slugs (clinic_id IS NULL) are unique too; NULLs never collide in the constraint above.
        Index(
            "uq_exercises_library_slug",
            "slug",
            unique=True,
            sqlite_where=db.text("clinic_id IS NULL"),
            postgresql_where=db.text("clinic_id IS NULL"),
        ),
        Index("ix_exercises_name_id", "name", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80))
    clinic_id: Mapped[int | None] = mapped_column(ForeignKey("clinics.id"))
    name: Mapped[str] = mapped_column(String(120))
    summary: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(40))
    position: Mapped[str] = mapped_column(String(40))
    difficulty: Mapped[int] = mapped_column(Integer)
    steps: Mapped[list] = mapped_column(JSON)
    cues: Mapped[list] = mapped_column(JSON)
    common_mistakes: Mapped[list] = mapped_column(JSON)
    precautions: Mapped[list] = mapped_column(JSON)
    contraindications: Mapped[list] = mapped_column(JSON)
    default_dosage: Mapped[dict] = mapped_column(JSON)
    progressions: Mapped[list] = mapped_column(JSON)
    regressions: Mapped[list] = mapped_column(JSON)
    media: Mapped[list] = mapped_column(JSON)
    # Keys of the safety blocks (hep/library/safety.py) shown with this exercise, most urgent first.
    safety: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")
    # Where the exercise comes from: [{citation, year, kind, follows}].
    sources: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")
    # The figure's pose data (hep/figures), from exercises/figures/<slug>.yaml or the clinic; None: no picture.
    figure: Mapped[dict | None] = mapped_column(JSON)
    # Lowercased name, summary and steps: what free-text search matches against.
    search_text: Mapped[str] = mapped_column(Text)
    # Hash of the source content, so reloading an unchanged file writes nothing.
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    tags: Mapped[list[ExerciseTag]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="ExerciseTag.position"
    )

    def tag_values(self, kind: str) -> list[str]:
        return [t.value for t in self.tags if t.kind == kind]

    @property
    def body_regions(self) -> list[str]:
        return self.tag_values(REGION)

    @property
    def conditions(self) -> list[str]:
        return self.tag_values(CONDITION)

    @property
    def equipment(self) -> list[str]:
        return self.tag_values(EQUIPMENT)

    @property
    def owner(self) -> str:
        return owner_of(self.clinic_id)

    @property
    def archived(self) -> bool:
        return self.archived_at is not None


def owner_of(clinic_id: int | None) -> str:
    """Whose an exercise is: the shipped library's (no clinic) or a clinic's own."""
    return "library" if clinic_id is None else "clinic"


class ExerciseTag(db.Model):
    """A filterable facet of an exercise: one body region, condition or piece of equipment."""

    __tablename__ = "exercise_tags"
    __table_args__ = (Index("ix_exercise_tags_kind_value", "kind", "value", "exercise_id"),)

    exercise_id: Mapped[int] = mapped_column(ForeignKey("exercises.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    value: Mapped[str] = mapped_column(String(60), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class ExerciseAlias(db.Model):
    """A retired library slug that now means another exercise (two near-duplicates merged into one).

    Prescriptions, logs and links made with the old slug keep working: reads resolve it to the
    surviving exercise, and the rows that referred to the retired exercise were re-pointed to it.
    """

    __tablename__ = "exercise_aliases"

    slug: Mapped[str] = mapped_column(String(80), primary_key=True)
    exercise_id: Mapped[int] = mapped_column(ForeignKey("exercises.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SafetyBlock(db.Model):
    """A safety message kept once (exercises/safety/<key>.yaml) and shown with every exercise it applies to."""

    __tablename__ = "safety_blocks"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    title: Mapped[str] = mapped_column(String(120))
    # Blocks are shown in this order, smallest first: the most urgent lead.
    priority: Mapped[int] = mapped_column(Integer)
    lines: Mapped[list] = mapped_column(JSON)
    applies_to: Mapped[list] = mapped_column(JSON)  # rules: see hep/library/safety.py
    sources: Mapped[list] = mapped_column(JSON)
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
