"""Database engine, declarative base and sessions.

SQLite runs in WAL mode with foreign keys on and a busy timeout. A transaction that will
write starts with BEGIN IMMEDIATE, so two writers queue on the database lock instead of
failing half-way with "database is locked" when one tries to upgrade a read lock.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows
    fcntl = None  # type: ignore[assignment]

from sqlalchemy import (
    DateTime,
    Engine,
    MetaData,
    Text,
    TypeDecorator,
    create_engine,
    event,
)
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

log = logging.getLogger(__name__)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python, on SQLite and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class JsonText(TypeDecorator[Any]):
    """JSON kept as text, identical on both databases (no jsonb key reordering)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return json.loads(value)


def utcnow() -> datetime:
    return datetime.now(UTC)


def is_sqlite(engine_or_session: Engine | Session) -> bool:
    bind = (
        engine_or_session.get_bind()
        if isinstance(engine_or_session, Session)
        else (engine_or_session)
    )
    return bind.dialect.name == "sqlite"


class WriteGate:
    """One writer at a time in this process, urgent writers (an SOS) first."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._held = False
        self._urgent_waiting = 0

    def acquire(self, *, urgent: bool) -> None:
        with self._cond:
            if urgent:
                self._urgent_waiting += 1
            try:
                while self._held or (not urgent and self._urgent_waiting):
                    self._cond.wait()
            finally:
                if urgent:
                    self._urgent_waiting -= 1
            self._held = True

    def release(self) -> None:
        with self._cond:
            self._held = False
            self._cond.notify_all()


BUSY_TIMEOUT_MS = 30000
# How a writer waiting for the file gate polls: first after 0.5 ms, the sleeps growing to
# 5 ms (1 ms for an SOS), so a freed lock is taken within a few ms; SQLite's busy handler
# sleeps up to 100 ms.
GATE_POLL_FIRST_S = 0.0005
GATE_POLL_MAX_S = 0.005
GATE_POLL_MAX_URGENT_S = 0.001


class WriteGateTimeout(sqlite3.OperationalError):
    """The write gate stayed shut for the busy timeout; what SQLite says when it is busy."""


class FileGate:
    """One writer at a time across the processes that share a SQLite file, SOS first.

    The MQTT gateway writes from a process of its own. Without this, a press waiting for
    the web process's writers would poll in SQLite's busy handler, whose sleeps grow to
    100 ms, and lose the race to each next web request. Here writers take an ``flock`` on
    ``<db>-writer.lock`` without blocking and, while another process holds it, try again
    after sleeps that grow from 0.5 ms to 5 ms (to 1 ms for an SOS), so a freed lock is
    taken within a few ms. A normal writer first passes a turnstile, so at most one of
    them competes with an urgent writer for the lock, and while an urgent writer waits it
    says so with a shared lock on ``<db>-urgent.lock``: a normal writer does not try the
    writer lock while that is held, on arrival or while waiting, so the SOS takes it next.

    A writer gives up after ``timeout_s`` (by default SQLite's busy timeout,
    ``BUSY_TIMEOUT_MS``) with ``WriteGateTimeout``, a ``sqlite3.OperationalError`` saying
    "database is locked" as SQLite itself does, and holds nothing afterwards: a holder
    that hangs makes other writers fail as a busy database would, never wait forever.
    Processes that do not use the gate (a migration, the sqlite3 shell) still meet
    SQLite's own lock and busy timeout.
    """

    def __init__(self, database_path: str, *, timeout_s: float | None = None) -> None:
        self._write = database_path + "-writer.lock"
        self._turnstile = database_path + "-turnstile.lock"
        self._urgent = database_path + "-urgent.lock"
        self.timeout_s = BUSY_TIMEOUT_MS / 1000 if timeout_s is None else timeout_s

    @staticmethod
    def _may_try(marker: int, urgent: bool) -> bool:
        """Whether a waiting writer tries the writer lock now. An urgent one renews its
        shared lock on the marker and always tries; a normal one tries only when it can
        take the marker exclusively, that is when no urgent writer is waiting."""
        try:
            fcntl.flock(marker, (fcntl.LOCK_SH if urgent else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            return urgent  # an SOS waits: a normal writer stays back this round
        if not urgent:
            fcntl.flock(marker, fcntl.LOCK_UN)
        return True

    def _lock(
        self, path: str, deadline: float | None = None, urgent: bool = False
    ) -> tuple[int, float | None]:
        """Take the lock on ``path``; returns its descriptor and the deadline, which is
        set at the first sign of a wait (so the uncontended path reads no clock)."""
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            # A normal writer arriving while an SOS waits does not snatch the lock in the
            # moment it is freed (the SOS may be asleep between polls): it waits behind it.
            must_wait = path == self._write and not urgent and self._sos_waiting()
            if not must_wait:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            must_wait = True
        except BaseException:
            os.close(fd)
            raise
        if must_wait:
            return fd, self._wait(fd, path, deadline, urgent)
        return fd, deadline

    def _sos_waiting(self) -> bool:
        """Whether an urgent writer is marked waiting (a normal writer's first look)."""
        marker = os.open(self._urgent, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            return not self._may_try(marker, False)
        finally:
            os.close(marker)

    def _wait(self, fd: int, path: str, deadline: float | None, urgent: bool) -> float:
        """Poll until ``fd`` holds its lock; returns the deadline. Closes ``fd`` and
        raises ``WriteGateTimeout`` when the deadline passes."""
        marker: int | None = None
        try:
            now = time.monotonic()
            if deadline is None:
                deadline = now + self.timeout_s
            if path == self._write:
                marker = os.open(self._urgent, os.O_RDWR | os.O_CREAT, 0o600)
                if urgent:
                    self._may_try(marker, urgent)  # mark it before sleeping
            pause = GATE_POLL_FIRST_S
            longest = GATE_POLL_MAX_URGENT_S if urgent else GATE_POLL_MAX_S
            while now < deadline:
                time.sleep(min(pause, deadline - now))
                pause = min(pause * 1.5, longest)
                if marker is None or self._may_try(marker, urgent):
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        return deadline
                    except BlockingIOError:
                        pass
                now = time.monotonic()
            raise WriteGateTimeout(
                f"database is locked: another process held {os.path.basename(path)} "
                f"for the busy timeout ({self.timeout_s:g} s)"
            )
        except BaseException:
            os.close(fd)
            raise
        finally:
            if marker is not None:
                os.close(marker)  # an urgent writer's mark ends with its wait

    def acquire(self, *, urgent: bool) -> int:
        """Wait until this process may write; returns the token to release.

        Raises ``WriteGateTimeout`` after ``timeout_s`` of waiting in all (turnstile and
        lock together).
        """
        if urgent:
            return self._lock(self._write, None, True)[0]
        turnstile, deadline = self._lock(self._turnstile)
        try:
            return self._lock(self._write, deadline)[0]
        finally:
            os.close(turnstile)

    @staticmethod
    def release(token: int) -> None:
        os.close(token)  # closing the descriptor drops its lock


# How often a server process copies the SQLite WAL back into the database file.
CHECKPOINT_INTERVAL_S = 1.0
# Engines whose connections leave checkpoints to a Checkpointer thread.
_CHECKPOINTED_ELSEWHERE: weakref.WeakSet[Engine] = weakref.WeakSet()


class Checkpointer:
    """Checkpoints a SQLite WAL from a thread of its own, instead of inside a commit.

    By default SQLite checkpoints in whichever commit takes the WAL past 1,000 pages, so
    now and then one transaction (an SOS, say) pays several milliseconds of copying and
    syncing before its COMMIT returns, while still holding the write gate. A server
    process turns that off for its connections (``Database.start_checkpoints``) and
    runs a PASSIVE checkpoint here every ``interval_s``: it copies what no reader still
    needs and never waits for, or blocks, a reader or a writer.
    """

    def __init__(self, engine: Engine, *, interval_s: float | None = None) -> None:
        self.engine = engine
        self.interval_s = CHECKPOINT_INTERVAL_S if interval_s is None else interval_s
        # SQLite's answer to the last checkpoint: (busy, frames in the WAL, frames copied).
        self.last: tuple[int, int, int] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def checkpoint(self) -> None:
        connection = self.engine.raw_connection()  # outside any transaction: autocommit
        try:
            cursor = connection.cursor()
            busy, frames, copied = cursor.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            cursor.close()
            self.last = (int(busy), int(frames), int(copied))
        finally:
            connection.close()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.checkpoint()
            except Exception:  # a busy or closing database: the next round tries again
                log.debug("WAL checkpoint failed", exc_info=True)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        # No pool_pre_ping: a SQLite file does not drop connections, and a ping would add a
        # query to every session (an SOS press opens two).
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy, not the driver, decide when a transaction begins.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            if engine in _CHECKPOINTED_ELSEWHERE:
                cur.execute("PRAGMA wal_autocheckpoint=0")  # a Checkpointer does it
            cur.close()

        # Writers in this process queue on a lock, not in SQLite's busy handler, which
        # sleeps in growing steps (up to 100 ms each) and so adds long, random delays to
        # an SOS stored while other requests write. Other processes still meet SQLite's
        # lock and its busy_timeout.
        gate = WriteGate()
        database = make_url(url).database
        files = (
            FileGate(os.path.abspath(database))
            if fcntl is not None and database and database != ":memory:"
            else None
        )

        def release(info: dict[Any, Any]) -> None:
            token = info.pop("file_gate", None)
            if token is not None and files is not None:
                files.release(token)
            if info.pop("write_gate", False):
                gate.release()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            if not conn.get_execution_options().get("sqlite_immediate"):
                conn.exec_driver_sql("BEGIN")
                return
            urgent = bool(conn.get_execution_options().get("sqlite_urgent"))
            try:
                if not conn.info.get("write_gate"):
                    gate.acquire(urgent=urgent)
                    conn.info["write_gate"] = True
                if files is not None and "file_gate" not in conn.info:
                    conn.info["file_gate"] = files.acquire(urgent=urgent)
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            except WriteGateTimeout as exc:
                release(conn.info)
                # The same exception a busy BEGIN IMMEDIATE raises, so callers see one error.
                raise OperationalError("BEGIN IMMEDIATE", None, exc) from exc
            except BaseException:
                release(conn.info)
                raise

        @event.listens_for(engine, "commit")
        def _sqlite_commit(conn: Any) -> None:
            if conn.info.get("write_gate"):
                # Commit here, then open the gate; the driver's own commit that follows
                # finds no transaction and does nothing.
                conn.exec_driver_sql("COMMIT")
                release(conn.info)

        @event.listens_for(engine, "rollback")
        def _sqlite_rollback(conn: Any) -> None:
            if conn.info.get("write_gate"):
                try:
                    conn.exec_driver_sql("ROLLBACK")
                except Exception:  # SQLite may have rolled back already after an error
                    pass
                release(conn.info)

        @event.listens_for(engine, "checkin")
        def _sqlite_checkin(dbapi_conn: Any, record: Any) -> None:
            release(record.info)  # never leave the gate shut behind a returned connection

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def insert_unless_exists(session: Session, model: Any, values: dict[str, Any]) -> int | None:
    """INSERT one row unless it would repeat a unique key; returns its id, or None when a
    row with that key is already there (``ON CONFLICT DO NOTHING``, on both databases)."""
    connection = session.connection()  # Core on the session's connection: no ORM bookkeeping
    key = (connection.dialect.name, model.__tablename__)
    statement = _INSERTS_UNLESS_EXISTS.get(key)
    if statement is None:
        from sqlalchemy.dialects import postgresql, sqlite

        dialect = postgresql if key[0] == "postgresql" else sqlite
        table = model.__table__
        statement = dialect.insert(table).on_conflict_do_nothing().returning(table.c.id)
        _INSERTS_UNLESS_EXISTS[key] = statement
    return connection.execute(statement, values).scalar()


_INSERTS_UNLESS_EXISTS: dict[tuple[str, str], Any] = {}


def after_commit(session: Session, action: Callable[[], None]) -> None:
    """Run ``action`` once this session's transaction has committed."""
    session.info.setdefault("after_commit", []).append(action)


def after_rollback(session: Session, action: Callable[[], None]) -> None:
    """Run ``action`` if this session's transaction is rolled back instead."""
    session.info.setdefault("after_rollback", []).append(action)


def _run_hooks(session: Session, key: str, other: str) -> None:
    session.info.pop("sequence_locked", None)
    actions = session.info.pop(key, [])
    session.info.pop(other, None)
    for action in actions:
        action()


class Database:
    """The engine plus two session factories: one for reads, one for writes.

    ``commit_listeners`` are called after every commit that queued outbox events, with
    those events, so the relay publishes them and event streams send them at once.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(
            self.engine.execution_options(sqlite_immediate=True), expire_on_commit=False
        )
        # For an SOS: on SQLite it goes ahead of other writers waiting in this process.
        self._urgent = sessionmaker(
            self.engine.execution_options(sqlite_immediate=True, sqlite_urgent=True),
            expire_on_commit=False,
        )
        self.commit_listeners: list[Callable[[list[Any]], None]] = []
        self._checkpointer: Checkpointer | None = None
        for factory in (self._write, self._urgent):
            event.listen(factory, "after_commit", self._after_commit)
            event.listen(factory, "after_soft_rollback", self._after_rollback)

    # SQLAlchemy sends these for savepoints too (and the rollback for a flush that failed
    # inside one). Releasing one commits nothing yet, and rolling one back leaves the rest
    # of the transaction (its events, its hooks) to commit or roll back with it; what the
    # savepoint itself queued is sorted out at the end (``committed_events``).
    def _after_commit(self, session: Session) -> None:
        if session.in_nested_transaction():
            return
        _run_hooks(session, "after_commit", "after_rollback")
        rows = session.info.pop("outbox_rows", None)
        if rows:
            from safezone.core.bus.outbox import committed_events

            events = committed_events(rows)
            for listener in self.commit_listeners:
                listener(events)

    def _after_rollback(self, session: Session, previous_transaction: Any) -> None:
        if previous_transaction.parent is not None:
            # A savepoint, or the subtransaction of a flush that failed inside one: the
            # transaction goes on. A lock taken inside it went with it (PostgreSQL).
            session.info.pop("sequence_locked", None)
            return
        session.info.pop("outbox_rows", None)
        _run_hooks(session, "after_rollback", "after_commit")

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def session(self, *, write: bool) -> Session:
        return (self._write if write else self._read)()

    @contextmanager
    def transaction(self, *, urgent: bool = False) -> Iterator[Session]:
        """One write transaction: commit on success, roll back on any error.

        ``urgent`` (an SOS) lets it go ahead of other writers waiting in this process.
        """
        session = self._urgent() if urgent else self.session(write=True)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def reader(self) -> Iterator[Session]:
        session = self.session(write=False)
        try:
            yield session
        finally:
            session.rollback()
            session.close()

    def start_checkpoints(self) -> None:
        """For a server process on a SQLite file: checkpoint the WAL from a thread of its
        own, never inside a commit (``Checkpointer``). Elsewhere this does nothing."""
        database = self.engine.url.database
        if not self.is_sqlite or not database or database == ":memory:":
            return
        if self._checkpointer is None:
            _CHECKPOINTED_ELSEWHERE.add(self.engine)
            self.engine.dispose()  # pooled connections open again without auto-checkpoints
            self._checkpointer = Checkpointer(self.engine)
            self._checkpointer.start()

    def stop_checkpoints(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
            try:
                self._checkpointer.checkpoint()  # leave the WAL copied back
            except Exception:  # SQLite checkpoints again when its last connection closes
                log.debug("final WAL checkpoint failed", exc_info=True)
            self._checkpointer = None
            _CHECKPOINTED_ELSEWHERE.discard(self.engine)
            self.engine.dispose()

    def dispose(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
            _CHECKPOINTED_ELSEWHERE.discard(self.engine)
        self.engine.dispose()
