"""The transactional outbox: events written in the same transaction as the change.

A relay publishes committed rows to the EventBus. A row's id is the event's position in
the station's stream: SSE clients resume from it with Last-Event-ID.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Integer, String, insert, inspect, select, text, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from safezone.core.bus import Event, EventBus, wait_or_timeout
from safezone.core.db import Base, Database, JsonText, UtcDateTime, utcnow

log = logging.getLogger(__name__)

RELAY_BATCH = 500  # outbox rows published per read


class OutboxEvent(Base):
    __tablename__ = "outbox_events"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    topic: Mapped[str] = mapped_column(String(64), index=True)
    station_id: Mapped[str | None] = mapped_column(String(32), index=True)
    payload: Mapped[Any] = mapped_column(JsonText)
    audit_seq: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)

    def to_event(self) -> Event:
        return Event(
            id=self.id,
            event_id=self.event_id,
            topic=self.topic,
            station_id=self.station_id,
            payload=self.payload,
            created_at=self.created_at,
        )


# Any constant works: it names the one lock that orders audit appends and outbox inserts.
_PG_SEQUENCE_LOCK = 0x5AFE20


def serialize_writers(session: Session) -> None:
    """Take the lock that orders audit entries and outbox rows, until commit.

    Outbox ids must become visible in id order, or an SSE reader that has moved past id N
    would never see a row with a smaller id committed later. On SQLite the write
    transaction (BEGIN IMMEDIATE) already serialises writers; on PostgreSQL a
    transaction-scoped advisory lock does.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        if not session.info.get("sequence_locked"):
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_SEQUENCE_LOCK})
            session.info["sequence_locked"] = True
    elif dialect == "sqlite":
        if not session.connection().get_execution_options().get("sqlite_immediate"):
            raise RuntimeError("audit entries and events must be written in a write transaction")


def enqueue(
    session: Session,
    *,
    topic: str,
    payload: dict[str, Any],
    station_id: str | None,
    audit_seq: int | None,
) -> None:
    """Add an event to the current transaction; it is published only if that commits.

    The row is inserted at once, through Core on the session's connection (every write
    in the system queues events: the ORM's unit of work would add its bookkeeping to
    each, under the write lock). Inside a savepoint it is an ORM row instead, which
    knows after commit whether the savepoint that added it was rolled back.
    """
    serialize_writers(session)
    values: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "topic": topic,
        "station_id": station_id,
        "payload": payload,
        "audit_seq": audit_seq,
        "created_at": utcnow(),
    }
    queued = session.info.setdefault("outbox_rows", [])
    if session.in_nested_transaction():
        row = OutboxEvent(**values)
        session.add(row)
        queued.append(row)
        return
    queued.append(
        Event(
            id=session.connection().execute(_INSERT, values).scalar_one(),
            event_id=values["event_id"],
            topic=topic,
            station_id=station_id,
            payload=payload,
            created_at=values["created_at"],
        )
    )


_INSERT = insert(OutboxEvent).returning(OutboxEvent.id)


def committed_events(queued: list[OutboxEvent | Event]) -> list[Event]:
    """The events a committed transaction queued, in id order: those inserted at once,
    and the ORM rows (added in a savepoint) that were not rolled back."""
    events = [
        item if isinstance(item, Event) else item.to_event()
        for item in queued
        if isinstance(item, Event) or inspect(item).persistent
    ]
    events.sort(key=lambda event: event.id)
    return events


def read_after(
    session: Session,
    *,
    after_id: int,
    station_id: str | None,
    topic_prefixes: tuple[str, ...] = (),
    limit: int = 500,
) -> list[Event]:
    """Committed events after ``after_id``, oldest first, for one station."""
    query = select(OutboxEvent).where(OutboxEvent.id > after_id).order_by(OutboxEvent.id)
    if station_id is not None:
        query = query.where(OutboxEvent.station_id == station_id)
    rows = session.scalars(query.limit(limit)).all()
    return [r.to_event() for r in rows if not topic_prefixes or r.topic.startswith(topic_prefixes)]


def last_id(session: Session) -> int:
    value = session.scalar(select(OutboxEvent.id).order_by(OutboxEvent.id.desc()).limit(1))
    return int(value or 0)


class OutboxRelay:
    """Publishes committed outbox rows to the bus, oldest first, at least once.

    ``nudge()`` is called after each commit so events go out at once; the interval is
    only the fallback for rows committed by another process.
    """

    def __init__(self, db: Database, bus: EventBus, *, interval_s: float) -> None:
        self.db = db
        self.bus = bus
        self.interval_s = interval_s
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    def nudge(self, events: list[Event] | None = None) -> None:
        """Thread-safe: wake the relay (called from request threads after commit)."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    async def stop(self) -> None:
        # The flag as well as the cancel: on Python 3.11, asyncio.wait_for can swallow a
        # cancellation that lands as its inner wait completes, and the loop would run on.
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    def _fetch(self) -> list[Event]:
        with self.db.reader() as session:
            rows = session.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.published_at.is_(None))
                .order_by(OutboxEvent.id)
                .limit(RELAY_BATCH)
            ).all()
            return [r.to_event() for r in rows]

    def _mark(self, ids: list[int]) -> None:
        with self.db.transaction() as session:
            session.execute(
                update(OutboxEvent).where(OutboxEvent.id.in_(ids)).values(published_at=utcnow())
            )

    async def drain(self) -> int:
        """Publish everything pending; returns how many events went out."""
        sent = 0
        while True:
            events = await asyncio.to_thread(self._fetch)
            if not events:
                return sent
            published: list[int] = []
            try:
                for event in events:
                    await self.bus.publish(event)
                    published.append(event.id)
            finally:
                # Mark what went out even if the bus failed part-way, so it is not resent.
                if published:
                    await asyncio.to_thread(self._mark, published)
                    sent += len(published)
            if len(events) < RELAY_BATCH:
                # That was all there was: a commit since then has nudged the relay, which
                # drains again, so another read now would only find nothing.
                return sent

    async def _run(self) -> None:
        backoff = self.interval_s
        while not self._stopping:
            try:
                await self.drain()
                backoff = self.interval_s
            except asyncio.CancelledError:
                raise
            except ConnectionError as exc:
                # The bus is down (NATS restarting): events wait in the outbox meanwhile.
                backoff = min(backoff * 2, 30.0)
                log.warning("event bus unavailable (%s); retrying in %.0f s", exc, backoff)
            except Exception:
                log.exception("outbox relay failed; retrying")
            await wait_or_timeout(self._wake, backoff)
            self._wake.clear()
