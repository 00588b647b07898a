"""The house-watch webhook channel: queued with the change, POSTed once after commit,
signed like the escalation webhook."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient

from safezone.app import create_app
from safezone.core.security import hmac_sha256_hex
from safezone.housewatch import service as housewatch_service
from tests.housewatch.conftest import HouseWatch

SECRET = "house-watch-webhook-secret"


class Receiver(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.received.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver():
    Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/housewatch"
    server.shutdown()
    server.server_close()


def test_channels_follow_the_settings(settings):
    assert [c.name for c in housewatch_service.channels_for(settings)] == ["app"]
    hooked = settings.model_copy(update={"housewatch_webhook_url": "http://127.0.0.1:9/x"})
    assert [c.name for c in housewatch_service.channels_for(hooked)] == ["app", "webhook"]


def test_approval_is_posted_signed_with_the_owner_contact(settings, db, auth, receiver):
    hooked = settings.model_copy(
        update={"housewatch_webhook_url": receiver, "webhook_secret": SECRET}
    )
    app = create_app(hooked, database=db)
    with TestClient(app) as client:
        hw = HouseWatch(client, auth, db, hooked)
        req = hw.request()
        assert hw.approve(req["id"]).status_code == 200
        deadline = time.monotonic() + 10
        while not Receiver.received and time.monotonic() < deadline:
            time.sleep(0.05)
    assert len(Receiver.received) == 1
    headers, raw = Receiver.received[0]
    assert headers["X-SafeZone-Signature"] == hmac_sha256_hex(SECRET, raw)
    body = json.loads(raw)
    assert body["event"] == "housewatch.approved" and body["request_id"] == req["id"]
    assert body["contact"] == {"kind": "phone", "value": "+66 81 234 5678"}
    assert body["title"]["th"] == "รับฝากบ้านแล้ว"
    assert body["event_id"] == headers["X-SafeZone-Event-Id"]
