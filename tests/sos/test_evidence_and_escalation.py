"""After an SOS: camera snapshots kept as evidence, and the escalation webhook."""

from __future__ import annotations

import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image

from safezone.core import webhooks
from safezone.core.security import hmac_sha256_hex, sha256_hex
from safezone.sos import jobs
from safezone.zones import schemas as zone_schemas
from safezone.zones import service as zones_service
from tests.sos.conftest import box_message

JPEG = io.BytesIO()
Image.new("RGB", (32, 24), (10, 120, 200)).save(JPEG, format="JPEG")
JPEG_BYTES = JPEG.getvalue()


class FakeDevices(BaseHTTPRequestHandler):
    """A camera that serves a snapshot, a broken camera, and a webhook receiver."""

    received: list[tuple[dict[str, str], bytes]] = []

    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/cam-w.jpg":
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(JPEG_BYTES)))
            self.end_headers()
            self.wfile.write(JPEG_BYTES)
        else:
            self.send_response(404)
            self.end_headers()

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        FakeDevices.received.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def devices():
    FakeDevices.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeDevices)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def point_cameras(db, base: str) -> None:
    kind = zones_service.KINDS["camera"]
    with db.transaction() as session:
        for cam_id, path in (("CAM-W", "/cam-w.jpg"), ("CAM-N", "/broken.jpg")):
            zones_service.update_asset(
                session,
                kind=kind,
                station_id="MDH",
                asset_id=cam_id,
                actor="test",
                data=zone_schemas.CameraUpdate(snapshot_url=base + path),
            )


def test_snapshots_are_stored_with_their_hash_in_the_audit(
    client, db, auth, settings, sos_site, devices
):
    point_cameras(db, devices)
    r = client.post("/api/v1/sos/boxes/BOX-T1/events", json=box_message("press", 1))
    incident_id = r.json()["incident_id"]
    # The app's workers fetch the pictures after the commit; wait for them.
    deadline = time.monotonic() + 10
    snapshots: list = []
    while time.monotonic() < deadline and not snapshots:
        snapshots = client.get(
            f"/api/v1/sos/responses/{incident_id}", headers=auth("operator")
        ).json()["snapshots"]
        time.sleep(0.1)
    assert [s["camera_id"] for s in snapshots] == ["CAM-W"]  # the broken one is skipped
    assert snapshots[0]["sha256"] == sha256_hex(JPEG_BYTES)
    stored = list(settings.media_dir.rglob("*.jpg"))
    assert [p.read_bytes() for p in stored] == [JPEG_BYTES]
    audit = client.get(
        "/api/v1/audit?action=camera.snapshot_stored", headers=auth("commander")
    ).json()["items"]
    assert audit[-1]["payload"]["sha256"] == sha256_hex(JPEG_BYTES)
    assert audit[-1]["payload"]["incident_id"] == incident_id


def test_capture_is_idempotent_per_call_and_skips_unreachable_cameras(db, settings, sos_site):
    kind = zones_service.KINDS["camera"]
    with db.transaction() as session:
        zones_service.update_asset(
            session,
            kind=kind,
            station_id="MDH",
            asset_id="CAM-W",
            actor="test",
            data=zone_schemas.CameraUpdate(snapshot_url="http://127.0.0.1:9/none.jpg"),
        )
    from safezone.incidents import service as incidents_service
    from safezone.incidents.schemas import IncidentCreate
    from safezone.sos import service as sos_service
    from tests.conftest import INSIDE

    with db.transaction() as session:
        incident = incidents_service.create_incident(
            session,
            data=IncidentCreate(
                category="sos", priority="critical", description="x", lat=INSIDE[0], lon=INSIDE[1]
            ),
            source="sos",
            actor="test",
            station_id="MDH",
        )
        sos_service.respond(
            session, incident=incident, trigger="box", box_id="BOX-T1", tracking_code=None
        )
        incident_id = incident.id
    assert jobs.capture_snapshots(db, settings, incident_id) == 0


def test_escalation_webhook_is_signed(devices):
    body = {"event": "incident.escalated", "incident": {"id": 5}}
    assert (
        webhooks.deliver(
            devices + "/hook", body=body, secret="webhook-secret-123456", event_id="e-1"
        )
        is None
    )
    [(headers, raw)] = FakeDevices.received
    assert json.loads(raw) == body
    assert headers["X-SafeZone-Event-Id"] == "e-1"
    assert headers["X-SafeZone-Signature"] == hmac_sha256_hex("webhook-secret-123456", raw)


def test_unreachable_webhook_reports_failure():
    problem = webhooks.deliver("http://127.0.0.1:9/hook", body={}, secret=None, event_id="x")
    assert problem is not None and "ConnectError" in problem


def test_an_escalation_webhook_that_cannot_be_delivered_is_in_the_audit_trail(
    db, auth, client, monkeypatch
):
    monkeypatch.setattr(webhooks, "WEBHOOK_ATTEMPTS", 2)
    body = {"event": "incident.escalated", "incident": {"id": 5, "station_id": "MDH"}}
    delivered = webhooks.post_webhook_once(
        db, "http://127.0.0.1:9/hook", body=body, secret=None, event_id="e-9", station_id="MDH"
    )
    assert delivered is False
    audit = client.get("/api/v1/audit?action=webhook.failed", headers=auth("commander")).json()
    [entry] = audit["items"]
    assert entry["object_id"] == "e-9"
    assert entry["payload"]["event"] == "incident.escalated"
    assert entry["payload"]["host"] == "127.0.0.1" and entry["payload"]["attempts"] == 2
    assert "ConnectError" in entry["payload"]["problem"]
    # Another node claiming the same event does not send it again, nor audit it twice.
    again = webhooks.post_webhook_once(
        db, "http://127.0.0.1:9/hook", body=body, secret=None, event_id="e-9", station_id="MDH"
    )
    assert again is False
    audit = client.get("/api/v1/audit?action=webhook.failed", headers=auth("commander")).json()
    assert len(audit["items"]) == 1


def test_snapshot_image_viewing_is_role_checked_and_audited(
    client, db, auth, settings, sos_site, devices
):
    point_cameras(db, devices)
    incident_id = client.post(
        "/api/v1/sos/boxes/BOX-T1/events", json=box_message("press", 1)
    ).json()["incident_id"]
    deadline = time.monotonic() + 10
    snapshots: list = []
    while time.monotonic() < deadline and not snapshots:
        snapshots = client.get(
            f"/api/v1/sos/responses/{incident_id}", headers=auth("operator")
        ).json()["snapshots"]
        time.sleep(0.1)
    url = f"/api/v1/cameras/snapshots/{snapshots[0]['id']}"
    assert client.get(url, headers=auth("officer")).status_code == 403
    assert client.get(url, headers=auth("other_operator")).status_code == 404
    r = client.get(url, headers=auth("operator"))
    assert r.status_code == 200 and r.content == JPEG_BYTES
    views = client.get(
        "/api/v1/audit?action=camera.snapshot_viewed", headers=auth("commander")
    ).json()["items"]
    assert [v["actor"] for v in views] == ["user:operator"]
    assert views[0]["payload"]["sha256"] == sha256_hex(JPEG_BYTES)


def test_webhook_is_sent_by_one_node_only(db, devices):
    body = {"event": "incident.escalated"}
    hook = devices + "/hook"
    assert webhooks.post_webhook_once(db, hook, body=body, secret=None, event_id="e-7")
    # Another node hearing the same event (a shared bus) does not send it again.
    assert not webhooks.post_webhook_once(db, hook, body=body, secret=None, event_id="e-7")
    assert len(FakeDevices.received) == 1
