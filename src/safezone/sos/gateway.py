"""The MQTT gateway for SOS boxes.

It subscribes with QoS 1 in a persistent session (clean_session=False), so the broker keeps
presses for it while it is down, and it acknowledges a message only after the transaction
that stored it has committed ("durable before acknowledged"). A crash between commit and
acknowledgement makes the broker deliver again; (box_id, seq) makes that a duplicate.

paho-mqtt runs its network loop in a thread and lets us acknowledge by hand, which async
wrappers do not expose; the rules themselves are in ``sos.service``, shared with HTTP.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy.orm import Session

from safezone.core.db import Database
from safezone.sos import service as sos_service

log = logging.getLogger(__name__)

EVENT_TOPIC = "safezone/sos/+/event"
STATUS_TOPIC = "safezone/sos/+/status"
ROUTINE_BATCH = 100  # heartbeats stored in one transaction under load


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool


def parse_url(url: str) -> BrokerAddress:
    parsed = urlparse(url)
    if parsed.scheme not in ("mqtt", "mqtts") or not parsed.hostname:
        raise ValueError(f"SAFEZONE_MQTT_URL={url!r}: expected mqtt://host:port or mqtts://")
    tls = parsed.scheme == "mqtts"
    return BrokerAddress(
        host=parsed.hostname,
        port=parsed.port or (8883 if tls else 1883),
        username=parsed.username,
        password=parsed.password,
        tls=tls,
    )


def _is_routine(message: mqtt.MQTTMessage) -> bool:
    """A heartbeat, by a cheap look: only to order the work; the rules are in sos.service."""
    return message.topic.endswith("/event") and b'"heartbeat"' in message.payload


def box_id_of(topic: str) -> str | None:
    parts = topic.split("/")
    if len(parts) == 4 and parts[0] == "safezone" and parts[1] == "sos" and parts[2]:
        return parts[2]
    return None


class MqttGateway:
    def __init__(self, db: Database, *, url: str, client_id: str, tolerance_s: int) -> None:
        self.db = db
        self.address = parse_url(url)
        self.tolerance_s = tolerance_s
        self._urgent: deque[mqtt.MQTTMessage] = deque()
        self._routine: deque[mqtt.MQTTMessage] = deque()
        self._ready = threading.Condition()
        self._stop = threading.Event()
        self.connected = threading.Event()
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
            manual_ack=True,
        )
        if self.address.username:
            self.client.username_pw_set(self.address.username, self.address.password)
        if self.address.tls:
            self.client.tls_set()
        self.client.reconnect_delay_set(min_delay=1, max_delay=10)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self._worker = threading.Thread(target=self._work, name="mqtt-gateway", daemon=True)
        self.processed = 0

    # paho callbacks run in paho's network thread: keep them short.
    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: object,
        reason: object,
        properties: object,
    ) -> None:
        if getattr(reason, "is_failure", False):
            log.error("MQTT connection refused: %s", reason)
            return
        client.subscribe([(EVENT_TOPIC, 1), (STATUS_TOPIC, 1)])
        self.connected.set()
        log.info("MQTT gateway connected to %s:%s", self.address.host, self.address.port)

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: object,
        reason: object,
        properties: object,
    ) -> None:
        self.connected.clear()
        if not self._stop.is_set():
            log.warning("MQTT gateway disconnected (%s); reconnecting", reason)

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        with self._ready:
            (self._routine if _is_routine(message) else self._urgent).append(message)
            self._ready.notify()

    def start(self) -> None:
        self._worker.start()
        self.client.connect_async(self.address.host, self.address.port, keepalive=30)
        self.client.loop_start()

    def stop(self) -> None:
        self._stop.set()
        self._worker.join(timeout=10)
        self.client.disconnect()
        self.client.loop_stop()

    def _next_batch(self) -> list[mqtt.MQTTMessage]:
        """Everything urgent that is waiting, else up to ROUTINE_BATCH heartbeats.

        A press never waits behind a queue of heartbeats, and never waits for a batch to
        fill: under load batches form by themselves while a transaction is running.
        """
        with self._ready:
            if not self._urgent and not self._routine:
                self._ready.wait(timeout=0.2)
            if self._urgent:
                batch = list(self._urgent)
                self._urgent.clear()
                return batch
            batch = []
            while self._routine and len(batch) < ROUTINE_BATCH:
                batch.append(self._routine.popleft())
            return batch

    def _apply(self, session: Session, message: mqtt.MQTTMessage) -> None:
        box_id = box_id_of(message.topic)
        if box_id is None:
            return
        payload = bytes(message.payload)
        if message.topic.endswith("/status"):
            sos_service.handle_box_status(session, box_id=box_id, payload=payload)
        else:
            sos_service.handle_box_message(
                session,
                box_id=box_id,
                body=payload,
                transport="mqtt",
                tolerance_s=self.tolerance_s,
            )

    def _store(self, batch: list[mqtt.MQTTMessage]) -> None:
        """Store a batch in one transaction; if that fails, one message at a time."""
        urgent = any(not _is_routine(m) for m in batch)
        try:
            with self.db.transaction(urgent=urgent) as session:
                for message in batch:
                    self._apply(session, message)
        except Exception:
            log.exception("a batch of %d MQTT messages failed; retrying one by one", len(batch))
            stored = []
            for message in batch:
                try:
                    with self.db.transaction(urgent=not _is_routine(message)) as session:
                        self._apply(session, message)
                    stored.append(message)
                except Exception:
                    log.exception("MQTT message on %s could not be stored", message.topic)
            failed = len(batch) - len(stored)
            batch = stored
        else:
            failed = 0
        for message in batch:
            if message.qos > 0:
                self.client.ack(message.mid, message.qos)
        self.processed += len(batch)
        if failed:
            self._redeliver()

    def _redeliver(self) -> None:
        """Unacknowledged messages come back only on a new connection: after a pause
        (the database may be restarting), reconnect so the broker offers them again."""
        time.sleep(1.0)
        self.client.loop_stop()
        try:
            self.client.reconnect()
        except OSError:
            log.exception("MQTT reconnect failed; paho will keep trying")
        self.client.loop_start()

    def _work(self) -> None:
        while not self._stop.is_set():
            batch = self._next_batch()
            if batch:
                self._store(batch)
