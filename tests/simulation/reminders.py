"""A long-run simulation of the reminder engine, with faults, checked against the README's promises.

    python3 tasks.py simulate                         # 60 days, 150 patients, SQLite (a few minutes)
    python3 tasks.py simulate --days 7 --patients 20  # a quick look
    python3 tasks.py simulate --database postgresql   # on TEST_DATABASE_URL's server

The clock moves over weeks across the spring DST changes of both hemispheres (from 1 March: North
America on 8 March, Europe on 29 March, Australia and Chile on 5 April). Each step (5 simulated
minutes) runs the scheduler's own jobs as the scheduler would: the planner every `plan_minutes`,
then reconcile and dispatch for each of several scheduler "processes", through the real Twilio SDK
against the fake Twilio. The fake answers 429 and 500, drops requests, loses answers to messages it
did accept, leaves messages queued (with no DateSent) for a while, and refuses some numbers for
good; scheduler processes are killed just before or just after a send and replaced. Meanwhile
patients log exercises, text DONE, pain scores, STOP and START; physiotherapists book, move,
cancel and complete needling sessions; clinics change their window, times, caps and needling-day
rule (through the services, or straight in the database as if the re-plan had failed); patients
move to another time zone.

What went out is read back from the fake Twilio (the only witness that matters) and checked
against the rules in force at each moment, recorded by the simulation itself as it changed them:
- no text twice: every message Twilio has belongs to exactly one reminder row;
- none outside the window in force, in the patient's zone at that moment, and none deliverable after it;
- none on a needling day whose rule is `skip`, and the gentler text only on a `gentle` needling day;
- none over the daily or weekly cap in force;
- none after opt-out or without consent, and no reply to an opted-out number but to START and HELP;
- none lost: when the run ends and the engine has settled, no reminder is left claimed or sending.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import time_machine

from fakes.twilio import FakeTwilio
from hep.accounts import service as accounts
from hep.accounts.models import Patient, User
from hep.adherence import service as adherence
from hep.adherence.metrics import day_logs
from hep.extensions import db
from hep.programs import schedule
from hep.programs.compiled import live_routines
from hep.programs.schemas import RoutineInSchema
from hep.programs.service import create_routine
from hep.reminders import consent, inbound, policy
from hep.reminders import service as reminders
from hep.reminders.dispatch import Dispatcher
from hep.reminders.models import ConsentEvent, InboundMessage, Reminder, ReminderSettings
from hep.reminders.reconcile import Reconciler
from hep.reminders.slices import plan_share
from hep.reminders.sms import TwilioBackend
from hep.reminders.states import DAY_KINDS, Kind
from hep.sessions import service as sessions
from hep.sessions.models import CANCELLED, COMPLETED, NO_SHOW, SCHEDULED
from hep.wording import HEALTH_WORDS
from tests.factories import Factories, item, routine_body

SID, TOKEN, SENDER = "AC" + "5" * 32, "simulation-token", "+15005550006"
ZONES = (
    "America/Vancouver",
    "America/Los_Angeles",
    "America/Denver",
    "America/Chicago",
    "America/New_York",
    "America/Halifax",
    "America/St_Johns",
    "America/Sao_Paulo",
    "America/Santiago",
    "Europe/London",
    "Europe/Paris",
    "Europe/Athens",
    "Africa/Johannesburg",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Tokyo",
    "Australia/Adelaide",
    "Australia/Sydney",
    "Pacific/Auckland",
    "Pacific/Chatham",
)
RULESETS = (  # the three clinics' rules at the start
    policy.Rules(),
    policy.Rules("07:30", "20:30", ("08:00", "18:30"), 2, 5, 24, "gentle"),
    policy.Rules("09:00", "21:00", ("19:00",), 1, 4, 48, "skip"),
)
INBOUND = "http://localhost/webhooks/twilio/inbound"
STATUS = "http://localhost/webhooks/twilio/status"


class Killed(BaseException):
    """A scheduler process dying at a point of dispatch (not an Exception: nothing may catch it)."""


@dataclass
class Settings:
    days: int = 60
    patients: int = 150
    seed: int = 1
    start: datetime = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
    step_minutes: int = 5
    plan_minutes: int = 60
    schedulers: int = 2
    fault_rate: float = 0.1  # chance that a send (or a lookup) meets a fault at the provider
    kill_rate: float = 0.01  # chance per dispatch pass that the process is killed mid-send
    concurrency: int = 4  # provider calls in flight per scheduler (HEP_SMS_CONCURRENCY): pipelined rounds
    progress: bool = False


@dataclass
class History:
    """What the simulation changed and when: the rules in force at any moment are read from here."""

    zones: dict[int, list[tuple[datetime, str]]] = field(default_factory=lambda: defaultdict(list))
    rules: dict[int, list[tuple[datetime, policy.Rules]]] = field(default_factory=lambda: defaultdict(list))
    sessions: dict[int, list[tuple[datetime, int, datetime, str]]] = field(default_factory=lambda: defaultdict(list))
    events: Counter = field(default_factory=Counter)

    @staticmethod
    def at(entries: list, moment: datetime):
        found = entries[0][1:]
        for entry in entries:
            if entry[0] <= moment:
                found = entry[1:]
        return found[0] if len(found) == 1 else found

    def zone_at(self, patient_id: int, moment: datetime) -> ZoneInfo:
        return ZoneInfo(self.at(self.zones[patient_id], moment))

    def rules_at(self, clinic_id: int, moment: datetime) -> policy.Rules:
        return self.at(self.rules[clinic_id], moment)

    def sessions_at(self, patient_id: int, moment: datetime) -> dict[int, tuple[datetime, str]]:
        found = {}
        for when, session_id, starts_at, status in self.sessions[patient_id]:
            if when <= moment:
                found[session_id] = (starts_at, status)
        return found


@dataclass
class Scheduler:
    name: str
    generation: int = 0
    dispatcher: Dispatcher | None = None

    @property
    def owner(self) -> str:
        return f"{self.name}:{self.generation}"


class Simulation:
    def __init__(self, app, settings: Settings) -> None:
        self.app, self.settings = app, settings
        self.rng = random.Random(settings.seed)
        self.now = settings.start
        self.history = History()
        self.events: list[tuple[datetime, int, object]] = []  # (when, tie-breaker, action)
        self.patients: list[dict] = []
        self.clinics: list = []
        self.replies: list[tuple[datetime, int, str, str | None]] = []
        self._tick = 0

    # --- the world ------------------------------------------------------------------------

    def build(self) -> None:
        make = Factories()
        for slug in ("sim-daily", "sim-weekdays", "sim-flexible", "sim-twice"):
            make.exercise(slug=slug)
        for n, rules in enumerate(RULESETS):
            clinic = make.clinic(name=f"Clinic {n}")
            db.session.add(ReminderSettings(clinic_id=clinic.id, **_settings_values(rules)))
            db.session.commit()
            self.history.rules[clinic.id].append((self.now, rules))
            self.clinics.append((clinic, make.physio(clinic), make.admin(clinic)))
        for n in range(self.settings.patients):
            clinic, physio, _admin = self.clinics[n % len(self.clinics)]
            zone = ZONES[n % len(ZONES)]
            patient = make.patient(
                clinic,
                physio,
                timezone=zone,
                language=("en", "fr", "es")[n % 7 % 3],
                phone=f"+4477{n:08d}",
            )
            self.history.zones[patient.id].append((self.now, zone))
            create_routine(physio, patient.id, RoutineInSchema().load(self._routine(n)), now=self.now)
            consent.grant(physio, patient.id, "verbal", now=self.now)
            if n % 9 == 4:
                reminders.set_times(physio, patient.id, [self._clock_time(7, 21)], now=self.now)
            self.patients.append(
                {
                    "id": patient.id,
                    "phone": patient.phone,
                    "clinic": clinic.id,
                    "physio": physio.id,
                    "adherence": self.rng.uniform(0.2, 0.95),
                }
            )
        self._script()

    def _routine(self, n: int) -> dict:
        start = self.settings.start.date() - timedelta(days=self.rng.randint(0, 20))
        shapes = (
            [item("sim-daily")],
            [item("sim-weekdays", weekdays=["mon", "wed", "fri"])],
            [item("sim-flexible", days_per_week=3)],
            [item("sim-daily"), item("sim-twice", times_per_day=2, days_per_week=5)],
        )
        end = start + timedelta(days=self.rng.randint(30, 90)) if n % 5 == 0 else None
        return routine_body(start, items=shapes[n % len(shapes)], end=end)

    def _clock_time(self, first_hour: int, last_hour: int) -> str:
        return f"{self.rng.randint(first_hour, last_hour - 1):02d}:{self.rng.choice((0, 15, 30, 45)):02d}"

    def _at(self, fraction: float) -> datetime:
        return self.settings.start + timedelta(days=self.settings.days * fraction)

    def _schedule(self, when: datetime, action) -> None:
        self._tick += 1
        self.events.append((when, self._tick, action))

    def _script(self) -> None:
        """Everything that will happen, at its time: sessions, logs, replies, moves and rule changes."""
        end = self.settings.start + timedelta(days=self.settings.days)
        for p in self.patients:
            when = self.settings.start + timedelta(days=self.rng.uniform(0, 7))
            while when < end:
                self._schedule(when, ("book", p))
                when += timedelta(days=self.rng.uniform(6, 14))
            for day in range(self.settings.days + 1):
                if self.rng.random() < p["adherence"]:
                    hour = self.rng.choice((7.5, 9, 12, 18.5, 20, 21.5))
                    self._schedule(self.settings.start + timedelta(days=day, hours=hour), ("log", p))
            if self.rng.random() < 0.08:
                stop = self.settings.start + timedelta(days=self.rng.uniform(1, self.settings.days))
                self._schedule(stop, ("text", p, "STOP"))
                if self.rng.random() < 0.5:
                    self._schedule(stop + timedelta(days=self.rng.uniform(1, 5)), ("text", p, "START"))
            if self.rng.random() < 0.06:
                self._schedule(self._at(self.rng.uniform(0.1, 0.9)), ("move", p, self.rng.random() < 0.3))
            if self.rng.random() < 0.04:
                self._schedule(self._at(self.rng.uniform(0.1, 0.9)), ("times", p))
            if self.rng.random() < 0.02:
                self._schedule(self._at(self.rng.uniform(0.2, 0.8)), ("reject", p))
        clinic = [c.id for c, _p, _a in self.clinics]
        self._schedule(self._at(0.15), ("rules", clinic[0], {"window_start": "09:00", "window_end": "20:00"}, True))
        self._schedule(self._at(0.3), ("rules", clinic[1], {"needling_day": "skip"}, True))
        self._schedule(self._at(0.4), ("rules", clinic[2], {"max_per_week": 2, "needling_day": "gentle"}, False))
        self._schedule(self._at(0.5), ("rules", clinic[0], {"exercise_times": ["17:30"]}, False))
        self._schedule(self._at(0.6), ("rules", clinic[1], {"window_start": "07:00", "window_end": "22:00"}, False))
        self._schedule(
            self._at(0.7), ("rules", clinic[2], {"max_per_day": 2, "exercise_times": ["08:00", "19:00"]}, True)
        )
        self._schedule(self._at(0.8), ("rules", clinic[0], {"window_start": "08:00", "max_per_week": 7}, True))
        self.events.sort(key=lambda e: (e[0], e[1]))

    # --- what people do -------------------------------------------------------------------

    def _act(self, action) -> None:
        kind, *args = action
        getattr(self, f"_do_{kind}")(*args)
        self.history.events[kind] += 1

    def _do_book(self, p: dict) -> None:
        zone = self.history.zone_at(p["id"], self.now)
        day = (self.now + timedelta(days=self.rng.randint(1, 4))).astimezone(zone).date()
        local = datetime.combine(day, datetime.strptime(self._clock_time(8, 18), "%H:%M").time(), zone)
        physio = db.session.get(User, p["physio"])
        booked = sessions.schedule(
            physio, p["id"], {"starts_at": local.astimezone(UTC), "duration_minutes": 30}, now=self.now
        )
        self._record_session(p["id"], booked)
        fate = self.rng.random()
        if fate < 0.1:  # cancelled a day or so before
            self._schedule(
                booked.starts_at - timedelta(hours=self.rng.uniform(6, 30)),
                ("session", p, booked.id, {"status": CANCELLED}),
            )
        elif fate < 0.15:  # moved by a day
            new = booked.starts_at + timedelta(days=1, hours=self.rng.choice((-2, 0, 2)))
            self._schedule(booked.starts_at - timedelta(hours=30), ("session", p, booked.id, {"starts_at": new}))
        else:
            status = COMPLETED if fate < 0.85 else NO_SHOW if fate < 0.93 else None  # some are never closed
            if status:
                self._schedule(
                    booked.starts_at + timedelta(hours=self.rng.uniform(0.5, 5)),
                    ("session", p, booked.id, {"status": status}),
                )

    def _do_session(self, p: dict, session_id: int, changes: dict) -> None:
        physio = db.session.get(User, p["physio"])
        current = sessions.get_session(physio, session_id)
        if current.status != SCHEDULED or ("starts_at" in changes and changes["starts_at"] <= self.now):
            return
        self._record_session(p["id"], sessions.change(physio, session_id, changes, now=self.now))

    def _record_session(self, patient_id: int, session) -> None:
        self.history.sessions[patient_id].append((self.now, session.id, session.starts_at, session.status))

    def _do_log(self, p: dict) -> None:
        zone = self.history.zone_at(p["id"], self.now)
        today = self.now.astimezone(zone).date()
        routines = live_routines([p["id"]], today - timedelta(days=1))[p["id"]]
        logs = day_logs([p["id"]], schedule.week_start(today), today)
        credit = {day: v.credit for (_pid, day), v in logs.items()}
        entries = [
            {
                "data": {
                    "id": uuid.UUID(int=self.rng.getrandbits(128)),
                    "routine_item_id": it.id,
                    "performed_at": self.now.astimezone(zone).replace(microsecond=0),
                    "sets_done": it.sets,
                    "reps_done": it.reps,
                    "hold_seconds_done": it.hold_seconds,
                    "pain_before": self.rng.randint(0, 6),
                    "pain_after": self.rng.randint(0, 6),
                    "difficulty": None,
                    "note": None,
                },
                "raw": {},
            }
            for _r, it in schedule.due_on(routines, today, credit)
        ]
        if entries:
            patient = db.session.get(User, p["id"])
            adherence.sync(patient, p["id"], entries, now=self.now, rules=adherence.LogRules(max_age_days=14))

    def _do_text(self, p: dict, body: str) -> None:
        reply = inbound.handle_text(f"SM{uuid.uuid4().hex}", p["phone"], body, now=self.now)
        self.replies.append((self.now, p["id"], body, reply))

    def _do_move(self, p: dict, straight_in_database: bool) -> None:
        zone = self.rng.choice([z for z in ZONES if z != self.history.zone_at(p["id"], self.now).key])
        if straight_in_database:  # as if the re-plan after it failed
            db.session.get(Patient, p["id"]).timezone = zone
            db.session.commit()
        else:
            accounts.update_patient(db.session.get(User, p["physio"]), p["id"], {"timezone": zone}, now=self.now)
        self.history.zones[p["id"]].append((self.now, zone))

    def _do_times(self, p: dict) -> None:
        times = sorted({self._clock_time(7, 21) for _ in range(self.rng.randint(1, 2))})
        reminders.set_times(db.session.get(User, p["physio"]), p["id"], times, now=self.now)

    def _do_reject(self, p: dict) -> None:
        self.fake.reject_number(p["phone"], code=self.rng.choice((21610, 21211)))

    def _do_rules(self, clinic_id: int, changes: dict, through_the_service: bool) -> None:
        admin = next(a for c, _p, a in self.clinics if c.id == clinic_id)
        if through_the_service:
            reminders.update_settings(admin, changes, now=self.now)
        else:  # straight in the database: no re-plan; dispatch must still apply them
            row = db.session.get(ReminderSettings, clinic_id)
            for key, value in changes.items():
                setattr(row, key, value)
            db.session.commit()
        row = db.session.get(ReminderSettings, clinic_id)
        self.history.rules[clinic_id].append((self.now, policy.Rules.of(row)))

    # --- the provider ---------------------------------------------------------------------

    def _fault(self) -> None:
        if self.rng.random() >= self.settings.fault_rate:
            return
        fault = self.rng.choice(("429", "500", "lost-answer", "dropped"))
        if fault == "429":
            self.fake.fail_next(1, status=429, code=20429)
        elif fault == "500":
            self.fake.fail_next(1, status=500, code=20500)
        else:  # the SDK times out after 0.2 s; with accept, Twilio did the work
            self.fake.timeout_next(1, seconds=0.3, accept=fault == "lost-answer")
        self.history.events[f"fault:{fault}"] += 1

    def _carrier(self) -> None:
        """Queued messages reach the carrier a few minutes late; Twilio posts the status callbacks."""
        for message in self.fake.outbound():
            if message["status"] not in ("queued", "accepted"):
                continue
            if self.now - message["date_created"] < timedelta(minutes=self.rng.choice((0, 5, 10, 20))):
                continue  # stays queued, with no DateSent
            self.fake.deliver(message["sid"], "sent")
            self.fake.deliver(message["sid"], "undelivered" if self.rng.random() < 0.02 else "delivered")

    def _replies_to_reminders(self, sent_before: int) -> None:
        by_phone = {p["phone"]: p for p in self.patients}
        for message in self.fake.outbound()[sent_before:]:
            p, roll = by_phone.get(message["to"]), self.rng.random()
            later = self.now + timedelta(minutes=self.rng.randint(5, 60))
            if p and roll < 0.12:
                self._schedule(later, ("text", p, "DONE"))
            elif p and roll < 0.16:
                self._schedule(later, ("text", p, str(self.rng.randint(0, 10))))
        self.events.sort(key=lambda e: (e[0], e[1]))

    # --- the scheduler's jobs -------------------------------------------------------------

    def _dispatch(self, scheduler: Scheduler, backend: TwilioBackend) -> None:
        if scheduler.dispatcher is None:
            scheduler.dispatcher = Dispatcher(
                backend=backend,
                owner=scheduler.owner,
                batch=20,
                max_per_second=1000,
                concurrency=self.settings.concurrency,
                status_callback=STATUS,
            )
        dispatcher = scheduler.dispatcher
        death = None
        if self.rng.random() < self.settings.kill_rate:
            death = self.rng.choice(("before-send", "after-send"))

        def at_point(reached: str) -> None:
            if reached == death:
                raise Killed(death)
            if reached == "before-send":
                self._fault()  # this send meets a fault now and then

        dispatcher.sender.pause_hook = at_point
        try:
            while sum(dispatcher.run_once(lambda: self.now).values()) >= dispatcher.batch:
                pass
        except Killed:
            # The calls this process had already started are on the wire: they reach the provider, and
            # their answers are lost with the process.
            dispatcher.close()
            db.session.rollback()
            self.history.events[f"killed:{death}"] += 1
            scheduler.generation += 1  # a new process takes its place; the dead one's leases stay behind
            scheduler.dispatcher = None

    def _reconcile(self, scheduler: Scheduler, backend: TwilioBackend) -> None:
        stale = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Reminder)
            .where(
                Reminder.status.in_(("claimed", "sending")),
                sa.or_(Reminder.lease_expires_at.is_(None), Reminder.lease_expires_at < self.now),
            )
        )
        if stale:
            self._fault()  # lookups meet faults too
        Reconciler(backend, scheduler.owner, recheck_seconds=60).run(self.now)

    def step(self, backends: list[TwilioBackend], *, plan_now: bool, quiet: bool = False) -> None:
        while self.events and self.events[0][0] <= self.now:
            _when, _tie, action = self.events.pop(0)
            if not quiet:
                self._act(action)
        self._carrier()
        if plan_now:
            for scheduler in self.schedulers:  # each takes the slices nobody has planned this hour
                plan_share(
                    scheduler.owner,
                    lambda: self.now,
                    slices=4,
                    fresh_seconds=self.settings.plan_minutes * 30,
                    lease_seconds=300,
                )
        sent_before = len(self.fake.outbound())
        for n, scheduler in enumerate(self.schedulers):
            self._reconcile(scheduler, backends[n])
            self._dispatch(scheduler, backends[n])
        if not quiet:
            self._replies_to_reminders(sent_before)

    def run(self) -> Report:
        started = time.monotonic()
        step = timedelta(minutes=self.settings.step_minutes)
        end = self.settings.start + timedelta(days=self.settings.days)
        with (
            time_machine.travel(self.now, tick=False) as traveller,
            FakeTwilio(SID, TOKEN, transport=self._transport, now=lambda: self.now) as fake,
        ):
            self.fake = fake
            backends = [
                TwilioBackend(SID, TOKEN, from_number=SENDER, base_url=fake.base_url, timeout=0.2)
                for _ in range(self.settings.schedulers)
            ]
            self.schedulers = [Scheduler(f"scheduler-{n}") for n in range(self.settings.schedulers)]
            try:
                self.build()
                steps_per_plan = max(1, self.settings.plan_minutes // self.settings.step_minutes)
                n = 0
                while self.now < end:
                    traveller.move_to(self.now)
                    self.step(backends, plan_now=n % steps_per_plan == 0)
                    n += 1
                    self.now += step
                    if self.settings.progress and n % (24 * 60 // self.settings.step_minutes) == 0:
                        day = (self.now - self.settings.start).days
                        print(
                            f"  day {day}/{self.settings.days}: {len(self.fake.outbound())} messages at Twilio, "
                            f"{time.monotonic() - started:.0f} s",
                            file=sys.stderr,
                            flush=True,
                        )
                # Let the engine settle with no more faults, kills or changes: leases run out, lookups repeat.
                self.settings.fault_rate = self.settings.kill_rate = 0
                for _ in range(int(timedelta(minutes=30) / step)):
                    traveller.move_to(self.now)
                    self.step(backends, plan_now=False, quiet=True)
                    self.now += step
            finally:
                for backend in backends:
                    backend.close()
                for scheduler in self.schedulers:
                    if scheduler.dispatcher:
                        scheduler.dispatcher.close()
            return check(self, time.monotonic() - started)

    def _transport(self, url, params, headers):
        client = self.app.test_client()
        response = client.post(url.removeprefix("http://localhost"), data=dict(params), headers=dict(headers))
        return response.status_code, response.get_data(as_text=True)


def _settings_values(rules: policy.Rules) -> dict:
    return {
        "window_start": rules.window_start,
        "window_end": rules.window_end,
        "exercise_times": list(rules.exercise_times),
        "max_per_day": rules.max_per_day,
        "max_per_week": rules.max_per_week,
        "pre_session_hours": rules.pre_session_hours,
        "needling_day": rules.needling_day,
    }


# --- the checks ----------------------------------------------------------------------------------


@dataclass
class Report:
    violations: dict[str, list[str]]
    counts: dict[str, int]
    seconds: float

    @property
    def ok(self) -> bool:
        return not any(self.violations.values())

    def text(self) -> str:
        lines = [f"simulated in {self.seconds:.0f} s"]
        lines += [f"  {key}: {value:,}" for key, value in sorted(self.counts.items())]
        for name, found in self.violations.items():
            lines.append(f"{'FAIL' if found else 'ok  '} {name}: {len(found)}")
            lines += [f"       {example}" for example in found[:5]]
        return "\n".join(lines)


def _consent_periods(patient_id: int) -> list[tuple[datetime, bool]]:
    return [
        (e.at, e.event in ("granted", "opted_in"))
        for e in db.session.scalars(
            sa.select(ConsentEvent).where(ConsentEvent.patient_id == patient_id).order_by(ConsentEvent.id)
        )
    ]


def _consented(periods: list[tuple[datetime, bool]], moment: datetime) -> bool:
    state = False
    for at, active in periods:
        if at <= moment:
            state = active
    return state


def check(sim: Simulation, seconds: float) -> Report:
    """Read what Twilio has and hold it against the rules in force when each message went out."""
    history = sim.history
    violations: dict[str, list[str]] = {
        name: []
        for name in (
            "no text twice",
            "none outside the window in force",
            "none deliverable after the window in force",
            "none on a skipped needling day",
            "the gentler text only on a gentle needling day",
            "none over the daily cap",
            "none over the weekly cap",
            "none after opt-out or without consent",
            "no reply to an opted-out number but to START and HELP",
            "no health details in a text",
            "none lost (left claimed or sending)",
        )
    }
    rows = {
        r.provider_sid: r for r in db.session.scalars(sa.select(Reminder).where(Reminder.provider_sid.is_not(None)))
    }
    by_phone = {p["phone"]: p for p in sim.patients}
    consent_periods = {p["id"]: _consent_periods(p["id"]) for p in sim.patients}
    day_texts: dict[int, list[tuple[datetime, date]]] = defaultdict(list)
    outbound = sim.fake.outbound()
    for m in outbound:
        sent = m["date_created"]
        p, row = by_phone[m["to"]], rows.get(m["sid"])
        where = f"{m['to']} at {sent:%Y-%m-%d %H:%M}Z"
        if row is None:
            violations["no text twice"].append(f"{where}: a message no reminder accounts for: {m['body'][:40]!r}")
            continue
        zone, rules = history.zone_at(p["id"], sent), history.rules_at(p["clinic"], sent)
        local = sent.astimezone(zone)
        start, end = policy.window(local.date(), rules, zone)
        if not (start - timedelta(seconds=1) <= sent <= end):
            violations["none outside the window in force"].append(
                f"{where} ({row.kind}) at {local:%H:%M} {zone.key}, window {rules.window_start}-{rules.window_end}"
            )
        validity = m["_validity_period"]
        if validity is None or sent + timedelta(seconds=validity) > end + timedelta(seconds=1):
            violations["none deliverable after the window in force"].append(
                f"{where}: validity {validity} s ({row.kind}, attempt {row.attempts}, {local:%H:%M} {zone.key},"
                f" window in force {rules.window_start}-{rules.window_end} ends {end:%H:%M}Z,"
                f" row's window end {row.window_end_at:%Y-%m-%d %H:%M}Z,"
                f" last attempt began {row.sending_since})"
            )
        if any(word in m["body"].lower() for word in HEALTH_WORDS):
            violations["no health details in a text"].append(f"{where}: {m['body']!r}")
        if not _consented(consent_periods[p["id"]], sent):
            violations["none after opt-out or without consent"].append(f"{where} ({row.kind})")
        if row.kind in DAY_KINDS:
            needling = {
                starts.astimezone(zone).date()
                for starts, status in history.sessions_at(p["id"], sent).values()
                if status in (SCHEDULED, COMPLETED)
            }
            if row.kind == Kind.EXERCISE and local.date() in needling:
                violations["none on a skipped needling day"].append(f"{where} on {local.date()} ({rules.needling_day})")
            if row.kind == Kind.POST_NEEDLING and (local.date() not in needling or rules.needling_day != "gentle"):
                violations["the gentler text only on a gentle needling day"].append(f"{where} on {local.date()}")
            earlier = day_texts[p["id"]]
            same_day = sum(1 for _t, d in earlier if d == local.date()) + 1
            week = schedule.week_start(local.date())
            same_week = sum(1 for _t, d in earlier if schedule.week_start(d) == week) + 1
            if same_day > rules.max_per_day:
                violations["none over the daily cap"].append(
                    f"{where}: {same_day} on {local.date()}, cap {rules.max_per_day}"
                )
            if same_week > rules.max_per_week:
                violations["none over the weekly cap"].append(
                    f"{where}: {same_week} in the week of {week}, cap {rules.max_per_week}"
                )
            earlier.append((sent, local.date()))
    for when, patient_id, body, reply in sim.replies:
        word = body.strip().upper()
        if (
            reply
            and not _consented(consent_periods[patient_id], when - timedelta(microseconds=1))
            and word
            not in (
                *inbound.START_WORDS,
                "HELP",
                *inbound.STOP_WORDS,
            )
        ):
            violations["no reply to an opted-out number but to START and HELP"].append(
                f"patient {patient_id}: {body!r}"
            )
    for r in db.session.scalars(sa.select(Reminder).where(Reminder.status.in_(("claimed", "sending")))):
        violations["none lost (left claimed or sending)"].append(f"reminder {r.id} {r.kind} {r.slot}: {r.status}")
    statuses = Counter(db.session.scalars(sa.select(Reminder.status)))
    counts = {
        "patients": len(sim.patients),
        "messages at Twilio": len(outbound),
        "inbound replies": db.session.scalar(sa.select(sa.func.count()).select_from(InboundMessage)),
        **{f"reminders {status}": n for status, n in statuses.items()},
        **{f"events {kind}": n for kind, n in history.events.items()},
    }
    return Report(violations, counts, seconds)


# --- the command ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--patients", type=int, default=150)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=4, help="calls in flight per scheduler (1: reproducible)")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args(argv)

    import tempfile

    from hep import create_app
    from tests.conftest import _migrate, app_settings, create_pg_database, drop_pg_database

    with tempfile.TemporaryDirectory() as tmp:
        url = create_pg_database("hep_sim") if args.database == "postgresql" else f"sqlite:///{tmp}/sim.db"
        try:
            _migrate(url)
            app = create_app(app_settings(url, TWILIO_AUTH_TOKEN=TOKEN))
            print(
                f"simulating {args.days} days, {args.patients} patients, seed {args.seed}, on {args.database}",
                file=sys.stderr,
                flush=True,
            )
            with app.app_context():
                report = Simulation(
                    app,
                    Settings(
                        days=args.days,
                        patients=args.patients,
                        seed=args.seed,
                        concurrency=args.concurrency,
                        progress=True,
                    ),
                ).run()
                db.session.remove()
                db.engine.dispose()
        finally:
            if args.database == "postgresql":
                drop_pg_database(url)
    print(report.text())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
