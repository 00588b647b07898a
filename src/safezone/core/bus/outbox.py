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
MARK_EVERY_S = 0.25  # how often published rows are marked so in the table (SQLite)
HANDED_MAX = 4 * RELAY_BATCH  # events kept from commits while the relay is behind
MARK_RETRY_S = 1.0  # after a failed marking


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

    ``nudge(events)`` is called after each commit with the events it queued (by this
    process's commit listener, and for the MQTT gateway's commits through its pipe):
    while they follow on from the last event published, they go out as handed, with no
    read of the outbox. A gap (another process's commit, a row not handed over) or a
    start sends the relay to the outbox table, which stays the source of truth; the
    interval is the fallback for rows nobody handed over.

    On SQLite (one node) published rows are marked in the table every ``MARK_EVERY_S``
    (and when the relay stops), not after each drain: one write transaction a quarter
    second instead of one per commit; after a crash the unmarked ones go out again (at
    least once). On PostgreSQL, where several nodes may share the table and each node's
    relay publishes the rows it finds unmarked, they are marked at once, as before.
    """

    def __init__(
        self,
        db: Database,
        bus: EventBus,
        *,
        interval_s: float,
        mark_every_s: float | None = None,
    ) -> None:
        self.db = db
        self.bus = bus
        self.interval_s = interval_s
        self.mark_every_s = (
            mark_every_s if mark_every_s is not None else MARK_EVERY_S if db.is_sqlite else 0.0
        )
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._upto: int | None = None  # every event up to this id has been published
        self._handed: dict[int, Event] = {}  # by id, each above _upto
        self._unmarked: list[int] = []
        self._marked_at: float | None = None  # loop time of the last marking
        self._retry_marks_at = 0.0  # after a failed marking, not before this loop time
        self._read_due = True  # look in the table on the next drain

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    def nudge(self, events: list[Event] | None = None) -> None:
        """Thread-safe: wake the relay (called from request threads after commit)."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._take, list(events or ()))

    def _take(self, events: list[Event]) -> None:
        if not events:
            self._read_due = True  # told that something committed, not what
        for event in events:
            if self._upto is not None and event.id <= self._upto:
                continue
            if len(self._handed) < HANDED_MAX:
                self._handed[event.id] = event
            else:
                self._read_due = True  # the relay is behind: the table has the rest
        self._wake.set()

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
        await self._mark_published(due=True, final=True)

    def _fetch(self, after: int | None) -> list[Event]:
        query = select(OutboxEvent).where(OutboxEvent.published_at.is_(None))
        if after is not None:  # published already, waiting to be marked
            query = query.where(OutboxEvent.id > after)
        with self.db.reader() as session:
            rows = session.scalars(query.order_by(OutboxEvent.id).limit(RELAY_BATCH)).all()
            return [r.to_event() for r in rows]

    def _mark(self, ids: list[int]) -> None:
        with self.db.transaction() as session:
            session.execute(
                update(OutboxEvent).where(OutboxEvent.id.in_(ids)).values(published_at=utcnow())
            )

    def _next_handed(self) -> list[Event]:
        """The handed events that follow on from the last one published, in order."""
        following: list[Event] = []
        if self._upto is None:
            return following
        position = self._upto
        while len(following) < RELAY_BATCH and (event := self._handed.pop(position + 1, None)):
            following.append(event)
            position = event.id
        return following

    async def _mark_published(self, *, due: bool, final: bool = False) -> None:
        """Mark published rows in the table: when ``due`` or ``mark_every_s`` has passed,
        and not within ``MARK_RETRY_S`` of a failed try (``final``, at stop: regardless).
        A failure is logged, never raised: the rows are published, and unmarked ones are
        only published again after a restart (at least once)."""
        if not self._unmarked:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self._marked_at is None:
            self._marked_at = now  # the first ones are marked a while from now
        if not final and (
            now < self._retry_marks_at or (not due and now - self._marked_at < self.mark_every_s)
        ):
            return
        ids, self._unmarked = self._unmarked, []
        self._marked_at = now
        try:
            for start in range(0, len(ids), RELAY_BATCH):
                await asyncio.to_thread(self._mark, ids[start : start + RELAY_BATCH])
        except BaseException as exc:
            self._unmarked = ids + self._unmarked  # published, still to be marked
            if not isinstance(exc, Exception):
                raise
            self._retry_marks_at = loop.time() + MARK_RETRY_S
            log.exception("marking %d published outbox rows failed; trying again", len(ids))

    async def drain(self, *, mark_now: bool = True, read: bool = True) -> int:
        """Publish everything pending; returns how many events went out.

        ``read``: look in the outbox table too (else only when the handed events leave a
        gap). ``mark_now``: mark what went out in the table before returning, else once
        ``mark_every_s`` has passed."""
        sent = 0
        upto = self._upto
        if upto is not None and self._handed and min(self._handed) <= upto:
            self._handed = {i: e for i, e in self._handed.items() if i > upto}
        try:
            while True:
                events = self._next_handed()
                from_table = not events
                if from_table:
                    if not (read or self._handed or self._upto is None):
                        return sent
                    events = await asyncio.to_thread(self._fetch, self._upto)
                    if not events:
                        return sent
                    # A full batch may have more behind it; else a commit since then has
                    # nudged the relay, and another read would find nothing.
                    read = len(events) == RELAY_BATCH
                for event in events:
                    await self.bus.publish(event)
                    # Published: not to be sent again, whatever happens to the next one.
                    self._upto = event.id
                    self._unmarked.append(event.id)
                    sent += 1
                if from_table:
                    upto = events[-1].id
                    self._handed = {i: e for i, e in self._handed.items() if i > upto}
        finally:
            await self._mark_published(due=mark_now)

    async def _run(self) -> None:
        backoff = self.interval_s
        while not self._stopping:
            try:
                read, self._read_due = self._read_due, False
                await self.drain(mark_now=False, read=read)
                backoff = self.interval_s
            except asyncio.CancelledError:
                raise
            except ConnectionError as exc:
                # The bus is down (NATS restarting): events wait in the outbox meanwhile.
                backoff = min(backoff * 2, 30.0)
                log.warning("event bus unavailable (%s); retrying in %.0f s", exc, backoff)
            except Exception:
                log.exception("outbox relay failed; retrying")
                self._read_due = True
            if not await self._idle(backoff):
                self._read_due = True  # the fallback poll, for rows nobody handed over

    async def _idle(self, seconds: float) -> bool:
        """Wait for a nudge (True), or ``seconds`` (False: the fallback poll); meanwhile
        mark what was published once ``mark_every_s`` has passed since the last time."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            wait = deadline - loop.time()
            if self._unmarked:
                last = self._marked_at if self._marked_at is not None else loop.time()
                mark_at = max(last + self.mark_every_s, self._retry_marks_at)
                if mark_at <= loop.time():
                    await self._mark_published(due=True)
                    continue
                wait = min(wait, mark_at - loop.time())
            if wait <= 0:
                return False
            if await wait_or_timeout(self._wake, wait):
                self._wake.clear()
                return True
