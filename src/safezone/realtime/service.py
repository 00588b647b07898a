"""Server-sent events for the command centre, replayable from the outbox.

A stream reads committed outbox rows after the client's Last-Event-ID, so a client that
reconnects gets everything it missed. New events wake waiting streams through the bus;
a periodic re-read covers events committed by another process.

Events committed in this process are also handed to the hub right after commit. A woken
stream sends them from there without a database read, but only when the hub holds every
id after the stream's position: a gap (an event of another process, or one the hub has
dropped) sends the stream back to the outbox, so nothing is skipped.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from safezone.core.bus import Event, EventBus, outbox, wait_or_timeout
from safezone.core.db import Database

# What the command centre sees; other topics stay on the bus for back-end consumers.
STREAM_TOPICS: tuple[str, ...] = (
    "incident.",
    "report.",
    "registry.",
    "sos.",
    "unit.",
    "maintenance.",
    "alert.",
    "patrol.",
    "dispatch.",
    "faces.review",
)
KEEPALIVE_S = 15.0
REAUTH_S = 30.0  # how often an open stream checks that its caller may still have it
RECENT_EVENTS = 2048  # events the hub keeps for streams to send without a read
READ_BATCH = 500  # outbox rows read at a time


@dataclass(frozen=True)
class StreamFilter:
    """Which committed events one stream sends: a station's, on some topics, and among
    those only the ones ``accepts`` (when given) says yes to. The same filter serves the
    live events and the replay after Last-Event-ID."""

    station_id: str
    topic_prefixes: tuple[str, ...] = STREAM_TOPICS
    accepts: Callable[[Event], bool] | None = None

    def wants(self, event: Event) -> bool:
        return (
            event.station_id == self.station_id
            and event.topic.startswith(self.topic_prefixes)
            and (self.accepts is None or self.accepts(event))
        )


class StreamHub:
    """Wakes every open stream when an event is published in this process."""

    def __init__(self, bus: EventBus) -> None:
        self._waiters: set[asyncio.Event] = set()
        self._unsubscribe: Callable[[], None] = bus.subscribe(self._on_event)
        self._loop = asyncio.get_running_loop()
        self._recent: OrderedDict[int, Event] = OrderedDict()

    async def _on_event(self, event: Event) -> None:
        if event.id > 0:  # bus-only events (camera frames) are not in the outbox
            self._committed([event])

    def _wake(self) -> None:
        for waiter in list(self._waiters):
            waiter.set()

    def _committed(self, events: list[Event]) -> None:
        for event in events:
            self._recent[event.id] = event
        while len(self._recent) > RECENT_EVENTS:
            self._recent.popitem(last=False)
        self._wake()

    def nudge(self, events: list[Event] | None = None) -> None:
        """Thread-safe: called right after a commit that wrote events, so streams send
        them at once instead of waiting for the relay to publish them."""
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._committed, list(events or ()))

    def recent_after(self, position: int) -> tuple[int, list[Event]] | None:
        """The events after ``position`` that the hub holds without a gap, with the last
        id seen; None when there is a gap and only the outbox can tell."""
        if position + 1 not in self._recent:
            newest = next(reversed(self._recent), position)
            return (position, []) if newest <= position else None
        events = []
        last = position
        while last + 1 in self._recent:
            last += 1
            events.append(self._recent[last])
        return last, events

    def waiter(self) -> asyncio.Event:
        waiter = asyncio.Event()
        self._waiters.add(waiter)
        return waiter

    def release(self, waiter: asyncio.Event) -> None:
        self._waiters.discard(waiter)

    def close(self) -> None:
        self._unsubscribe()
        for waiter in list(self._waiters):
            waiter.set()
        self._waiters.clear()


def format_sse(event: Event) -> str:
    data = json.dumps(
        {
            "id": event.id,
            "event_id": event.event_id,
            "topic": event.topic,
            "created_at": event.created_at.isoformat(),
            **event.payload,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return f"id: {event.id}\nevent: {event.topic}\ndata: {data}\n\n"


def parse_last_event_id(value: str | None) -> int | None:
    if value is None or not value.strip():
        return None
    try:
        parsed = int(value.strip())
    except ValueError:
        return None
    return parsed if parsed >= 0 else None


async def stream(
    *,
    db: Database,
    hub: StreamHub,
    events: StreamFilter,
    last_event_id: int | None,
    poll_s: float,
    is_disconnected: Callable[[], object],
    still_allowed: Callable[[], bool] | None = None,
) -> AsyncIterator[str]:
    """Yield SSE frames of the events ``events`` wants for one client until it goes away.

    Without a Last-Event-ID the stream starts at the present moment. ``still_allowed``
    (run in a thread every ``REAUTH_S``) ends the stream once the caller's token has
    expired or been revoked, or the account was disabled or changed: a stream is not a
    way to keep reading after signing out.
    """

    def read(after: int) -> tuple[int, list[Event]]:
        """The wanted events after ``after`` in the next batch of the station's rows, and
        the last id read: a stream moves past rows it does not want, so a long run of them
        (another unit's assignments, for an officer) cannot hold it back."""
        with db.reader() as session:
            rows = outbox.read_after(
                session, after_id=after, station_id=events.station_id, limit=READ_BATCH
            )
        return (rows[-1].id if rows else after), [e for e in rows if events.wants(e)]

    def current() -> int:
        with db.reader() as session:
            return outbox.last_id(session)

    async def gone() -> bool:
        awaitable = is_disconnected()
        return bool(asyncio.iscoroutine(awaitable) and await awaitable)

    position = last_event_id if last_event_id is not None else await asyncio.to_thread(current)
    waiter = hub.waiter()
    clock = asyncio.get_running_loop().time
    # Time of the last frame sent: a keepalive follows KEEPALIVE_S of silence, also while
    # unwanted events keep waking the stream (an officer's, at a busy station).
    sent_at = checked_at = clock()
    woken = False
    try:
        yield f"retry: 2000\n: connected at {position}\n\n"
        while True:
            waiter.clear()
            recent = hub.recent_after(position) if woken else None
            if recent is None:
                last, wanted = await asyncio.to_thread(read, position)
            else:
                last, fresh = recent
                wanted = [e for e in fresh if events.wants(e)]
            for event in wanted:
                yield format_sse(event)
                sent_at = clock()
            if last > position:
                position = last
                if recent is None:
                    woken = False  # read on until the outbox has nothing more
                    if not wanted and await gone():
                        return  # a replay through rows it does not want: stop with the client
                continue
            if await gone():
                return
            woken = await wait_or_timeout(waiter, poll_s)
            if still_allowed is not None and clock() - checked_at >= REAUTH_S:
                checked_at = clock()
                if not await asyncio.to_thread(still_allowed):
                    return
            if clock() - sent_at >= KEEPALIVE_S:
                sent_at = clock()
                yield ": keepalive\n\n"
    finally:
        hub.release(waiter)
