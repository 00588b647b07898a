"""`safezone demo` builds a whole station that the other tools can drive."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from safezone import demo
from safezone.audit import service as audit_service
from safezone.auth import service as auth_service
from safezone.cli import main
from safezone.core import migrate, security
from safezone.core.db import Database
from safezone.incidents.models import Incident
from safezone.patrol import checkins, plans
from safezone.patrol import service as patrol_service
from safezone.patrol.models import Shift
from safezone.patrol.schemas import CheckInCreate
from safezone.zones.models import Camera, Checkpoint, SosBox, Zone
from tests.conftest import PG_URL, _drop_triggers_and_truncate


@pytest.fixture
def empty_db(tmp_path):
    if PG_URL:
        db = Database(PG_URL)
        _drop_triggers_and_truncate(db)
    else:
        db = Database(f"sqlite:///{tmp_path / 'demo.db'}")
        migrate.upgrade(db)
    yield db
    db.dispose()


def count(session, model) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_demo_builds_the_mukdahan_station(empty_db, tmp_path):
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    outcome = demo.ensure_demo(empty_db, data_dir=tmp_path, password="demo-password-1", now=now)
    assert outcome.created
    with empty_db.reader() as session:
        assert count(session, Zone) == 3
        assert count(session, Camera) == 61
        assert len(set(session.scalars(select(Camera.pole_id)))) == 18
        assert count(session, SosBox) == 12
        assert count(session, Checkpoint) == 20
        # a day and a night patrol plan; the day shift running at 19:00 Bangkok
        day_plan, night_plan = plans.list_plans(session, station_id="MDH", active=True)
        report = plans.compliance_report(session, plan_id=day_plan.id, station_id="MDH", now=now)
        assert report.date.isoformat() == "2026-11-26" and not report.finished
        assert report.totals.pending == 10
        assert (night_plan.start_time, night_plan.end_time) == ("20:00", "08:00")
        incidents = session.scalars(select(Incident)).all()
        # several weeks of history, spread over the days
        assert len(incidents) > 150
        days = {i.created_at.date() for i in incidents}
        assert len(days) >= 35
        assert all(i.created_at < now for i in incidents)
        # every demo account can sign in with the chosen password
        for username, role in outcome.accounts:
            user = auth_service.find_user(session, username=username)
            assert user is not None and user.role == role
            assert security.verify_password("demo-password-1", user.password_hash)[0]
        assert audit_service.verify(session).ok


def test_device_file_lists_boxes_and_checkpoints(empty_db, tmp_path):
    outcome = demo.ensure_demo(empty_db, data_dir=tmp_path, password="demo-password-1")
    content = json.loads(outcome.device_file.read_text(encoding="utf-8"))
    assert outcome.device_file.name == "demo-devices.json"
    assert len(content["sos_boxes"]) == 12
    assert set(content["sos_boxes"][0]) >= {"id", "lat", "lon", "secret"}
    assert len(content["checkpoints"]) == 20
    assert set(content["checkpoints"][0]) >= {"id", "lat", "lon", "qr"}
    assert stat.S_IMODE(os.stat(outcome.device_file).st_mode) == 0o600
    assert content["officer_devices"] == {"officer1": "DEMO-PHONE-OFFICER1"}


def test_demo_officer_checks_in_with_the_device_file(empty_db, tmp_path):
    """What the device file gives is enough for a check-in that is accepted, at any time
    the demo runs: officer1 is on duty with a registered phone."""
    outcome = demo.ensure_demo(
        empty_db, data_dir=tmp_path, password="demo-password-1", now=datetime.now(UTC)
    )
    content = json.loads(outcome.device_file.read_text(encoding="utf-8"))
    checkpoint = content["checkpoints"][0]
    assert checkpoint["qr"].startswith(f"SZ1:S:{checkpoint['id']}:1:")
    with empty_db.transaction() as session:
        officer = auth_service.find_user(session, username="officer1")
        row = patrol_service.check_in(
            session,
            data=CheckInCreate(
                qr=checkpoint["qr"],
                lat=checkpoint["lat"],
                lon=checkpoint["lon"],
                accuracy_m=5,
                scanned_at=datetime.now(UTC),
                device_id=content["officer_devices"]["officer1"],
            ),
            principal=auth_service.principal_of(officer),
            policy=checkins.Policy(),
        )
        assert (row.status, row.reasons) == ("accepted", [])
    # A second run keeps the same codes, phone and running shift.
    again = demo.ensure_demo(empty_db, data_dir=tmp_path, password="demo-password-1")
    assert json.loads(again.device_file.read_text(encoding="utf-8")) == content
    with empty_db.reader() as session:
        shifts = session.scalars(select(Shift)).all()
        assert len(shifts) == 1 and shifts[0].ended_at is None


def test_second_run_keeps_the_station_and_resets_passwords(empty_db, tmp_path):
    demo.ensure_demo(empty_db, data_dir=tmp_path, password="first-password-1")
    again = demo.ensure_demo(empty_db, data_dir=tmp_path, password=None)
    assert not again.created
    assert len(again.password) >= 10
    with empty_db.reader() as session:
        assert count(session, Camera) == 61
        user = auth_service.find_user(session, username="operator")
        assert security.verify_password(again.password, user.password_hash)[0]
        assert not security.verify_password("first-password-1", user.password_hash)[0]


def test_demo_secret_key_is_kept_private(tmp_path):
    key = demo.secret_key(tmp_path)
    assert demo.secret_key(tmp_path) == key and len(key) >= 32
    assert stat.S_IMODE(os.stat(tmp_path / "secret.key").st_mode) == 0o600


def test_db_upgrade_command(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("SAFEZONE_DATABASE_URL", raising=False)
    from alembic.script import ScriptDirectory

    from safezone.core.migrate import MIGRATIONS

    assert main(["--data-dir", str(tmp_path), "db", "upgrade"]) == 0
    heads = ScriptDirectory(str(MIGRATIONS)).get_heads()
    out = capsys.readouterr().out
    assert all(head in out for head in heads)
    assert (tmp_path / "safezone.db").exists()


def test_demo_cameras_can_show_the_simulated_feeds(empty_db, tmp_path):
    from safezone.cameras import health
    from safezone.cameras.simulator import Simulator

    demo.ensure_demo(empty_db, data_dir=tmp_path, password="demo-password-1")
    with Simulator(3, http_port=0) as simulator:
        base = f"http://127.0.0.1:{simulator.http_port}"
        assert demo.use_simulated_cameras(empty_db, base_url=base, count=3) == 61
        with empty_db.reader() as session:
            urls = set(session.scalars(select(Camera.snapshot_url)))
        assert urls == {f"{base}/cameras/{n}/snapshot.jpg" for n in (1, 2, 3)}
        health.check_cameras(empty_db, offline_after_s=60, timeout_s=5)
        with empty_db.reader() as session:
            rows = health.list_health(session, station_id=demo.STATION_ID)
            assert len(rows) == 61 and all(row.online for row in rows)
    # Without the simulator the demo takes its URLs back: no cameras reported offline.
    assert demo.use_simulated_cameras(empty_db, base_url=None, count=0) == 61
    assert demo.use_simulated_cameras(empty_db, base_url=None, count=0) == 0
    with empty_db.reader() as session:
        assert set(session.scalars(select(Camera.snapshot_url))) == {""}
