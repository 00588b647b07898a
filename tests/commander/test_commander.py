"""Next-shift recommendations, KPI arithmetic and the daily brief (API and CLI)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from safezone.analytics import shifts
from safezone.cli import main
from safezone.commander.service import percentile
from safezone.incidents import service as incidents_service
from safezone.incidents.schemas import IncidentCreate
from safezone.patrol.models import CheckIn
from safezone.zones import schemas as zone_schemas
from safezone.zones import service as zones_service
from tests.conftest import STATION

BANGKOK = "Asia/Bangkok"
# Two places inside the test zone (ZONE-MARKET), about 600 m apart.
HOT = (16.5410, 104.7260)
COOL = (16.5470, 104.7300)


def add_checkpoint(db, checkpoint_id: str, lat: float, lon: float) -> None:
    with db.transaction() as session:
        zones_service.create_asset(
            session,
            kind=zones_service.KINDS["checkpoint"],
            station_id=STATION,
            data=zone_schemas.CheckpointCreate(
                id=checkpoint_id, name=checkpoint_id, lat=lat, lon=lon
            ),
            actor="test",
        )


def past(
    db,
    at: datetime,
    where: tuple[float, float],
    *,
    category: str = "theft",
    priority: str = "medium",
    source: str = "operator",
    steps: dict[str, timedelta] | None = None,
) -> None:
    with db.transaction() as session:
        incidents_service.record_past_incident(
            session,
            data=IncidentCreate(
                category=category,
                priority=priority,
                description="hand-made",
                lat=where[0],
                lon=where[1],
            ),
            source=source,
            occurred_at=at,
            steps={k: at + v for k, v in (steps or {}).items()},
            actor="test",
            station_id=STATION,
        )


def test_shift_windows_in_bangkok_time() -> None:
    now = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)  # 10:00 in Bangkok
    current = shifts.resolve("current", now=now, timezone=BANGKOK)
    assert (current.name, current.local_date) == ("06-14", date(2026, 11, 27))
    nxt = shifts.resolve("next", now=now, timezone=BANGKOK)
    assert nxt.name == "14-22" and nxt.start == datetime(2026, 11, 27, 7, 0, tzinfo=UTC)
    night = shifts.resolve("22-06", now=now, on=date(2026, 11, 27), timezone=BANGKOK)
    assert night.end - night.start == timedelta(hours=8)
    assert night.end == datetime(2026, 11, 27, 23, 0, tzinfo=UTC)  # 06:00 on the 28th
    early = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)  # 03:00 on the 27th, night watch
    assert shifts.current(early, BANGKOK).local_date == date(2026, 11, 26)
    assert shifts.resolve("next", now=early, timezone=BANGKOK).name == "06-14"
    with pytest.raises(ValueError, match="unknown shift"):
        shifts.resolve("morning", now=now, timezone=BANGKOK)


def test_visits_are_shared_in_proportion_to_risk() -> None:
    assert shifts.allocate([0.6, 0.3, 0.1], 10) == [6, 3, 1]
    assert shifts.allocate([0.5, 0.5], 1) == [1, 1]  # at least one visit each
    assert sum(shifts.allocate([0.7, 0.2, 0.1], 7)) == 7
    assert shifts.allocate([1.0, 0.0], 50) == [48, 2]  # capped at 48, the rest moves


def test_recommendations_map_the_riskiest_cell_to_its_nearest_checkpoint(client, auth, db) -> None:
    add_checkpoint(db, "CP-HOT", HOT[0] + 0.0003, HOT[1] + 0.0002)
    add_checkpoint(db, "CP-COOL", COOL[0], COOL[1])
    add_checkpoint(db, "CP-FAR", 16.60, 104.80)  # outside the zone, too far to cover anything
    start = datetime(2026, 10, 1, 3, 0, tzinfo=UTC)
    for day in range(40):
        past(db, start + timedelta(days=day), HOT)
        if day % 8 == 0:
            past(db, start + timedelta(days=day, hours=2), COOL)
    r = client.get(
        "/api/v1/analytics/recommendations",
        params={"shift": "06-14", "date": "2026-11-20", "per_zone": 2, "visits": 6},
        headers=auth("commander"),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["shift"]["start"] == "2026-11-19T23:00:00+00:00"
    zone = body["zones"][0]
    assert zone["zone_id"] == "ZONE-MARKET"
    top = zone["cells"][0]
    assert top["checkpoint_id"] == "CP-HOT"
    assert abs(top["lat"] - HOT[0]) < 0.002 and abs(top["lon"] - HOT[1]) < 0.002
    assert zone["cells"][1]["checkpoint_id"] == "CP-COOL"
    assert zone["cells"][0]["risk"] > zone["cells"][1]["risk"]
    # The plan is the patrol plan creation body: riskiest first, visits by risk.
    plan = body["plan"]
    assert set(plan) == {
        "name",
        "timezone",
        "start_time",
        "end_time",
        "valid_from",
        "valid_to",
        "checkpoints",
    }
    assert plan["timezone"] == "Asia/Bangkok"
    assert (plan["start_time"], plan["end_time"]) == ("06:00", "14:00")
    assert plan["valid_from"] == plan["valid_to"] == "2026-11-20"
    ids = [c["checkpoint_id"] for c in plan["checkpoints"]]
    assert ids == ["CP-HOT", "CP-COOL"]
    visits = [c["target_visits"] for c in plan["checkpoints"]]
    assert sum(visits) == 6 and visits[0] > visits[1] >= 1
    assert "CP-FAR" not in ids
    # The commander accepts it with one call: it becomes a patrol plan as proposed.
    created = client.post("/api/v1/patrol/plans", json=plan, headers=auth("commander"))
    assert created.status_code == 201, created.text
    stops = created.json()["checkpoints"]
    assert [c["checkpoint_id"] for c in stops] == ids
    assert [c["target_visits"] for c in stops] == visits


def test_recommendations_reject_bad_shift_and_stay_in_the_station(client, auth) -> None:
    r = client.get(
        "/api/v1/analytics/recommendations", params={"shift": "noon"}, headers=auth("commander")
    )
    assert r.status_code == 422 and "shift" in r.text
    r = client.get(
        "/api/v1/analytics/recommendations",
        params={"shift": "next", "date": "2026-11-20"},
        headers=auth("admin"),
    )
    assert r.status_code == 422 and "date" in r.text
    # No history: no plan, but the zones are listed.
    r = client.get("/api/v1/analytics/recommendations", headers=auth("commander"))
    assert r.status_code == 200 and r.json()["plan"] is None


def test_shift_forecast_weights_cells_by_their_hours(client, auth, db) -> None:
    start = datetime(2026, 10, 1, 3, 0, tzinfo=UTC)  # 10:00 in Bangkok: the 06-14 watch
    for day in range(20):
        past(db, start + timedelta(days=day), HOT)
    for day in range(4):  # 16:00 in Bangkok: the 14-22 watch
        past(db, start + timedelta(days=day * 5, hours=6), COOL)

    def layer(shift: str) -> dict:
        r = client.get(
            "/api/v1/analytics/forecast",
            params={"shift": shift, "date": "2026-10-25", "top": 50},
            headers=auth("operator"),
        )
        assert r.status_code == 200, r.text
        return r.json()

    def ratio(body: dict) -> float:
        risks = [f["properties"]["risk"] for f in body["features"]]
        # The two event cells are the two riskiest; COOL's share against HOT's.
        top = body["features"][0]["properties"]["risk"]
        return min(risks[1] / top, top / risks[1])

    morning, afternoon = layer("06-14"), layer("14-22")
    assert morning["features"][0]["properties"]["rank"] == 1
    # The station's share of each watch, with one incident of prior per watch.
    assert morning["properties"]["shift_share"] == round(21 / 27, 4)
    assert afternoon["properties"]["shift_share"] == round(5 / 27, 4)
    # COOL's incidents are all in the afternoon: it weighs more against HOT then.
    assert ratio(afternoon) > ratio(morning)
    # Expected incidents: the 90-day daily rate (24 / 24 days of history) x the share.
    expected = sum(f["properties"]["expected"] for f in morning["features"])
    assert expected == pytest.approx(21 / 27, rel=0.05)
    # A watch without any incident yet still gets a little risk.
    night = layer("22-06")
    assert night["properties"]["shift_share"] == round(1 / 27, 4) and night["features"]


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 50) is None
    assert percentile([240.0, 60.0, 180.0, 120.0], 50) == 120.0
    assert percentile([240.0, 60.0, 180.0, 120.0], 90) == 240.0
    assert percentile([5.0], 90) == 5.0


def test_kpi_arithmetic_on_hand_made_incidents(client, auth, db) -> None:
    # 2026-11-10 10:00 Bangkok = 03:00 UTC.
    day = datetime(2026, 11, 10, 3, 0, tzinfo=UTC)
    for minutes in (1, 2, 3, 4):
        past(
            db,
            day,
            HOT,
            priority="high",
            steps={
                "acknowledged": timedelta(minutes=minutes),
                "resolved": timedelta(minutes=10 * minutes),
            },
        )
    # Imported history counts as an incident but never as a response time.
    past(db, day, HOT, priority="high", source="import", steps={"acknowledged": timedelta(0)})
    past(db, day + timedelta(days=1), COOL, category="sos", priority="critical", source="sos")
    past(db, day + timedelta(days=1), COOL, category="assault", source="emergency")
    # 23:30 Bangkok on the 11th is 16:30 UTC: it belongs to the 11th, not the 12th.
    past(db, datetime(2026, 11, 11, 16, 30, tzinfo=UTC), COOL, category="assault")
    with db.transaction() as session:
        for status in ("accepted", "accepted", "flagged", "rejected"):
            session.add(
                CheckIn(
                    station_id=STATION,
                    officer_user_id=1,
                    checkpoint_id="CP-1",
                    code="x",
                    lat=HOT[0],
                    lon=HOT[1],
                    accuracy_m=5.0,
                    device_id="d",
                    scanned_at=day,
                    received_at=day,
                    status=status,
                    reasons=[],
                )
            )
    r = client.get(
        "/api/v1/commander/kpis",
        params={"start": "2026-11-10", "end": "2026-11-12"},
        headers=auth("commander"),
    )
    assert r.status_code == 200, r.text
    k = r.json()
    assert k["days"] == ["2026-11-10", "2026-11-11", "2026-11-12"]
    assert k["incidents"]["total"] == 8
    assert k["incidents"]["by_category"] == {
        "theft": [5, 0, 0],
        "assault": [0, 2, 0],
        "sos": [0, 1, 0],
    }
    high = next(x for x in k["response_times"] if x["priority"] == "high")
    assert high["incidents"] == 4
    assert (high["acknowledge_n"], high["acknowledge_p50_s"], high["acknowledge_p90_s"]) == (
        4,
        120.0,
        240.0,
    )
    assert (high["resolve_p50_s"], high["resolve_p90_s"]) == (1200.0, 2400.0)
    assert high["on_scene_n"] == 0 and high["on_scene_p50_s"] is None
    assert k["sos"] == {"total": 2, "by_day": [0, 2, 0]}
    assert k["checkins"]["totals"] == {"accepted": 2, "flagged": 1, "rejected": 1}
    assert k["checkins"]["by_day"]["accepted"] == [2, 0, 0]
    bad = client.get(
        "/api/v1/commander/kpis",
        params={"start": "2026-11-12", "end": "2026-11-10"},
        headers=auth("admin"),
    )
    assert bad.status_code == 422 and "end" in bad.text


def test_brief_pdf_over_the_api(client, auth, db) -> None:
    add_checkpoint(db, "CP-HOT", HOT[0], HOT[1])
    past(db, datetime(2026, 11, 9, 3, 0, tzinfo=UTC), HOT)
    r = client.get("/api/v1/commander/brief", params={"date": "2026-11-10"}, headers=auth("admin"))
    assert r.status_code == 200, r.text
    assert r.json()["yesterday"] == "2026-11-09" and len(r.json()["incidents"]) == 1
    r = client.get(
        "/api/v1/commander/brief.pdf", params={"date": "2026-11-10"}, headers=auth("commander")
    )
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/pdf" and r.content.startswith(b"%PDF")


def test_brief_command_writes_a_pdf(db, settings, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.delenv("SAFEZONE_DATABASE_URL", raising=False)
    monkeypatch.setenv("SAFEZONE_DATABASE_URL", settings.resolved_database_url)
    add_checkpoint(db, "CP-HOT", HOT[0], HOT[1])
    for day in range(5):
        past(db, datetime(2026, 11, 5 + day, 3, 0, tzinfo=UTC), HOT)
    out = tmp_path / "brief.pdf"
    code = main(
        ["--data-dir", str(tmp_path), "brief", "--date", "2026-11-10", "--out", str(out)]
        + ["--station", STATION]
    )
    assert code == 0
    data = out.read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 10_000  # text, table and a map image
    assert b"/Image" in data
    captured = capsys.readouterr()
    assert "brief" in captured.err and str(out) in captured.out


def test_brief_command_refuses_a_bad_date(tmp_path: Path, capsys) -> None:
    out = tmp_path / "brief.pdf"
    code = main(["--data-dir", str(tmp_path), "brief", "--date", "2026-13-01", "--out", str(out)])
    assert code == 2
    assert "--date: '2026-13-01' is not a date" in capsys.readouterr().err
    assert not out.exists()
    code = main(["--data-dir", str(tmp_path), "brief", "--date", "2026-11-01", "--out", "x.txt"])
    assert code == 2


def test_commander_pages_are_for_commanders_and_admins(client, auth, db) -> None:
    # Pages authenticate by session cookie; an anonymous browser goes to the sign-in page.
    r = client.get("/commander", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    for role, status in (("operator", 403), ("officer", 403), ("commander", 200), ("admin", 200)):
        login = client.post(
            "/api/v1/auth/session", data={"username": role, "password": "correct-horse-battery"}
        )
        assert login.status_code == 200, login.text
        assert client.get("/commander").status_code == status, role
        brief = client.get("/commander/brief", params={"date": "2026-11-10"})
        assert brief.status_code == status, role
        if status == 200:
            assert 'id="brief-map" src="data:image/png;base64,' in brief.text
            assert client.get("/commander/brief", params={"date": "nope"}).status_code == 422
        client.cookies.clear()


def test_a_station_without_anything_gets_an_empty_forecast(client, db) -> None:
    from safezone.analytics import service as analytics_service

    with db.reader() as session:
        shift = shifts.window(date(2026, 11, 20), 0, BANGKOK)
        proposal = analytics_service.recommendations(session, station_id="BKK", shift=shift)
        layer = analytics_service.shift_forecast_layer(
            session, station_id="BKK", shift=shift, cell_m=200.0, top=10
        )
    assert proposal["plan"] is None and proposal["zones"] == [] and proposal["events"] == 0
    assert layer["features"] == []


@pytest.fixture
def tokyo(settings, db):
    """The same station run with SAFEZONE_LOCAL_TIMEZONE=Asia/Tokyo (UTC+9, Bangkok +7)."""
    from fastapi.testclient import TestClient

    from safezone.app import create_app

    elsewhere = settings.model_copy(update={"local_timezone": "Asia/Tokyo"})
    with TestClient(create_app(elsewhere, database=db)) as client:
        yield client


def test_kpi_days_follow_the_configured_time_zone(client, tokyo, auth, db) -> None:
    # 16:30 UTC on the 9th: 23:30 on the 9th in Bangkok, 01:30 on the 10th in Tokyo.
    past(db, datetime(2026, 11, 9, 16, 30, tzinfo=UTC), HOT)
    params = {"start": "2026-11-09", "end": "2026-11-10"}
    for app_client, zone, by_day in ((client, BANGKOK, [1, 0]), (tokyo, "Asia/Tokyo", [0, 1])):
        r = app_client.get("/api/v1/commander/kpis", params=params, headers=auth("commander"))
        assert r.status_code == 200, r.text
        assert r.json()["timezone"] == zone
        assert r.json()["incidents"]["by_category"] == {"theft": by_day}, zone
    r = tokyo.get("/api/v1/commander/brief", params={"date": "2026-11-10"}, headers=auth("admin"))
    assert r.status_code == 200, r.text
    brief = r.json()
    assert brief["incidents"] == [] and brief["kpis"]["timezone"] == "Asia/Tokyo"
    # The first watch of the 10th starts at 06:00 Tokyo time, 21:00 UTC on the 9th.
    assert brief["shift"]["timezone"] == "Asia/Tokyo"
    assert brief["shift"]["start"] == "2026-11-09T21:00:00+00:00"
    r = tokyo.get("/api/v1/commander/brief", params={"date": "2026-11-11"}, headers=auth("admin"))
    assert [i["time"] for i in r.json()["incidents"]] == ["01:30"]  # printed in Tokyo time


def test_shift_windows_follow_the_configured_time_zone(tokyo, auth) -> None:
    params = {"shift": "06-14", "date": "2026-11-20"}
    r = tokyo.get("/api/v1/analytics/forecast", params=params, headers=auth("commander"))
    assert r.status_code == 200, r.text
    shift = r.json()["properties"]["shift"]
    assert shift["timezone"] == "Asia/Tokyo"
    assert shift["start"] == "2026-11-19T21:00:00+00:00"  # Bangkok: 23:00 UTC
    night = shifts.window(date(2026, 11, 20), 2, "UTC")
    assert (night.start, night.end) == (
        datetime(2026, 11, 20, 22, 0, tzinfo=UTC),
        datetime(2026, 11, 21, 6, 0, tzinfo=UTC),
    )
    early = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)  # 03:00 Bangkok, 05:00 Tokyo, 20:00 UTC
    assert shifts.current(early, BANGKOK).name == "22-06"
    assert shifts.current(early, "UTC").name == "14-22"
