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
from tests.conftest import INSIDE


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


def test_audit_entries_need_a_write_transaction(db):
    if not db.is_sqlite:
        pytest.skip("the guard is specific to SQLite's lock upgrade")
    with db.reader() as session, pytest.raises(RuntimeError, match="write transaction"):
        audit_service.record(
            session, actor="t", action="x", object_type="x", object_id=1, station_id=None
        )


def test_relay_publishes_each_committed_event_once_in_order(db):
    received: list[Event] = []

    async def scenario() -> None:
        bus = MemoryBus()

        async def consumer(event: Event) -> None:
            received.append(event)

        bus.subscribe(consumer)
        relay = OutboxRelay(db, bus, interval_s=0.05)
        for i in range(5):
            with db.transaction() as session:
                audit_service.record(
                    session,
                    actor="t",
                    action="incident.note",
                    object_type="incident",
                    object_id=i,
                    station_id="MDH",
                    event={"n": i},
                )
        assert await relay.drain() >= 5
        assert await relay.drain() == 0  # already marked published

    asyncio.run(scenario())
    mine = [e for e in received if e.topic == "incident.note"]
    assert [e.payload["n"] for e in mine] == [0, 1, 2, 3, 4]
    assert len({e.event_id for e in received}) == len(received)
    ids = [e.id for e in received]
    assert ids == sorted(ids)


def _note(db, n: int) -> None:
    with db.transaction() as session:
        audit_service.record(
            session,
            actor="t",
            action="incident.note",
            object_type="incident",
            object_id=n,
            station_id="MDH",
            event={"n": n},
        )


def _unpublished(db, ids: list[int]) -> int:
    with db.reader() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(OutboxEvent)
                .where(OutboxEvent.id.in_(ids), OutboxEvent.published_at.is_(None))
            )
            or 0
        )


def test_a_running_relay_publishes_at_once_and_marks_in_few_writes(db):
    """Each commit's events go out at once, each once, while marking them published
    (a write that an SOS would wait for on SQLite) is done for many commits together."""
    received: list[Event] = []

    async def scenario() -> None:
        bus = MemoryBus()

        async def consumer(event: Event) -> None:
            received.append(event)

        bus.subscribe(consumer)
        relay = OutboxRelay(db, bus, interval_s=5.0, mark_every_s=0.4)
        await relay.drain()  # what earlier tests left behind
        received.clear()
        relay.start()
        db.commit_listeners.append(relay.nudge)
        try:
            for n in range(30):
                await asyncio.to_thread(_note, db, n)
                await asyncio.sleep(0.01)
            for _ in range(200):  # the relay's own interval (5 s) is not what delivers them
                if len([e for e in received if e.topic == "incident.note"]) >= 30:
                    break
                await asyncio.sleep(0.01)
            notes = [e for e in received if e.topic == "incident.note"]
            assert [e.payload["n"] for e in notes] == list(range(30))
            assert len({e.event_id for e in received}) == len(received)  # none twice
            assert relay.marks <= 3  # not one write per commit
            ids = [e.id for e in notes]
            for _ in range(200):
                if _unpublished(db, ids) == 0:
                    break
                await asyncio.sleep(0.02)
            assert _unpublished(db, ids) == 0  # marked within the mark interval
        finally:
            db.commit_listeners.remove(relay.nudge)
            await relay.stop()

    asyncio.run(scenario())


def test_stopping_the_relay_marks_what_it_published(db):
    async def scenario() -> list[int]:
        bus = MemoryBus()
        got: list[int] = []

        async def consumer(event: Event) -> None:
            got.append(event.id)

        bus.subscribe(consumer)
        relay = OutboxRelay(db, bus, interval_s=0.05, mark_every_s=3600)
        await relay.drain()
        got.clear()
        relay.start()
        await asyncio.to_thread(_note, db, 1)
        relay.nudge()
        for _ in range(200):
            if got:
                break
            await asyncio.sleep(0.01)
        assert got
        assert _unpublished(db, got) == len(got)  # the mark is still waiting
        await relay.stop()
        return got

    ids = asyncio.run(scenario())
    assert _unpublished(db, ids) == 0


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
