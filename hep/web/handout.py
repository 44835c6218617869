"""Home exercise handouts: a print-styled page and a PDF (fpdf2) of a routine's current version.

The PDF uses DejaVu Sans, shipped in hep/web/fonts (with its licence), rather than the PDF core
fonts, which cover only Latin-1: patient names, clinic names and a clinic's own exercises may be
in any language. Characters DejaVu Sans lacks (CJK, for one) print as "?" rather than vanishing.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

from flask import Response, render_template
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from hep.accounts.models import Clinic, Patient
from hep.dbtypes import utcnow
from hep.figures import draw as figures
from hep.library import safety
from hep.programs import service as programs
from hep.programs.models import Routine, RoutineVersion
from hep.web import bp
from hep.web.auth import current_staff
from hep.web.format import dosage

FONTS = Path(__file__).parent / "fonts"


@dataclass(frozen=True)
class Handout:
    clinic: Clinic
    patient: Patient
    first_name: str
    routine: Routine
    version: RoutineVersion
    today: date
    pain_rule: str
    safety: list[dict]  # the safety blocks of the sheet's exercises, each once, most urgent first


def load_handout(routine_id: int) -> Handout:
    """The routine (404 unless the caller's clinic's) and what its sheet shows; the read is audited."""
    actor, now = current_staff(), utcnow()
    routine, patient = programs.read_handout(actor, routine_id, now=now)
    name = patient.user.name.strip()
    return Handout(
        clinic=actor.clinic,
        patient=patient,
        first_name=name.split()[0] if name else "",
        routine=routine,
        version=routine.current,
        today=programs.local_today(patient, now),
        pain_rule=safety.clinic_pain_rule(actor.clinic),
        safety=safety.for_exercises(item.exercise for phase in routine.current.phases for item in phase.items),
    )


@bp.get("/routines/<id:routine_id>/handout")
def handout_page(routine_id: int):
    """The home exercise sheet, styled for printing."""
    return render_template("web/handout.html", h=load_handout(routine_id))


@bp.get("/routines/<id:routine_id>/handout.pdf")
def handout_pdf(routine_id: int):
    """The home exercise sheet as a PDF download."""
    h = load_handout(routine_id)
    filename = f"home-exercises-{routine_id}-v{h.version.number}.pdf"
    return Response(
        bytes(render_pdf(h)),
        content_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# --- the PDF -------------------------------------------------------------------------------------


@cache
def _glyphs() -> frozenset[int]:
    from fontTools.ttLib import TTFont

    with TTFont(FONTS / "DejaVuSans.ttf", lazy=True) as font:
        return frozenset(font.getBestCmap())


def printable(value: object) -> str:
    """Text the font can draw: characters it lacks become '?', control characters go."""
    glyphs = _glyphs()
    out = []
    for ch in str(value or ""):
        if ch in "\n\t":
            out.append(ch)
        elif ord(ch) < 32:
            continue
        else:
            out.append(ch if ord(ch) in glyphs else "?")
    return "".join(out)


class _Sheet(FPDF):
    footer_text = ""

    def footer(self):
        self.set_y(-12)
        self.set_font("DejaVu", size=8)
        self.set_text_color(90)
        self.cell(0, 6, printable(self.footer_text), align="L")
        self.cell(0, 6, f"Page {self.page_no()} of {{nb}}", align="R")


def _day(value: date | None) -> str:
    return f"{value.day} {value:%B %Y}" if value else ""


FIGURE_HEIGHT = 30  # mm: each keyframe of an exercise's drawing in the PDF


def _figure(pdf: FPDF, exercise, side: str | None) -> None:
    """The exercise's keyframes side by side, mirrored to the prescribed side (drawn in, never fetched)."""
    if not exercise.figure:
        return
    drawings = []
    for frame in range(1, figures.frame_count(exercise.figure) + 1):
        svg = figures.draw(exercise.figure, title=exercise.name, desc="", side=side, frame=frame)
        svg = re.sub(r"<title>.*?</title><desc>.*?</desc>", "", svg)  # fpdf2 draws shapes, not metadata
        _, _, w, h = (float(v) for v in re.search(r'viewBox="([^"]+)"', svg).group(1).split())
        drawings.append((svg, w / h))
    gap = 4
    height = min(FIGURE_HEIGHT, (pdf.epw - gap * (len(drawings) - 1)) / sum(ratio for _, ratio in drawings))
    if pdf.get_y() + height > pdf.h - pdf.b_margin:
        pdf.add_page()
    x, y = pdf.l_margin, pdf.get_y()
    for svg, ratio in drawings:
        pdf.image(io.BytesIO(svg.encode()), x=x, y=y, h=height, w=height * ratio)
        x += height * ratio + gap
    pdf.set_y(y + height + 2)


def render_pdf(h: Handout) -> bytearray:
    """Lay the sheet out: clinic header, whom it is for, then each phase's exercises."""
    pdf = _Sheet(format="A4")
    pdf.set_title(printable(f"Home exercises: {h.version.title}"))
    pdf.set_author(printable(h.clinic.name))
    pdf.set_creator("HEP")
    pdf.add_font("DejaVu", "", FONTS / "DejaVuSans.ttf")
    pdf.add_font("DejaVu", "B", FONTS / "DejaVuSans-Bold.ttf")
    pdf.footer_text = f"{h.clinic.name} - {h.version.title} (version {h.version.number})"
    pdf.set_auto_page_break(True, margin=18)
    pdf.set_margins(16, 14, 16)
    pdf.add_page()
    width = pdf.epw

    def write(text: str, size: float = 10, style: str = "", gap: float = 1.5, height: float | None = None) -> None:
        pdf.set_font("DejaVu", style, size)
        pdf.multi_cell(width, height or size * 0.5, printable(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(gap)

    def bullets(title: str, entries: list[str], numbered: bool = False) -> None:
        if not entries:
            return
        write(title, 10, "B", 0.5)
        for n, entry in enumerate(entries, 1):
            pdf.set_font("DejaVu", "", 10)
            pdf.cell(8, 5, f"{n}." if numbered else "-", align="R")
            pdf.multi_cell(width - 8, 5, " " + printable(entry), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(1)

    # Header: clinic, then whom this is for.
    write(h.clinic.name, 16, "B", 0.5)
    contact = " | ".join(x for x in (h.clinic.contact_phone, h.clinic.contact_email) if x)
    if contact:
        write(contact, 9, "", 2)
    pdf.set_draw_color(120)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + width, pdf.get_y())
    pdf.ln(3)
    write(f"Home exercises for {h.first_name}", 14, "B", 1)
    end = f" to {_day(h.version.end_date)}" if h.version.end_date else ""
    write(f"{h.version.title}: from {_day(h.version.start_date)}{end}", 10, "", 1)
    if h.version.notes:
        write(h.version.notes, 10, "", 1)
    write("How much pain is fine", 11, "B", 0.5)
    write(h.pain_rule, 10, "", 1)
    write("Stop an exercise and tell your physiotherapist if it causes sharp or spreading pain.", 10, "", 3)
    if h.safety:
        write("Safety: when to stop and get help", 12, "B", 1)
        for block in h.safety:
            if pdf.get_y() > pdf.h - 50:
                pdf.add_page()
            bullets(block["title"], block["lines"])
        pdf.ln(2)

    for phase in h.version.phases:
        if pdf.get_y() > pdf.h - 60:
            pdf.add_page()
        pdf.set_fill_color(235)
        pdf.set_font("DejaVu", "B", 12)
        pdf.cell(
            width, 8, printable(f"{phase.name} (from {_day(phase.start_date)})"), fill=True,
            new_x=XPos.LMARGIN, new_y=YPos.NEXT,
        )  # fmt: skip
        pdf.ln(2)
        for n, item in enumerate(phase.items, 1):
            exercise = item.exercise
            if pdf.get_y() > pdf.h - 70:
                pdf.add_page()
            write(f"{n}. {exercise.name}", 12, "B", 0.5)
            write(dosage(item), 10, "", 1)
            if item.progression:
                write(f"When to make it harder: {item.progression}", 10, "", 1)
            if item.notes:
                write(f"From your physiotherapist: {item.notes}", 10, "", 1)
            _figure(pdf, exercise, item.side)
            bullets("Steps", exercise.steps, numbered=True)
            bullets("Tips", exercise.cues)
            bullets("Take care", exercise.precautions)
            for media in exercise.media:
                kind = "Video" if media.get("type") == "video" else "Picture"
                caption = f" ({media['caption']})" if media.get("caption") else ""
                pdf.set_font("DejaVu", "", 9)
                pdf.multi_cell(
                    width, 5, printable(f"{kind}{caption}: {media['url']}"), link=media["url"],
                    new_x=XPos.LMARGIN, new_y=YPos.NEXT,
                )  # fmt: skip
            write("My notes:", 10, "B", 0.5)
            pdf.set_draw_color(170)
            for _ in range(2):
                pdf.ln(6)
                pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + width, pdf.get_y())
            pdf.ln(5)
    return pdf.output()
