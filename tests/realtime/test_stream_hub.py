"""The hub's cache of committed events: streams send from it only when it has no gap."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from safezone.core.bus import Event, MemoryBus
from safezone.realtime import service as realtime
from safezone.realtime.service import StreamHub


def event(event_id: int, topic: str = "incident.created", station: str = "MDH") -> Event:
    return Event(
        id=event_id,
        event_id=f"e{event_id}",
        topic=topic,
        station_id=station,
        payload={"n": event_id},
        created_at=datetime.now(UTC),
    )


def hub_with(*ids: int) -> StreamHub:
    async def make() -> StreamHub:
        hub = StreamHub(MemoryBus())
        hub.nudge([event(i) for i in ids])
        await asyncio.sleep(0)  # nudge is thread-safe: it lands on the loop's next turn
        return hub

    return asyncio.run(make())


def test_contiguous_events_after_the_position_come_from_the_cache():
    hub = hub_with(5, 6, 7)
    last, events = hub.recent_after(4)
    assert last == 7 and [e.id for e in events] == [5, 6, 7]
    last, events = hub.recent_after(6)
    assert last == 7 and [e.id for e in events] == [7]


def test_nothing_newer_is_an_empty_answer_not_a_gap():
    hub = hub_with(5, 6)
    assert hub.recent_after(6) == (6, [])
    assert hub.recent_after(9) == (9, [])


def test_a_gap_sends_the_stream_back_to_the_outbox():
    """Event 5 was committed by another process: the hub never saw it."""
    hub = hub_with(6, 7)
    assert hub.recent_after(4) is None
    hub = hub_with(3, 5)
    last, events = hub.recent_after(2)  # what follows 3 is unknown, so it stops there
    assert last == 3 and [e.id for e in events] == [3]
    assert hub.recent_after(3) is None


def test_the_cache_keeps_only_the_newest_events(monkeypatch):
    monkeypatch.setattr(realtime, "RECENT_EVENTS", 4)
    hub = hub_with(*range(1, 11))
    assert hub.recent_after(5) is None  # 6 was dropped
    last, events = hub.recent_after(6)
    assert last == 10 and [e.id for e in events] == [7, 8, 9, 10]
