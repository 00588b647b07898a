"""Checkpoint QR images and keys, officers' phones and shifts over the API."""

from __future__ import annotations

from sqlalchemy import select

from safezone.audit.models import AuditEntry
from safezone.patrol import qr
from tests.patrol.conftest import CHECKPOINT, PHONE, V1


def actions(db, prefix: str) -> list[str]:
    with db.reader() as session:
        return list(
            session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.action.startswith(prefix))
                .order_by(AuditEntry.seq)
            )
        )


def test_commander_gets_the_printed_code_as_svg_and_png(patrol, client, auth, db):
    svg = client.get(f"{V1}/patrol/checkpoints/{CHECKPOINT}/qr.svg", headers=auth("commander"))
    assert svg.status_code == 200
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.headers["cache-control"] == "no-store"
    assert b"<svg" in svg.content
    png = client.get(f"{V1}/patrol/checkpoints/{CHECKPOINT}/qr.png", headers=auth("admin"))
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    # the image is the code the poster carries
    assert svg.content == qr.svg(patrol.printed())
    assert actions(db, "checkpoint.") == [
        "checkpoint.created",
        "checkpoint.key_created",
        "checkpoint.qr_issued",
        "checkpoint.qr_issued",
    ]


def test_qr_of_unknown_or_foreign_checkpoint_is_not_found(patrol, client, auth):
    r = client.get(f"{V1}/patrol/checkpoints/CP-NOPE/qr.svg", headers=auth("commander"))
    assert r.status_code == 404 and r.json()["error"]["field"] == "id"
    r = client.get(f"{V1}/patrol/checkpoints/{CHECKPOINT}/qr.svg", headers=auth("other_operator"))
    assert r.status_code == 403
    r = client.get(f"{V1}/patrol/checkpoints/bad%20id/qr.png", headers=auth("commander"))
    assert r.status_code == 422


def test_display_key_makes_codes_that_verify_and_is_audited(patrol, client, auth, db):
    r = client.get(f"{V1}/patrol/checkpoints/{CHECKPOINT}/display-key", headers=auth("admin"))
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["window_s"] == 30 and body["key_version"] == 1
    assert body["code_format"] == "SZ1:R:<checkpoint_id>:<window>:<sig>"
    code = qr.rotating_code(
        checkpoint_id=CHECKPOINT, window=123, display_key_hex=body["display_key"]
    )
    parsed = qr.parse(code)
    assert parsed is not None and parsed.mode == "rotating"
    assert "checkpoint.display_key_issued" in actions(db, "checkpoint.")


def test_rotating_a_key_twice(patrol, client, auth):
    url = f"{V1}/patrol/checkpoints/{CHECKPOINT}/rotate-key"
    assert client.post(url, headers=auth("admin")).json()["retired_version"] is None
    assert client.post(url, headers=auth("admin")).json() == {
        "checkpoint_id": CHECKPOINT,
        "key_version": 2,
        "retired_version": 1,
    }


def test_phone_registration_rules(patrol, client, auth, db):
    officer = patrol.officer_id()
    url = f"{V1}/patrol/devices"
    h = auth("commander")
    patrol.register_phone()
    again = client.post(url, headers=h, json={"officer_user_id": officer, "device_id": PHONE})
    assert again.status_code == 409 and "this officer" in again.json()["error"]["message"]
    operator = client.get(f"{V1}/auth/me", headers=auth("operator")).json()["user_id"]
    r = client.post(url, headers=h, json={"officer_user_id": operator, "device_id": "PHONE-X"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "officer_user_id"
    r = client.post(url, headers=h, json={"officer_user_id": 9999, "device_id": "PHONE-X"})
    assert r.status_code == 404
    r = client.post(url, headers=h, json={"officer_user_id": officer, "device_id": "a b"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "device_id"
    r = client.post(
        url, headers=auth("other_operator"), json={"officer_user_id": officer, "device_id": "P-1"}
    )
    assert r.status_code == 403
    [device] = client.get(url, headers=auth("officer")).json()
    assert device["device_id"] == PHONE and device["registered_by"] == "user:commander"
    revoke = f"{url}/{device['id']}/revoke"
    assert client.post(revoke, headers=h).status_code == 200
    assert client.post(revoke, headers=h).status_code == 409
    assert client.post(f"{url}/999/revoke", headers=h).status_code == 404
    assert client.get(url, headers=h).json() == []
    listed = client.get(url, headers=h, params={"include_revoked": True}).json()
    assert [d["revoked_at"] is not None for d in listed] == [True]
    # once revoked, the phone may be registered again
    assert (
        client.post(
            url, headers=h, json={"officer_user_id": officer, "device_id": PHONE}
        ).status_code
        == 201
    )
    assert actions(db, "officer_device.") == [
        "officer_device.registered",
        "officer_device.revoked",
        "officer_device.registered",
    ]


def test_shift_start_and_end(client, auth, db):
    h = auth("officer")
    started = client.post(f"{V1}/patrol/shifts/start", headers=h)
    assert started.status_code == 201 and started.json()["ended_at"] is None
    assert client.post(f"{V1}/patrol/shifts/start", headers=h).status_code == 409
    running = client.get(f"{V1}/patrol/shifts", headers=auth("operator"), params={"running": True})
    assert [s["id"] for s in running.json()] == [started.json()["id"]]
    ended = client.post(f"{V1}/patrol/shifts/end", headers=h)
    assert ended.status_code == 200 and ended.json()["ended_at"] is not None
    again = client.post(f"{V1}/patrol/shifts/end", headers=h)
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    assert client.get(f"{V1}/patrol/shifts", headers=h, params={"running": True}).json() == []
    assert len(client.get(f"{V1}/patrol/shifts", headers=h).json()) == 1
    assert client.get(f"{V1}/patrol/shifts", headers=auth("other_operator")).json() == []
    assert actions(db, "shift.") == ["shift.started", "shift.ended"]
