"""SOS boxes over HTTP: signed presses make one critical incident with its cameras and
units; forged, stale and replayed messages are refused, counted and audited."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from safezone.audit.models import AuditEntry
from safezone.core.bus.outbox import OutboxEvent
from safezone.incidents.models import Incident
from safezone.sos import service as sos_service
from safezone.sos.models import BoxEvent, BoxRejection, BoxStatus
from tests.conftest import count_own_writes
from tests.sos.conftest import BOX_ID, BOX_SECRET, box_message

URL = f"/api/v1/sos/boxes/{BOX_ID}/events"
DEVICES_DOC = Path(__file__).resolve().parents[2] / "docs" / "devices.md"


def incidents(db) -> list[Incident]:
    with db.reader() as session:
        rows = list(session.scalars(select(Incident).order_by(Incident.id)))
        session.expunge_all()
        return rows


def test_press_makes_one_critical_incident_with_cameras_and_units(client, db, auth, sos_site):
    r = client.post(URL, json=box_message("press", 1))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "accepted"
    [incident] = incidents(db)
    assert body["incident_id"] == incident.id
    assert (incident.priority, incident.category, incident.source) == ("critical", "sos", "sos")
    response = client.get(f"/api/v1/sos/responses/{incident.id}", headers=auth("operator")).json()
    # Cameras that see the box, nearest first; the one looking away is not there.
    assert [c["camera_id"] for c in response["cameras"]] == ["CAM-W", "CAM-N"]
    # Ranked by travel time, not distance: a motorbike 220 m away (about 32 s) arrives
    # before officers on foot 55 m away (about 39 s); the car 1.1 km away comes last.
    assert [u["unit_id"] for u in response["units"]] == ["BIKE-1", "FOOT-1", "CAR-1"]
    assert [u["distance_m"] for u in response["units"]][:2] == sorted(
        u["distance_m"] for u in response["units"][:2]
    )[::-1]
    audit = client.get("/api/v1/audit?action=sos.press", headers=auth("commander")).json()
    assert audit["items"][-1]["payload"]["incident_id"] == incident.id


def test_redelivered_press_is_a_duplicate_not_a_second_incident(client, db, sos_site):
    message = box_message("press", 7)
    first = client.post(URL, json=message)
    again = client.post(URL, json=message)
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert again.json()["incident_id"] == first.json()["incident_id"]
    assert len(incidents(db)) == 1


@pytest.mark.parametrize(
    ("make", "status", "reason"),
    [
        (lambda: box_message("press", 1, secret="x" * 32), 401, "bad_signature"),
        (lambda: {**box_message("press", 1), "type": "test"}, 401, "bad_signature"),
        (
            lambda: {k: v for k, v in box_message("press", 1).items() if k != "sig"},
            401,
            "bad_signature",
        ),
        (
            lambda: box_message("press", 1, ts=datetime.now(UTC) - timedelta(minutes=30)),
            422,
            "stale_timestamp",
        ),
        (
            lambda: box_message("press", 1, ts=datetime.now(UTC) + timedelta(minutes=30)),
            422,
            "stale_timestamp",
        ),
        (lambda: box_message("explode", 1), 422, "malformed"),
        (lambda: box_message("press", -5), 422, "malformed"),
        (lambda: box_message("press", 1, extra_field=1), 422, "malformed"),
    ],
    ids=[
        "wrong-secret",
        "tampered-type",
        "no-signature",
        "old-clock",
        "future-clock",
        "unknown-type",
        "negative-seq",
        "unknown-field",
    ],
)
def test_refused_messages_are_counted_audited_and_make_nothing(
    client, db, auth, sos_site, make, status, reason
):
    r = client.post(URL, json=make())
    assert r.status_code == status
    assert r.json()["error"]["code"] == reason
    assert incidents(db) == []
    counts = client.get("/api/v1/sos/rejections", headers=auth("operator")).json()
    assert counts == [{"box_id": BOX_ID, "reason": reason, "count": 1}]
    audit = client.get("/api/v1/audit?action=sos.rejected", headers=auth("commander")).json()
    assert audit["items"][-1]["payload"]["reason"] == reason


def utc_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def signed(payload: dict[str, object]) -> dict[str, object]:
    return {**payload, "sig": sos_service.sign(payload, BOX_SECRET)}


def test_malformed_json_and_unknown_box(client, db, auth, sos_site):
    r = client.post(URL, content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "malformed"
    assert r.json()["error"]["field"] == "payload"
    # The same body for an id no station has gets the same answer (ids cannot be probed).
    nope = client.post(
        "/api/v1/sos/boxes/BOX-NOPE/events",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert (nope.status_code, nope.json()) == (r.status_code, r.json())
    # An unknown box gets the answer a wrong signature gets, so box ids cannot be probed;
    # the reason is still counted as what it is.
    unknown = client.post("/api/v1/sos/boxes/BOX-NOPE/events", json=box_message("press", 1))
    forged = client.post(URL, json=box_message("press", 1, secret="y" * 32))
    assert unknown.status_code == forged.status_code == 401
    assert unknown.json() == forged.json()
    assert unknown.json()["error"] == {
        "code": "bad_signature",
        "field": "sig",
        "message": "Unknown box or wrong signature.",
    }
    with db.reader() as session:
        reasons = session.execute(select(BoxRejection.box_id, BoxRejection.reason)).all()
    assert sorted(reasons) == [
        ("BOX-NOPE", "malformed"),
        ("BOX-NOPE", "unknown_box"),
        (BOX_ID, "bad_signature"),
        (BOX_ID, "malformed"),
    ]
    assert incidents(db) == []
    # Admins (who register boxes) see the unregistered id; other roles see their station's.
    admin = client.get("/api/v1/sos/rejections", headers=auth("admin")).json()
    assert {"box_id": "BOX-NOPE", "reason": "unknown_box", "count": 1} in admin
    operator = client.get("/api/v1/sos/rejections", headers=auth("operator")).json()
    assert [row["box_id"] for row in operator] == [BOX_ID, BOX_ID]


@pytest.mark.parametrize(
    ("message", "field"),
    [
        (box_message("explode", 1), "type"),
        (box_message("press", -5), "seq"),
        (box_message("press", 1, extra_field=1), "extra_field"),
        (signed({"type": "press", "seq": 1, "ts": "yesterday"}), "ts"),
        (signed({"type": "press", "seq": "1", "ts": utc_text()}), "seq"),
        (signed({"type": "press", "seq": True, "ts": utc_text()}), "seq"),
        (signed({"type": "press", "seq": 1, "ts": utc_text()[:-1]}), "ts"),  # no zone
        (signed({"type": "press", "seq": 1, "ts": int(datetime.now(UTC).timestamp())}), "ts"),
        (signed({"type": "press", "seq": 1, "ts": str(int(datetime.now(UTC).timestamp()))}), "ts"),
        (signed({"type": "press", "seq": 1, "ts": utc_text().replace("T", " ")}), "ts"),
    ],
    ids=[
        "type",
        "seq",
        "unknown-field",
        "ts",
        "seq-text",
        "seq-bool",
        "ts-naive",
        "ts-epoch",
        "ts-epoch-text",
        "ts-space",
    ],
)
def test_a_malformed_message_names_its_field(client, sos_site, message, field):
    r = client.post(URL, json=message)
    assert r.status_code == 422
    error = r.json()["error"]
    assert (error["code"], error["field"]) == ("malformed", field)
    assert error["message"].startswith("The message is not a valid SOS box message.")


def test_reused_seq_with_other_content_is_refused(client, db, auth, sos_site):
    assert client.post(URL, json=box_message("test", 3)).status_code == 201
    r = client.post(URL, json=box_message("press", 3))
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "seq_reused"
    assert incidents(db) == []
    counts = client.get("/api/v1/sos/rejections", headers=auth("operator")).json()
    assert counts == [{"box_id": BOX_ID, "reason": "seq_reused", "count": 1}]
    audit = client.get("/api/v1/audit?action=sos.rejected", headers=auth("commander")).json()
    assert [item["payload"]["reason"] for item in audit["items"]] == ["seq_reused"]


def test_a_press_its_audit_entries_and_events_commit_together_or_not_at_all(
    db, sos_site, monkeypatch
):
    def written() -> dict[str, list[str]]:
        with db.reader() as session:
            return {
                "events": list(session.scalars(select(BoxEvent.type).order_by(BoxEvent.id))),
                "incidents": list(session.scalars(select(Incident.title).order_by(Incident.id))),
                "audit": list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq))),
                "outbox": list(session.scalars(select(OutboxEvent.topic).order_by(OutboxEvent.id))),
            }

    before = written()
    body = json.dumps(box_message("press", 1))

    def fail(*args, **kwargs):
        raise RuntimeError("the disk is full")

    # A failure late in the press (after its event, incident and first audit entries):
    # nothing of it stays, so the box's retry is a first delivery, not a duplicate.
    monkeypatch.setattr(sos_service, "respond", fail)
    with pytest.raises(RuntimeError):
        sos_service.receive(db, box_id=BOX_ID, body=body, transport="http", tolerance_s=300)
    assert written() == before
    monkeypatch.undo()

    result = sos_service.receive(db, box_id=BOX_ID, body=body, transport="http", tolerance_s=300)
    assert result.status == "accepted" and result.incident_id is not None
    after = written()
    assert after["events"] == [*before["events"], "press"]
    assert len(after["incidents"]) == len(before["incidents"]) + 1
    new_audit = after["audit"][len(before["audit"]) :]
    assert {"incident.created", "sos.response", "sos.press"} <= set(new_audit)
    new_events = after["outbox"][len(before["outbox"]) :]
    assert {"incident.created", "sos.response"} <= set(new_events)


def test_test_press_is_logged_without_an_incident(client, db, auth, sos_site):
    assert client.post(URL, json=box_message("test", 1)).status_code == 201
    assert incidents(db) == []
    with db.reader() as session:
        assert session.scalar(select(func.count()).select_from(BoxEvent)) == 1
    audit = client.get("/api/v1/audit?action=sos.test", headers=auth("commander")).json()
    assert len(audit["items"]) == 1


def test_a_box_signing_by_the_documented_formula_is_accepted(client, db, auth, sos_site):
    """Firmware written from docs/devices.md alone, with Thai text in its details: the
    signature is computed here by the formula on that page, not by SafeZone's code."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    payload = {"type": "tamper", "seq": 21, "ts": stamp, "data": {"door": "เปิด", "volts": 12.5}}
    signed = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    payload["sig"] = hmac.new(BOX_SECRET.encode(), signed, hashlib.sha256).hexdigest()
    r = client.post(URL, json=payload)
    assert r.status_code == 201, r.text


def test_the_worked_signature_examples_in_the_devices_doc_are_right():
    text = DEVICES_DOC.read_text(encoding="utf-8")
    examples = re.findall(r"^secret: (\S+)\nsigned: (\{.*\})\nsig: +([0-9a-f]{64})$", text, re.M)
    assert len(examples) == 2, "the worked examples are missing from docs/devices.md"
    for secret, signed, sig in examples:
        message = json.loads(signed)
        assert sos_service.signing_bytes(message) == signed.encode()
        assert sos_service.sign(message, secret) == sig
    # One has text beyond ASCII in it, escaped; the message at the top carries the first.
    assert "\\u0e40" in examples[1][1]
    assert f'"sig": "{examples[0][2]}"' in text


def last_heard(db, at: datetime) -> None:
    """The box was last heard from at ``at`` (its heartbeats stopped then)."""
    with db.transaction() as session:
        session.merge(BoxStatus(box_id=BOX_ID, station_id="MDH", online=False, last_message_at=at))


def test_presses_held_while_the_box_could_not_reach_safezone_arrive_late(
    client, db, auth, sos_site
):
    now = datetime.now(UTC)
    last_heard(db, now - timedelta(minutes=40))  # then SafeZone (or the network) went down
    # What the box (or the broker) held comes in when it is back: both presses count.
    first = client.post(URL, json=box_message("press", 10, ts=now - timedelta(minutes=30)))
    second = client.post(URL, json=box_message("press", 11, ts=now - timedelta(minutes=29)))
    assert (first.status_code, second.status_code) == (201, 201), second.text
    [incident, _] = incidents(db)
    assert "was pressed 30 min before the press reached SafeZone" in incident.description
    assert "held while the box could not reach it" in incident.description
    audit = client.get("/api/v1/audit?action=sos.press", headers=auth("commander")).json()
    late = sorted(item["payload"]["late_s"] for item in audit["items"])
    assert late[0] == pytest.approx(29 * 60, abs=5) and late[1] == pytest.approx(30 * 60, abs=5)
    # A held heartbeat is taken but says nothing about now: the box is not back online.
    held_beat = client.post(URL, json=box_message("heartbeat", 12, ts=now - timedelta(minutes=28)))
    assert held_beat.status_code == 201
    with db.reader() as session:
        status = session.get(BoxStatus, BOX_ID)
        assert status is not None
        assert (status.online, status.last_heartbeat_seq) == (False, None)
    # The clock ahead of the server is never "held".
    ahead = client.post(URL, json=box_message("press", 13, ts=now + timedelta(minutes=30)))
    assert ahead.status_code == 422 and ahead.json()["error"]["code"] == "stale_timestamp"


def test_an_old_press_is_refused_once_the_box_was_heard_since(client, db, auth, sos_site):
    now = datetime.now(UTC)
    last_heard(db, now - timedelta(minutes=40))
    assert client.post(URL, json=box_message("heartbeat", 1)).status_code == 201  # back
    # A press sent 30 minutes ago, never delivered, is replayed now: the box was heard
    # since, so nothing held it on the way.
    r = client.post(URL, json=box_message("press", 2, ts=now - timedelta(minutes=30)))
    assert r.status_code == 422 and r.json()["error"]["code"] == "stale_timestamp"
    assert incidents(db) == []
    counts = client.get("/api/v1/sos/rejections", headers=auth("operator")).json()
    assert counts == [{"box_id": BOX_ID, "reason": "stale_timestamp", "count": 1}]


def test_a_stored_press_sent_again_long_after_is_a_duplicate_not_stale(db, sos_site):
    """Its answer was lost; the box retries the very message after the window (and after
    its heartbeats went through): it is the same message, not a replay to refuse."""
    now = datetime.now(UTC)
    press = json.dumps(box_message("press", 40, ts=now))

    def handle(body: str, at: datetime) -> sos_service.BoxResult:
        with db.transaction() as session:
            return sos_service.handle_box_message(
                session, box_id=BOX_ID, body=body, transport="http", tolerance_s=300, now=at
            )

    first = handle(press, now)
    assert first.status == "accepted"
    assert handle(json.dumps(box_message("heartbeat", 41)), now).status == "accepted"
    again = handle(press, now + timedelta(minutes=20))
    assert (again.status, again.incident_id) == ("duplicate", first.incident_id)
    # A different message sent before the box was last heard is still refused.
    sent = now - timedelta(minutes=10)
    other = handle(json.dumps(box_message("press", 42, ts=sent)), now + timedelta(minutes=20))
    assert other.reason == "stale_timestamp"


def test_a_held_press_stays_late_when_a_heartbeat_is_stored_before_it(db, sos_site):
    """The MQTT gateway checks a press, then stores it; a heartbeat on time may be stored
    in between (another worker). The press was held when it arrived: it still counts."""
    now = datetime.now(UTC)
    last_heard(db, now - timedelta(minutes=40))
    held_press = json.dumps(box_message("press", 5, ts=now - timedelta(minutes=30)))
    with db.reader() as session:
        prepared = sos_service.prepare(session, [(BOX_ID, held_press)], tolerance_s=300)
    beat = sos_service.receive(
        db,
        box_id=BOX_ID,
        body=json.dumps(box_message("heartbeat", 6)),
        transport="mqtt",
        tolerance_s=300,
    )
    assert beat.status == "accepted"
    with db.transaction(urgent=True) as session:
        [result] = sos_service.store(session, prepared, transport="mqtt")
    assert result.status == "accepted" and result.incident_id is not None


def test_cancel_notes_the_recent_press(client, db, auth, sos_site):
    incident_id = client.post(URL, json=box_message("press", 1)).json()["incident_id"]
    assert client.post(URL, json=box_message("cancel", 2)).status_code == 201
    detail = client.get(f"/api/v1/incidents/{incident_id}", headers=auth("operator")).json()
    assert detail["timeline"][-1]["action"] == "sos_cancelled"
    assert detail["status"] == "new"  # an operator still checks on the caller


def test_heartbeats_presence_and_maintenance_alerts(client, db, auth, sos_site):
    assert client.post(URL, json=box_message("heartbeat", 1)).status_code == 201
    status = client.get("/api/v1/sos/boxes/status", headers=auth("officer")).json()
    assert status[0]["online"] is True
    # Two missed intervals (the box's interval is 30 s) mark it offline with an alert.
    later = datetime.now(UTC) + timedelta(seconds=61)
    with db.reader() as session:  # the job's read-only check, before any write lock
        assert not sos_service.any_box_silent(session)
        assert sos_service.any_box_silent(session, now=later)
    with db.transaction() as session:
        assert sos_service.check_heartbeats(session, now=later) == [BOX_ID]
    with db.transaction() as session:
        assert sos_service.check_heartbeats(session, now=later) == []  # raised once
    with db.reader() as session:
        assert not sos_service.any_box_silent(session, now=later)  # nothing left to do
    status = client.get("/api/v1/sos/boxes/status", headers=auth("officer")).json()
    assert status[0]["online"] is False
    from safezone.zones import service as zones_service

    with db.reader() as session:
        [alert] = zones_service.list_maintenance_alerts(session, station_id="MDH")
        assert (alert.asset_id, alert.kind) == (BOX_ID, "offline")
    # The box comes back a moment later (on the test's clock, a minute ahead): the alert
    # clears. (A heartbeat that arrived before the box was marked offline would not.)
    with db.transaction() as session:
        back = sos_service.handle_box_message(
            session,
            box_id=BOX_ID,
            body=json.dumps(box_message("heartbeat", 2, ts=later)),
            transport="http",
            tolerance_s=300,
            now=later + timedelta(seconds=1),
        )
    assert back.status == "accepted"
    with db.reader() as session:
        assert zones_service.list_maintenance_alerts(session, station_id="MDH") == []


def test_last_will_marks_offline_but_unsigned_online_does_not(db, sos_site):
    with db.transaction() as session:
        assert sos_service.handle_box_status(session, box_id=BOX_ID, payload=b"offline")
    with db.transaction() as session:
        assert not sos_service.handle_box_status(session, box_id=BOX_ID, payload=b"online")
    with db.reader() as session:
        [status] = sos_service.box_statuses(session, station_id="MDH")
        assert status.online is False


def test_tamper_raises_a_maintenance_alert(client, db, sos_site):
    assert client.post(URL, json=box_message("tamper", 1, data={"door": "open"})).status_code == 201
    from safezone.zones import service as zones_service

    with db.reader() as session:
        [alert] = zones_service.list_maintenance_alerts(session, station_id="MDH")
        assert alert.kind == "tamper" and "door" in alert.detail
    assert incidents(db) == []


def test_unacknowledged_sos_escalates_once(client, db, auth, sos_site):
    incident_id = client.post(URL, json=box_message("press", 1)).json()["incident_id"]
    other = client.post(URL, json=box_message("press", 2)).json()["incident_id"]
    client.post(
        f"/api/v1/incidents/{other}/transitions",
        json={"status": "acknowledged"},
        headers=auth("operator"),
    )
    later = datetime.now(UTC) + timedelta(seconds=120)
    with db.reader() as session:
        assert not sos_service.any_unacknowledged_overdue(session, timeout_s=60)
        assert sos_service.any_unacknowledged_overdue(session, timeout_s=60, now=later)
    with db.transaction() as session:
        assert sos_service.escalate_unacknowledged(session, timeout_s=60, now=later) == [
            incident_id
        ]
    with db.transaction() as session:
        assert sos_service.escalate_unacknowledged(session, timeout_s=60, now=later) == []
    with db.reader() as session:
        assert not sos_service.any_unacknowledged_overdue(session, timeout_s=60, now=later)
    detail = client.get(f"/api/v1/incidents/{incident_id}", headers=auth("commander")).json()
    assert detail["escalated_at"] is not None
    assert detail["timeline"][-1]["action"] == "escalated"


def test_sos_status_routes_are_station_scoped(client, auth, sos_site):
    client.post(URL, json=box_message("heartbeat", 1))
    assert client.get("/api/v1/sos/boxes/status", headers=auth("other_operator")).json() == []
    assert client.get("/api/v1/sos/rejections", headers=auth("citizen")).status_code == 403


def test_monitor_jobs_with_nothing_to_do_take_no_write_lock(app, db, sos_site, monkeypatch):
    """Every few seconds on every node: a round with nothing overdue must not queue on
    SQLite's one write lock, where an SOS may be waiting."""
    from safezone.core.scheduler import Scheduler

    jobs = {j.name: j for j in app.state.scheduler.jobs}
    writes = count_own_writes(db, monkeypatch)
    scheduler = Scheduler(db)
    for name in ("sos.heartbeats", "sos.escalation", "dispatch.ack_timer"):
        assert jobs[name].due is not None
        with db.reader() as session:
            assert jobs[name].due(session) is False
        assert scheduler.run_once(jobs[name]) is False
    assert writes == []
