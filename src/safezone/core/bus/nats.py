"""The NATS JetStream event bus: the same events, shared by every process and machine.

Every event goes into one JetStream stream (``SAFEZONE_EVENTS`` by default) on the subject
``safezone.events.<station or _>.<topic>``, with ``Nats-Msg-Id`` set to the event's
``event_id``, so the stream drops the relay's repeated deliveries inside its duplicate
window. Each bus (one per process) reads the stream through its own ephemeral push
consumer that starts at "now": every handler in every process sees every event published
after it started, in stream order, its own events included. See docs/adr/0008.

Nothing here blocks ``make_bus``: the bus connects in the background on first use (the
first ``subscribe``, ``publish`` or an explicit ``start()``), and keeps its consumer alive
across reconnects and server restarts, resuming after the last event it handled.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import re
import socket
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from urllib.parse import parse_qs, urlsplit, urlunsplit

import nats.errors
import nats.js.errors
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)

from safezone.core.bus import Event, Handler, wait_or_timeout

log = logging.getLogger(__name__)

DEFAULT_STREAM = "SAFEZONE_EVENTS"
DEFAULT_SUBJECT_PREFIX = "safezone.events"
DEFAULT_MAX_AGE_S = 7 * 24 * 3600.0
DEFAULT_DUPLICATE_WINDOW_S = 10 * 60.0
MSG_ID_HEADER = "Nats-Msg-Id"

_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_TOKEN_RE = re.compile(r"[^A-Za-z0-9_-]")
_URL_OPTIONS = frozenset({"stream", "prefix"})


class BusUnavailable(ConnectionError):
    """The event could not be handed to NATS; the caller (the outbox relay) retries."""


def encode_event(event: Event) -> bytes:
    return json.dumps(
        {
            "id": event.id,
            "event_id": event.event_id,
            "topic": event.topic,
            "station_id": event.station_id,
            "payload": event.payload,
            "created_at": event.created_at.isoformat(),
        },
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode("utf-8")


def decode_event(data: bytes) -> Event:
    raw = json.loads(data)
    if not isinstance(raw, dict) or not isinstance(raw.get("payload"), dict):
        raise ValueError("not a SafeZone event")
    station_id = raw["station_id"]
    return Event(
        id=int(raw["id"]),
        event_id=str(raw["event_id"]),
        topic=str(raw["topic"]),
        station_id=None if station_id is None else str(station_id),
        payload=raw["payload"],
        created_at=datetime.fromisoformat(str(raw["created_at"])),
    )


def _token(value: str) -> str:
    """One subject token: NATS forbids '.', '*', '>' and white space inside a token."""
    return _TOKEN_RE.sub("_", value) or "_"


def redact(server: str) -> str:
    """A server URL fit for logs and error messages (no password or token)."""
    parts = urlsplit(server)
    if parts.username is None and parts.password is None:
        return server
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, f"***@{host}", parts.path, parts.query, parts.fragment))


def parse_url(url: str) -> tuple[list[str], dict[str, str]]:
    """``nats://[user:pass@]host[:port][,host2[:port],...][?stream=NAME&prefix=a.b]``.

    Returns the server URLs for nats-py (which reads credentials from them) and the
    options. Servers after the first may leave out the ``nats://``.
    """
    servers: list[str] = []
    options: dict[str, str] = {}
    for part in url.split(","):
        part = part.strip()
        if not part:
            continue
        if "://" not in part:
            part = "nats://" + part
        parts = urlsplit(part)
        if parts.scheme not in ("nats", "tls") or not parts.hostname:
            raise ValueError(f"SAFEZONE_BUS_URL: {redact(part)!r} is not a nats:// server URL")
        for key, values in parse_qs(parts.query, keep_blank_values=True).items():
            if key not in _URL_OPTIONS:
                raise ValueError(
                    f"SAFEZONE_BUS_URL: unknown option {key!r} "
                    f"(known: {', '.join(sorted(_URL_OPTIONS))})"
                )
            options[key] = values[-1]
        servers.append(urlunsplit((parts.scheme, parts.netloc, "", "", "")))
    if not servers:
        raise ValueError("SAFEZONE_BUS_URL names no NATS server")
    return servers, options


class NatsBus:
    """The EventBus on NATS JetStream (see the module docstring).

    ``publish`` returns once JetStream has stored the event, and raises
    :class:`BusUnavailable` otherwise, so the relay keeps the outbox row and retries.
    Handlers run one event at a time, in stream order; a handler that raises is logged and
    the others still run, as with ``MemoryBus``.
    """

    def __init__(
        self,
        servers: list[str],
        *,
        stream: str = DEFAULT_STREAM,
        subject_prefix: str = DEFAULT_SUBJECT_PREFIX,
        max_age_s: float = DEFAULT_MAX_AGE_S,
        duplicate_window_s: float = DEFAULT_DUPLICATE_WINDOW_S,
        publish_timeout_s: float = 5.0,
        check_interval_s: float = 10.0,
        connection_name: str | None = None,
    ) -> None:
        if not servers:
            raise ValueError("NatsBus needs at least one server URL")
        if not _NAME_RE.match(stream):
            raise ValueError(f"invalid JetStream stream name {stream!r}")
        if not all(_NAME_RE.match(t) for t in subject_prefix.split(".")):
            raise ValueError(f"invalid subject prefix {subject_prefix!r}")
        self.servers = list(servers)
        self.stream = stream
        self.subject_prefix = subject_prefix
        self.max_age_s = max_age_s
        self.duplicate_window_s = min(duplicate_window_s, max_age_s)
        self.publish_timeout_s = publish_timeout_s
        self.check_interval_s = check_interval_s
        host = _token(socket.gethostname())[:24]
        self.connection_name = connection_name or f"safezone-{host}-{os.getpid()}"
        self._consumer_base = f"sz-{host}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._consumer_counter = itertools.count(1)

        self._handlers: list[Handler] = []
        self._closing = False
        self._reset()

    def _reset(self) -> None:
        """The state of a bus that has not connected yet (also after ``close()``)."""
        self._nc: NatsClient | None = None
        self._js: JetStreamContext | None = None
        self._supervisor: asyncio.Task[None] | None = None
        # Made afresh so that a bus closed in one event loop can be used in another.
        self._lock = asyncio.Lock()
        self._ready = asyncio.Event()  # connected, stream there, consumer live if needed
        self._wake = asyncio.Event()
        self._stream_ok = False
        self._sub: Subscription | None = None
        self._consumer: str | None = None
        self._next_seq: int | None = None  # the stream sequence the next event must have
        self._last_error: str | None = None
        self._error_logged_at = 0.0

    @classmethod
    def from_url(cls, url: str) -> NatsBus:
        servers, options = parse_url(url)
        return cls(
            servers,
            stream=options.get("stream") or DEFAULT_STREAM,
            subject_prefix=options.get("prefix") or DEFAULT_SUBJECT_PREFIX,
        )

    # -- the EventBus interface -------------------------------------------------------

    def subject_for(self, event: Event) -> str:
        topic = ".".join(_token(t) for t in event.topic.split("."))
        return f"{self.subject_prefix}.{_token(event.station_id or '_')}.{topic}"

    async def publish(self, event: Event) -> None:
        await self._wait_ready(self.publish_timeout_s)
        js = self._js
        if js is None:  # pragma: no cover - ready implies a context
            raise BusUnavailable("the NATS event bus is not connected")
        try:
            ack = await js.publish(
                self.subject_for(event),
                encode_event(event),
                timeout=self.publish_timeout_s,
                stream=self.stream,
                headers={MSG_ID_HEADER: event.event_id},
            )
        except nats.js.errors.NoStreamResponseError as exc:
            # The stream vanished (deleted by an operator?): recreate it, then retry.
            self._stream_ok = False
            self._ready.clear()
            self._wake.set()
            raise BusUnavailable(f"no JetStream stream {self.stream} answered") from exc
        except nats.errors.MaxPayloadError as exc:  # retrying cannot help
            raise ValueError(
                f"{event.topic} #{event.id} is larger than the NATS server accepts"
            ) from exc
        except (nats.errors.Error, TimeoutError, OSError) as exc:
            raise BusUnavailable(f"NATS did not store {event.topic} #{event.id}: {exc!r}") from exc
        if ack.duplicate:
            log.debug("NATS dropped a repeat of %s #%s", event.topic, event.id)

    def subscribe(self, handler: Handler) -> Callable[[], None]:
        self._handlers.append(handler)
        if self._consumer is None and not self._closing:
            self._ready.clear()  # publishing waits until our own consumer sees it
            self._wake.set()
            with contextlib.suppress(RuntimeError):  # no running loop: start() later
                self._ensure_supervisor()

        def _unsubscribe() -> None:
            if handler in self._handlers:
                self._handlers.remove(handler)

        return _unsubscribe

    async def start(self, timeout_s: float = 10.0) -> None:
        """Connect now and wait until the bus is ready (optional: every method starts the
        bus by itself). When it returns, a handler subscribed before the call receives
        every event published afterwards, by any process."""
        await self._wait_ready(timeout_s)

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    async def close(self) -> None:
        """Drop the handlers and the connection (its consumer goes with it). Like
        ``MemoryBus``, the bus may be used again afterwards: it then reconnects."""
        self._closing = True
        try:
            self._handlers.clear()
            self._ready.clear()
            if self._supervisor is not None:
                self._supervisor.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._supervisor
            nc, consumer = self._nc, self._consumer
            if nc is not None:
                if consumer is not None and nc.is_connected:
                    with contextlib.suppress(Exception):  # it would expire by itself anyway
                        await nc.jetstream(timeout=1.0).delete_consumer(self.stream, consumer)
                try:
                    await asyncio.wait_for(nc.close(), timeout=5.0)
                except Exception:
                    log.warning("closing the NATS connection failed", exc_info=True)
        finally:
            self._reset()
            self._closing = False

    # -- connection and consumer upkeep ------------------------------------------------

    def _ensure_supervisor(self) -> None:
        if self._supervisor is None or self._supervisor.done():
            self._supervisor = asyncio.get_running_loop().create_task(
                self._supervise(), name="nats-bus"
            )

    async def _wait_ready(self, timeout_s: float) -> None:
        if self._closing:
            raise BusUnavailable("the NATS event bus is closing")
        self._ensure_supervisor()
        if self._ready.is_set():
            return
        try:
            await asyncio.wait_for(self._ready.wait(), timeout=timeout_s)
        except TimeoutError:
            servers = ", ".join(redact(s) for s in self.servers)
            detail = f" ({self._last_error})" if self._last_error else ""
            raise BusUnavailable(f"the NATS event bus at {servers} is not ready{detail}") from None

    async def _supervise(self) -> None:
        await self._connect()
        backoff = 0.5
        while True:
            self._wake.clear()
            wait = self.check_interval_s
            try:
                await self._reconcile()
                backoff = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._ready.clear()
                self._note_error(f"event bus not ready: {exc!r}")
                wait, backoff = backoff, min(backoff * 2, 30.0)
            await wait_or_timeout(self._wake, wait)

    async def _connect(self) -> None:
        backoff = 1.0
        while True:
            nc = NatsClient()
            self._nc = nc
            try:
                # With max_reconnect_attempts=-1 connect() keeps trying until a server
                # answers, and nats-py heals later disconnects in the same way.
                await nc.connect(
                    servers=self.servers,
                    name=self.connection_name,
                    connect_timeout=2,
                    reconnect_time_wait=2,
                    max_reconnect_attempts=-1,
                    error_cb=self._on_error,
                    disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected,
                    closed_cb=self._on_closed,
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a configuration error, not an unreachable server
                self._note_error(f"cannot connect: {exc!r}")
                with contextlib.suppress(Exception):
                    await nc.close()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            self._js = nc.jetstream(timeout=self.publish_timeout_s)
            self._last_error = None
            url = nc.connected_url
            log.info("event bus connected to NATS at %s", url.hostname if url else "?")
            return

    async def _reconcile(self) -> None:
        """Make the stream and this process's consumer exist; then mark the bus ready."""
        async with self._lock:
            nc, js = self._nc, self._js
            if nc is None or js is None or not nc.is_connected:
                self._ready.clear()
                return
            if self._consumer is not None:
                try:
                    await js.consumer_info(self.stream, self._consumer)
                except nats.js.errors.NotFoundError:
                    # Expired while we were away, or the server restarted: make a new one
                    # that resumes after the last event handled.
                    log.warning("NATS consumer %s is gone; resuming", self._consumer)
                    await self._drop_consumer()
                    self._stream_ok = False
            if not self._stream_ok:
                await self._ensure_stream(js)
                self._stream_ok = True
            if self._handlers and self._consumer is None:
                await self._create_consumer(nc, js)
            self._ready.set()

    async def _ensure_stream(self, js: JetStreamContext) -> None:
        try:
            await js.stream_info(self.stream)
            return
        except nats.js.errors.NotFoundError:
            pass
        config = StreamConfig(
            name=self.stream,
            description="SafeZone domain events (published from the transactional outbox)",
            subjects=[f"{self.subject_prefix}.>"],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            discard=DiscardPolicy.OLD,
            max_age=self.max_age_s,
            duplicate_window=self.duplicate_window_s,
            num_replicas=1,
        )
        try:
            await js.add_stream(config)
            log.info("created JetStream stream %s (%s.>)", self.stream, self.subject_prefix)
        except nats.js.errors.BadRequestError:
            await js.stream_info(self.stream)  # another process made it first

    async def _create_consumer(self, nc: NatsClient, js: JetStreamContext) -> None:
        state = (await js.stream_info(self.stream)).state
        if self._next_seq is None:
            start = state.last_seq + 1  # events from now on
        elif self._next_seq > state.last_seq + 1:
            start = max(state.first_seq, 1)  # the stream was recreated: all of the new one
        else:
            start = self._next_seq
        self._next_seq = start
        inbox = nc.new_inbox()
        sub = await nc.subscribe(inbox, cb=self._on_msg)
        name = f"{self._consumer_base}-{next(self._consumer_counter)}"
        config = ConsumerConfig(
            name=name,
            description=f"SafeZone event bus of {self.connection_name}",
            deliver_subject=inbox,
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=start,
            filter_subject=f"{self.subject_prefix}.>",
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=60.0,
            max_ack_pending=512,
            inactive_threshold=60.0,
            mem_storage=True,
            num_replicas=1,
        )
        try:
            await js.add_consumer(self.stream, config)
        except BaseException:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
            raise
        self._sub, self._consumer = sub, name
        log.info("NATS consumer %s reads %s from sequence %s", name, self.stream, start)

    async def _drop_consumer(self) -> None:
        sub, self._sub, self._consumer = self._sub, None, None
        if sub is not None:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def _on_msg(self, msg: Msg) -> None:
        try:
            seq = msg.metadata.sequence.stream
        except Exception:
            log.warning("ignoring a message without JetStream metadata on %s", msg.subject)
            return
        if self._next_seq is not None and seq < self._next_seq:
            await self._ack(msg)  # a redelivery of an event already handled
            return
        try:
            event = decode_event(msg.data)
        except Exception:
            log.exception("ignoring a malformed event on %s (sequence %s)", msg.subject, seq)
        else:
            for handler in list(self._handlers):
                try:
                    await handler(event)
                except Exception:  # one broken consumer must not stop the others
                    log.exception("event handler failed for %s #%s", event.topic, event.id)
        # Only now: handlers cut off by a consumer swap see the event again (at least once).
        self._next_seq = seq + 1
        await self._ack(msg)

    @staticmethod
    async def _ack(msg: Msg) -> None:
        try:
            await msg.ack()
        except Exception as exc:  # redelivered later, and then skipped by sequence
            log.debug("could not ack a NATS message: %r", exc)

    # -- nats-py callbacks ------------------------------------------------------------

    def _note_error(self, text: str) -> None:
        """Log a problem, but the same one at most once a minute."""
        now = time.monotonic()
        if text != self._last_error or now - self._error_logged_at > 60:
            log.warning("NATS: %s", text)
            self._error_logged_at = now
        self._last_error = text

    async def _on_error(self, exc: Exception) -> None:
        self._note_error(repr(exc))

    async def _on_disconnected(self) -> None:
        if not self._closing:
            self._ready.clear()
            log.warning("event bus disconnected from NATS; reconnecting")

    async def _on_reconnected(self) -> None:
        self._last_error = None
        log.info("event bus reconnected to NATS")
        self._wake.set()

    async def _on_closed(self) -> None:
        self._ready.clear()
