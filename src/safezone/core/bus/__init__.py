"""The event bus: one small interface, an in-process implementation by default.

Events come from the transactional outbox (``core.bus.outbox``); their ``id`` is the
outbox sequence, so consumers deduplicate on it and SSE clients replay from it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    id: int
    event_id: str
    topic: str
    station_id: str | None
    payload: dict[str, Any]
    created_at: datetime


Handler = Callable[[Event], Awaitable[None]]


class EventBus(Protocol):
    async def publish(self, event: Event) -> None: ...

    def subscribe(self, handler: Handler) -> Callable[[], None]:
        """Register a handler; returns a function that unsubscribes it."""
        ...

    async def close(self) -> None: ...


async def wait_or_timeout(event: asyncio.Event, seconds: float) -> bool:
    """Wait for ``event`` at most ``seconds``; True if it was set. Unlike
    ``asyncio.wait_for`` on Python 3.11, this never swallows a cancellation."""
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True


class MemoryBus:
    """Delivers each event to every handler in this process, in order."""

    def __init__(self) -> None:
        self._handlers: list[Handler] = []

    async def publish(self, event: Event) -> None:
        for handler in list(self._handlers):
            try:
                await handler(event)
            except Exception:  # one broken consumer must not stop the others
                log.exception("event handler failed for %s #%s", event.topic, event.id)

    def subscribe(self, handler: Handler) -> Callable[[], None]:
        self._handlers.append(handler)

        def _unsubscribe() -> None:
            if handler in self._handlers:
                self._handlers.remove(handler)

        return _unsubscribe

    async def close(self) -> None:
        self._handlers.clear()
        await asyncio.sleep(0)


def make_bus(url: str) -> EventBus:
    if url.startswith("memory://"):
        return MemoryBus()
    if url.startswith("nats://"):
        from safezone.core.bus.nats import NatsBus  # nats-py is only needed for this bus

        return NatsBus.from_url(url)
    raise ValueError(
        f"SAFEZONE_BUS_URL={url!r} is not supported; use memory:// for a single process"
        " or nats://host:4222 for NATS JetStream"
    )
