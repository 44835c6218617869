"""The 18:00 rush: every patient texted at once, then opening the app and syncing, in an open loop.

    .venv/bin/python benchmarks/rush.py [--patients 10000] [--rate 50] [--time-scale 10] [--runs 1]
        [--database-url postgresql://postgres@127.0.0.1:5432/test] [--out benchmarks/RESULTS-rush.md] [--quick]

N patients in one time zone, each with a routine from the shipped templates, text consent and an
exercise reminder due now. A real dispatcher (in a child process) texts them through a fake Twilio
while the app serves under gunicorn; each text makes its patient open the app (GET today) a little
later, and sync a few entries (POST logs/batch) a few minutes after that. Requests are sent at their
scheduled times whether or not the server keeps up, and latency counts from that time, so waiting in
the client counts too. Then a capacity sweep of GET today (and GET /livez) at Poisson rates.
See benchmarks/README.md ("Rush") for why; the results file's header says how to read it.
"""

from __future__ import annotations

import argparse
import heapq
import http.client
import itertools
import json
import math
import os
import platform
import queue
import random
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script: make `hep` and `fakes` importable

import sqlalchemy as sa

from benchmarks.common import (
    BUSY,
    DEFAULT_PG,
    PACKAGES,
    CpuMeter,
    Server,
    arguments,
    children,
    code_version,
    command_line,
    cpu_model,
    gunicorn,
    memory,
    progress,
    publish,
    show,
    status_kb,
    throwaway_database,
    versions,
)
from benchmarks.hot_paths import PLAN, BenchPatient, Request, _auth, _entry, _problem, _share, plan_source, run_scenario
from benchmarks.hot_paths import warm_up as warm_plans
from benchmarks.reminders import (
    SID,
    TOKEN,
    WHOLE_DAY,
    TimedFakeTwilio,
    busiest_second,
    reminder_row,
    run_children,
)
from benchmarks.scale import PER_PHYSIO, Shape, migrate_with_library
from benchmarks.scale import build as build_clinic
from hep import create_app
from hep.adherence import service as adherence
from hep.reminders.models import Reminder, ReminderSettings, SmsContact
from hep.reminders.states import ContactStatus, Kind

TODAY, SYNC, LIVEZ = "today", "sync", "livez"
TARGET_MS = 30.0  # today's plan p99 at 50 % of saturated throughput
STOP_MS = 10 * TARGET_MS  # the sweep stops once a rate's p99 is this far over
SATURATE_CONNECTIONS = 16  # closed loop, as hot_paths.py
# Minutes of real life, divided by --time-scale: text -> open the app (d1), open -> sync (d2).
D1_MEDIAN, D1_SIGMA, D1_CAP = 60.0, 0.9, 600.0
D2_MEDIAN, D2_SIGMA, D2_CAP = 180.0, 0.5, 900.0
TWILIO_LATENCY = 0.1  # seconds the fake Twilio takes to answer a send
RATES = (25, 50, 100, 150, 200, 300, 400, 600, 800)
TITLES = {
    TODAY: "today's plan: GET /patients/{id}/today",
    SYNC: "sync: POST /patients/{id}/logs/batch",
    LIVEZ: "GET /livez",
}
PACKAGES_RUSH = (*PACKAGES, "twilio")
HEADER = """\
# Benchmark results: the 18:00 rush

Written by `benchmarks/rush.py` (how it works: `benchmarks/README.md`, "Rush"). Each `##` section is
one invocation, labelled by database unless `--label` says otherwise; the same label replaces its section.

How to read it:

- **Open loop.** Requests are sent when their patient would send them, whether or not the
  server has answered the earlier ones; a request's latency counts **from its scheduled time**, so
  time spent waiting for a free client thread or a free worker is in it (no coordinated omission).
  `driver lateness` is how late the client actually sent requests: when it is more than a few ms,
  the client itself was the bottleneck and the figures are pessimistic.
- **The rush** is one run: a real dispatcher sends every reminder at `--rate` texts/s to a fake
  Twilio; each text schedules its patient's GET today after a random delay d1 and their sync d2
  later (real-life minutes divided by `--time-scale`, so arrivals come faster than in life by that
  factor once the texts are out). Percentiles are over every request of the rush.
- **The sweep**: Poisson arrivals of one request kind at each rate for a fixed time; the highest
  rate whose p99 <= 30 ms is the capacity at that latency. The same for `GET /livez` (no database)
  gives the framework's own ceiling on this machine; the ratio travels between machines better.
- **Saturated throughput** is closed loop (16 connections, as `hot_paths.py`); the target row is the
  open-loop p99 of today's plan at half that rate.
- `machine CPU` is the whole machine (100 % = every core); `other work` the part used by processes
  that are neither this script (with the fake Twilio in it), its dispatcher child, gunicorn and its
  workers, nor the PostgreSQL backends of its database. Above 10 % the machine was shared: rerun.
- Figures are the median of `--runs` with the (min-max) spread; the rush always runs once.
- A section that reports errors is not a valid measurement, whatever its figures say.
"""

say = progress("rush")


# --- the data -------------------------------------------------------------------------------


@dataclass
class Data:
    patients: list[BenchPatient]
    phones: dict[str, BenchPatient]
    reminders: int
    logs: int
    seconds: float
    slot: str


def build(url: str, db_name: str, count: int, zone: str, now: datetime) -> Data:
    """Patients in `zone` with shipped routines and history to yesterday (scale.py's bulk builder), then
    phones, text consent, a whole-day sending window and an exercise reminder due this minute."""
    started = time.monotonic()
    tz = ZoneInfo(zone)
    local_now = now.astimezone(tz)
    # History up to last midnight: today starts empty, so no reminder is skipped as already done.
    midnight = datetime.combine(local_now.date(), clock(0), tz).astimezone(UTC)
    migrate_with_library(url, now)
    ttl = int((now - midnight).total_seconds()) + 6 * 3600
    shape = Shape("rush", count, count, 35, None, max(1, -(-count // PER_PHYSIO)), tokens=count, zones=(zone,))
    built = build_clinic(url, db_name, shape, midnight, ttl)
    patients = [BenchPatient(pid, token, tz_name, items) for pid, token, tz_name, items in built.patient_tokens]
    hhmm = local_now.strftime("%H:%M")
    slot = f"{local_now.date().isoformat()}T{hhmm}"
    due = datetime.combine(local_now.date(), clock(local_now.hour, local_now.minute), tz).astimezone(UTC)
    end = datetime.combine(local_now.date(), clock(23, 59), tz).astimezone(UTC)
    phones = {f"+44770{p.id:07d}": p for p in patients}
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            clinic_id = conn.execute(sa.text("SELECT id FROM clinics ORDER BY id LIMIT 1")).scalar_one()
            conn.execute(
                ReminderSettings.__table__.insert(), [{**WHOLE_DAY, "clinic_id": clinic_id, "exercise_times": [hhmm]}]
            )
            pairs = [{"pid": p.id, "phone": phone} for phone, p in phones.items()]
            conn.execute(sa.text("UPDATE users SET phone = :phone WHERE id = :pid"), pairs)
            contacts = [
                {
                    "patient_id": p.id,
                    "phone": phone,
                    "status": ContactStatus.ACTIVE,
                    "exercise_times": [hhmm],
                    "updated_at": now,
                }
                for phone, p in phones.items()
            ]
            conn.execute(SmsContact.__table__.insert(), contacts)
            rows = []
            for phone, p in phones.items():
                row = reminder_row((p.id, clinic_id, phone), slot, due, end, now, Kind.EXERCISE)
                rows.append(row | {"local_date": local_now.date()})
            conn.execute(Reminder.__table__.insert(), rows)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))
    finally:
        engine.dispose()
    return Data(patients, phones, len(phones), built.logs, time.monotonic() - started, slot)


# --- the open-loop driver -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: str
    scheduled: float  # perf_counter seconds
    started: float | None  # None: never sent (abandoned after the run's drain time)
    ended: float
    problem: str | None

    @property
    def latency(self) -> float:
        return self.ended - self.scheduled


class OpenLoop:
    """Requests sent at their scheduled times by a pool of threads, however far behind the server is.

    A timer thread releases each request at its time into a queue; `threads` workers take them in
    order, each on its own keep-alive connection. A request is built only when it is sent (fresh times)."""

    def __init__(self, address: tuple[str, int], threads: int):
        self.address = address
        self._heap: list[tuple[float, int, str, Callable[[], Request]]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._queue: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self.pending = 0
        self.outcomes: list[Outcome] = []
        self.examples: dict[str, str] = {}
        self._closed = False
        self._threads = [threading.Thread(target=self._release, daemon=True)]
        self._threads += [threading.Thread(target=self._work, daemon=True) for _ in range(threads)]
        for thread in self._threads:
            thread.start()

    def at(self, when: float, kind: str, make: Callable[[], Request]) -> None:
        """Send `make()` at perf_counter time `when`."""
        with self._lock:
            self.pending += 1
        with self._cond:
            heapq.heappush(self._heap, (when, next(self._seq), kind, make))
            self._cond.notify()

    def _release(self) -> None:
        with self._cond:
            while not self._closed:
                now = time.perf_counter()
                while self._heap and self._heap[0][0] <= now:
                    self._queue.put(heapq.heappop(self._heap))
                self._cond.wait(self._heap[0][0] - now if self._heap else None)

    def _work(self) -> None:
        conn = http.client.HTTPConnection(*self.address, timeout=60)
        while (item := self._queue.get()) is not None:
            when, _seq, kind, make = item
            request = make()
            started = time.perf_counter()
            try:
                conn.request(request.method, request.path, body=request.body, headers=request.headers)
                response = conn.getresponse()
                body = response.read()
                problem = _problem(request, response.status, body)
                detail = f"{response.status} {body[:300]!r}"
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                problem, detail = type(exc).__name__, repr(exc)
            self._done(Outcome(kind, when, started, time.perf_counter(), problem), request, detail)
        conn.close()

    def _done(self, outcome: Outcome, request: Request | None, detail: str) -> None:
        with self._lock:
            self.outcomes.append(outcome)
            if outcome.problem and outcome.problem not in self.examples and request is not None:
                self.examples[outcome.problem] = f"{request.method} {request.path}: {detail}"
            self.pending -= 1
            if self.pending == 0:
                self._idle.notify_all()

    def wait_idle(self, deadline: float | None = None) -> bool:
        """Wait until every request scheduled so far has been answered (or the deadline passes)."""
        with self._lock:
            while self.pending:
                left = None if deadline is None else deadline - time.perf_counter()
                if left is not None and left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def close(self) -> int:
        """Stop; requests not yet sent are recorded as abandoned (latency: at least until now). Returns how many."""
        with self._cond:
            self._closed = True
            left = list(self._heap)
            self._heap.clear()
            self._cond.notify()
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            left.append(item)
        now = time.perf_counter()
        for when, _seq, kind, _make in left:
            self._done(Outcome(kind, when, None, max(now, when), "abandoned"), None, "")
        for _ in self._threads[1:]:
            self._queue.put(None)
        for thread in self._threads[1:]:
            thread.join(timeout=90)
        return len(left)


# --- figures --------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


@dataclass
class Stats:
    """Latency and lateness of one kind of request in one run, in ms."""

    count: int
    p50: float
    p99: float
    top: float
    late_p50: float
    late_p99: float
    late_max: float
    errors: Counter
    abandoned: int

    @classmethod
    def of(cls, outcomes: list[Outcome]) -> Stats:
        latency = [1000 * o.latency for o in outcomes]
        late = [1000 * (o.started - o.scheduled) for o in outcomes if o.started is not None]
        errors = Counter(o.problem for o in outcomes if o.problem and o.problem != "abandoned")
        abandoned = sum(1 for o in outcomes if o.problem == "abandoned")
        return cls(
            len(outcomes),
            percentile(latency, 0.5),
            percentile(latency, 0.99),
            max(latency, default=float("nan")),
            percentile(late, 0.5),
            percentile(late, 0.99),
            max(late, default=float("nan")),
            errors,
            abandoned,
        )


def peak_per_10s(times: list[float], start: float) -> float:
    """The busiest 10-second window (aligned on `start`), as a rate per second."""
    buckets = Counter(int((t - start) // 10) for t in times)
    return max(buckets.values(), default=0) / 10


def _lognormal(rng: random.Random, median: float, sigma: float, cap: float) -> float:
    return min(cap, rng.lognormvariate(math.log(median), sigma))


# --- requests -------------------------------------------------------------------------------


def plan_request(patient: BenchPatient) -> Request:
    return Request("GET", f"/api/v1/patients/{patient.id}/today", _auth(patient))


def sync_request(patient: BenchPatient, rng: random.Random, spread: float) -> Request:
    """3-8 new entries for today's items, done over the `spread` seconds since the app was opened."""
    now = datetime.now(ZoneInfo(patient.timezone)).replace(microsecond=0)
    count = rng.randint(3, 8)
    entries = [_entry(patient, now - timedelta(seconds=spread * (k + 1) / count), rng) for k in range(count)]
    body = json.dumps({"entries": entries}).encode()
    headers = {**_auth(patient), "Content-Type": "application/json"}
    return Request("POST", f"/api/v1/patients/{patient.id}/logs/batch", headers, body, count, adherence.CREATED)


LIVEZ_REQUEST = Request("GET", "/livez", {})


# --- the rush -------------------------------------------------------------------------------


class RushTwilio(TimedFakeTwilio):
    """The timed fake Twilio, also telling `on_text(to, when)` of every text it accepted."""

    on_text: Callable[[str, float], None] | None = None

    def _create(self, form):
        response = super()._create(form)
        if response.status == 201 and self.on_text is not None:
            self.on_text(form["To"], time.perf_counter())
        return response


@dataclass
class Rush:
    stats: dict[str, Stats]
    seconds: float
    texts: int
    outcome: dict
    send_seconds: float
    text_peak_1s: int
    text_peak_10s: float
    arrival_peaks: dict[str, float]  # kind (and "all"): busiest 10 s, requests/s
    machine_cpu: float | None
    other_cpu: float | None
    client_cpu: float  # % of one core: this process (the driver and the fake Twilio)
    worker_rss: list[tuple[int, int | None, int | None]]  # pid, VmHWM KiB, VmRSS KiB
    dispatcher_rss_kb: int | None
    examples: dict[str, str]
    abandoned: int


def run_rush(server: Server, meter: CpuMeter, url: str, data: Data, args: argparse.Namespace) -> Rush:
    """Dispatch every reminder; each text schedules its patient's plan and sync; wait until all are answered."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "RATELIMIT_STORAGE_URI": "memory://"})
    batch, concurrency = app.config["REMINDER_BATCH"], app.config["SMS_CONCURRENCY"]
    rng = random.Random(args.seed)
    loop = OpenLoop(server.address, args.threads)
    scale = args.time_scale
    with RushTwilio(SID, TOKEN) as fake:
        fake.latency = TWILIO_LATENCY

        def on_text(to: str, at: float) -> None:
            patient = data.phones.get(to)
            if patient is None:
                return
            d1 = _lognormal(rng, D1_MEDIAN, D1_SIGMA, D1_CAP) / scale
            d2 = _lognormal(rng, D2_MEDIAN, D2_SIGMA, D2_CAP) / scale
            own = random.Random(rng.random())
            loop.at(at + d1, TODAY, lambda: plan_request(patient))
            loop.at(at + d1 + d2, SYNC, lambda: sync_request(patient, own, d2 * scale))

        fake.on_text = on_text
        payload = {
            "owner": "bench-rush",
            "base_url": fake.base_url,
            "max_per_second": args.rate,
            "batch": batch,
            "concurrency": concurrency,
        }
        result: dict = {}

        def dispatch() -> None:
            try:
                [result["child"]] = run_children(url, "dispatch", [payload])
            except Exception as exc:  # reported after the rush
                result["error"] = repr(exc)

        sample0, cpu0, started = meter.sample(), time.process_time(), time.perf_counter()
        sender = threading.Thread(target=dispatch, daemon=True)
        sender.start()
        say(f"rush: dispatching {data.reminders} reminders at {args.rate:g} msg/s (batch {batch}, {concurrency} calls)")
        while sender.is_alive() or loop.pending:
            sender.join(timeout=10)
            with loop._lock:
                done = len(loop.outcomes)
            say(f"rush: {len(fake.post_times)} texts, {done} requests answered, {loop.pending} to come")
            if not sender.is_alive() and loop.pending:
                loop.wait_idle(time.perf_counter() + 10)
        elapsed, cpu1, sample1 = time.perf_counter() - started, time.process_time(), meter.sample()
        abandoned = loop.close()
        post_times = fake.take_times()
    if "error" in result:
        raise RuntimeError(f"the dispatcher failed: {result['error']}")
    child = result["child"]
    machine, other = CpuMeter.usage(sample0, sample1)
    by_kind = {kind: [o for o in loop.outcomes if o.kind == kind] for kind in (TODAY, SYNC)}
    peaks = {kind: peak_per_10s([o.scheduled for o in got], started) for kind, got in by_kind.items()}
    peaks["all"] = peak_per_10s([o.scheduled for o in loop.outcomes], started)
    workers = [(pid, status_kb(pid, "VmHWM"), status_kb(pid, "VmRSS")) for pid in children(server.pid)]
    return Rush(
        stats={kind: Stats.of(got) for kind, got in by_kind.items()},
        seconds=elapsed,
        texts=len(post_times),
        outcome=child["outcome"],
        send_seconds=child["seconds"],
        text_peak_1s=busiest_second(post_times),
        text_peak_10s=peak_per_10s(post_times, started),
        arrival_peaks=peaks,
        machine_cpu=machine,
        other_cpu=other,
        client_cpu=100 * (cpu1 - cpu0) / elapsed,
        worker_rss=workers,
        dispatcher_rss_kb=child.get("maxrss_kb"),
        examples=loop.examples,
        abandoned=abandoned,
    )


# --- the sweep ------------------------------------------------------------------------------


@dataclass
class Point:
    kind: str
    rate: float  # asked for, requests/s
    stats: Stats
    achieved: float  # answered requests/s over the run
    machine_cpu: float | None
    other_cpu: float | None


def open_loop_run(
    server: Server, meter: CpuMeter, kind: str, make: Callable[[], Request], rate: float, args, seed: int
) -> Point:
    """Poisson arrivals of `make()` at `rate` for --sweep-seconds; requests still unsent a further
    --sweep-seconds after the last arrival are abandoned (counted at the latency they had reached)."""
    rng = random.Random(seed)
    loop = OpenLoop(server.address, args.threads)
    sample0 = meter.sample()
    start = time.perf_counter() + 0.2
    moment = start
    while True:
        moment += rng.expovariate(rate)
        if moment > start + args.sweep_seconds:
            break
        loop.at(moment, kind, make)
    loop.wait_idle(start + 2 * args.sweep_seconds)
    sample1 = meter.sample()
    loop.close()
    machine, other = CpuMeter.usage(sample0, sample1)
    answered = [o for o in loop.outcomes if o.started is not None]
    span = max((o.ended for o in answered), default=start + 1) - start
    return Point(kind, rate, Stats.of(loop.outcomes), len(answered) / max(span, 1e-9), machine, other)


def sweep(server: Server, meter: CpuMeter, kind: str, make: Callable[[], Request], args) -> list[list[Point]]:
    """Each rate of --sweep-rates, --runs times; stop after the first rate whose median p99 is far over."""
    points = []
    for rate in args.sweep_rates:
        runs = [open_loop_run(server, meter, kind, make, rate, args, seed=args.seed + r) for r in range(args.runs)]
        points.append(runs)
        p99 = statistics.median(p.stats.p99 for p in runs)
        say(
            f"sweep {kind} at {rate:g}/s: p50 {statistics.median(p.stats.p50 for p in runs):.1f} ms, p99 {p99:.1f} ms,"
            f" late p99 {statistics.median(p.stats.late_p99 for p in runs):.1f} ms,"
            f" {sum(sum(p.stats.errors.values()) for p in runs)} errors"
        )
        if p99 > STOP_MS:
            break
    return points


def capacity(points: list[list[Point]]) -> float | None:
    """The highest rate swept whose median p99 <= TARGET_MS, below the first rate that missed it."""
    best = None
    for runs in points:
        if statistics.median(p.stats.p99 for p in runs) > TARGET_MS:
            break
        best = runs[0].rate
    return best


# --- the report -----------------------------------------------------------------------------


@dataclass
class Report:
    label: str
    args: argparse.Namespace
    argv: list[str]
    database: str
    data: Data
    plan_sizes: list[int]
    rush: Rush
    sweeps: dict[str, list[list[Point]]]
    saturated: list  # hot_paths RunResults
    half: list[Point] = field(default_factory=list)

    @property
    def errors(self) -> int:
        rush = sum(sum(s.errors.values()) for s in self.rush.stats.values())
        swept = sum(sum(p.stats.errors.values()) for runs in self.sweeps.values() for rs in runs for p in rs)
        closed = sum(sum(r.errors.values()) for r in self.saturated)
        return rush + swept + closed + sum(sum(p.stats.errors.values()) for p in self.half)

    def other_work(self) -> list[float]:
        seen = [self.rush.other_cpu] + [p.other_cpu for runs in self.sweeps.values() for rs in runs for p in rs]
        seen += [p.other_cpu for p in self.half] + [r.other_cpu for r in self.saturated]
        return [v for v in seen if v is not None]


def _pct(value: float | None) -> str:
    return "?" if value is None else f"{value:.0f} %"


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:,.1f}"


def rush_lines(report: Report) -> list[str]:
    rush, args = report.rush, report.args
    sent = rush.outcome.get("sent", 0)
    lines = [
        "### The rush",
        "",
        f"{report.data.reminders:,} exercise reminders due at once (slot {report.data.slot}, {args.timezone});"
        f" dispatcher: `Dispatcher.run_once()` in a child process, HEP's default batch and concurrency,"
        f" `max_per_second` {args.rate:g}, the fake Twilio answering after {TWILIO_LATENCY * 1000:.0f} ms."
        f" d1 (text to opening the app): lognormal, median {D1_MEDIAN:g} s, capped at {D1_CAP:g} s;"
        f" d2 (opening to sync): median {D2_MEDIAN:g} s, capped at {D2_CAP:g} s; both ÷ {args.time_scale:g}"
        f" (`--time-scale`). {args.threads} client threads.",
        "",
        "| request | count | p50 ms | p99 ms | max ms | driver lateness p50 / p99 / max ms | peak arrivals (10 s)"
        " | errors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for kind, stats in rush.stats.items():
        errors = sum(stats.errors.values())
        lines.append(
            f"| {TITLES[kind]} | {stats.count:,} | {_ms(stats.p50)} | {_ms(stats.p99)} | {_ms(stats.top)}"
            f" | {_ms(stats.late_p50)} / {_ms(stats.late_p99)} / {_ms(stats.late_max)}"
            f" | {rush.arrival_peaks[kind]:.1f} req/s | {f'**{errors}**' if errors else 0} |"
        )
    workers = ", ".join(
        f"{(hwm or 0) / 1024:.0f} MB (now {(rss or 0) / 1024:.0f} MB)" for _pid, hwm, rss in rush.worker_rss
    )
    lines += [
        "",
        f"- took {rush.seconds:.0f} s; both kinds together peaked at {rush.arrival_peaks['all']:.1f} req/s"
        " (10 s window)",
        f"- dispatcher: {dict(rush.outcome)} in {rush.send_seconds:.1f} s = {sent / rush.send_seconds:.1f} texts/s;"
        f" at the fake: {rush.texts:,} texts, busiest second {rush.text_peak_1s}, busiest 10 s"
        f" {rush.text_peak_10s:.1f}/s; dispatcher peak RSS {(rush.dispatcher_rss_kb or 0) / 1024:.0f} MB",
        f"- gunicorn workers' peak RSS (VmHWM) after the rush: {workers or '?'}",
        f"- CPU during the rush: machine {_pct(rush.machine_cpu)}, other work {_pct(rush.other_cpu)},"
        f" this script (driver and fake Twilio) {rush.client_cpu:.0f} % of one core",
    ]
    late = max(s.late_p99 for s in rush.stats.values())
    if late > 100 and rush.client_cpu < 50:
        lines.append(
            f"- the driver's lateness (p99 {late / 1000:,.1f} s) is queueing, not a slow client: every one of the"
            f" {args.threads} threads was waiting on the server (the client used {rush.client_cpu:.0f} % of a core),"
            " so arrivals waited for a thread; the latencies include that wait, as the patients' would"
        )
    if rush.abandoned:
        lines.append(f"- **{rush.abandoned} requests were never sent** (the driver stopped before their turn)")
    return lines


def sweep_lines(report: Report) -> list[str]:
    lines = [
        "### Capacity sweep (open loop, Poisson arrivals)",
        "",
        f"{report.args.sweep_seconds:g} s per rate, {report.args.runs} run(s) each; the sweep stops after the first"
        f" rate whose p99 exceeds {STOP_MS:g} ms. Requests not sent within another {report.args.sweep_seconds:g} s are"
        " abandoned and count at the latency they had reached (a lower bound).",
        "",
        "| request | rate asked req/s | answered req/s | p50 ms | p99 ms | driver lateness p99 ms | machine CPU %"
        " | other work % | errors |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for kind, points in report.sweeps.items():
        for runs in points:
            errors = sum(sum(p.stats.errors.values()) for p in runs)
            abandoned = sum(p.stats.abandoned for p in runs)
            lines.append(
                f"| {TITLES[kind]} | {runs[0].rate:g} | {show([p.achieved for p in runs])}"
                f" | {show([p.stats.p50 for p in runs])} | {show([p.stats.p99 for p in runs])}"
                f"{f' ({abandoned} abandoned)' if abandoned else ''} | {show([p.stats.late_p99 for p in runs])}"
                f" | {show([p.machine_cpu for p in runs if p.machine_cpu is not None], digits=0)}"
                f" | {show([p.other_cpu for p in runs if p.other_cpu is not None], digits=0)}"
                f" | {f'**{errors}**' if errors else 0} |"
            )
    return lines


def target_lines(report: Report) -> list[str]:
    quick = report.args.quick
    today, livez = capacity(report.sweeps[TODAY]), capacity(report.sweeps[LIVEZ])
    saturated = [r.rps for r in report.saturated]
    half = [p.stats.p99 for p in report.half]
    met = "-" if quick or not half else ("met" if statistics.median(half) <= TARGET_MS else "**not met**")
    target = f"<= {TARGET_MS:g}" + (" (not judged: --quick)" if quick else "")

    def rate(value: float | None) -> str:
        return "below the lowest rate swept" if value is None else f"{value:g} req/s"

    ratio = f"{today / livez:.2f}" if today and livez else "-"
    return [
        "### Figures",
        "",
        "| figure | median (min-max) | target | met? |",
        "|---|---|---|---|",
        f"| today's plan: saturated throughput, closed loop, {SATURATE_CONNECTIONS} connections (req/s)"
        f" | {show(saturated)} | - | - |",
        f"| today's plan p99 at 50 % of saturated throughput, open loop (ms) | {show(half)} | {target} | {met} |",
        f"| today's plan: highest rate swept with p99 <= {TARGET_MS:g} ms | {rate(today)} | - | - |",
        f"| GET /livez: highest rate swept with p99 <= {TARGET_MS:g} ms | {rate(livez)} | - | - |",
        f"| today's plan ÷ /livez, highest rates with p99 <= {TARGET_MS:g} ms | {ratio} | - | - |",
        f"| rush: today's plan p99 (ms) | {_ms(report.rush.stats[TODAY].p99)} | - | - |",
        f"| rush: sync p99 (ms) | {_ms(report.rush.stats[SYNC].p99)} | - | - |",
    ]


def section(report: Report) -> str:
    args, data = report.args, report.data
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    other = report.other_work()
    worst = max(other, default=None)
    shared = (
        " (**the machine was shared: figures are skewed, rerun on a quiet machine**)" if (worst or 0) > BUSY else ""
    )
    lines = [f"## {report.label}", ""]
    if report.errors:
        lines += [f"> **!!! THIS RUN HAD {report.errors} ERRORS: the figures below are not valid.**", ""]
        lines += [f"> {problem}: `{example}`" for problem, example in report.rush.examples.items()] + [""]
    sizes = report.plan_sizes
    lines += [
        f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {cores} cores ({cpu_model()}), {memory()} RAM, {platform.system()} {platform.release()};"
        " **the client, the fake Twilio, the dispatcher, gunicorn and the database share these cores**",
        f"- software: {versions(PACKAGES_RUSH)}; {code_version()}",
        f"- database: {report.database}",
        f"- command: `{command_line('rush.py', report.argv)}`",
        f"- other work on the machine: at most {_pct(worst)} of all cores in any measurement{shared}",
        f"- data: {len(data.patients):,} patients in {args.timezone}, one routine each from the shipped templates"
        f" (built in bulk by `scale.py`'s builder), {data.logs:,} log entries of history up to last midnight,"
        f" text consent and one exercise reminder each; today's plan has {statistics.mean(sizes):.1f} items on"
        f" average ({min(sizes)}-{max(sizes)}, of the patients warmed up); built in {data.seconds:.0f} s",
        "- server: gunicorn -w 2 (sync workers)",
        "",
        *target_lines(report),
        "",
        *rush_lines(report),
        "",
        *sweep_lines(report),
        "",
    ]
    return "\n".join(lines)


# --- main -----------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = arguments(__doc__, "RESULTS-rush.md", database_default=os.environ.get("TEST_DATABASE_URL", DEFAULT_PG))
    parser.add_argument("--patients", type=int, default=10_000, help="patients, one reminder each (default 10000)")
    parser.add_argument("--rate", type=float, default=50, help="the dispatcher's max_per_second (default 50)")
    parser.add_argument("--time-scale", type=float, default=10, help="real-life delays ÷ this (default 10)")
    parser.add_argument("--timezone", default="Europe/London", help="every patient's zone (default Europe/London)")
    parser.add_argument("--threads", type=int, default=96, help="open-loop client threads (default 96)")
    parser.add_argument(
        "--sweep-rates",
        type=lambda s: [float(v) for v in s.split(",")],
        default=list(RATES),
        help="comma-separated req/s",
    )
    parser.add_argument("--sweep-seconds", type=float, default=15, help="seconds per sweep rate (default 15)")
    parser.add_argument("--saturate-seconds", type=float, default=15, help="closed-loop run length (default 15)")
    parser.add_argument("--runs", type=int, default=1, help="runs of each sweep point and the saturation (default 1)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (about a minute): a dry run, never judged")
    args = parser.parse_args(argv)
    if args.quick:
        args.patients, args.rate, args.time_scale = min(args.patients, 80), 30, 120
        args.sweep_rates, args.sweep_seconds, args.saturate_seconds = [25, 75], 3, 3
        args.threads = min(args.threads, 32)
    if min(args.patients, args.threads, args.runs) < 1 or min(args.rate, args.time_scale, args.sweep_seconds) <= 0:
        parser.error("sizes, --rate, --time-scale and --sweep-seconds must be positive")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    os.environ["SECRET_KEY"] = secrets.token_urlsafe(32)  # one key for the builder and gunicorn
    os.environ.pop("REDIS_URL", None)
    now = datetime.now(UTC)
    with (
        tempfile.TemporaryDirectory(prefix="hep-rush-") as tmp,
        throwaway_database(args.database_url, f"hep_rush_{os.getpid()}", say) as database,
    ):
        data = build(database.url, database.name, args.patients, args.timezone, now)
        say(f"data built in {data.seconds:.0f} s: {len(data.patients)} patients, {data.logs} log entries")
        with gunicorn(database.url, Path(tmp), say) as server:
            meter = CpuMeter(lambda: {server.pid}, database.name)
            # A random sample: every k-th patient would all share one template (patient n has template n mod T).
            sample = random.Random(args.seed).sample(data.patients, min(200, len(data.patients)))
            plan_sizes = warm_plans(server.address, sample)
            rush = run_rush(server, meter, database.url, data, args)
            say(
                f"rush done in {rush.seconds:.0f} s: today p99 {rush.stats[TODAY].p99:.0f} ms,"
                f" sync p99 {rush.stats[SYNC].p99:.0f} ms"
            )
            rng = random.Random(args.seed)
            patients = data.patients
            sweeps = {
                LIVEZ: sweep(server, meter, LIVEZ, lambda: LIVEZ_REQUEST, args),
                TODAY: sweep(server, meter, TODAY, lambda: plan_request(rng.choice(patients)), args),
            }
            saturated, half = [], []
            for run in range(args.runs):
                sources = [plan_source(_share(patients, k, SATURATE_CONNECTIONS)) for k in range(SATURATE_CONNECTIONS)]
                saturated.append(run_scenario(server, meter, PLAN, sources, args.saturate_seconds))
                rate = saturated[-1].rps / 2
                half.append(
                    open_loop_run(server, meter, TODAY, lambda: plan_request(rng.choice(patients)), rate, args, run)
                )
                say(
                    f"saturated {saturated[-1].rps:.0f} req/s; open loop at {rate:.0f}/s: p99"
                    f" {half[-1].stats.p99:.1f} ms"
                )
    label = args.label or ("PostgreSQL, --quick (dry run)" if args.quick else "PostgreSQL")
    report = Report(label, args, argv, database.description, data, plan_sizes, rush, sweeps, saturated, half)
    return publish(args.out, label, section(report), HEADER, report.errors, say)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
