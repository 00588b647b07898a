"""Periodic jobs inside the app, each run by one node at a time through a DB lease."""

from __future__ import annotations

import asyncio
import logging
import math
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from safezone.core.db import Base, Database, UtcDateTime, utcnow

log = logging.getLogger(__name__)
LEASE_FLOOR_S = 10.0  # never shorter, however often a job runs
LEASE_MARGIN_S = 15.0  # beyond the worst-case work: the run's reads and writes


class JobLease(Base):
    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)


def lease_ttl(
    *, interval_s: float, items: int = 0, per_item_s: float = 0.0, concurrency: int = 1
) -> timedelta:
    """How long a node holds a job's lease for one run.

    At least three intervals (and ``LEASE_FLOOR_S``); and for a job that works through
    ``items`` pieces of at most ``per_item_s`` each, ``concurrency`` at a time, at least
    its worst-case run plus ``LEASE_MARGIN_S``, so that the lease cannot run out while the
    node is still in the run and let a second node start the same job beside it.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    ttl = max(interval_s * 3, LEASE_FLOOR_S)
    if items > 0:
        ttl = max(ttl, math.ceil(items / concurrency) * per_item_s + LEASE_MARGIN_S)
    return timedelta(seconds=ttl)


def acquire(session: Session, *, name: str, holder: str, ttl: timedelta) -> bool:
    """Take or renew the lease on a job; False if another live node holds it."""
    now = utcnow()
    lease = session.get(JobLease, name)
    if lease is None:
        try:
            with session.begin_nested():
                session.add(JobLease(name=name, holder=holder, expires_at=now + ttl))
                session.flush()
        except IntegrityError:
            return False
        return True
    if lease.holder != holder and lease.expires_at > now:
        return False
    lease.holder = holder
    lease.expires_at = now + ttl
    session.flush()
    return True


def renew(session: Session, *, name: str, holder: str, ttl: timedelta) -> bool:
    """Whether ``holder`` still holds the lease on a job, renewing it for ``ttl`` if so.

    A node whose run outlasted its lease (it was stalled) asks before it writes the run's
    results: if another node has taken the job over meanwhile, the holder is no longer
    this node and the results are not written; if nobody has, the lease is still its own.
    The row is locked (PostgreSQL), so no other node takes it over between this check and
    the writes that follow in the same transaction.
    """
    lease = session.scalar(select(JobLease).where(JobLease.name == name).with_for_update())
    if lease is None or lease.holder != holder:
        return False
    lease.expires_at = utcnow() + ttl
    session.flush()
    return True


def claim(session: Session, *, name: str, holder: str, keep: timedelta) -> bool:
    """Claim a one-off piece of work (a webhook, a snapshot capture) for good: the first
    caller on any node gets True, every later one False. Kept ``keep`` for the record."""
    try:
        with session.begin_nested():
            session.add(JobLease(name=name, holder=holder, expires_at=utcnow() + keep))
            session.flush()
    except IntegrityError:
        return False
    return True


@dataclass
class Job:
    name: str
    interval_s: float
    run: Callable[[Session], object]
    # A read-only check run first, outside any write transaction: False = nothing to do,
    # so no lease is taken and no write lock is waited for (SQLite has one writer).
    due: Callable[[Session], bool] | None = None


class Scheduler:
    """Runs each job every ``interval_s`` in its own write transaction, with its lease
    (after its read-only ``due`` check, if it has one)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.holder = f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
        self.jobs: list[Job] = []
        self._task: asyncio.Task[None] | None = None

    def add(
        self,
        name: str,
        interval_s: float,
        run: Callable[[Session], object],
        *,
        due: Callable[[Session], bool] | None = None,
    ) -> None:
        """``due``, when given, is read first in a read-only session; the job's write
        transaction (with its lease) is opened only when it says there is work."""
        self.jobs.append(Job(name, interval_s, run, due))

    def run_once(self, job: Job) -> bool:
        """Run one job now if it is due and this node gets its lease; True if it ran."""
        if job.due is not None:
            with self.db.reader() as session:
                if not job.due(session):
                    return False
        ttl = lease_ttl(interval_s=job.interval_s)
        with self.db.transaction() as session:
            if not acquire(session, name=job.name, holder=self.holder, ttl=ttl):
                return False
            job.run(session)
        return True

    def start(self) -> None:
        if self.jobs:
            self._task = asyncio.create_task(self._loop(), name="scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        due = {job.name: loop.time() + job.interval_s for job in self.jobs}
        while True:
            now = loop.time()
            for job in self.jobs:
                if now >= due[job.name]:
                    due[job.name] = now + job.interval_s
                    try:
                        await asyncio.to_thread(self.run_once, job)
                    except Exception:
                        log.exception("job %s failed", job.name)
            await asyncio.sleep(max(0.05, min(due.values()) - loop.time()))
