"""The flask commands: seed-demo, load-exercises, create-clinic."""

from __future__ import annotations

import json

import sqlalchemy as sa
import yaml

from hep.accounts.models import User
from hep.extensions import db
from hep.library.models import Exercise
from tests.factories import exercise_data


def test_seed_demo_prints_logins_that_work_and_is_safe_to_run_twice(app, client):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo"])
    second = runner.invoke(args=["seed-demo"])
    assert first.exit_code == second.exit_code == 0
    logins = json.loads(second.stdout)  # the logins on stdout; the texts it queued on stderr
    assert json.loads(first.stdout) == logins
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 5
    timezones = {p["timezone"] for p in logins["patients"]}
    assert len(timezones) == 3
    for account in logins["staff"] + logins["patients"]:
        response = client.post(
            "/api/v1/auth/token", json={"username": account["username"], "password": account["password"]}
        )
        assert response.status_code == 200, account


def test_load_exercises_reports_counts_and_is_idempotent(app, tmp_path):
    (tmp_path / "one-exercise.yaml").write_text(yaml.safe_dump(exercise_data(slug="one-exercise")))
    runner = app.test_cli_runner()
    first = runner.invoke(args=["load-exercises", "--dir", str(tmp_path)])
    assert first.exit_code == 0
    assert json.loads(first.stdout.strip().splitlines()[-1])["exercises"]["created"] == 1
    again = runner.invoke(args=["load-exercises", "--dir", str(tmp_path)])
    assert json.loads(again.stdout.strip().splitlines()[-1])["exercises"]["unchanged"] == 1


def test_load_exercises_with_a_bad_file_exits_non_zero_naming_it(app, tmp_path):
    (tmp_path / "fine.yaml").write_text(yaml.safe_dump(exercise_data(slug="fine")))
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(exercise_data(slug="bad", position="upside-down")))
    result = app.test_cli_runner().invoke(args=["load-exercises", "--dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "bad.yaml: position: Must be one of" in result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Exercise)) == 0


def test_create_clinic_makes_a_clinic_admin_who_can_sign_in(app, client):
    result = app.test_cli_runner().invoke(
        args=[
            "create-clinic",
            "--name",
            "North Shore IMS",
            "--admin-name",
            "Nora",
            "--admin-email",
            "nora@ns.test",
            "--timezone",
            "America/Vancouver",
            "--admin-password",
            "nora-strong-pw",
        ]
    )
    assert result.exit_code == 0, result.output
    token = client.post("/api/v1/auth/token", json={"username": "nora@ns.test", "password": "nora-strong-pw"})
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token.json['access_token']}"}).json
    assert (me["role"], me["clinic"]["name"]) == ("clinic_admin", "North Shore IMS")
