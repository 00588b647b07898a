"""Writers in different processes take turns on a SQLite file, an SOS first."""

from __future__ import annotations

import threading
import time

import pytest

from safezone.core.db import FileGate


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
    queue behind it: it waits for the lock alone."""
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
    assert order.index("sos") <= 1, order
