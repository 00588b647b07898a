"""GET /api/v1/cameras/{id}/snapshot: the current picture from the camera's HTTP snapshot,
MJPEG or RTSP source, for the control room only, each viewing in the audit chain."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from safezone.audit.models import AuditEntry
from safezone.core.security import sha256_hex

V1 = "/api/v1"


def _views(db, camera_id):
    with db.reader() as session:
        entries = list(
            session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "camera.live_viewed", AuditEntry.object_id == camera_id)
                .order_by(AuditEntry.seq)
            )
        )
        session.expunge_all()
        return entries


@pytest.mark.parametrize("source", ["snapshot", "mjpeg", "rtsp"])
def test_the_current_picture_from_each_kind_of_source(
    client, auth, db, add_camera, simulator, source
):
    urls = {
        "snapshot": {"snapshot_url": simulator.snapshot_url(1)},
        "mjpeg": {"stream_url": simulator.mjpeg_url(2)},
        "rtsp": {"stream_url": simulator.rtsp_url(1)},
    }[source]
    add_camera("CAM-LIVE", **urls)
    r = client.get(
        f"{V1}/cameras/CAM-LIVE/snapshot",
        params={"reason": "ตรวจสอบเหตุทะเลาะวิวาท / checking a fight"},
        headers=auth("operator"),
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/jpeg"
    assert r.content.startswith(b"\xff\xd8") and r.content.endswith(b"\xff\xd9")
    assert r.headers["cache-control"] == "no-store"
    [entry] = _views(db, "CAM-LIVE")
    assert entry.actor == "user:operator"
    assert entry.station_id == "MDH"
    assert entry.payload["reason"] == "ตรวจสอบเหตุทะเลาะวิวาท / checking a fight"
    assert entry.payload["source"] == source
    assert entry.payload["sha256"] == sha256_hex(r.content)
    assert entry.ts  # when


def test_a_reason_is_required(client, auth, db, add_camera, simulator):
    add_camera("CAM-LIVE", snapshot_url=simulator.snapshot_url(1))
    for params in ({}, {"reason": "  "}, {"reason": "x"}):
        r = client.get(f"{V1}/cameras/CAM-LIVE/snapshot", params=params, headers=auth("admin"))
        assert r.status_code == 422, r.text
        assert "reason" in r.text
    assert _views(db, "CAM-LIVE") == []


def test_roles_and_station_isolation(client, auth, db, add_camera, simulator):
    add_camera("CAM-LIVE", snapshot_url=simulator.snapshot_url(1))
    url = f"{V1}/cameras/CAM-LIVE/snapshot"
    params = {"reason": "area check"}
    assert client.get(url, params=params).status_code == 401
    for role in ("citizen", "officer"):
        assert client.get(url, params=params, headers=auth(role)).status_code == 403
    r = client.get(url, params=params, headers=auth("other_operator"))
    assert r.status_code == 404 and r.json()["error"]["field"] == "id"
    for role in ("operator", "commander", "admin"):
        assert client.get(url, params=params, headers=auth(role)).status_code == 200
    assert [e.actor for e in _views(db, "CAM-LIVE")] == [
        "user:operator",
        "user:commander",
        "user:admin",
    ]


def test_an_unreachable_camera_is_a_502_and_the_attempt_is_audited(client, auth, db, add_camera):
    add_camera("CAM-DEAD", snapshot_url="http://127.0.0.1:9/snapshot.jpg")
    add_camera("CAM-NONE")
    r = client.get(
        f"{V1}/cameras/CAM-DEAD/snapshot", params={"reason": "area check"}, headers=auth("operator")
    )
    assert r.status_code == 502, r.text
    assert r.json()["error"]["code"] == "camera_unavailable"
    [entry] = _views(db, "CAM-DEAD")
    assert entry.payload["sha256"] is None and "unreachable" in entry.payload["error"]
    r = client.get(
        f"{V1}/cameras/CAM-NONE/snapshot", params={"reason": "area check"}, headers=auth("operator")
    )
    assert r.status_code == 502 and "no stream or snapshot URL" in r.json()["error"]["message"]
