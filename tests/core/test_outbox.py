"""The transactional outbox: events exist only if their change committed, and the relay
delivers each committed event to the bus once, in order."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from safezone.audit import service as audit_service
from safezone.core.bus import Event, MemoryBus
from safezone.core.bus.outbox import OutboxEvent, OutboxRelay
from safezone.incidents.models import Incident
from tests.conftest import INSIDE, record_notes


def outbox_count(db) -> int:
    with db.reader() as session:
        return int(session.scalar(select(func.count()).select_from(OutboxEvent)) or 0)


def test_rolled_back_change_leaves_no_event_and_no_audit_entry(db):
    before = outbox_count(db)
    with db.reader() as session:
        head_before = audit_service.head(session)
    with pytest.raises(RuntimeError), db.transaction() as session:
        audit_service.record(
            session,
            actor="t",
            action="incident.created",
            object_type="x",
            object_id=1,
            station_id="MDH",
            event={"a": 1},
        )
        raise RuntimeError("the change failed after its event was queued")
    assert outbox_count(db) == before
    with db.reader() as session:
        assert audit_service.head(session) == head_before


def test_a_rolled_back_savepoint_takes_its_entries_and_events_with_it(db):
    """What a savepoint wrote and then undid is neither in the audit chain nor handed to
    event streams; what the transaction kept around it is, in order."""
    handed: list[list[Event]] = []
    db.commit_listeners.append(handed.append)

    try:
        with db.transaction() as session:
            record_notes(session, [1])
            with pytest.raises(RuntimeError), session.begin_nested():
                record_notes(session, [2])
                raise RuntimeError("undo the savepoint")
            with session.begin_nested():
                record_notes(session, [3])
            record_notes(session, [4])
    finally:
        db.commit_listeners.remove(handed.append)
    [events] = handed
    assert [e.payload["n"] for e in events] == [1, 3, 4]
    assert [e.id for e in events] == sorted(e.id for e in events)
    with db.reader() as session:
        rows = session.scalars(select(OutboxEvent).where(OutboxEvent.topic == "incident.note"))
        assert sorted(r.payload["n"] for r in rows) == [1, 3, 4]
        assert audit_service.verify(session).ok  # no gap where entry 2 was


def test_audit_entries_need_a_write_transaction(db):
    if not db.is_sqlite:
        pytest.skip("the guard is specific to SQLite's lock upgrade")
    with db.reader() as session, pytest.raises(RuntimeError, match="write transaction"):
        audit_service.record(
            session, actor="t", action="x", object_type="x", object_id=1, station_id=None
        )


def collecting_relay(db) -> tuple[OutboxRelay, list[Event]]:
    """A relay on a memory bus whose one consumer keeps what it receives."""
    bus = MemoryBus()
    received: list[Event] = []

    async def consumer(event: Event) -> None:
        received.append(event)

    bus.subscribe(consumer)
    return OutboxRelay(db, bus, interval_s=0.05), received


def test_relay_publishes_each_committed_event_once_in_order(db):
    async def scenario() -> list[Event]:
        relay, received = collecting_relay(db)
        for i in range(5):
            with db.transaction() as session:
                record_notes(session, [i])
        assert await relay.drain() >= 5
        assert await relay.drain() == 0  # already marked published
        return received

    received = asyncio.run(scenario())
    mine = [e for e in received if e.topic == "incident.note"]
    assert [e.payload["n"] for e in mine] == [0, 1, 2, 3, 4]
    assert len({e.event_id for e in received}) == len(received)
    ids = [e.id for e in received]
    assert ids == sorted(ids)


def test_a_failing_consumer_does_not_stop_the_others(db):
    got: list[int] = []

    async def scenario() -> None:
        bus = MemoryBus()

        async def broken(event: Event) -> None:
            raise ValueError("consumer bug")

        async def healthy(event: Event) -> None:
            got.append(event.id)

        bus.subscribe(broken)
        bus.subscribe(healthy)
        with db.transaction() as session:
            audit_service.record(
                session,
                actor="t",
                action="incident.note",
                object_type="incident",
                object_id=1,
                station_id="MDH",
                event={},
            )
        await OutboxRelay(db, bus, interval_s=0.05).drain()

    asyncio.run(scenario())
    assert got


def test_incident_row_audit_entry_and_event_share_one_transaction(client, db, auth):
    r = client.post(
        "/api/v1/incidents",
        headers=auth("operator"),
        json={
            "category": "fire",
            "priority": "critical",
            "description": "stall fire",
            "lat": INSIDE[0],
            "lon": INSIDE[1],
        },
    )
    incident_id = r.json()["id"]
    with db.reader() as session:
        event = session.scalars(
            select(OutboxEvent).where(OutboxEvent.topic == "incident.created")
        ).one()
        assert event.payload["incident"]["id"] == incident_id
        assert event.audit_seq == audit_service.head(session)[0]
        assert session.get(Incident, incident_id) is not None


def test_one_drain_publishes_more_events_than_one_read_holds(db, monkeypatch):
    """The relay reads at most a batch at a time; a drain still publishes everything
    that was pending when it began, however long the backlog."""
    monkeypatch.setattr("safezone.core.bus.outbox.RELAY_BATCH", 3)

    async def scenario() -> tuple[int, list[Event]]:
        relay, received = collecting_relay(db)
        await relay.drain()  # whatever the seed left
        received.clear()
        with db.transaction() as session:
            record_notes(session, range(8))
        return await relay.drain(), received

    sent, received = asyncio.run(scenario())
    assert sent == 8
    assert [e.payload["n"] for e in received] == list(range(8))


def published_in_table(db, ids: list[int]) -> bool:
    with db.reader() as session:
        rows = session.scalars(select(OutboxEvent).where(OutboxEvent.id.in_(ids))).all()
        return len(rows) == len(ids) and all(r.published_at is not None for r in rows)


def test_the_running_relay_publishes_handed_events_without_reading_the_outbox(db, monkeypatch):
    """Commits hand their events to the relay, which sends them on in order, marks them in
    the table a moment later, and reads the table only to catch up on a gap: here an
    event committed where no relay was told (another process)."""
    reads: list[int | None] = []
    fetch = OutboxRelay._fetch

    def counting_fetch(self, after):
        reads.append(after)
        return fetch(self, after)

    monkeypatch.setattr(OutboxRelay, "_fetch", counting_fetch)

    async def wait_for(condition) -> None:
        for _ in range(200):
            if condition():
                return
            await asyncio.sleep(0.02)
        raise AssertionError("timed out")

    def commit(n: int) -> None:
        with db.transaction() as session:
            record_notes(session, [n])

    async def scenario() -> tuple[list[Event], list[int | None]]:
        relay, received = collecting_relay(db)
        relay.interval_s = 60.0  # no fallback polls: only nudges move it
        relay.start()
        await wait_for(lambda: bool(reads))  # the first drain reads where the table is
        db.commit_listeners.append(relay.nudge)
        try:
            for n in range(3):
                await asyncio.to_thread(commit, n)
            await wait_for(lambda: len([e for e in received if e.topic == "incident.note"]) == 3)
            handed_reads = list(reads)
            # Another process commits (its events are not handed over), then this one.
            db.commit_listeners.remove(relay.nudge)
            await asyncio.to_thread(commit, 3)
            db.commit_listeners.append(relay.nudge)
            await asyncio.to_thread(commit, 4)
            await wait_for(lambda: len([e for e in received if e.topic == "incident.note"]) == 5)
            ids = [e.id for e in received]
            await wait_for(lambda: published_in_table(db, ids))
        finally:
            db.commit_listeners.remove(relay.nudge)
            await relay.stop()
        return received, handed_reads

    received, handed_reads = asyncio.run(scenario())
    mine = [e for e in received if e.topic == "incident.note"]
    assert [e.payload["n"] for e in mine] == [0, 1, 2, 3, 4]
    assert len(handed_reads) == 1  # the three handed events needed no read
    ids = [e.id for e in received]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_stopping_the_relay_marks_what_it_published(db):
    async def scenario() -> list[int]:
        relay, received = collecting_relay(db)
        relay.mark_every_s = 0.25  # SQLite's batching, on either database
        with db.transaction() as session:
            record_notes(session, [1, 2])
        await relay.drain(mark_now=False)
        ids = [e.id for e in received]
        assert not published_in_table(db, ids)  # not yet: marks are batched
        await relay.stop()
        return ids

    ids = asyncio.run(scenario())
    assert ids and published_in_table(db, ids)


def test_a_failing_mark_neither_holds_back_events_nor_spins_nor_breaks_stop(db, monkeypatch):
    """Marking published rows can fail (the database restarting, a read-only failover):
    the relay goes on sending what commits hand it, tries the mark again a second later,
    not in a loop, and still stops cleanly."""
    tries: list[list[int]] = []

    def failing_mark(self, ids):
        tries.append(list(ids))
        raise ConnectionError("the database is restarting")

    monkeypatch.setattr(OutboxRelay, "_mark", failing_mark)

    def commit(n: int) -> None:
        with db.transaction() as session:
            record_notes(session, [n])

    async def scenario() -> list[Event]:
        relay, received = collecting_relay(db)
        relay.interval_s = 60.0
        relay.mark_every_s = 0.0  # as on PostgreSQL: marked after each drain
        relay.start()
        db.commit_listeners.append(relay.nudge)
        try:
            for n in range(3):
                await asyncio.to_thread(commit, n)
                await asyncio.sleep(0.05)
            for _ in range(100):
                if len([e for e in received if e.topic == "incident.note"]) == 3:
                    break
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.3)
            assert len(tries) <= 2  # one failure, then a pause (MARK_RETRY_S)
        finally:
            db.commit_listeners.remove(relay.nudge)
            await relay.stop()  # tries once more, and does not raise
        return received

    received = asyncio.run(scenario())
    assert [e.payload["n"] for e in received if e.topic == "incident.note"] == [0, 1, 2]
    assert len(tries) <= 3
