"""The reminder engine over simulated weeks with faults (tests/simulation/reminders.py), short enough for CI.

The long run is `python3 tasks.py simulate` (60 days, 150 patients); see the README.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.simulation.reminders import TOKEN, Settings, Simulation

pytestmark = pytest.mark.slow


@pytest.fixture
def app_config():
    return {"TWILIO_AUTH_TOKEN": TOKEN}


def test_a_week_of_reminders_across_a_dst_change_keeps_every_promise(app):
    # 4-11 March: North America moves its clocks on the 8th.
    start = datetime(2026, 3, 4, tzinfo=UTC)
    report = Simulation(app, Settings(days=7, patients=20, seed=7, start=start, fault_rate=0.2, kill_rate=0.03)).run()
    print(report.text())
    assert report.counts["messages at Twilio"] > 40  # the run really sent texts
    assert any(key.startswith("events fault:") for key in report.counts)
    assert report.ok, report.text()
