"""POST /api/v1/patrol/checkins: one test per rule, and what every verdict leaves behind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from safezone.audit.models import AuditEntry
from safezone.core.bus.outbox import OutboxEvent
from safezone.patrol.models import CheckIn
from tests.conftest import INSIDE
from tests.patrol.conftest import CHECKPOINT, NORTH_200M, V1


def test_printed_code_at_the_checkpoint_is_accepted(on_duty):
    r = on_duty.check_in(on_duty.printed())
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "accepted" and body["reasons"] == []
    assert body["checkpoint_id"] == CHECKPOINT and body["mode"] == "static"
    assert body["distance_m"] < 1


def test_rotating_code_from_the_screen_is_accepted(on_duty):
    now = datetime.now(UTC)
    r = on_duty.check_in(on_duty.rotating(now), scanned_at=now)
    assert r.json()["status"] == "accepted", r.text
    assert r.json()["mode"] == "rotating"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda c: c[:-1] + ("0" if c[-1] != "0" else "1"),  # one signature digit changed
        lambda c: c.replace(CHECKPOINT, "CP-OTHER"),  # the code moved to another checkpoint
        lambda c: c.replace(":S:", ":R:"),  # a printed code passed off as a screen's
        lambda c: "https://example.com/checkin?cp=" + CHECKPOINT,  # not a SafeZone code
    ],
)
def test_forged_codes_are_rejected_as_bad_signature(on_duty, mangle):
    r = on_duty.check_in(mangle(on_duty.printed()))
    assert r.status_code == 201
    assert r.json()["status"] == "rejected"
    assert "bad_signature" in r.json()["reasons"]


def test_same_printed_code_twice_is_a_replay(on_duty):
    code = on_duty.printed()
    assert on_duty.check_in(code).json()["status"] == "accepted"
    again = on_duty.check_in(code).json()
    assert again["status"] == "rejected" and again["reasons"] == ["replay"]


def test_printed_code_again_after_the_replay_window_is_a_new_visit(on_duty):
    on_duty.backdate_shift(timedelta(hours=1))
    code = on_duty.printed()
    earlier = datetime.now(UTC) - timedelta(minutes=11)
    assert on_duty.check_in(code, scanned_at=earlier).json()["status"] == "accepted"
    assert on_duty.check_in(code).json()["status"] == "accepted"


def test_a_rejected_scan_does_not_make_the_next_one_a_replay(on_duty):
    code = on_duty.printed()
    assert on_duty.check_in(code, at=NORTH_200M).json()["status"] == "rejected"
    assert on_duty.check_in(code).json()["status"] == "accepted"


def test_rotating_code_reused_is_a_replay(on_duty):
    now = datetime.now(UTC)
    code = on_duty.rotating(now)
    assert on_duty.check_in(code, scanned_at=now).json()["status"] == "accepted"
    again = on_duty.check_in(code, scanned_at=now + timedelta(seconds=5)).json()
    assert again["status"] == "rejected" and "replay" in again["reasons"]


def test_printed_code_far_from_the_checkpoint_is_rejected(on_duty):
    body = on_duty.check_in(on_duty.printed(), at=NORTH_200M).json()
    assert body["status"] == "rejected" and body["reasons"] == ["outside_geofence"]
    assert 190 < body["distance_m"] < 210


def test_a_fix_too_coarse_to_tell_is_flagged(on_duty):
    body = on_duty.check_in(on_duty.printed(), accuracy_m=60).json()
    assert body["status"] == "flagged" and body["reasons"] == ["geofence_uncertain"]


def test_rotating_code_off_the_geofence_is_only_flagged(on_duty):
    now = datetime.now(UTC)
    body = on_duty.check_in(on_duty.rotating(now), scanned_at=now, at=NORTH_200M).json()
    assert body["status"] == "flagged" and body["reasons"] == ["outside_geofence"]


def test_printed_code_from_an_unregistered_phone_is_rejected(on_duty):
    body = on_duty.check_in(on_duty.printed(), device_id="SOMEONE-ELSES-PHONE").json()
    assert body["status"] == "rejected" and body["reasons"] == ["unknown_device"]


def test_revoked_phone_is_unknown(on_duty, client, auth):
    [device] = client.get(f"{V1}/patrol/devices", headers=auth("officer")).json()
    r = client.post(f"{V1}/patrol/devices/{device['id']}/revoke", headers=auth("commander"))
    assert r.status_code == 200 and r.json()["revoked_at"]
    body = on_duty.check_in(on_duty.printed()).json()
    assert body["reasons"] == ["unknown_device"]
    assert client.get(f"{V1}/patrol/devices", headers=auth("officer")).json() == []


def test_expired_rotating_code_is_rejected(on_duty):
    now = datetime.now(UTC)
    old = on_duty.rotating(now - timedelta(minutes=5))
    body = on_duty.check_in(old, scanned_at=now).json()
    assert body["status"] == "rejected" and body["reasons"] == ["code_expired"]


def test_posters_printed_before_a_key_rotation_stop_working(on_duty, client, auth):
    old = on_duty.printed()
    r = client.post(f"{V1}/patrol/checkpoints/{CHECKPOINT}/rotate-key", headers=auth("admin"))
    assert r.status_code == 200 and r.json() == {
        "checkpoint_id": CHECKPOINT,
        "key_version": 2,
        "retired_version": 1,
    }
    assert on_duty.check_in(old).json()["reasons"] == ["code_expired"]
    new = on_duty.printed()
    assert new != old and ":2:" in new
    assert on_duty.check_in(new).json()["status"] == "accepted"


def test_a_trip_faster_than_a_car_is_flagged(on_duty):
    # A second checkpoint about 5.5 km away, scanned a minute after the first.
    on_duty.add_checkpoint("CP-FAR", INSIDE[0] + 0.05, INSIDE[1])
    on_duty.backdate_shift(timedelta(hours=1))
    first = datetime.now(UTC) - timedelta(minutes=1)
    assert on_duty.check_in(on_duty.printed(), scanned_at=first).json()["status"] == "accepted"
    body = on_duty.check_in(on_duty.printed("CP-FAR"), at=(INSIDE[0] + 0.05, INSIDE[1])).json()
    assert body["status"] == "flagged" and body["reasons"] == ["impossible_speed"]


def test_a_scan_synced_late_is_judged_against_its_neighbours_in_time(on_duty):
    # The offline queue delivers the far scan after a later one: still caught.
    on_duty.add_checkpoint("CP-FAR", INSIDE[0] + 0.05, INSIDE[1])
    on_duty.backdate_shift(timedelta(hours=1))
    now = datetime.now(UTC)
    assert on_duty.check_in(on_duty.printed()).json()["status"] == "accepted"
    body = on_duty.check_in(
        on_duty.printed("CP-FAR"),
        at=(INSIDE[0] + 0.05, INSIDE[1]),
        scanned_at=now - timedelta(minutes=1),
    ).json()
    assert "impossible_speed" in body["reasons"]


def test_scan_without_a_running_shift_is_flagged(patrol):
    patrol.register_phone()
    body = patrol.check_in(patrol.printed()).json()
    assert body["status"] == "flagged" and body["reasons"] == ["outside_shift"]


def test_scan_after_the_shift_ended_is_flagged(on_duty, client, auth):
    assert client.post(f"{V1}/patrol/shifts/end", headers=auth("officer")).status_code == 200
    later = datetime.now(UTC) + timedelta(seconds=29)
    body = on_duty.check_in(on_duty.printed(), scanned_at=later + timedelta(minutes=0)).json()
    # within the clock-skew allowance of the shift's end: still on duty
    assert body["status"] == "accepted", body
    body = on_duty.check_in(on_duty.printed(), scanned_at=datetime.now(UTC) + timedelta(seconds=31))
    assert "outside_shift" in body.json()["reasons"]


def test_scan_dated_in_the_future_is_rejected(on_duty):
    body = on_duty.check_in(
        on_duty.printed(), scanned_at=datetime.now(UTC) + timedelta(minutes=10)
    ).json()
    assert body["status"] == "rejected" and "future_timestamp" in body["reasons"]


def test_checkpoint_of_another_station_is_a_bad_signature(on_duty, db):
    from safezone.zones import schemas as zone_schemas
    from safezone.zones import service as zones_service

    with db.transaction() as session:
        zones_service.create_asset(
            session,
            kind=zones_service.KINDS["checkpoint"],
            station_id="BKK",
            data=zone_schemas.CheckpointCreate(id="CP-BKK", lat=INSIDE[0], lon=INSIDE[1]),
            actor="test",
        )
    with db.transaction() as session:
        from safezone.patrol import service as patrol_service

        checkpoint = zones_service.find_asset(
            session, kind=zones_service.KINDS["checkpoint"], asset_id="CP-BKK"
        )
        code = patrol_service.printed_code(session, checkpoint=checkpoint, actor="test")
    assert on_duty.check_in(code).json()["reasons"] == ["bad_signature"]


def test_every_verdict_is_stored_audited_and_published_together(on_duty, db):
    code = on_duty.printed()
    results = [
        on_duty.check_in(code).json(),  # accepted
        on_duty.check_in(code).json(),  # rejected: replay
        on_duty.check_in(on_duty.printed(), accuracy_m=80).json(),  # flagged (+ replay)
    ]
    assert [r["status"] for r in results] == ["accepted", "rejected", "rejected"]
    with db.reader() as session:
        rows = [r.id for r in session.scalars(select(CheckIn).order_by(CheckIn.id))]
        audits = [
            (a.seq, a.object_id, a.payload)
            for a in session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "patrol.checkin")
                .order_by(AuditEntry.seq)
            )
        ]
        events = [
            (e.audit_seq, e.payload)
            for e in session.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.topic == "patrol.checkin")
                .order_by(OutboxEvent.id)
            )
        ]
    assert rows == [r["id"] for r in results]
    assert [a[1] for a in audits] == [str(r["id"]) for r in results]
    assert [a[2]["status"] for a in audits] == ["accepted", "rejected", "rejected"]
    assert audits[1][2]["reasons"] == ["replay"]
    assert audits[2][2]["reasons"] == ["replay", "geofence_uncertain"]
    # the code is a credential: the trail keeps its hash, not the code
    assert all(code not in str(a[2]) and a[2]["code_sha256"] for a in audits)
    assert [e[0] for e in events] == [a[0] for a in audits]
    assert events[1][1]["checkin"]["reasons"] == ["replay"]
    assert "code" not in events[0][1]["checkin"]


def test_check_ins_are_listed_per_role(on_duty, client, auth):
    on_duty.check_in(on_duty.printed())
    on_duty.check_in(on_duty.printed(), at=NORTH_200M)
    mine = client.get(f"{V1}/patrol/checkins", headers=auth("officer")).json()
    assert [c["status"] for c in mine] == ["rejected", "accepted"]
    rejected = client.get(
        f"{V1}/patrol/checkins", headers=auth("operator"), params={"status": "rejected"}
    ).json()
    assert len(rejected) == 1 and rejected[0]["reasons"] == ["outside_geofence", "replay"]
    assert client.get(f"{V1}/patrol/checkins", headers=auth("other_operator")).json() == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"accuracy_m": None}, "accuracy_m"),
        ({"accuracy_m": -1}, "accuracy_m"),
        ({"lat": 95}, "lat"),
        ({"scanned_at": "2026-11-27T10:00:00"}, "scanned_at"),
        ({"device_id": "x"}, "device_id"),
        ({"qr": ""}, "qr"),
        ({"qr": "A" * 201}, "qr"),
        ({"speed": 3}, "speed"),
    ],
)
def test_malformed_check_in_is_refused_and_nothing_stored(on_duty, client, auth, db, change, field):
    body = {
        "qr": on_duty.printed(),
        "lat": INSIDE[0],
        "lon": INSIDE[1],
        "accuracy_m": 5,
        "scanned_at": datetime.now(UTC).isoformat(),
        "device_id": "PHONE-OFFICER-1",
        **change,
    }
    body = {k: v for k, v in body.items() if v is not None}
    r = client.post(f"{V1}/patrol/checkins", headers=auth("officer"), json=body)
    assert r.status_code == 422 and r.json()["error"]["field"] == field
    with db.reader() as session:
        assert session.scalars(select(CheckIn)).all() == []


def test_check_ins_reach_the_command_centre_stream(on_duty, db):
    from safezone.core.bus import outbox
    from safezone.realtime.service import STREAM_TOPICS

    body = on_duty.check_in(on_duty.printed()).json()
    with db.reader() as session:
        events = outbox.read_after(
            session, after_id=0, station_id="MDH", topic_prefixes=STREAM_TOPICS
        )
    checkins = [e.payload["checkin"] for e in events if e.topic == "patrol.checkin"]
    assert [c["id"] for c in checkins] == [body["id"]]
    assert checkins[0]["status"] == "accepted" and checkins[0]["checkpoint_id"] == CHECKPOINT
    assert any(e.topic == "patrol.shift" for e in events)
