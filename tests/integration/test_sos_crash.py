"""Crash safety: 1,000 QoS-1 presses from 50 boxes, the server SIGKILLed in the middle of
the burst and restarted; exactly 1,000 SOS incidents come out, none lost, none doubled."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from sqlalchemy import func, select

from safezone.incidents.models import Incident
from safezone.sos.models import BoxEvent
from safezone.sos.service import sign
from safezone.zones import schemas as zone_schemas
from safezone.zones import service as zones_service
from tests.conftest import INSIDE, SECRET
from tests.integration.conftest import publisher

BOXES = 50
PRESSES_PER_BOX = 20
TOTAL = BOXES * PRESSES_PER_BOX


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def count(db, model, *where) -> int:
    with db.reader() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


class Server:
    """`safezone serve` as a separate process, so that it can really be killed."""

    def __init__(self, settings, mqtt_url: str, client_id: str, log: Path) -> None:
        self.port = free_port()
        self.env = {
            **os.environ,
            "SAFEZONE_ENV": "test",
            "SAFEZONE_SECRET_KEY": SECRET,
            "SAFEZONE_DATABASE_URL": settings.resolved_database_url,
            "SAFEZONE_DATA_DIR": str(settings.data_dir),
            "SAFEZONE_MQTT_URL": mqtt_url,
            "SAFEZONE_MQTT_CLIENT_ID": client_id,
            "SAFEZONE_TILE_URL": "",
        }
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        handle = self.log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "safezone.cli", "serve", "--port", str(self.port)],
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError("server exited:\n" + self.log.read_text()[-3000:])
            try:
                r = httpx.get(f"http://127.0.0.1:{self.port}/api/v1/health", timeout=1)
                if r.status_code == 200 and r.json()["checks"].get("mqtt") == "ok":
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError("server did not become healthy:\n" + self.log.read_text()[-3000:])

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()


def test_no_press_lost_or_doubled_across_a_crash(settings, db, mqtt_url, gateway_id, tmp_path):
    secrets = {}
    with db.transaction() as session:
        for i in range(BOXES):
            box_id = f"CRASH-{i:02d}"
            secrets[box_id] = f"crash-box-secret-{i:02d}-0123456789"
            zones_service.create_asset(
                session,
                kind=zones_service.KINDS["sos_box"],
                station_id="MDH",
                actor="test",
                data=zone_schemas.SosBoxCreate(
                    id=box_id, lat=INSIDE[0] + i * 1e-5, lon=INSIDE[1], secret=secrets[box_id]
                ),
            )
    server = Server(settings, mqtt_url, gateway_id, tmp_path / "server.log")
    server.start()
    box = publisher(mqtt_url)
    published = threading.Event()
    killed_at: list[int] = []

    def burst() -> None:
        for seq in range(1, PRESSES_PER_BOX + 1):
            for box_id, secret in secrets.items():
                payload = {
                    "type": "press",
                    "seq": seq,
                    "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                }
                payload["sig"] = sign(payload, secret)
                box.publish(
                    f"safezone/sos/{box_id}/event", json.dumps(payload).encode(), qos=1
                ).wait_for_publish(10)
            time.sleep(0.1)
        published.set()

    sender = threading.Thread(target=burst)
    try:
        sender.start()
        # Kill the server once it has stored part of the burst, while presses still arrive.
        deadline = time.monotonic() + 60
        while count(db, Incident) < TOTAL // 5 and time.monotonic() < deadline:
            time.sleep(0.02)
        killed_at.append(count(db, Incident))
        server.kill()
        assert published.is_set() is False or killed_at[0] < TOTAL, "the burst ended too soon"
        sender.join(timeout=60)
        assert published.is_set()
        server.start()
        deadline = time.monotonic() + 120
        while count(db, Incident) < TOTAL and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)  # anything doubled would show up now
    finally:
        box.loop_stop()
        box.disconnect()
        server.stop()
    assert 0 < killed_at[0] < TOTAL, f"the kill did not land mid-burst ({killed_at})"
    assert count(db, Incident, Incident.source == "sos") == TOTAL
    assert count(db, BoxEvent, BoxEvent.type == "press") == TOTAL
    with db.reader() as session:
        linked = session.scalar(
            select(func.count(func.distinct(BoxEvent.incident_id))).where(
                BoxEvent.incident_id.is_not(None)
            )
        )
    assert linked == TOTAL
