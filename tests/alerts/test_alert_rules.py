"""Who may issue alerts, what bad input gets (a 422 naming the field, nothing written),
station isolation, the Update/Cancel rules and the audit trail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from safezone.alerts.models import Alert
from safezone.audit.models import AuditEntry
from safezone.core.bus.outbox import OutboxEvent
from safezone.zones import schemas as zone_schemas
from safezone.zones import service as zones_service
from tests.alerts.conftest import alert_body, expire, in_hours
from tests.conftest import OTHER_STATION, STATION

ALERTS = "/api/v1/alerts"


def counts(db) -> tuple[int, int, int]:
    with db.reader() as session:
        return (
            session.scalar(select(func.count()).select_from(Alert)),
            session.scalar(select(func.count()).select_from(AuditEntry)),
            session.scalar(select(func.count()).select_from(OutboxEvent)),
        )


def add_zone(db, zone_id: str, station: str, *, active: bool = True) -> None:
    ring = [[100.50, 13.75], [100.51, 13.75], [100.51, 13.76], [100.50, 13.75]]
    with db.transaction() as session:
        zones_service.create_asset(
            session,
            kind=zones_service.KINDS["zone"],
            station_id=station,
            data=zone_schemas.ZoneCreate(
                id=zone_id,
                name="โซนทดสอบ",
                geometry={"type": "Polygon", "coordinates": [ring]},
                active=active,
            ),
            actor="test",
        )


@pytest.mark.parametrize("role", ["operator", "commander", "admin"])
def test_control_room_roles_issue_alerts(issue, role):
    alert = issue(as_user=role)
    assert alert["created_by"] == f"user:{role}"
    assert alert["station_id"] == STATION
    assert alert["state"] == "active"
    assert alert["msg_type"] == "Alert"


def test_defaults_are_a_police_security_alert(client, auth):
    body = {
        "headline_th": "แจ้งเตือน",
        "description_th": "รายละเอียด",
        "zone_ids": ["ZONE-MARKET"],
        "expires": in_hours(1),
    }
    r = client.post(ALERTS, json=body, headers=auth("operator"))
    assert r.status_code == 201, r.text
    alert = r.json()
    assert (alert["status"], alert["category"]) == ("Actual", "Security")
    assert (alert["urgency"], alert["severity"], alert["certainty"]) == (
        "Immediate",
        "Severe",
        "Observed",
    )
    assert alert["headline_en"] is None and alert["response_type"] is None
    assert alert["cap_url"] == f"http://testserver{ALERTS}/{alert['id']}.cap"


@pytest.mark.parametrize(
    ("caller", "status"),
    [("anonymous", 401), ("citizen", 403), ("officer", 403)],
)
def test_citizens_officers_and_anonymous_cannot_issue(client, auth, db, caller, status):
    before = counts(db)
    headers = {} if caller == "anonymous" else auth(caller)
    r = client.post(ALERTS, json=alert_body(), headers=headers)
    assert r.status_code == status, r.text
    assert counts(db) == before


@pytest.mark.parametrize(
    ("caller", "status"),
    [("anonymous", 401), ("citizen", 403), ("officer", 403)],
)
def test_citizens_officers_and_anonymous_cannot_update_cancel_or_list(
    client, auth, issue, caller, status
):
    alert = issue()
    headers = {} if caller == "anonymous" else auth(caller)
    base = f"{ALERTS}/{alert['id']}"
    assert (
        client.post(f"{base}/update", json={"severity": "Minor"}, headers=headers).status_code
        == status
    )
    assert client.post(f"{base}/cancel", json={}, headers=headers).status_code == status
    assert client.get(ALERTS, headers=headers).status_code == status
    assert client.get(base, headers=headers).status_code == status


def _expires_in(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).isoformat()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"zone_ids": []}, "zone_ids"),
        ({"zone_ids": ...}, "zone_ids"),
        ({"zone_ids": ["NO-SUCH-ZONE"]}, "zone_ids.0"),
        ({"zone_ids": ["ZONE-MARKET", "ZONE-BKK"]}, "zone_ids.1"),
        ({"zone_ids": ["ZONE-MARKET", "ZONE-MARKET"]}, "zone_ids.1"),
        ({"zone_ids": ["ZONE-OFF"]}, "zone_ids.0"),
        ({"expires": _expires_in(-timedelta(minutes=1))}, "expires"),
        ({"expires": _expires_in(timedelta(days=8))}, "expires"),
        ({"expires": "2026-11-26T18:00:00"}, "expires"),  # no UTC offset
        ({"expires": ...}, "expires"),
        ({"effective": _expires_in(timedelta(hours=3))}, "effective"),  # after expires
        ({"headline_th": ...}, "headline_th"),
        ({"headline_th": "   "}, "headline_th"),
        ({"headline_th": "ก" * 161}, "headline_th"),
        ({"description_th": ...}, "description_th"),
        ({"severity": "Catastrophic"}, "severity"),
        ({"urgency": "now"}, "urgency"),
        ({"certainty": "Very Likely"}, "certainty"),
        ({"status": "Draft"}, "status"),
        ({"category": "Crime"}, "category"),
        ({"response_type": "Run"}, "response_type"),
        ({"headline_en": ..., "description_en": "English only"}, "headline_en"),
        ({"instruction_th": ..., "instruction_en": "Stay inside"}, "instruction_th"),
        ({"headline_th": "bell \x07 in text"}, "headline_th"),
        ({"description_th": "nul \x00 byte"}, "description_th"),
        ({"incident_id": 999999}, "incident_id"),
        ({"msg_type": "Cancel"}, "msg_type"),  # not a field: the server decides it
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(
    client, auth, db, overrides, field
):
    add_zone(db, "ZONE-BKK", OTHER_STATION)
    add_zone(db, "ZONE-OFF", STATION, active=False)
    before = counts(db)
    r = client.post(ALERTS, json=alert_body(**overrides), headers=auth("operator"))
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_input"
    assert error["field"] == field, error
    assert error["message"]
    assert counts(db) == before


def test_incident_of_the_station_can_be_linked(client, auth, issue):
    r = client.post(
        "/api/v1/incidents",
        json={
            "category": "robbery",
            "description": "ชิงทรัพย์หน้าตลาด",
            "lat": 16.5440,
            "lon": 104.7280,
        },
        headers=auth("operator"),
    )
    assert r.status_code == 201, r.text
    alert = issue(incident_id=r.json()["id"])
    assert alert["incident_id"] == r.json()["id"]


def test_other_station_cannot_see_update_or_cancel_mdh_alerts(client, auth, db, issue):
    alert = issue()
    other = auth("other_operator")
    base = f"{ALERTS}/{alert['id']}"
    assert client.get(ALERTS, headers=other).json() == []
    assert client.get(f"{ALERTS}?include_inactive=true", headers=other).json() == []
    before = counts(db)
    for r in (
        client.get(base, headers=other),
        client.post(f"{base}/update", json={"severity": "Minor"}, headers=other),
        client.post(f"{base}/cancel", json={}, headers=other),
    ):
        assert r.status_code == 404, r.text
        assert r.json()["error"]["code"] == "not_found"
    assert counts(db) == before
    assert client.get(base, headers=auth("operator")).json()["state"] == "active"


def test_other_station_cannot_alert_mdh_zones(client, auth, db):
    before = counts(db)
    r = client.post(ALERTS, json=alert_body(), headers=auth("other_operator"))
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "zone_ids.0"
    assert counts(db) == before


def test_staff_list_hides_inactive_messages_unless_asked(client, auth, issue):
    live = issue()
    gone = issue()
    cancel = client.post(f"{ALERTS}/{gone['id']}/cancel", headers=auth("operator")).json()
    h = auth("commander")
    assert [a["id"] for a in client.get(ALERTS, headers=h).json()] == [live["id"]]
    everything = client.get(ALERTS, params={"include_inactive": True}, headers=h).json()
    assert [(a["id"], a["state"]) for a in everything] == [
        (cancel["id"], "cancellation"),
        (gone["id"], "cancelled"),
        (live["id"], "active"),
    ]


def test_only_the_latest_live_message_can_be_updated_or_cancelled(client, auth, db, issue):
    h = auth("operator")
    first = issue()
    update = client.post(f"{ALERTS}/{first['id']}/update", json={"urgency": "Expected"}, headers=h)
    assert update.status_code == 201
    before = counts(db)
    r = client.post(f"{ALERTS}/{first['id']}/update", json={"urgency": "Future"}, headers=h)
    assert r.status_code == 409
    assert f"id {update.json()['id']}" in r.json()["error"]["message"]
    assert client.post(f"{ALERTS}/{first['id']}/cancel", headers=h).status_code == 409
    cancel = client.post(f"{ALERTS}/{update.json()['id']}/cancel", headers=h)
    assert cancel.status_code == 201
    before = counts(db)
    assert client.post(f"{ALERTS}/{update.json()['id']}/cancel", headers=h).status_code == 409
    assert client.post(f"{ALERTS}/{cancel.json()['id']}/cancel", headers=h).status_code == 409
    r = client.post(f"{ALERTS}/{cancel.json()['id']}/update", json={"severity": "Minor"}, headers=h)
    assert r.status_code == 409
    assert counts(db) == before


def test_expired_alert_cannot_be_updated(client, auth, db, issue):
    alert = issue()
    expire(db, alert["id"])
    r = client.post(
        f"{ALERTS}/{alert['id']}/update", json={"expires": in_hours(1)}, headers=auth("operator")
    )
    assert r.status_code == 409
    assert "expired" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, None),
        ({"note": "only a note"}, None),
        ({"headline_th": None}, "headline_th"),
        ({"zone_ids": None}, "zone_ids"),
        ({"expires": None}, "expires"),
        ({"zone_ids": ["NO-SUCH-ZONE"]}, "zone_ids.0"),
        ({"expires": (datetime.now(UTC) - timedelta(hours=1)).isoformat()}, "expires"),
        ({"headline_en": None}, "headline_en"),  # English text left without a headline
        ({"severity": "Huge"}, "severity"),
        ({"status": "Test"}, "status"),  # a thread keeps its status
    ],
)
def test_bad_update_is_refused_and_nothing_is_written(client, auth, db, issue, body, field):
    alert = issue()
    before = counts(db)
    r = client.post(f"{ALERTS}/{alert['id']}/update", json=body, headers=auth("operator"))
    assert r.status_code == 422, r.text
    assert r.json()["error"].get("field") == field
    assert counts(db) == before


def test_update_can_drop_the_english_version_and_move_zones(client, auth, db, issue):
    add_zone(db, "ZONE-RIVER", STATION)
    alert = issue()
    r = client.post(
        f"{ALERTS}/{alert['id']}/update",
        json={
            "headline_en": None,
            "description_en": None,
            "instruction_en": None,
            "zone_ids": ["ZONE-RIVER"],
        },
        headers=auth("operator"),
    )
    assert r.status_code == 201, r.text
    update = r.json()
    assert update["headline_en"] is None
    assert update["zone_ids"] == ["ZONE-RIVER"]
    assert [a["zone_id"] for a in update["areas"]] == ["ZONE-RIVER"]


def test_every_issue_update_and_cancel_is_in_the_audit_trail(client, auth, issue):
    first = issue()
    update = client.post(
        f"{ALERTS}/{first['id']}/update", json={"severity": "Minor"}, headers=auth("operator")
    ).json()
    cancel = client.post(
        f"{ALERTS}/{update['id']}/cancel", json={"note": "clear"}, headers=auth("admin")
    ).json()
    r = client.get("/api/v1/audit", params={"limit": 1000}, headers=auth("commander"))
    assert r.status_code == 200
    entries = [e for e in r.json()["items"] if e["object_type"] == "alert"]
    assert [(e["action"], e["object_id"], e["actor"]) for e in entries] == [
        ("alert.issued", str(first["id"]), "user:operator"),
        ("alert.updated", str(update["id"]), "user:operator"),
        ("alert.cancelled", str(cancel["id"]), "user:admin"),
    ]
    assert entries[0]["payload"]["identifier"] == first["identifier"]
    assert entries[1]["payload"]["replaces"] == first["id"]
    assert entries[1]["payload"]["changed"] == ["severity"]
    assert entries[2]["payload"]["cancels"] == update["id"]
    assert len(entries[2]["payload"]["references"]) == 2
    assert client.get("/api/v1/audit/verify", headers=auth("commander")).json()["ok"] is True


def test_each_change_queues_its_event(client, auth, db, issue):
    first = issue()
    client.post(f"{ALERTS}/{first['id']}/cancel", headers=auth("operator"))
    with db.reader() as session:
        events = [
            (e.topic, e.station_id, e.payload)
            for e in session.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.topic.like("alert.%"))
                .order_by(OutboxEvent.id)
            )
        ]
    assert [(topic, station) for topic, station, _ in events] == [
        ("alert.issued", STATION),
        ("alert.cancelled", STATION),
    ]
    assert events[0][2]["alert"]["identifier"] == first["identifier"]
    assert events[1][2]["alert"]["msg_type"] == "Cancel"
    assert events[1][2]["cancels"] == first["id"]
