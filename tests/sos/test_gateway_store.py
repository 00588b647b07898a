"""How the MQTT gateway stores a batch when the database fails (no broker needed: the
paho client is made but never connected)."""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager

import paho.mqtt.client as mqtt
import sqlalchemy.exc

from safezone.sos.gateway import MqttGateway


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
