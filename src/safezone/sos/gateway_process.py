"""The MQTT gateway in a process of its own.

In the web process the gateway shares one interpreter lock with every HTTP request, so
under load a press waits for request handlers before it is even read from the socket.
In its own process it has a core's worth of Python to itself: it reads the press, stores
it (durable before acknowledged, as always) and hands the committed events to the web
process through a pipe, where event streams send them at once (``StreamHub``) and the
relay publishes them to the bus. The storing threads never wait on that pipe
(``EventHandOver``): a stalled web process delays screen updates, never an SOS.

The web process supervises it: a gateway that dies is started again, and it dies with
the web process (on Linux through PR_SET_PDEATHSIG, elsewhere by watching its parent),
so a killed server never leaves a gateway behind holding the broker session.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from safezone.config import Settings
from safezone.core.bus import Event
from safezone.core.runtime import freeze_startup_objects

log = logging.getLogger(__name__)

RESTART_DELAY_S = 1.0  # after a crash; doubled for each quick crash after it
RESTART_DELAY_MAX_S = 30.0
STABLE_AFTER_S = 60.0  # a gateway up this long crashed once, not in a loop
_PR_SET_PDEATHSIG = 1
# Committed batches waiting for the pipe: at two events a batch or more, more than the web
# process's hub keeps (realtime.service.RECENT_EVENTS, 2,048); older ones it would evict.
HANDOVER_BATCHES = 1024


def restart_delay(quick_crashes: int) -> float:
    """How long to wait before starting a gateway that has crashed ``quick_crashes`` times
    in a row (a bad broker address must not become a crash loop)."""
    return min(RESTART_DELAY_S * float(2 ** min(quick_crashes, 16)), RESTART_DELAY_MAX_S)


def _die_with_parent(parent_pid: int) -> None:
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)

    def watch() -> None:
        while True:
            threading.Event().wait(1.0)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _web_process_gone() -> None:
    os._exit(1)  # the web process restarts us if it comes back


class EventHandOver:
    """Hands committed events to the web process without ever blocking a storing thread.

    ``committed`` (a commit listener) only queues the batch; a sender thread of its own
    writes the queue to the pipe. If the web process stops reading (its event loop
    stalled), the pipe fills and only the sender waits, while presses go on being stored
    and acknowledged. The queue holds ``capacity`` batches; when full, the oldest batch
    is dropped and counted (``dropped``), with one warning per burst of drops. Dropping
    loses no event: every event is in the outbox, the web process's relay publishes from
    there on its next poll, and its event streams read the outbox whenever the ids they
    are handed have a gap (``StreamHub.recent_after``). A dropped batch only delays a
    screen update. When the web process is gone (the pipe is closed), the sender calls
    ``on_gone``, which by default ends this process.
    """

    def __init__(
        self,
        conn: Connection,
        *,
        capacity: int = HANDOVER_BATCHES,
        on_gone: Callable[[], None] = _web_process_gone,
    ) -> None:
        self._conn = conn
        self._capacity = capacity
        self._on_gone = on_gone
        self._pending: deque[list[Event]] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._burst = 0  # batches dropped since the queue last emptied
        self.dropped = 0  # batches dropped in all
        self._thread = threading.Thread(
            target=self._send_all, name="gateway-events-out", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        """Stop sending; what is still queued is in the outbox anyway."""
        with self._cond:
            self._closed = True
            self._pending.clear()
            self._cond.notify()

    def committed(self, events: list[Event]) -> None:
        if not events:
            return
        with self._cond:
            if self._closed:
                return
            dropped = None
            if len(self._pending) >= self._capacity:
                dropped = self._pending.popleft()
                self.dropped += 1
                self._burst += 1
            first_of_burst = self._burst == 1 and dropped is not None
            self._pending.append(events)
            self._cond.notify()
        if dropped is not None and first_of_burst:
            log.warning(
                "the web process is not reading committed events; dropping the oldest "
                "(events %d-%d); its screens will catch up from the outbox",
                dropped[0].id,
                dropped[-1].id,
            )

    def _send_all(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    if self._burst:
                        log.info(
                            "the web process reads committed events again; "
                            "%d batches were dropped meanwhile",
                            self._burst,
                        )
                        self._burst = 0
                    self._cond.wait()
                if self._closed:
                    return
                events = self._pending.popleft()
            try:
                self._conn.send(events)
            except OSError:
                self._on_gone()
                return
            except Exception:  # one batch that cannot be sent must not end the sender
                log.exception("a batch of %d committed events could not be sent", len(events))


def _run(
    settings: Settings,
    events_out: Connection,
    connected: Any,
    stop: Connection,
    parent_pid: int,
) -> None:
    """The gateway process: connect, store what arrives, report committed events."""
    _die_with_parent(parent_pid)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: [gateway] %(message)s")
    sys.setswitchinterval(0.001)
    from safezone.core.db import Database
    from safezone.sos.gateway import MqttGateway

    db = Database(settings.resolved_database_url)
    db.start_checkpoints()
    hand_over = EventHandOver(events_out)
    hand_over.start()
    db.commit_listeners.append(hand_over.committed)
    gateway = MqttGateway(
        db,
        url=settings.mqtt_url or "",
        client_id=settings.mqtt_client_id,
        tolerance_s=settings.sos_clock_tolerance_s,
        connected=connected,
    )
    gateway.start()
    freeze_startup_objects()
    gateway.collect_garbage_between_presses()
    try:
        stop.poll(None)  # a word from the web process, or its end of the pipe closing
    finally:
        gateway.stop()
        hand_over.close()
        db.dispose()


class GatewayProcess:
    """Starts, watches and stops the gateway process; ``connected`` mirrors its link.

    Each start gets fresh synchronisation objects: a process killed while it held a
    multiprocessing lock leaves that lock taken, and reusing it would hang the next stop.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._ctx = multiprocessing.get_context("spawn")
        self.connected: Any = self._ctx.Event()
        self._stop: Connection | None = None
        self._process: Any = None
        self._events_in: Connection | None = None
        self._on_events: Callable[[list[Event]], None] = lambda events: None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self._quick_crashes = 0
        self._started_at = 0.0

    def start(self, on_events: Callable[[list[Event]], None]) -> None:
        """Start the process; ``on_events`` runs on the event loop for each commit there."""
        self._on_events = on_events
        self._loop = asyncio.get_running_loop()
        self._spawn()

    def _spawn(self) -> None:
        assert self._loop is not None
        events_in, events_out = self._ctx.Pipe(duplex=False)
        stop_in, stop_out = self._ctx.Pipe(duplex=False)
        self.connected = self._ctx.Event()
        self._process = self._ctx.Process(
            target=_run,
            args=(self.settings, events_out, self.connected, stop_in, os.getpid()),
            name="safezone-mqtt-gateway",
            daemon=True,
        )
        self._process.start()
        self._started_at = time.monotonic()
        events_out.close()
        stop_in.close()
        self._stop = stop_out
        self._events_in = events_in
        self._loop.add_reader(events_in.fileno(), self._readable)

    def _readable(self) -> None:
        conn = self._events_in
        if conn is None:
            return
        try:
            while conn.poll():
                self._on_events(conn.recv())
        except (EOFError, OSError):
            self._gone()

    def _gone(self) -> None:
        assert self._loop is not None
        if self._events_in is not None:
            self._loop.remove_reader(self._events_in.fileno())
            self._events_in.close()
            self._events_in = None
        self.connected = self._ctx.Event()  # not .clear(): the dead process may hold its lock
        if self._stop is not None:
            self._stop.close()
            self._stop = None
        if self._process is not None:
            self._process.join(timeout=5)
        if self._stopping:
            return
        code = self._process.exitcode if self._process is not None else None
        if time.monotonic() - self._started_at >= STABLE_AFTER_S:
            self._quick_crashes = 0
        delay = restart_delay(self._quick_crashes)
        self._quick_crashes += 1
        log.error(
            "the MQTT gateway process ended (exit %s); starting it again in %.0f s", code, delay
        )
        self._loop.call_later(delay, self._restart)

    def _restart(self) -> None:
        if not self._stopping:
            self._spawn()

    def stop(self) -> None:
        self._stopping = True
        if self._stop is not None:
            self._stop.close()  # the gateway sees the pipe end and stops
            self._stop = None
        if self._loop is not None and self._events_in is not None:
            self._loop.remove_reader(self._events_in.fileno())
            self._events_in.close()
            self._events_in = None
        if self._process is not None:
            self._process.join(timeout=10)
            if self._process.is_alive():
                self._process.terminate()
                self._process.join(timeout=5)
