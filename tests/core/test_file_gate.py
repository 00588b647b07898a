"""Writers in different processes take turns on a SQLite file, an SOS first."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time

import pytest
import sqlalchemy.exc
from sqlalchemy import text

from safezone.core import db as db_module
from safezone.core.db import Database, FileGate, WriteGateTimeout


@pytest.fixture
def path(tmp_path) -> str:
    return str(tmp_path / "safezone.db")


def test_a_second_writer_waits_until_the_first_releases(path):
    holder, other = FileGate(path), FileGate(path)  # two processes' views of one file
    token = holder.acquire(urgent=False)
    got: list[float] = []

    def wait_then_write() -> None:
        held = other.acquire(urgent=False)
        got.append(time.monotonic())
        other.release(held)

    waiter = threading.Thread(target=wait_then_write)
    waiter.start()
    time.sleep(0.2)
    assert not got, "the second writer did not wait"
    released_at = time.monotonic()
    holder.release(token)
    waiter.join(5)
    assert got and got[0] >= released_at


def test_an_urgent_writer_passes_writers_queued_at_the_turnstile(path):
    """While a normal writer holds the turnstile waiting for the lock, an SOS does not
    queue behind it, and it takes the lock before that writer: a normal writer does not
    try the lock while an SOS is marked waiting."""
    holder = FileGate(path)
    token = holder.acquire(urgent=False)
    order: list[str] = []

    def writer(name: str, urgent: bool) -> None:
        gate = FileGate(path)
        held = gate.acquire(urgent=urgent)
        order.append(name)
        time.sleep(0.05)
        gate.release(held)

    normal = [threading.Thread(target=writer, args=(f"n{i}", False)) for i in range(3)]
    for thread in normal:
        thread.start()
    time.sleep(0.2)  # one normal writer waits at the lock, two at the turnstile
    sos = threading.Thread(target=writer, args=("sos", True))
    sos.start()
    time.sleep(0.2)
    holder.release(token)
    for thread in [*normal, sos]:
        thread.join(5)
    assert sorted(order) == ["n0", "n1", "n2", "sos"]
    assert order[0] == "sos", order


def test_a_normal_writer_arriving_as_the_lock_frees_does_not_pass_a_waiting_sos(path):
    """The SOS polls (it may be asleep the moment the holder lets go); a normal writer
    that arrives just then must still go after it."""
    holder = hold(path + "-writer.lock")
    order: list[str] = []

    def sos() -> None:
        gate = FileGate(path)
        held = gate.acquire(urgent=True)
        order.append("sos")
        time.sleep(0.05)
        gate.release(held)

    thread = threading.Thread(target=sos)
    thread.start()
    time.sleep(0.1)  # the SOS is waiting and has marked itself
    gate = FileGate(path)
    os.close(holder)  # the lock frees ...
    token = gate.acquire(urgent=False)  # ... and a normal writer arrives at that moment
    order.append("normal")
    gate.release(token)
    thread.join(5)
    assert order == ["sos", "normal"]


def hold(lock_file: str) -> int:
    """Another process's hold on a gate lock: flock locks belong to the open file
    description, so a descriptor of our own contends like a second process."""
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def is_free(lock_file: str) -> bool:
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


@pytest.mark.parametrize("urgent", [True, False])
def test_a_writer_gives_up_after_the_busy_timeout_as_sqlite_does(path, urgent):
    holder = hold(path + "-writer.lock")
    try:
        gate = FileGate(path, timeout_s=0.2)
        started = time.monotonic()
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            gate.acquire(urgent=urgent)
        waited = time.monotonic() - started
        assert 0.2 <= waited < 0.5, waited
        assert is_free(path + "-turnstile.lock"), "the turnstile was left taken"
    finally:
        os.close(holder)
    assert is_free(path + "-writer.lock")


def test_the_timeout_counts_the_wait_at_the_turnstile_too(path):
    turnstile = hold(path + "-turnstile.lock")
    try:
        started = time.monotonic()
        with pytest.raises(WriteGateTimeout, match="database is locked"):
            FileGate(path, timeout_s=0.2).acquire(urgent=False)
        assert time.monotonic() - started < 0.5
    finally:
        os.close(turnstile)
    assert is_free(path + "-writer.lock")


@pytest.mark.parametrize("urgent", [True, False])
def test_a_waiting_writer_takes_the_lock_promptly_once_it_is_released(path, urgent):
    holder = hold(path + "-writer.lock")
    gate = FileGate(path, timeout_s=5.0)
    got: list[float] = []

    def wait_then_write() -> None:
        token = gate.acquire(urgent=urgent)
        got.append(time.monotonic())
        gate.release(token)

    waiter = threading.Thread(target=wait_then_write)
    waiter.start()
    time.sleep(0.3)  # long enough for the polling sleeps to have grown to their longest
    assert not got
    released_at = time.monotonic()
    os.close(holder)
    waiter.join(5)
    assert got, "the writer did not get the lock"
    # Polls every 5 ms at most; the rest is slack for a busy 2-core machine.
    assert got[0] - released_at < 0.05, got[0] - released_at


def test_a_transaction_behind_a_stuck_writer_fails_like_a_busy_database(tmp_path, monkeypatch):
    """Through the engine: the same sqlalchemy OperationalError as a busy BEGIN IMMEDIATE,
    and both gates are open again for the next transaction."""
    monkeypatch.setattr(db_module, "BUSY_TIMEOUT_MS", 200)
    database = tmp_path / "safezone.db"
    db = Database(f"sqlite:///{database}")
    try:
        holder = hold(f"{database}-writer.lock")
        try:
            started = time.monotonic()
            with pytest.raises(sqlalchemy.exc.OperationalError, match="database is locked"):
                with db.transaction() as session:
                    session.execute(text("SELECT 1"))
            assert time.monotonic() - started < 1.0
        finally:
            os.close(holder)
        done = threading.Event()

        def write() -> None:
            with db.transaction(urgent=False) as session:
                session.execute(text("CREATE TABLE t (x INTEGER)"))
            done.set()

        threading.Thread(target=write, daemon=True).start()
        assert done.wait(5), "the failed transaction left a gate shut"
    finally:
        db.dispose()
