"""The MQTT gateway for SOS boxes.

It subscribes with QoS 1 in a persistent session (clean_session=False), so the broker keeps
presses for it while it is down, and it acknowledges a message only after the transaction
that stored it has committed ("durable before acknowledged"). A crash between commit and
acknowledgement makes the broker deliver again; (box_id, seq) makes that a duplicate.

Heartbeats are the exception: they only keep a box's presence, so they are acknowledged
on receipt. Held unacknowledged, hundreds of them a second would fill the broker's in-flight
window for this client, and a press would queue at the broker behind them. A heartbeat lost
in a crash costs nothing: the next one, a minute later, says the same.

Two workers store what arrives: one for everything urgent (presses, cancels, tamper,
status), one for heartbeats, gathered for a second and stored as each box's newest, so a
press never waits for heartbeats to be stored; at the database the write gate lets the
urgent one in first, and the heartbeat worker pauses while a press is being stored.
Messages are checked, and a press's surroundings read, before the write transaction
(``sos.service.prepare``), and a heartbeat transaction that is open when a press arrives
gives way to it (``GaveWay``).

paho-mqtt runs its network loop in a thread and lets us acknowledge by hand, which async
wrappers do not expose; the rules themselves are in ``sos.service``, shared with HTTP.
"""

from __future__ import annotations

import gc
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy.orm import Session

from safezone.core.db import Database, utcnow
from safezone.sos import service as sos_service

log = logging.getLogger(__name__)

EVENT_TOPIC = "safezone/sos/+/event"
STATUS_TOPIC = "safezone/sos/+/status"
# Heartbeats are gathered this long and stored in one short transaction: a box's presence
# moves in minutes, and every write transaction is one an SOS may have to wait behind.
HEARTBEAT_WINDOW_S = 1.0
HEARTBEAT_WINDOW_MAX = 20000  # stored early past this many (a flood)
GC_INTERVAL_S = 0.25  # a gateway process collects its garbage this often...
GC_FULL_EVERY = 40  # ...and walks everything every 40th time (10 s)
ROUTINE_CHUNK = 25  # heartbeats checked in one read session (a press stops it early)
URGENT_PAUSE_MAX_S = 1.0  # the longest a chunk of heartbeats waits for urgent work
HEARD_KEPT_S = 600.0  # how long a failed press's "last heard" is kept for its redelivery


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
    """A heartbeat: decides only the queue and when to acknowledge; sos.service still
    checks every heartbeat's signature, clock and seq, and refuses forged ones."""
    payload = message.payload
    if not message.topic.endswith("/event") or b"heartbeat" not in payload:
        return False
    try:
        data = json.loads(payload)
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("type") == "heartbeat"


def _database_busy(exc: BaseException) -> bool:
    """SQLite's (or the file write gate's) "database is locked" after the busy timeout."""
    return "database is locked" in str(exc)


def _is_event(message: mqtt.MQTTMessage) -> bool:
    return message.topic.endswith("/event")


@dataclass(frozen=True)
class Received:
    """A message with its box, and for a box message (not a last-will status) what
    ``sos.service.prepare`` made of it."""

    message: mqtt.MQTTMessage
    box_id: str
    box_message: sos_service.Prepared | None

    @property
    def heartbeat_seq(self) -> int | None:
        """The seq of an accepted-looking heartbeat, else None."""
        checked = self.box_message.checked if self.box_message is not None else None
        if checked is None or checked.message is None or checked.message.type != "heartbeat":
            return None
        return checked.message.seq


def arrival(message: mqtt.MQTTMessage) -> datetime:
    """When a message reached this process (paho stamps it with a monotonic clock)."""
    stamped = getattr(message, "timestamp", 0.0) or 0.0
    now = utcnow()
    if stamped <= 0:
        return now
    return now - timedelta(seconds=max(time.monotonic() - stamped, 0.0))


def newest_heartbeats(received: list[Received]) -> list[Received]:
    """Of each box's heartbeats keep only the newest (each says no more than the next);
    everything else stays, in arrival order."""
    newest: dict[str, int] = {}
    for item in received:
        seq = item.heartbeat_seq
        if seq is not None and seq > newest.get(item.box_id, -1):
            newest[item.box_id] = seq
    kept, seen = [], set()
    for item in received:
        seq = item.heartbeat_seq
        if seq is not None:
            if seq != newest[item.box_id] or item.box_id in seen:
                continue
            seen.add(item.box_id)
        kept.append(item)
    return kept


class GaveWay(Exception):
    """A heartbeat transaction stepped aside for a press (rolled back, to be begun again)."""


def box_id_of(topic: str) -> str | None:
    parts = topic.split("/")
    if len(parts) == 4 and parts[0] == "safezone" and parts[1] == "sos" and parts[2]:
        return parts[2]
    return None


class MqttGateway:
    def __init__(
        self,
        db: Database,
        *,
        url: str,
        client_id: str,
        tolerance_s: int,
        connected: Any = None,
    ) -> None:
        self.db = db
        self.address = parse_url(url)
        self.tolerance_s = tolerance_s
        self._urgent: deque[mqtt.MQTTMessage] = deque()
        self._routine: deque[mqtt.MQTTMessage] = deque()
        self._urgent_ready = threading.Condition()
        self._routine_ready = threading.Condition()
        # Clear while urgent messages wait or are being stored: the heartbeat worker then
        # pauses between chunks, so a press does not share this process's interpreter
        # lock with checking a second's worth of heartbeats.
        self._urgent_idle = threading.Event()
        self._urgent_idle.set()
        self._stop = threading.Event()
        # Set while connected to the broker (a process-shared event when in its own process).
        self.connected = connected if connected is not None else threading.Event()
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
        self.client.on_subscribe = self._on_subscribe
        self._workers = [
            threading.Thread(target=self._work, args=(True,), name="mqtt-urgent", daemon=True),
            threading.Thread(target=self._work, args=(False,), name="mqtt-routine", daemon=True),
        ]
        self._count = threading.Lock()
        self.processed = 0
        # box id -> (when SafeZone had last heard from it, until when this is kept): for
        # presses whose store failed and that the broker delivers again (``_store``).
        self._heard_when_unstored: dict[str, tuple[datetime, float]] = {}
        self.gave_way = 0  # heartbeat transactions begun again for a press

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

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reasons: list[Any],
        properties: object,
    ) -> None:
        """Connected means subscribed: a box's press is routed to us only from here on
        (the first time this session id is used; later the broker keeps the subscription)."""
        if any(getattr(reason, "is_failure", False) for reason in reasons):
            log.error("MQTT subscription refused: %s", reasons)
            return
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
        if _is_routine(message):
            if message.qos > 0:
                client.ack(message.mid, message.qos)
            with self._routine_ready:
                self._routine.append(message)
                # Wake the heartbeat worker only to open a window (or end a flooded one):
                # woken by each of hundreds a second, it would take the interpreter lock
                # from a press as often.
                if len(self._routine) in (1, HEARTBEAT_WINDOW_MAX):
                    self._routine_ready.notify()
        else:
            with self._urgent_ready:
                self._urgent_idle.clear()  # heartbeats step aside until it is stored
                self._urgent.append(message)
                self._urgent_ready.notify()

    def start(self) -> None:
        for worker in self._workers:
            worker.start()
        self.client.connect_async(self.address.host, self.address.port, keepalive=30)
        self.client.loop_start()

    def stop(self) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=10)
        self.client.disconnect()
        self.client.loop_stop()

    def _next_batch(self, urgent: bool) -> list[mqtt.MQTTMessage]:
        """Everything urgent that is waiting, without waiting for more (under load batches
        form by themselves while the previous transaction runs); or the heartbeats of one
        ``HEARTBEAT_WINDOW_S``, counted from the first."""
        if urgent:
            queue, ready = self._urgent, self._urgent_ready
        else:
            queue, ready = self._routine, self._routine_ready
        with ready:
            if not queue:
                ready.wait(timeout=0.2)
            if not urgent and queue:
                closes = time.monotonic() + HEARTBEAT_WINDOW_S
                while len(queue) < HEARTBEAT_WINDOW_MAX and not self._stop.is_set():
                    left = closes - time.monotonic()
                    if left <= 0:
                        break
                    ready.wait(timeout=left)
            if urgent:
                batch = list(queue)
                queue.clear()
            else:  # at most a flood's worth; the rest opens the next window
                batch = [queue.popleft() for _ in range(min(len(queue), HEARTBEAT_WINDOW_MAX))]
            return batch

    def _prepare(self, batch: list[mqtt.MQTTMessage], *, urgent: bool = True) -> list[Received]:
        """Check the batch's box messages and read each press's surroundings in a read
        session, so that the write transaction only writes. A routine batch (a window of
        heartbeats) is checked a chunk at a time; a press that arrives stops the chunk at
        its next message, and the rest waits until the press is stored."""
        located = [(m, box_id) for m in batch if (box_id := box_id_of(m.topic)) is not None]
        events = [(m, box_id) for m, box_id in located if _is_event(m)]
        checked: list[sos_service.Prepared] = []
        chunk = max(len(events) if urgent else ROUTINE_CHUNK, 1)
        paused_until = time.monotonic() + URGENT_PAUSE_MAX_S  # pauses end by then
        # A chunk of heartbeats stops at the next message when a press arrives (until the
        # pauses end), and goes on once it is stored.
        keep_going = None if urgent else self._heartbeats_may_go_on(paused_until)
        while len(checked) < len(events):
            part = events[len(checked) : len(checked) + chunk]
            if not urgent:
                # Outside any read transaction, which would hold back WAL checkpoints.
                self._urgent_idle.wait(timeout=max(paused_until - time.monotonic(), 0))
            with self.db.reader() as session:
                checked += sos_service.prepare(
                    session,
                    [(box_id, bytes(m.payload)) for m, box_id in part],
                    tolerance_s=self.tolerance_s,
                    arrived=[arrival(m) for m, _ in part],
                    keep_going=keep_going,
                    heard_before=self._heard_before() if urgent else None,
                )
        results = iter(checked)
        return newest_heartbeats(
            [Received(m, box_id, next(results) if _is_event(m) else None) for m, box_id in located]
        )

    def _remember_heard(self, prepared: list[Received]) -> None:
        """Presses that could not be stored come again by redelivery, perhaps after a newer
        message of their box was stored: keep when SafeZone had last heard from each box
        when they first came, so a press held on the way is still judged late, not stale
        (``sos.service.held``)."""
        until = time.monotonic() + HEARD_KEPT_S
        for item in prepared:
            box = item.box_message.checked.box if item.box_message is not None else None
            if box is not None and box.last_heard is not None:
                earlier = self._heard_when_unstored.get(box.id)
                if earlier is None or box.last_heard < earlier[0]:
                    self._heard_when_unstored[box.id] = (box.last_heard, until)

    def _heard_before(self) -> dict[str, datetime]:
        now = time.monotonic()
        kept = {b: entry for b, entry in self._heard_when_unstored.items() if entry[1] > now}
        self._heard_when_unstored = kept
        return {box_id: heard for box_id, (heard, _) in kept.items()}

    def _heartbeats_may_go_on(self, paused_until: float) -> Callable[[], bool]:
        """Whether a chunk of heartbeats may check its next message: not while urgent
        work waits or is being stored, unless the pauses have lasted their longest."""

        def keep_going() -> bool:
            return self._urgent_idle.is_set() or time.monotonic() >= paused_until

        return keep_going

    @staticmethod
    def _apply(
        session: Session, items: list[Received], *, give_way: threading.Event | None = None
    ) -> None:
        """Store received messages in order, in the caller's write transaction.

        ``give_way`` (for heartbeats): clear when urgent work waits; the transaction is
        then given up (``GaveWay``) before its next message and before its flush, so a
        press waits for one heartbeat's work at most, not a whole window's."""
        boxes = {item.box_id for item in items if item.box_message is not None}
        current = sos_service.boxes_by_id(session, boxes)  # once, for store's re-check
        for item in items:
            if give_way is not None and not give_way.is_set():
                raise GaveWay
            if item.box_message is None:
                payload = bytes(item.message.payload)
                sos_service.handle_box_status(session, box_id=item.box_id, payload=payload)
            else:
                sos_service.store(session, [item.box_message], transport="mqtt", current=current)
        if give_way is not None and not give_way.is_set():
            raise GaveWay

    def _store(self, batch: list[mqtt.MQTTMessage], *, urgent: bool) -> None:
        """Store a batch in one transaction; if that fails, one message at a time.

        Urgent messages are acknowledged only once stored (heartbeats were on receipt).
        """
        prepared: list[Received] | None = None
        try:
            if urgent:
                prepared = self._prepare(batch)
                self._store_urgent(prepared)
            else:
                prepared = self._prepare(batch, urgent=False)
                self._store_routine(prepared)
        except Exception as exc:
            if _database_busy(exc):
                # Another writer held the database for the whole busy timeout: one by one
                # would wait that long again per message. The broker redelivers presses.
                if urgent and prepared is not None:
                    self._remember_heard(prepared)
                log.error(
                    "the database stayed locked; %d MQTT messages left to redelivery: %s",
                    len(batch),
                    exc,
                )
                failed, batch = len(batch), []
            else:
                # Of a window of heartbeats, only what it kept (each box's newest and the
                # refusals) is worth a transaction of its own.
                kept = (
                    [p.message for p in prepared] if prepared is not None and not urgent else batch
                )
                failed, stored = self._store_one_by_one(kept, urgent=urgent)
                batch = stored if urgent else batch
        else:
            failed = 0
        if urgent:
            for message in batch:
                if message.qos > 0:
                    self.client.ack(message.mid, message.qos)
        with self._count:
            self.processed += len(batch)
        if failed and urgent:
            self._redeliver()

    def _store_routine(self, prepared: list[Received]) -> None:
        """A window of heartbeats in one transaction, begun again (after the urgent work)
        each time a press arrives while it is open: it holds the write lock a press
        needs. It commits within ``URGENT_PAUSE_MAX_S`` of waiting, whatever arrives."""
        patience = time.monotonic() + URGENT_PAUSE_MAX_S
        while True:
            self._urgent_idle.wait(timeout=max(patience - time.monotonic(), 0))
            # Past its patience it goes through, whatever arrives.
            give_way = self._urgent_idle if time.monotonic() < patience else None
            try:
                # A window updates each box's status row: load them at once.
                with (
                    self.db.transaction() as session,
                    sos_service.preloaded(session, box_ids={p.box_id for p in prepared}),
                ):
                    self._apply(session, prepared, give_way=give_way)
                return
            except GaveWay:
                with self._count:
                    self.gave_way += 1

    def _store_urgent(self, prepared: list[Received]) -> None:
        """Write a checked batch (each press's surroundings read) in one urgent
        transaction. (Preparing on a helper thread while waiting for the write lock was
        tried: with writers now holding the lock briefly, the two threads' contention for
        the interpreter lock cost more than the overlap saved; ADR 0012.)"""
        with self.db.transaction(urgent=True) as session:
            self._apply(session, prepared)

    def _store_one_by_one(
        self, batch: list[mqtt.MQTTMessage], *, urgent: bool
    ) -> tuple[int, list[mqtt.MQTTMessage]]:
        """After a failed batch: each message in a transaction of its own, so one bad
        message does not hold back the others. Returns (failed count, stored)."""
        log.exception("a batch of %d MQTT messages failed; retrying one by one", len(batch))
        stored = []
        for message in batch:
            try:
                prepared = self._prepare([message])
                with self.db.transaction(urgent=urgent) as session:
                    self._apply(session, prepared)
                stored.append(message)
            except Exception:
                log.exception("MQTT message on %s could not be stored", message.topic)
        return len(batch) - len(stored), stored

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

    def _work(self, urgent: bool) -> None:
        while not self._stop.is_set():
            batch = self._next_batch(urgent)
            if batch:
                self._store(batch, urgent=urgent)
            if urgent:
                self._idle_unless_urgent_waits()

    def collect_garbage_between_presses(self) -> None:
        """In a process of its own: collect garbage only while no urgent message waits or
        is being stored, instead of whenever allocations pass a count, which under load
        lands in the middle of a press now and then (a few ms each time)."""
        gc.disable()
        threading.Thread(target=self._collect, name="gateway-gc", daemon=True).start()

    def _collect(self) -> None:
        rounds = 0
        while not self._stop.wait(GC_INTERVAL_S):
            self._urgent_idle.wait(timeout=GC_INTERVAL_S)  # never longer than that
            rounds += 1
            gc.collect(2 if rounds % GC_FULL_EVERY == 0 else 1)

    def _idle_unless_urgent_waits(self) -> None:
        """After storing urgent messages: heartbeats may go on, unless more urgent ones
        arrived meanwhile."""
        with self._urgent_ready:
            if not self._urgent:
                self._urgent_idle.set()
