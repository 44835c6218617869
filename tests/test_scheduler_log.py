"""The scheduler's console: one line per job run that did something, nothing for runs that did nothing,
and none of APScheduler's "Running job ..." lines unless asked for."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import pytest
import time_machine
from apscheduler.schedulers.background import BackgroundScheduler

from hep import scheduler
from hep.reminders import consent

NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
def app_config(tmp_path):
    return {"SMS_BACKEND": "console", "SMS_OUTBOX_PATH": str(tmp_path / "outbox.jsonl")}


@pytest.fixture
def apscheduler_level():
    logger = logging.getLogger("apscheduler")
    saved = logger.level
    yield
    logger.setLevel(saved)


@pytest.fixture
def scheduler_logger(app):
    # Alembic's fileConfig (the test databases are migrated in this process) disables the loggers that
    # exist by then; the scheduler process never migrates, so its logger is live there.
    logger = logging.getLogger("hep.scheduler")
    saved, logger.disabled = logger.disabled, False
    yield
    logger.disabled = saved


def scheduler_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "hep.scheduler"]


def test_a_dispatch_run_that_sent_texts_logs_one_line(app, make, caplog, capsys, scheduler_logger):
    physio = make.physio()
    for phone in ("+447400123401", "+447400123402"):
        patient = make.patient(physio.clinic, physio, phone=phone, timezone="Europe/London")
        consent.grant(physio, patient.id, "verbal", now=NOON)  # each queues its confirmation, due now
    caplog.set_level(logging.INFO)
    with time_machine.travel(NOON, tick=False):
        scheduler.run(app, once=True)
    assert [line for line in scheduler_lines(caplog) if line.startswith("dispatched")] == ["dispatched: 2 sent"]
    assert capsys.readouterr().out.count("[SMS console, not sent]") == 2


def test_job_runs_that_did_nothing_log_nothing(app, make, caplog, scheduler_logger):
    caplog.set_level(logging.INFO)
    with time_machine.travel(NOON, tick=False):
        scheduler.run(app, once=True)
    assert scheduler_lines(caplog) == []


def test_a_run_summary_names_each_outcome_most_first():
    assert scheduler.summary({"skipped": 1, "sent": 3, "missed": 1}) == "3 sent, 1 missed, 1 skipped"


def test_apschedulers_line_for_every_job_run_is_kept_out_by_default(caplog, apscheduler_level):
    caplog.set_level(logging.INFO)
    scheduler.quiet_apscheduler()
    ran = []
    background = BackgroundScheduler(timezone="UTC")
    background.add_job(lambda: ran.append(1), "interval", seconds=60, next_run_time=datetime.now(UTC))
    background.start()
    try:
        deadline = time.monotonic() + 5
        while not ran and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        background.shutdown(wait=True)
    assert ran == [1]
    assert not [r for r in caplog.records if r.name.startswith("apscheduler") and r.levelno < logging.WARNING]


def test_verbose_shows_apschedulers_lines_again(apscheduler_level):
    scheduler.quiet_apscheduler(verbose=True)
    assert logging.getLogger("apscheduler.executors.default").isEnabledFor(logging.INFO)
    scheduler.quiet_apscheduler()
    assert not logging.getLogger("apscheduler.executors.default").isEnabledFor(logging.INFO)


def test_the_plan_runs_at_start_and_then_on_the_clocks_ten_minutes_while_the_rest_count_from_start():
    now = datetime(2026, 12, 3, 14, 7, 31, tzinfo=UTC)
    board = BackgroundScheduler(timezone="UTC")
    scheduler.add_jobs(board, scheduler.jobs(backend=None, throttle=None), lambda run: run, now)
    by_id = {job.id: job for job in board.get_jobs()}
    plan, ten_past = by_id["plan"].trigger, datetime(2026, 12, 3, 14, 10, tzinfo=UTC)
    assert by_id["plan-at-start"].trigger.run_date == now
    assert plan.get_next_fire_time(None, now) == ten_past
    assert plan.get_next_fire_time(ten_past, ten_past) == datetime(2026, 12, 3, 14, 20, tzinfo=UTC)
    assert by_id["dispatch"].next_run_time == now
