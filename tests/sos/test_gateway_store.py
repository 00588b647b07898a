"""How the MQTT gateway stores a batch when the database fails (no broker needed: the
paho client is made but never connected)."""

from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import sqlalchemy.exc
from sqlalchemy import func, select

from safezone.incidents.models import Incident
from safezone.sos import service as sos_service
from safezone.sos.gateway import MqttGateway
from safezone.sos.models import BoxRejection
from tests.sos.conftest import BOX_ID, box_message, last_heard


class LockedDatabase:
    """Every write transaction fails as SQLite does after its busy timeout; reads (the
    checks before the write) go to ``db``."""

    def __init__(self, db) -> None:
        self.attempts = 0
        self.reader = db.reader

    @contextmanager
    def transaction(self, *, urgent: bool = False):
        self.attempts += 1
        raise sqlalchemy.exc.OperationalError(
            "BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked")
        )
        yield  # pragma: no cover


def press(mid: int) -> mqtt.MQTTMessage:
    message = mqtt.MQTTMessage(mid=mid, topic=b"safezone/sos/BOX-1/event")
    message.payload = b'{"type":"press"}'
    message.qos = 1
    return message


def offline_gateway(db: object) -> tuple[MqttGateway, list[int], list[bool]]:
    """A gateway on ``db`` that notes its acknowledgements and redelivery requests."""
    gateway = MqttGateway(
        db,  # type: ignore[arg-type]
        url="mqtt://127.0.0.1:1883",
        client_id="test-gateway-store",
        tolerance_s=300,
    )
    acked: list[int] = []
    redelivered: list[bool] = []
    gateway.client.ack = lambda mid, qos: acked.append(mid)  # type: ignore[method-assign]
    gateway._redeliver = lambda: redelivered.append(True)  # type: ignore[method-assign]
    return gateway, acked, redelivered


def test_a_locked_database_sends_presses_to_redelivery_at_once_without_acks(db):
    """Retrying each press on its own would wait the whole busy timeout again per press
    while the broker could already be offering them again; none is acknowledged, so
    none is lost."""
    locked = LockedDatabase(db)
    gateway, acked, redelivered = offline_gateway(locked)

    gateway._store([press(1), press(2), press(3)], urgent=True)

    assert locked.attempts == 1  # not once more per press
    assert acked == []
    assert redelivered == [True]
    assert gateway.processed == 0


def test_another_failure_retries_each_press_on_its_own(db):
    class BrokenOnce(LockedDatabase):
        @contextmanager
        def transaction(self, *, urgent: bool = False):
            self.attempts += 1
            raise RuntimeError("a bug in one message")
            yield  # pragma: no cover

    broken = BrokenOnce(db)
    gateway, acked, redelivered = offline_gateway(broken)

    gateway._store([press(1), press(2)], urgent=True)

    assert broken.attempts == 3  # the batch, then each press
    assert acked == []  # neither was stored
    assert redelivered == [True]


def test_a_held_press_whose_store_failed_is_still_late_when_it_comes_again(db, sos_site):
    """SafeZone was down; the broker delivers a held press, the database is locked, the
    press goes back to the broker; a heartbeat of the box (on time) is stored meanwhile.
    When the press comes again it is judged as when it first came: late, not stale."""
    now = datetime.now(UTC)
    last_heard(db, now - timedelta(minutes=40))

    class LockedOnce(LockedDatabase):
        @contextmanager
        def transaction(self, *, urgent: bool = False):
            self.attempts += 1
            if self.attempts == 1:
                raise sqlalchemy.exc.OperationalError(
                    "BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked")
                )
            with db.transaction(urgent=urgent) as session:
                yield session

    gateway, acked, redelivered = offline_gateway(LockedOnce(db))
    held = json.dumps(box_message("press", 1, ts=now - timedelta(minutes=30))).encode()

    def delivery(mid: int) -> mqtt.MQTTMessage:
        message = mqtt.MQTTMessage(mid=mid, topic=f"safezone/sos/{BOX_ID}/event".encode())
        message.payload = held
        message.qos = 1
        return message

    gateway._store([delivery(1)], urgent=True)
    assert (acked, redelivered) == ([], [True])
    beat = json.dumps(box_message("heartbeat", 2)).encode()
    assert sos_service.receive(
        db, box_id=BOX_ID, body=beat, transport="mqtt", tolerance_s=300
    ).ok  # the box is heard from now

    gateway._store([delivery(2)], urgent=True)  # the broker's redelivery
    assert acked == [2]
    with db.reader() as session:
        [incident] = session.scalars(select(Incident))
        assert "held while the box could not reach it" in incident.description
        assert session.scalar(select(func.count()).select_from(BoxRejection)) == 0
