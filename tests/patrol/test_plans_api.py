"""Patrol plans over the API, and the compliance report (JSON, CSV, PDF) on hand-made
check-ins with known on-time / late / missed counts."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from safezone.audit.models import AuditEntry
from safezone.auth import service as auth_service
from safezone.core.bus.outbox import OutboxEvent
from safezone.patrol.models import CheckIn, PatrolPlan
from tests.conftest import INSIDE
from tests.patrol.conftest import CHECKPOINT, V1

PIER = "CP-PIER"
BANGKOK = ZoneInfo("Asia/Bangkok")
DAY = "2026-11-20"
# 08:00 Bangkok on DAY, in UTC.
SHIFT_START = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)


def plan_body(**changes):
    body = {
        "name": "เวรเช้า ตลาดอินโดจีน",
        "start_time": "08:00",
        "end_time": "16:00",
        "valid_from": "2026-11-01",
        "checkpoints": [
            {"checkpoint_id": CHECKPOINT, "target_visits": 4},
            {"checkpoint_id": PIER, "target_visits": 1},
        ],
    }
    body.update(changes)
    return body


@pytest.fixture
def route(patrol, client, auth):
    patrol.add_checkpoint(PIER, INSIDE[0] + 0.002, INSIDE[1])
    r = client.post(f"{V1}/patrol/plans", headers=auth("commander"), json=plan_body())
    assert r.status_code == 201, r.text
    return r.json()


def add_checkin(db, *, checkpoint: str, hours: float, status: str, username: str = "officer"):
    """A check-in as the check-in service stores it, scanned ``hours`` into the shift."""
    with db.transaction() as session:
        user = auth_service.find_user(session, username=username)
        assert user is not None
        moment = SHIFT_START + timedelta(hours=hours)
        session.add(
            CheckIn(
                station_id="MDH",
                officer_user_id=user.id,
                checkpoint_id=checkpoint,
                mode="static",
                code="SZ1:S:test",
                lat=INSIDE[0],
                lon=INSIDE[1],
                accuracy_m=5.0,
                device_id="PHONE-1",
                scanned_at=moment,
                received_at=moment,
                status=status,
                reasons=[] if status == "accepted" else ["geofence_uncertain"],
                distance_m=1.0,
            )
        )


@pytest.fixture
def known_shift(db, route):
    """CP-MARKET, 4 slots of 2 h: 0.5 h on time, 2.5 h on time (flagged), nothing in
    4-6 h, 7.0 h on time, 7.5 h late for slot 3; a rejected scan at 5 h does not count.
    CP-PIER, 1 slot: nothing counted (a rejected scan only): missed."""
    add_checkin(db, checkpoint=CHECKPOINT, hours=0.5, status="accepted")
    add_checkin(db, checkpoint=CHECKPOINT, hours=2.5, status="flagged")
    add_checkin(db, checkpoint=CHECKPOINT, hours=5.0, status="rejected")
    add_checkin(db, checkpoint=CHECKPOINT, hours=7.0, status="accepted")
    add_checkin(db, checkpoint=CHECKPOINT, hours=7.5, status="accepted")
    add_checkin(db, checkpoint=PIER, hours=3.0, status="rejected")
    # The next day's shift is not this one's.
    add_checkin(db, checkpoint=PIER, hours=24.5, status="accepted")
    return route


def test_commander_creates_a_plan_audited_with_an_event(route, db):
    assert route["timezone"] == "Asia/Bangkok" and route["active"] is True
    assert [
        (s["position"], s["checkpoint_id"], s["target_visits"]) for s in route["checkpoints"]
    ] == [
        (0, CHECKPOINT, 4),
        (1, PIER, 1),
    ]
    with db.reader() as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "patrol_plan.created")
        ).one()
        assert entry.actor == "user:commander" and entry.payload["name"] == route["name"]
        event = session.scalars(select(OutboxEvent).where(OutboxEvent.topic == "patrol.plan")).one()
        assert event.payload["plan"]["id"] == route["id"]


def test_officers_read_plans_of_their_station_only(route, client, auth, db):
    listed = client.get(f"{V1}/patrol/plans", headers=auth("officer")).json()
    assert [p["id"] for p in listed] == [route["id"]]
    with db.transaction() as session:
        other = PatrolPlan(
            station_id="BKK",
            name="other",
            timezone="Asia/Bangkok",
            start_time="08:00",
            end_time="16:00",
            valid_from=datetime(2026, 11, 1).date(),
            active=True,
            created_by="test",
        )
        session.add(other)
        session.flush()
        other_id = other.id
    assert client.get(f"{V1}/patrol/plans/{other_id}", headers=auth("officer")).status_code == 404
    r = client.get(f"{V1}/patrol/plans/{other_id}/compliance", headers=auth("commander"))
    assert r.status_code == 404 and r.json()["error"]["field"] == "plan_id"
    assert [p["id"] for p in client.get(f"{V1}/patrol/plans", headers=auth("admin")).json()] == [
        route["id"]
    ]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"start_time": "25:00"}, "start_time"),
        ({"end_time": "8:00"}, "end_time"),
        ({"end_time": "08:00"}, "end_time"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"valid_to": "2026-10-01"}, "valid_to"),
        ({"checkpoints": []}, "checkpoints"),
        ({"checkpoints": [{"checkpoint_id": "CP-NOPE"}]}, "checkpoints.0.checkpoint_id"),
        (
            {"checkpoints": [{"checkpoint_id": CHECKPOINT}, {"checkpoint_id": CHECKPOINT}]},
            "checkpoints.1.checkpoint_id",
        ),
        (
            {"checkpoints": [{"checkpoint_id": CHECKPOINT, "target_visits": 0}]},
            "checkpoints.0.target_visits",
        ),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_plans_are_refused_naming_the_field(patrol, client, auth, db, changes, field):
    r = client.post(f"{V1}/patrol/plans", headers=auth("commander"), json=plan_body(**changes))
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == field
    with db.reader() as session:
        assert session.scalars(select(PatrolPlan)).all() == []


def test_update_replaces_the_route_and_deactivates(route, client, auth):
    r = client.patch(
        f"{V1}/patrol/plans/{route['id']}",
        headers=auth("commander"),
        json={"checkpoints": [{"checkpoint_id": PIER, "target_visits": 2}], "active": False},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["active"] is False
    assert [(s["checkpoint_id"], s["target_visits"]) for s in body["checkpoints"]] == [(PIER, 2)]
    r = client.patch(
        f"{V1}/patrol/plans/{route['id']}", headers=auth("commander"), json={"name": None}
    )
    assert r.status_code == 422 and r.json()["error"]["field"] == "name"


def test_compliance_counts_on_time_late_missed_and_flagged(known_shift, client, auth):
    r = client.get(
        f"{V1}/patrol/plans/{known_shift['id']}/compliance",
        params={"date": DAY},
        headers=auth("commander"),
    )
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["finished"] is True
    assert report["shift_start"].startswith("2026-11-20T01:00:00")
    assert report["totals"] == {"on_time": 3, "late": 1, "missed": 1, "pending": 0, "flagged": 1}
    market, pier = report["checkpoints"]
    assert [s["outcome"] for s in market["slots"]] == ["on_time", "on_time", "late", "on_time"]
    assert market["slots"][1]["checkin_status"] == "flagged"
    assert market["slots"][2]["scanned_at"].startswith("2026-11-20T08:30:00")
    assert (market["state"], market["rejected_scans"], market["extra_visits"]) == ("late", 1, 0)
    assert (pier["state"], pier["missed"], pier["rejected_scans"]) == ("missed", 1, 1)
    assert pier["slots"][0]["checkin_id"] is None
    (officer,) = report["officers"]
    assert officer["officer"] == "officer"
    assert (officer["on_time"], officer["late"], officer["flagged"]) == (3, 1, 1)
    assert (officer["checkins"], officer["rejected_scans"]) == (4, 2)


def test_compliance_for_a_date_the_plan_does_not_run(route, client, auth):
    r = client.get(
        f"{V1}/patrol/plans/{route['id']}/compliance",
        params={"date": "2026-10-31"},
        headers=auth("commander"),
    )
    assert r.status_code == 422 and r.json()["error"]["field"] == "date"
    r = client.get(
        f"{V1}/patrol/plans/{route['id']}/compliance",
        params={"date": "yesterday"},
        headers=auth("commander"),
    )
    assert r.status_code == 422 and r.json()["error"]["field"] == "date"


def test_running_shift_shows_pending_not_missed(patrol, client, auth):
    now = datetime.now(UTC)
    start = (now - timedelta(hours=1)).astimezone(BANGKOK)
    end = (now + timedelta(hours=3)).astimezone(BANGKOK)
    body = plan_body(
        start_time=start.strftime("%H:%M"),
        end_time=end.strftime("%H:%M"),
        valid_from=(start.date() - timedelta(days=1)).isoformat(),
        checkpoints=[{"checkpoint_id": CHECKPOINT, "target_visits": 2}],
    )
    plan = client.post(f"{V1}/patrol/plans", headers=auth("commander"), json=body).json()
    report = client.get(
        f"{V1}/patrol/plans/{plan['id']}/compliance", headers=auth("commander")
    ).json()
    assert report["date"] == start.date().isoformat()
    assert report["finished"] is False
    assert report["totals"]["pending"] == 2 and report["totals"]["missed"] == 0
    assert report["checkpoints"][0]["state"] == "pending"


def test_csv_export_has_one_row_per_slot(known_shift, client, auth):
    r = client.get(
        f"{V1}/patrol/plans/{known_shift['id']}/compliance.csv",
        params={"date": DAY},
        headers=auth("commander"),
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert f"compliance-plan{known_shift['id']}-{DAY}.csv" in r.headers["content-disposition"]
    text = r.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert [(row["checkpoint_id"], row["slot"], row["outcome"]) for row in rows] == [
        (CHECKPOINT, "1", "on_time"),
        (CHECKPOINT, "2", "on_time"),
        (CHECKPOINT, "3", "late"),
        (CHECKPOINT, "4", "on_time"),
        (PIER, "1", "missed"),
    ]
    assert rows[0]["plan"] == "เวรเช้า ตลาดอินโดจีน"
    assert rows[0]["due_from"] == "2026-11-20T08:00:00+0700"
    assert rows[1]["checkin_status"] == "flagged" and rows[2]["officer"] == "officer"
    assert rows[2]["scanned_at"] == "2026-11-20T15:30:00+0700"
    assert rows[4]["officer"] == "" and rows[4]["checkin_id"] == ""


def test_pdf_export_carries_the_figures_in_thai_and_english(known_shift, client, auth):
    r = client.get(
        f"{V1}/patrol/plans/{known_shift['id']}/compliance.pdf",
        params={"date": DAY},
        headers=auth("commander"),
    )
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF-")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(r.content)).pages)
    compact = text.replace(" ", "").replace("\n", "")
    assert "Patrolplancompliancereport" in compact
    assert "ontime3" in compact and "late1" in compact and "missed1" in compact
    assert "flagged1" in compact
    assert CHECKPOINT in compact and PIER in compact
    assert "ขาดตรวจ" in compact and "ตรงเวลา" in compact
    assert "2026-11-2008:00" in compact


def test_a_new_route_applies_from_today_and_past_reports_keep_theirs(known_shift, client, auth):
    url = f"{V1}/patrol/plans/{known_shift['id']}"
    for _ in range(2):  # changing twice in a day leaves one current route
        r = client.patch(
            url,
            headers=auth("commander"),
            json={"checkpoints": [{"checkpoint_id": PIER, "target_visits": 3}]},
        )
        assert r.status_code == 200, r.text
    assert [(s["checkpoint_id"], s["valid_from"]) for s in r.json()["checkpoints"]] == [
        (PIER, datetime.now(BANGKOK).date().isoformat())
    ]
    past = client.get(f"{url}/compliance", params={"date": DAY}, headers=auth("commander")).json()
    assert [(c["checkpoint_id"], c["target_visits"]) for c in past["checkpoints"]] == [
        (CHECKPOINT, 4),
        (PIER, 1),
    ]
    assert past["totals"] == {"on_time": 3, "late": 1, "missed": 1, "pending": 0, "flagged": 1}
    today = client.get(
        f"{url}/compliance",
        params={"date": datetime.now(BANGKOK).date().isoformat()},
        headers=auth("commander"),
    ).json()
    assert [(c["checkpoint_id"], c["target_visits"]) for c in today["checkpoints"]] == [(PIER, 3)]


def test_cli_writes_the_report_as_csv_or_pdf(known_shift, settings, tmp_path, capsys, monkeypatch):
    from safezone.cli import main

    monkeypatch.setenv("SAFEZONE_DATABASE_URL", settings.resolved_database_url)
    base = ["--data-dir", str(settings.data_dir), "plans", "compliance", "--station", "MDH"]
    plan = ["--plan", str(known_shift["id"]), "--date", DAY]
    out = tmp_path / "report.csv"
    assert main([*base, *plan, "--out", str(out)]) == 0
    assert "on time 3, late 1, missed 1" in capsys.readouterr().out
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [r["outcome"] for r in rows] == ["on_time", "on_time", "late", "on_time", "missed"]
    pdf = tmp_path / "report.pdf"
    assert main([*base, *plan, "--out", str(pdf)]) == 0
    assert pdf.read_bytes().startswith(b"%PDF-")
    capsys.readouterr()
    assert main([*base, *plan, "--out", str(tmp_path / "report.xlsx")]) == 2
    assert ".csv or .pdf" in capsys.readouterr().err
    assert main([*base, "--plan", "999", "--out", str(tmp_path / "x.csv")]) == 2
    assert "No patrol plan 999" in capsys.readouterr().err
    assert (
        main([*base, "--plan", str(known_shift["id"]), "--date", "20-11", "--out", str(out)]) == 2
    )
    assert "--date" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()


def test_commander_kpis_and_brief_count_the_plans_target_visits(known_shift, client, auth):
    """The commander's figures come from the same report: 20 Nov as above; on 21 Nov the
    pier was visited on time and the market's four slots were missed."""
    r = client.get(
        f"{V1}/commander/kpis",
        params={"start": DAY, "end": "2026-11-21"},
        headers=auth("commander"),
    )
    assert r.status_code == 200, r.text
    compliance = r.json()["compliance"]
    assert compliance["shifts"] == 2
    assert compliance["by_day"] == {
        "on_time": [3, 1],
        "late": [1, 0],
        "missed": [1, 4],
        "pending": [0, 0],
        "flagged": [1, 0],
    }
    assert compliance["totals"]["missed"] == 5
    page = client.get("/commander/brief", params={"date": "2026-11-21"}, headers=auth("commander"))
    assert page.status_code == 200
    # The brief of the 21st covers the 20th: one target visit missed there.
    assert re.search(r'data-outcome="missed"><span[^>]*>[^<]*</span>: 1</li>', page.text), page.text


def test_a_plan_without_a_time_zone_takes_the_stations(patrol, settings, db, auth):
    """Shift hours are local time: a plan that names no zone gets the station's
    SAFEZONE_LOCAL_TIMEZONE, not a fixed one."""
    from fastapi.testclient import TestClient

    from safezone.app import create_app

    patrol.add_checkpoint(PIER, INSIDE[0] + 0.002, INSIDE[1])
    tokyo = settings.model_copy(update={"local_timezone": "Asia/Tokyo"})
    with TestClient(create_app(tokyo, database=db)) as client:
        implied = client.post(f"{V1}/patrol/plans", headers=auth("commander"), json=plan_body())
        named = client.post(
            f"{V1}/patrol/plans",
            headers=auth("commander"),
            json=plan_body(name="เวรบ่าย", timezone="Asia/Bangkok"),
        )
    assert implied.status_code == 201, implied.text
    assert implied.json()["timezone"] == "Asia/Tokyo"
    assert named.json()["timezone"] == "Asia/Bangkok"
