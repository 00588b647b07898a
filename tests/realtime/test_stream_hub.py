"""The hub's cache of committed events: streams send from it only when it has no gap."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from safezone.core.bus import Event, MemoryBus
from safezone.realtime import service as realtime
from safezone.realtime.service import StreamHub
from tests.conftest import record_notes


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


def test_a_stream_woken_only_by_events_it_does_not_want_still_sends_keepalives(db, monkeypatch):
    """An officer's stream at a busy station is woken all the time by other events; the
    connection must still carry a keepalive after KEEPALIVE_S without a frame."""
    monkeypatch.setattr(realtime, "KEEPALIVE_S", 0.3)
    start = 1_000_000  # past the outbox: reads find nothing, the hub feeds the stream

    async def run() -> list[str]:
        hub = StreamHub(MemoryBus())
        frames = realtime.stream(
            db=db,
            hub=hub,
            events=realtime.StreamFilter(station_id="MDH", topic_prefixes=("dispatch.",)),
            last_event_id=start,
            poll_s=0.2,
            is_disconnected=lambda: None,
        )
        seen: list[str] = []

        async def feed() -> None:
            for i in range(1, 40):
                hub.nudge([event(start + i)])  # incident.created: not for this stream
                await asyncio.sleep(0.05)

        async def collect() -> None:
            async for frame in frames:
                seen.append(frame)
                if frame.startswith(": keepalive"):
                    return

        feeder = asyncio.create_task(feed())
        try:
            await asyncio.wait_for(collect(), timeout=1.5)
        except TimeoutError:
            pass
        feeder.cancel()
        await frames.aclose()  # type: ignore[attr-defined]
        hub.close()
        return seen

    seen = asyncio.run(run())
    assert seen[-1] == ": keepalive\n\n", seen
    assert not any(frame.startswith("id:") for frame in seen)


def test_a_replay_through_unwanted_rows_stops_when_the_client_goes(db, monkeypatch):
    """An officer's replay from the beginning reads batch after batch of rows it does not
    want; a client that has gone must not keep it reading the whole history."""
    from safezone.core.bus import outbox

    for n in range(10):
        with db.transaction() as session:
            record_notes(session, [n])
    monkeypatch.setattr(realtime, "READ_BATCH", 2)
    reads: list[int] = []
    read_after = outbox.read_after

    def counted(session, **kwargs):
        reads.append(kwargs["after_id"])
        return read_after(session, **kwargs)

    monkeypatch.setattr(outbox, "read_after", counted)

    async def gone() -> bool:
        return True

    async def run() -> list[str]:
        hub = StreamHub(MemoryBus())
        frames = realtime.stream(
            db=db,
            hub=hub,
            events=realtime.StreamFilter(station_id="MDH", topic_prefixes=("dispatch.",)),
            last_event_id=0,
            poll_s=0.2,
            is_disconnected=gone,
        )
        seen = [frame async for frame in frames]
        hub.close()
        return seen

    seen = asyncio.run(asyncio.wait_for(run(), timeout=10))
    assert len(reads) == 1, reads
    assert not any(frame.startswith("id:") for frame in seen)
