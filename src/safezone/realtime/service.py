"""Server-sent events for the command centre, replayable from the outbox.

A stream reads committed outbox rows after the client's Last-Event-ID, so a client that
reconnects gets everything it missed. New events wake waiting streams through the bus;
a periodic re-read covers events committed by another process.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

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
)
KEEPALIVE_S = 15.0


class StreamHub:
    """Wakes every open stream when an event is published in this process."""

    def __init__(self, bus: EventBus) -> None:
        self._waiters: set[asyncio.Event] = set()
        self._unsubscribe: Callable[[], None] = bus.subscribe(self._on_event)
        self._loop = asyncio.get_running_loop()

    async def _on_event(self, event: Event) -> None:
        self._wake()

    def _wake(self) -> None:
        for waiter in list(self._waiters):
            waiter.set()

    def nudge(self) -> None:
        """Thread-safe: called right after a commit that wrote events, so streams read
        them at once instead of waiting for the relay to publish them."""
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake)

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
    station_id: str,
    last_event_id: int | None,
    poll_s: float,
    is_disconnected: Callable[[], object],
) -> AsyncIterator[str]:
    """Yield SSE frames for one client until it goes away.

    Without a Last-Event-ID the stream starts at the present moment.
    """

    def read(after: int) -> list[Event]:
        with db.reader() as session:
            return outbox.read_after(
                session, after_id=after, station_id=station_id, topic_prefixes=STREAM_TOPICS
            )

    def current() -> int:
        with db.reader() as session:
            return outbox.last_id(session)

    position = last_event_id if last_event_id is not None else await asyncio.to_thread(current)
    waiter = hub.waiter()
    idle = 0.0
    try:
        yield f"retry: 2000\n: connected at {position}\n\n"
        while True:
            waiter.clear()
            events = await asyncio.to_thread(read, position)
            for event in events:
                yield format_sse(event)
                position = event.id
            if events:
                idle = 0.0
                continue
            awaitable = is_disconnected()
            if asyncio.iscoroutine(awaitable) and await awaitable:
                return
            if not await wait_or_timeout(waiter, poll_s):
                idle += poll_s
                if idle >= KEEPALIVE_S:
                    idle = 0.0
                    yield ": keepalive\n\n"
    finally:
        hub.release(waiter)
