"""Flask commands: load-exercises, seed-demo, create-clinic, scheduler, figures sheet."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import Flask, current_app

from hep.dbtypes import utcnow


def register(app: Flask) -> None:
    """Attach HEP's commands to the app's CLI."""
    for command in (load_exercises, seed_demo, create_clinic, scheduler, figures):
        app.cli.add_command(command)


@click.command("load-exercises")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Folder of exercise YAML files (default: exercises/).",
)
def load_exercises(directory: Path | None) -> None:
    """Validate exercises/*.yaml and upsert the library by slug, in one transaction."""
    from hep.content import load_shipped
    from hep.library.loader import LibraryError

    directory = directory or Path(current_app.config["EXERCISES_DIR"])
    click.echo(f"Loading exercises from {directory} ...", err=True)
    try:
        exercises, templates = load_shipped(directory, now=utcnow())
    except LibraryError as exc:
        click.echo(f"error: {exc}\nNothing was changed.", err=True)
        sys.exit(1)
    counts = {"exercises": exercises.as_dict(), "templates": templates.as_dict()}
    for kind, numbers in counts.items():
        click.echo(f"{kind}: " + ", ".join(f"{n} {k}" for k, n in numbers.items()), err=True)
    click.echo(json.dumps(counts))


@click.command("seed-demo")
def seed_demo() -> None:
    """Create (or refresh) the demo clinic and print its logins as JSON."""
    from hep.demo import queued_texts, seed

    now = utcnow()
    logins = seed(now=now)
    click.echo(json.dumps(logins, indent=2))
    texts = queued_texts(now=now)
    if texts:
        click.echo(
            "Texts queued for the demo patients (each goes out inside the patient's window, 08:00-21:00 "
            "their time, and prints here and in the SMS outbox when the scheduler sends it):",
            err=True,
        )
    for text in texts:
        hours, minutes = divmod(max(0, int(text["in"].total_seconds())) // 60, 60)
        click.echo(
            f"  {text['at']:%a %d %b %H:%M} {text['at'].tzinfo} (in {hours} h {minutes:02d} min): "
            f"{text['text']} to {text['patient']}",
            err=True,
        )


@click.command("create-clinic")
@click.option("--name", required=True, help="The clinic's name.")
@click.option("--admin-name", required=True)
@click.option("--admin-email", required=True)
@click.option("--timezone", default="UTC", show_default=True)
@click.password_option(
    "--admin-password", envvar="HEP_ADMIN_PASSWORD", help="At least 10 characters (or set HEP_ADMIN_PASSWORD)."
)
def create_clinic(name: str, admin_name: str, admin_email: str, timezone: str, admin_password: str) -> None:
    """Create a clinic and its first clinic admin."""
    from hep.accounts.contact import is_timezone
    from hep.accounts.service import create_clinic as create
    from hep.errors import DomainError

    if not is_timezone(timezone):
        raise click.BadParameter("is not an IANA time zone", param_hint="--timezone")
    try:
        clinic, admin = create(name, admin_name, admin_email, admin_password, now=utcnow(), timezone=timezone)
    except DomainError as exc:
        raise click.ClickException(exc.detail) from exc
    click.echo(json.dumps({"clinic_id": clinic.id, "admin_id": admin.id, "admin_email": admin.email}))


@click.command("scheduler")
@click.option("--once", is_flag=True, help="Run each job once and exit.")
@click.option("--verbose", is_flag=True, help="Also log APScheduler's line for every job run (every 15 s).")
def scheduler(once: bool, verbose: bool) -> None:
    """Run the reminder scheduler (plan, dispatch, reconcile, housekeeping)."""
    import logging

    from hep.scheduler import run

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    run(current_app._get_current_object(), once=once, verbose=verbose)


@click.group("figures")
def figures() -> None:
    """Exercise figures (hep/figures)."""


@figures.command("sheet")
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), default=Path("figure-sheet"), show_default=True
)
@click.option("--png/--no-png", default=True, help="Also take PNG images of the sheet (Playwright and Chromium).")
@click.option("--only", default="", help="Comma-separated slugs: a sheet of just these.")
def figures_sheet(out: Path, png: bool, only: str) -> None:
    """Write a contact sheet of every figure, grouped by condition, as HTML and PNG images."""
    from hep.figures import sheet
    from hep.library.loader import LibraryError, read_figures, read_library

    directory = Path(current_app.config["EXERCISES_DIR"])
    try:
        exercises = read_library(directory)
        drawn = read_figures(directory, exercises)
    except LibraryError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    if only:
        wanted = {s.strip() for s in only.split(",") if s.strip()}
        drawn = {slug: raw for slug, raw in drawn.items() if slug in wanted}
    page, sections = sheet.write(exercises, drawn, out)
    click.echo(f"{len(drawn)} figures: {page}")
    if png:
        for path in sheet.screenshots(page, sections, out, current_app.config["CHROMIUM_PATH"]):
            click.echo(str(path))
