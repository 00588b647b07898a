"""The gateway process hands committed events to the web process without ever making a
storing thread wait for it: a web process that stops reading delays screen updates, not
the storing and acknowledging of presses."""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from datetime import UTC, datetime

from safezone.core.bus import Event
from safezone.sos.gateway_process import EventHandOver


def batch(first_id: int, size: int = 1, payload: str = "") -> list[Event]:
    return [
        Event(
            id=i,
            event_id=f"e-{i}",
            topic="sos.heartbeat",
            station_id="MDH",
            payload={"box_id": "BOX-T1", "pad": payload},
            created_at=datetime.now(UTC),
        )
        for i in range(first_id, first_id + size)
    ]


class StuckPipe:
    """A pipe to a web process whose event loop has stalled: send waits until opened."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self.sending = threading.Event()
        self.sent: list[list[Event]] = []

    def send(self, events: list[Event]) -> None:
        self.sending.set()
        assert self.opened.wait(10), "the test never opened the pipe"
        self.sent.append(events)


def until(predicate, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_commits_go_on_while_the_web_process_is_stuck_and_the_newest_arrive_in_order(caplog):
    pipe = StuckPipe()
    hand_over = EventHandOver(pipe, capacity=8)  # type: ignore[arg-type]
    hand_over.start()
    hand_over.committed(batch(1))
    assert pipe.sending.wait(5)  # the sender is stuck on the first batch

    caplog.set_level(logging.WARNING, logger="safezone.sos.gateway_process")
    started = time.monotonic()
    for event_id in range(2, 202):
        hand_over.committed(batch(event_id))
    assert time.monotonic() - started < 0.5, "a commit waited for the stuck web process"
    assert hand_over.dropped == 200 - 8
    drops = [r for r in caplog.records if "dropping the oldest" in r.getMessage()]
    assert len(drops) == 1, "one warning per burst of drops"

    pipe.opened.set()
    until(lambda: len(pipe.sent) == 9)
    assert [events[0].id for events in pipe.sent] == [1, *range(194, 202)]

    # Caught up: the next drop starts a new burst with a warning of its own.
    pipe.opened.clear()
    pipe.sending.clear()
    hand_over.committed(batch(300))
    assert pipe.sending.wait(5)
    for event_id in range(301, 310):
        hand_over.committed(batch(event_id))
    assert hand_over.dropped == 192 + 1
    drops = [r for r in caplog.records if "dropping the oldest" in r.getMessage()]
    assert len(drops) == 2
    pipe.opened.set()
    until(lambda: len(pipe.sent) == 18)
    assert [events[0].id for events in pipe.sent[9:]] == [300, *range(302, 310)]
    hand_over.close()


def test_a_full_os_pipe_never_blocks_a_commit():
    """A real pipe that nobody reads fills after some 64 KiB; commits go on regardless."""
    events_in, events_out = multiprocessing.Pipe(duplex=False)
    hand_over = EventHandOver(events_out, capacity=16)
    hand_over.start()
    try:
        started = time.monotonic()
        for n in range(500):
            hand_over.committed(batch(n * 10 + 1, size=10, payload="x" * 200))
        assert time.monotonic() - started < 1.0, "a commit waited for the full pipe"
        assert hand_over.dropped > 0
        received: list[int] = []
        until(lambda: _drain(events_in, received) and received[-1] == 4991 + 9)
        # Whatever got through arrives in order, the newest batches all of it.
        assert received == sorted(received)
        assert received[-160:] == list(range(4841, 5001))
    finally:
        hand_over.close()
        events_in.close()
        events_out.close()


def _drain(conn, received: list[int]) -> bool:
    while conn.poll(0.05):
        received.extend(e.id for e in conn.recv())
    return bool(received)


def test_the_sender_reports_the_web_process_gone_and_commits_do_not_wait():
    gone_in: list[str] = []
    reported = threading.Event()

    class ClosedPipe:
        def send(self, events: list[Event]) -> None:
            raise BrokenPipeError(32, "Broken pipe")

    def on_gone() -> None:
        gone_in.append(threading.current_thread().name)
        reported.set()

    hand_over = EventHandOver(ClosedPipe(), on_gone=on_gone)  # type: ignore[arg-type]
    hand_over.start()
    hand_over.committed(batch(1))  # does not raise in the storing thread
    assert reported.wait(5)
    assert gone_in == ["gateway-events-out"]


def test_a_batch_that_cannot_be_sent_does_not_end_the_sender(caplog):
    """A batch the pipe refuses (it cannot be pickled, say) is logged and skipped; the
    batches after it still reach the web process."""
    sent: list[list[int]] = []

    class PickyPipe:
        def send(self, events: list[Event]) -> None:
            if events[0].id == 2:
                raise TypeError("cannot pickle this payload")
            sent.append([e.id for e in events])

    hand_over = EventHandOver(PickyPipe(), on_gone=lambda: None)  # type: ignore[arg-type]
    hand_over.start()
    with caplog.at_level(logging.ERROR):
        for first in (1, 2, 3):
            hand_over.committed(batch(first))
        until(lambda: len(sent) == 2)
    hand_over.close()
    assert sent == [[1], [3]]
    assert "could not be sent" in caplog.text
