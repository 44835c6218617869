"""The scheduler process: a short table of periodic jobs (never inside gunicorn workers).

Reminders are rows in the database, not one APScheduler job each: a row can be claimed under a
lease by whichever scheduler process is free, survives restarts, is re-planned when a routine,
session, consent or rule changes, and carries its own state; so any number of these processes can
run side by side. Each job logs one line when it did something, and nothing when it did not;
APScheduler's own line for every run ("Running job ...", every 15 s) is kept to warnings unless asked
for, so the console stays readable beside gunicorn's access log and the texts.

Unlike a request, where one use-case function commits once, a job here commits step by step on
purpose: that is its protocol. The dispatcher commits its claim, then each send's result (so a crash
between them is found and settled by reconcile, never sent twice); the heartbeat and housekeeping
commit on their own, so one job's failure never undoes another's work.
"""

from __future__ import annotations

import logging
import os
import socket
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask, current_app
from sqlalchemy import delete

from hep.dbtypes import utcnow
from hep.extensions import db
from hep.idempotency.models import IdempotencyRecord
from hep.reminders.dispatch import dispatcher_from_app
from hep.reminders.models import EarlyStatus, Heartbeat
from hep.reminders.reconcile import reconciler_from_app
from hep.reminders.sender import Throttle, throttle_from_config
from hep.reminders.slices import plan_share
from hep.reminders.sms import SmsBackend, backend_from_config

log = logging.getLogger("hep.scheduler")
PLAN_EVERY = 600  # seconds: the plan runs at start, then on the clock's ten minutes (…:00, …:10, …)
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # where the plan's ten minutes are counted from


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def summary(outcome: Mapping[str, int]) -> str:
    """How a job's rows ended, in words: "2 sent, 1 skipped"."""
    return ", ".join(f"{n} {status}" for status, n in sorted(outcome.items(), key=lambda kv: (-kv[1], str(kv[0]))))


def quiet_apscheduler(verbose: bool = False) -> None:
    """Keep APScheduler's per-run lines ("Running job ...", "... executed successfully") out of the log
    unless `verbose`; its warnings and errors (a missed or failed run) always show."""
    logging.getLogger("apscheduler").setLevel(logging.INFO if verbose else logging.WARNING)


def plan_job() -> None:
    """Keep the reminder rows for the next day or so in line with the rules: this process's share of it,
    slice by slice, beside any other scheduler process planning at the same moment."""
    config = current_app.config
    share = plan_share(
        _owner(),
        utcnow,
        slices=config["PLAN_SLICES"],
        fresh_seconds=PLAN_EVERY / 2,
        lease_seconds=config["PLAN_SLICE_LEASE_SECONDS"],
    )
    if share.changed:
        log.info(
            "planned: %d reminders added or moved (%d of %d slices)", share.changed, share.slices, config["PLAN_SLICES"]
        )


def dispatch_job(backend: SmsBackend, throttle: Throttle) -> None:
    """Send what is due; record a heartbeat."""
    owner = _owner()
    dispatcher = dispatcher_from_app(backend, owner, throttle)
    total: Counter = Counter()
    try:
        total.update(dispatcher.run_once())  # batch after batch, until nothing more is due
    finally:
        dispatcher.close()
        if total:  # one line for the whole run, however many batches it took
            log.info("dispatched: %s", summary(total))
    beat = db.session.get(Heartbeat, owner) or Heartbeat(owner=owner)
    beat.beat_at = utcnow()
    db.session.add(beat)
    db.session.commit()


def reconcile_job(backend: SmsBackend) -> None:
    """Settle reminders whose process died mid-send, or whose provider answer was lost."""
    outcome = reconciler_from_app(current_app.config, backend, _owner()).run(utcnow())
    if outcome:
        log.info("reconciled: %s", summary(outcome))


def housekeeping_job() -> None:
    """Drop what nobody needs any more: old idempotency records, heartbeats of gone processes, and
    delivery reports that never found their reminder."""
    now = utcnow()
    dropped = {
        "idempotency records": delete(IdempotencyRecord).where(IdempotencyRecord.created_at < now - timedelta(days=7)),
        "heartbeats": delete(Heartbeat).where(Heartbeat.beat_at < now - timedelta(days=1)),
        # Reports for SIDs never recorded (a send whose answer was lost and never reconciled as ours).
        "early delivery reports": delete(EarlyStatus).where(EarlyStatus.received_at < now - timedelta(days=2)),
    }
    counts = {what: db.session.execute(statement).rowcount for what, statement in dropped.items()}
    db.session.commit()
    if any(counts.values()):
        log.info("housekeeping: dropped %s", summary({what: n for what, n in counts.items() if n}))


@dataclass(frozen=True)
class Job:
    """One line of the schedule."""

    name: str
    run: Callable[[], None]
    every: int  # seconds
    on_the_clock: bool = False  # at start, then at whole multiples of `every` (the same moment in every process)


def jobs(backend: SmsBackend, throttle: Throttle) -> list[Job]:
    """The whole schedule."""
    return [
        Job("plan", plan_job, PLAN_EVERY, on_the_clock=True),  # processes planning together share it (slices.py)
        Job("reconcile", lambda: reconcile_job(backend), 60),
        Job("dispatch", lambda: dispatch_job(backend, throttle), 15),
        Job("housekeeping", housekeeping_job, 3600),
    ]


def add_jobs(scheduler: BaseScheduler, schedule: list[Job], wrap: Callable, now: datetime) -> None:
    """Put the schedule on an APScheduler: each job runs at `now`, then every `every` seconds, from `now` or,
    on the clock, from EPOCH. (An interval's later runs count from its first one, so a job on the clock has
    its first run as a job of its own.)"""
    for job in schedule:
        if job.on_the_clock:
            scheduler.add_job(wrap(job.run), "date", run_date=now, id=f"{job.name}-at-start")
            when = {"start_date": EPOCH}
        else:
            when = {"next_run_time": now}
        scheduler.add_job(
            wrap(job.run), "interval", seconds=job.every, id=job.name, max_instances=1, coalesce=True, **when
        )


def run(app: Flask, *, once: bool = False, verbose: bool = False) -> None:
    """Run the jobs forever (or each once, for tests and cron-style use)."""
    backend = backend_from_config(app.config)
    throttle = throttle_from_config(app.config, app.config["SQLALCHEMY_DATABASE_URI"])

    def in_app(job):
        def wrapped():
            with app.app_context():
                try:
                    job()
                finally:
                    db.session.remove()

        return wrapped

    try:
        if once:
            for job in jobs(backend, throttle):
                in_app(job.run)()
            return
        quiet_apscheduler(verbose)
        scheduler = BlockingScheduler(timezone="UTC")
        schedule = jobs(backend, throttle)
        add_jobs(scheduler, schedule, in_app, utcnow())
        log.info("scheduler %s starting: %s", _owner(), ", ".join(job.name for job in schedule))
        scheduler.start()
    finally:
        throttle.close()
        backend.close()
