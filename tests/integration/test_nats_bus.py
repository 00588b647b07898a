"""The NATS JetStream event bus against the real server on this machine.

Each test gets its own stream and subject prefix (deleted afterwards), so tests never see
each other's events, nor those of a SafeZone running on the same server. The tests that
need a server skip when none is reachable, unless SAFEZONE_REQUIRE_SERVICES=1 (CI).
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import nats
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from safezone.app import create_app
from safezone.core.bus import Event, make_bus
from safezone.core.bus.nats import BusUnavailable, NatsBus, parse_url
from safezone.core.bus.outbox import OutboxEvent
from tests.conftest import INSIDE

NATS_URL = os.environ.get("SAFEZONE_TEST_NATS_URL", "nats://127.0.0.1:4222")
T = TypeVar("T")


def reachable(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port or 4222), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture
def nats_url() -> str:
    if not reachable(NATS_URL):
        if os.environ.get("SAFEZONE_REQUIRE_SERVICES") == "1":
            pytest.fail(f"the NATS server at {NATS_URL} is unreachable")
        pytest.skip(f"no NATS server at {NATS_URL}")
    return NATS_URL


async def _delete_stream(server: str, stream: str) -> None:
    nc = await nats.connect(server, connect_timeout=2, max_reconnect_attempts=0)
    try:
        await nc.jetstream().delete_stream(stream)
    except nats.js.errors.NotFoundError:
        pass
    finally:
        await nc.close()


class Lane:
    """A private stream and subject prefix on a NATS server, for one test."""

    def __init__(self, server: str) -> None:
        tag = uuid.uuid4().hex[:10]
        self.server = server
        self.stream = f"SZTEST_{tag}"
        self.prefix = f"sztest.{tag}"
        self.url = f"{server}?stream={self.stream}&prefix={self.prefix}"

    def bus(self, **options: Any) -> NatsBus:
        return NatsBus([self.server], stream=self.stream, subject_prefix=self.prefix, **options)


@pytest.fixture
def lane(nats_url: str) -> Iterator[Lane]:
    lane = Lane(nats_url)
    yield lane
    asyncio.run(_delete_stream(nats_url, lane.stream))


def run(scenario: Awaitable[T], timeout_s: float = 60.0) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(scenario, timeout=timeout_s)

    return asyncio.run(bounded())


async def until(predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.02)


def event(n: int, **overrides: Any) -> Event:
    fields: dict[str, Any] = {
        "id": n,
        "event_id": str(uuid.uuid4()),
        "topic": "incident.note",
        "station_id": "MDH",
        "payload": {"n": n},
        "created_at": datetime.now(UTC),
    }
    fields.update(overrides)
    return Event(**fields)


class Inbox:
    """A handler that keeps what it receives."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    async def __call__(self, event: Event) -> None:
        self.events.append(event)

    def ids(self) -> list[int]:
        return [e.id for e in self.events]


# -- configuration (no server needed) ---------------------------------------------------


def test_make_bus_builds_a_nats_bus_and_refuses_unknown_urls() -> None:
    bus = make_bus("nats://127.0.0.1:4222")
    assert isinstance(bus, NatsBus)
    assert bus.servers == ["nats://127.0.0.1:4222"]
    assert bus.stream == "SAFEZONE_EVENTS"
    assert bus.subject_for(event(1, topic="incident.created")) == (
        "safezone.events.MDH.incident.created"
    )
    assert bus.subject_for(event(1, station_id=None, topic="alert.x y")) == (
        "safezone.events._.alert.x_y"
    )
    with pytest.raises(ValueError, match="kafka://x"):
        make_bus("kafka://x")


def test_url_with_credentials_several_servers_and_options() -> None:
    servers, options = parse_url(
        "nats://sz:s3cret@10.0.0.1:4222,10.0.0.2:4223, nats://10.0.0.3?stream=SZ_STAGING"
        "&prefix=staging.events"
    )
    assert servers == ["nats://sz:s3cret@10.0.0.1:4222", "nats://10.0.0.2:4223", "nats://10.0.0.3"]
    assert options == {"stream": "SZ_STAGING", "prefix": "staging.events"}
    bus = make_bus("nats://sz:s3cret@10.0.0.1:4222?stream=SZ_STAGING&prefix=staging.events")
    assert isinstance(bus, NatsBus)
    assert (bus.stream, bus.subject_prefix) == ("SZ_STAGING", "staging.events")
    with pytest.raises(ValueError, match="unknown option 'bogus'"):
        make_bus("nats://127.0.0.1?bogus=1")
    with pytest.raises(ValueError, match="stream name"):
        make_bus("nats://127.0.0.1?stream=a.b")
    with pytest.raises(ValueError) as refused:
        make_bus("nats://sz:s3cret@10.0.0.1:4222,http://sz:s3cret@x")
    assert "s3cret" not in str(refused.value)


def test_publish_raises_when_no_server_answers() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def scenario() -> None:
        bus = NatsBus([f"nats://user:pw@127.0.0.1:{port}"], publish_timeout_s=0.5)
        with pytest.raises(BusUnavailable) as failed:
            await bus.publish(event(1))
        assert "pw" not in str(failed.value)
        await bus.close()

    run(scenario())


# -- against the real server ------------------------------------------------------------


def test_every_process_receives_every_event(lane: Lane) -> None:
    async def scenario() -> None:
        a, b = lane.bus(), lane.bus()
        got_a, got_b, got_b2 = Inbox(), Inbox(), Inbox()
        a.subscribe(got_a)
        b.subscribe(got_b)
        b.subscribe(got_b2)
        await a.start()
        await b.start()
        await a.publish(event(1))
        await b.publish(event(2))
        await until(lambda: got_a.ids() == [1, 2] and got_b.ids() == [1, 2])
        assert got_b2.ids() == [1, 2]  # fan-out inside a process too
        await a.close()
        await b.close()

    run(scenario())


def test_a_closed_bus_can_be_used_again(lane: Lane) -> None:
    bus = lane.bus()

    async def scenario(n: int) -> None:
        first = Inbox()
        bus.subscribe(first)
        await bus.publish(event(n))
        await until(lambda: first.ids() == [n])
        await bus.close()
        assert not bus.ready
        again = Inbox()
        bus.subscribe(again)
        await bus.publish(event(n + 1))
        await until(lambda: again.ids() == [n + 1])
        assert first.ids() == [n]
        await bus.close()

    run(scenario(1))
    run(scenario(3))  # the same bus, in another event loop


def test_order_is_kept_for_100_events(lane: Lane) -> None:
    async def scenario() -> None:
        a, b = lane.bus(), lane.bus()
        got_a, got_b = Inbox(), Inbox()
        a.subscribe(got_a)
        b.subscribe(got_b)
        await b.start()
        for n in range(1, 101):
            await a.publish(event(n))
        await until(lambda: len(got_a.events) >= 100 and len(got_b.events) >= 100)
        await asyncio.sleep(0.2)
        assert got_a.ids() == list(range(1, 101))
        assert got_b.ids() == list(range(1, 101))
        await a.close()
        await b.close()

    run(scenario())


def test_a_repeated_event_id_is_delivered_once(lane: Lane) -> None:
    async def scenario() -> None:
        a, b = lane.bus(), lane.bus()
        got = Inbox()
        b.subscribe(got)
        await b.start()
        repeated = event(1)
        for _ in range(3):  # the relay after a crash between publish and mark
            await a.publish(repeated)
        await b.publish(repeated)  # a second node's relay publishing the same row
        await a.publish(event(2))
        await until(lambda: 2 in got.ids())
        await asyncio.sleep(0.2)
        assert got.ids() == [1, 2]
        await a.close()
        await b.close()

    run(scenario())


def test_a_failing_handler_does_not_stop_later_events(
    lane: Lane, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[int] = []

    async def broken(e: Event) -> None:
        calls.append(e.id)
        raise ValueError("consumer bug")

    async def scenario() -> None:
        bus = lane.bus()
        healthy = Inbox()
        bus.subscribe(broken)
        bus.subscribe(healthy)
        for n in (1, 2, 3):
            await bus.publish(event(n))
        await until(lambda: healthy.ids() == [1, 2, 3])
        await bus.close()

    with caplog.at_level(logging.ERROR, logger="safezone.core.bus.nats"):
        run(scenario())
    assert calls == [1, 2, 3]
    assert "event handler failed for incident.note #1" in caplog.text


def test_unsubscribe_stops_delivery_to_that_handler(lane: Lane) -> None:
    async def scenario() -> None:
        bus = lane.bus()
        kept, dropped = Inbox(), Inbox()
        bus.subscribe(kept)
        unsubscribe = bus.subscribe(dropped)
        await bus.publish(event(1))
        await until(lambda: dropped.ids() == [1])
        unsubscribe()
        await bus.publish(event(2))
        await until(lambda: kept.ids() == [1, 2])
        assert dropped.ids() == [1]
        await bus.close()

    run(scenario())


def test_event_round_trips_exactly_with_its_subject_and_msg_id(lane: Lane) -> None:
    bangkok = timezone(timedelta(hours=7))
    sent = [
        event(
            41,
            topic="incident.created",
            payload={
                "incident": {"id": 7, "description": "ล้วงกระเป๋าในตลาด pickpocket"},
                "tags": ["ด่วน", None, 1.5, True],
            },
            created_at=datetime(2026, 11, 3, 14, 5, 9, 123456, tzinfo=UTC),
        ),
        event(42, station_id=None, payload={}, created_at=datetime.now(bangkok)),
    ]

    async def scenario() -> None:
        bus = lane.bus()
        got = Inbox()
        bus.subscribe(got)
        for e in sent:
            await bus.publish(e)
        await until(lambda: len(got.events) == 2)
        assert got.events == sent
        for received, original in zip(got.events, sent, strict=True):
            assert received.created_at.utcoffset() == original.created_at.utcoffset()
        await bus.close()

        nc = await nats.connect(lane.server)
        js = nc.jetstream()
        stored = [await js.get_msg(lane.stream, seq) for seq in (1, 2)]
        await nc.close()
        assert [m.subject for m in stored] == [
            f"{lane.prefix}.MDH.incident.created",
            f"{lane.prefix}._.incident.note",
        ]
        assert [(m.headers or {}).get("Nats-Msg-Id") for m in stored] == [e.event_id for e in sent]

    run(scenario())


def test_stream_is_made_with_file_storage_retention_and_dedupe_window(lane: Lane) -> None:
    async def scenario() -> None:
        bus = lane.bus()
        await bus.start()
        await bus.close()
        nc = await nats.connect(lane.server)
        info = await nc.jetstream().stream_info(lane.stream)
        await nc.close()
        assert info.config.subjects == [f"{lane.prefix}.>"]
        assert info.config.storage == nats.js.api.StorageType.FILE
        assert info.config.max_age == 7 * 24 * 3600
        assert info.config.duplicate_window == 600

    run(scenario())


def test_a_subscriber_gets_events_published_before_its_consumer_is_recreated(
    lane: Lane,
) -> None:
    """A consumer that vanished (expired during an outage) is recreated from the next
    sequence the bus has not handled yet: nothing published meanwhile is lost."""

    async def scenario() -> None:
        a, b = lane.bus(), lane.bus(check_interval_s=0.2)
        got = Inbox()
        b.subscribe(got)
        await b.start()
        await a.publish(event(1))
        await until(lambda: got.ids() == [1])
        nc = await nats.connect(lane.server)
        js = nc.jetstream()
        for info in await js.consumers_info(lane.stream):
            await js.delete_consumer(lane.stream, info.name)
        await nc.close()
        await a.publish(event(2))
        await a.publish(event(3))
        await until(lambda: got.ids() == [1, 2, 3])
        await a.close()
        await b.close()

    run(scenario())


# -- a server that goes away and comes back ---------------------------------------------


class PrivateServer:
    """A nats-server of our own, on a free port, that the test may kill and restart."""

    def __init__(self, store: Path) -> None:
        binary = shutil.which("nats-server")
        if binary is None:
            pytest.skip("the nats-server binary is not installed")
        self.binary = binary
        self.store = store
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"nats://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.store)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not reachable(self.url):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("the private nats-server did not start")
            time.sleep(0.05)

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None


@pytest.fixture
def private_server(tmp_path: Path) -> Iterator[PrivateServer]:
    server = PrivateServer(tmp_path / "jetstream")
    server.start()
    yield server
    server.kill()


def test_bus_rides_out_a_server_restart(private_server: PrivateServer) -> None:
    """Publishing fails while the server is down (the relay keeps the row and retries);
    afterwards both buses carry on, and the subscriber misses nothing."""

    async def scenario() -> None:
        options: dict[str, Any] = {"publish_timeout_s": 1.0, "check_interval_s": 0.5}
        a = NatsBus([private_server.url], **options)
        b = NatsBus([private_server.url], **options)
        got = Inbox()
        b.subscribe(got)
        await b.start()
        await a.publish(event(1))
        await until(lambda: got.ids() == [1])

        private_server.kill()
        with pytest.raises(BusUnavailable):
            await a.publish(event(2))

        private_server.start()
        await a.start(timeout_s=20)
        await a.publish(event(2))
        await a.publish(event(3))
        await until(lambda: got.ids() == [1, 2, 3], timeout_s=20)
        await a.close()
        await b.close()

    run(scenario(), timeout_s=90)


# -- two SafeZone processes sharing one database ----------------------------------------


def test_an_incident_made_on_one_node_reaches_the_other_nodes_bus(
    settings: Any, db: Any, auth: Callable[[str], dict[str, str]], lane: Lane
) -> None:
    node_settings = settings.model_copy(update={"bus_url": lane.url})
    app_a = create_app(node_settings, database=db)
    app_b = create_app(node_settings, database=db)
    assert isinstance(app_a.state.bus, NatsBus) and isinstance(app_b.state.bus, NatsBus)
    received: queue.Queue[Event] = queue.Queue()

    async def on_b(e: Event) -> None:
        received.put(e)

    with TestClient(app_b) as node_b, TestClient(app_a) as node_a:
        assert node_b.portal is not None
        node_b.portal.call(app_b.state.bus.subscribe, on_b)
        node_b.portal.call(app_b.state.bus.start)
        body = {
            "category": "theft",
            "priority": "high",
            "description": "ล้วงกระเป๋าในตลาด pickpocket",
            "lat": INSIDE[0],
            "lon": INSIDE[1],
        }
        r = node_a.post("/api/v1/incidents", json=body, headers=auth("operator"))
        assert r.status_code == 201, r.text
        incident_id = r.json()["id"]

        deadline = time.monotonic() + 15
        got: Event | None = None
        seen: list[Event] = []
        while got is None:
            try:
                e = received.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"node B's bus did not get incident.created: {seen}") from None
            seen.append(e)
            if e.topic == "incident.created" and e.payload["incident"]["id"] == incident_id:
                got = e
        time.sleep(0.5)  # both nodes' relays published the row: NATS kept one copy
        while not received.empty():
            seen.append(received.get())

    assert [e.event_id for e in seen].count(got.event_id) == 1
    with db.reader() as session:
        row = session.scalars(select(OutboxEvent).where(OutboxEvent.event_id == got.event_id)).one()
        assert row.published_at is not None
        assert row.to_event() == got
