"""SOS boxes over the real Mosquitto broker, through the app's MQTT gateway."""

from __future__ import annotations

import json
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from safezone.app import create_app
from safezone.incidents.models import Incident
from safezone.sos import service as sos_service
from safezone.sos import simulator
from safezone.sos.models import BoxRejection
from tests.integration.conftest import publisher
from tests.sos.conftest import BOX_ID, box_message, last_heard


def wait_for(predicate, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def count(db, model, *where) -> int:
    with db.reader() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


@contextmanager
def running(settings, db, mqtt_url: str, gateway_id: str, *, own_process: bool):
    """The app with its MQTT gateway connected (persistent session ``gateway_id``)."""
    settings = settings.model_copy(
        update={
            "mqtt_url": mqtt_url,
            "mqtt_client_id": gateway_id,
            "mqtt_gateway_process": own_process,
        }
    )
    app = create_app(settings, database=db)
    with TestClient(app) as client:
        assert app.state.gateway.connected.wait(10), "the gateway did not connect"
        yield client


@pytest.fixture(params=[True, False], ids=["own-process", "thread"])
def mqtt_app(request, settings, db, mqtt_url, gateway_id, sos_site):
    """The app with its gateway in a process of its own (the default) and as a thread."""
    with running(settings, db, mqtt_url, gateway_id, own_process=request.param) as client:
        yield client


def test_a_press_held_by_the_broker_while_safezone_was_down_is_taken_late(
    settings, db, mqtt_url, gateway_id, sos_site
):
    """SafeZone is down for half an hour; a press waits at the broker (the gateway's
    persistent session) and arrives with its old timestamp when SafeZone is back."""
    with running(settings, db, mqtt_url, gateway_id, own_process=False):
        pass  # the gateway's session now exists at the broker
    now = datetime.now(UTC)
    last_heard(db, now - timedelta(minutes=40))  # the box, before the outage
    box = publisher(mqtt_url)
    held = box_message("press", 1, ts=now - timedelta(minutes=30))
    box.publish(f"safezone/sos/{BOX_ID}/event", json.dumps(held), qos=1).wait_for_publish(5)
    box.loop_stop()
    box.disconnect()
    assert count(db, Incident) == 0
    with running(settings, db, mqtt_url, gateway_id, own_process=False):
        wait_for(lambda: count(db, Incident) == 1)
    with db.reader() as session:
        [incident] = session.scalars(select(Incident))
        assert "(held while the box could not reach it" in incident.description
    assert count(db, BoxRejection) == 0


def test_press_over_mqtt_makes_one_incident_even_if_delivered_twice(mqtt_app, db, mqtt_url):
    box = publisher(mqtt_url)
    message = json.dumps(box_message("press", 1)).encode()
    for _ in range(2):  # the box's retry after a lost PUBACK
        box.publish(f"safezone/sos/{BOX_ID}/event", message, qos=1).wait_for_publish(5)
    wait_for(lambda: count(db, Incident) == 1)
    time.sleep(0.5)
    assert count(db, Incident) == 1
    box.loop_stop()
    box.disconnect()


def test_forged_message_over_mqtt_is_counted_and_makes_nothing(mqtt_app, db, mqtt_url):
    box = publisher(mqtt_url)
    forged = json.dumps(box_message("press", 1, secret="attacker-secret-000000")).encode()
    box.publish(f"safezone/sos/{BOX_ID}/event", forged, qos=1).wait_for_publish(5)
    wait_for(lambda: count(db, BoxRejection, BoxRejection.reason == "bad_signature") == 1)
    assert count(db, Incident) == 0
    box.loop_stop()
    box.disconnect()


def test_last_will_marks_the_box_offline(mqtt_app, db, mqtt_url, auth):
    box = publisher(
        mqtt_url, topic=f"safezone/sos/{BOX_ID}/status", payload=b"offline", qos=1, retain=False
    )
    box.publish(
        f"safezone/sos/{BOX_ID}/event", json.dumps(box_message("heartbeat", 1)).encode(), qos=1
    ).wait_for_publish(5)

    def online() -> bool | None:
        rows = mqtt_app.get("/api/v1/sos/boxes/status", headers=auth("operator")).json()
        return rows[0]["online"] if rows else None

    wait_for(lambda: online() is True)
    box.loop_stop()
    box.socket().close()  # the connection dies without a DISCONNECT: the broker sends the will
    wait_for(lambda: online() is False, timeout_s=20)


def test_the_simulator_publishes_signed_box_messages_over_mqtt(mqtt_url):
    """`safezone simulate sos-boxes --transport mqtt`: each message on its box's topic,
    QoS 1, signed with that box's secret (the forged ones with another key)."""
    tag = uuid.uuid4().hex[:6]
    boxes = [simulator.SimBox(f"SIM-{tag}-{i}", f"sim-secret-{tag}-{i}-0123456789") for i in (1, 2)]
    secrets = {box.id: box.secret for box in boxes}
    received: list[tuple[str, dict[str, object], int]] = []
    listener = publisher(mqtt_url)

    def on_message(client, userdata, msg):  # (only this test's boxes)
        if msg.topic.startswith(f"safezone/sos/SIM-{tag}-"):
            received.append((msg.topic, json.loads(msg.payload), msg.qos))

    listener.on_message = on_message
    listener.subscribe("safezone/sos/+/event", qos=1)
    time.sleep(0.3)
    stats = simulator.run(
        boxes,
        rate=200,
        duration_s=0.3,
        send=simulator.mqtt_sender(mqtt_url),
        mix=simulator.Mix(press=0.2, test=0.1, forged=0.2, cancel_after_press=0.0),
        seed=5,
    )
    total = sum(stats.sent.values())
    wait_for(lambda: len(received) == total)
    forged = sum(n for label, n in stats.sent.items() if label.startswith("forged-"))
    valid = 0
    for topic, payload, qos in received:
        box_id = topic.split("/")[2]
        assert topic == f"safezone/sos/{box_id}/event" and qos == 1
        valid += payload["sig"] == sos_service.sign(payload, secrets[box_id])
    assert stats.errors == 0 and forged > 0
    assert valid == total - forged
    listener.loop_stop()
    listener.disconnect()
