from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from safezone.cameras.service import RegisteredCamera
from safezone.core.bus import Event, Handler, MemoryBus
from safezone.core.db import Database
from safezone.faces.engine import Embedding, FaceEngine
from safezone.faces.jobs import DatabaseWorker
from safezone.faces.matcher import Watchlist
from safezone.faces.pipeline import MatchCandidate, encode_jpeg
from safezone.faces.scenes import Scene, Walker, sample_face, scaled
from safezone.faces.worker import (
    FRAME_TOPIC,
    AnalysisWorker,
    frame_event,
    owner_of,
    publish_frame,
)
from tests.conftest import register_camera


def _scene(name: str) -> Scene:
    return Scene(
        seed=3, kind="faces", walkers=[Walker(scaled(sample_face(name), 220), (100, 200), (12, 0))]
    )


def _frames(name: str, n: int) -> list[bytes]:
    scene = _scene(name)
    return [encode_jpeg(scene.frame(i)) for i in range(n)]


def _cameras_for(count: int) -> list[str]:
    """One camera id owned by each of ``count`` workers."""
    chosen: dict[int, str] = {}
    n = 0
    while len(chosen) < count:
        cam = f"CAM-{n}"
        chosen.setdefault(owner_of(cam, count), cam)
        n += 1
    return [chosen[i] for i in range(count)]


def test_workers_share_cameras_over_the_bus_and_report_matches(
    engine: FaceEngine, collins: Embedding
) -> None:
    cam0, cam1 = _cameras_for(2)
    frames = _frames("collins", 8)
    got: list[tuple[int, MatchCandidate, str | None]] = []

    def sink_for(index: int) -> Callable[[MatchCandidate, str | None], object]:
        async def sink(candidate: MatchCandidate, station_id: str | None) -> None:
            got.append((index, candidate, station_id))

        return sink

    async def scenario() -> tuple[AnalysisWorker, AnalysisWorker]:
        bus = MemoryBus()
        workers = [
            AnalysisWorker(
                engine=engine,
                watchlist=Watchlist([("wanted-1", collins)]),
                sink=sink_for(i),  # type: ignore[arg-type]
                index=i,
                count=2,
                queue_size=64,
            )
            for i in range(2)
        ]
        for w in workers:
            w.start(bus)
        for jpeg in frames:
            for cam in (cam0, cam1):
                await publish_frame(bus, frame_event(camera_id=cam, station_id="MDH", jpeg=jpeg))
        for w in workers:
            await w.drain()
            await w.stop()
        return workers[0], workers[1]

    w0, w1 = asyncio.run(scenario())
    assert (w0.stats.analysed, w0.stats.failed, w0.pipelines[cam0].stats.faces) == (8, 0, 8)
    assert (w0.stats.received, w0.stats.ignored) == (8, 8)
    assert (w1.stats.received, w1.stats.ignored) == (8, 8)
    assert set(w0.pipelines) == {cam0} and set(w1.pipelines) == {cam1}
    assert sorted((i, c.camera_id, c.entry_id, s) for i, c, s in got) == [
        (0, cam0, "wanted-1", "MDH"),
        (1, cam1, "wanted-1", "MDH"),
    ]


def test_a_backlog_drops_the_oldest_frames(engine: FaceEngine) -> None:
    async def scenario() -> AnalysisWorker:
        async def sink(candidate: MatchCandidate, station_id: str | None) -> None:
            raise AssertionError("no watchlist, no match")

        worker = AnalysisWorker(engine=engine, watchlist=Watchlist(), sink=sink, queue_size=2)
        bus = MemoryBus()
        worker.start(bus)
        jpeg = _frames("hopper", 1)[0]
        for _ in range(6):  # published faster than a frame is analysed
            await bus.publish(frame_event(camera_id="CAM-X", station_id=None, jpeg=jpeg))
        await worker.drain()
        await worker.stop()
        return worker

    worker = asyncio.run(scenario())
    assert worker.stats.received == 6
    assert worker.stats.dropped >= 3
    assert worker.stats.analysed + worker.stats.dropped == 6


def test_bad_frames_are_counted_and_skipped(engine: FaceEngine) -> None:
    async def scenario() -> AnalysisWorker:
        async def sink(candidate: MatchCandidate, station_id: str | None) -> None:
            raise AssertionError("unexpected match")

        worker = AnalysisWorker(engine=engine, watchlist=Watchlist(), sink=sink)
        bus = MemoryBus()
        worker.start(bus)
        await bus.publish(frame_event(camera_id="CAM-X", station_id=None, jpeg=b"not a jpeg"))
        event = frame_event(camera_id="CAM-X", station_id=None, jpeg=b"x")
        event.payload["jpeg_b64"] = "%%%"
        await bus.publish(event)
        await bus.publish(Event(1, "e", FRAME_TOPIC, None, {"jpeg_b64": ""}, event.created_at))
        other = Event(2, "f", "other.topic", None, {"camera_id": "CAM-X"}, event.created_at)
        await bus.publish(other)
        await worker.drain()
        await worker.stop()
        return worker

    worker = asyncio.run(scenario())
    assert worker.stats.received == 2 and worker.stats.failed == 2 and worker.stats.analysed == 0


class _Snapshots(BaseHTTPRequestHandler):
    frames: list[bytes] = []
    requested: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.requested.append(self.path)
        data = self.frames.pop(0)
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def snapshot_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Snapshots)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/snapshot.jpg"
    server.shutdown()
    server.server_close()


def test_frames_named_by_snapshot_url_are_fetched(
    engine: FaceEngine, collins: Embedding, snapshot_server: str
) -> None:
    _Snapshots.frames = _frames("collins", 6)
    got: list[tuple[MatchCandidate, str | None]] = []
    registry = {"CAM-U": RegisteredCamera("CAM-U", "MDH", True, snapshot_server)}

    async def scenario() -> None:
        async def sink(candidate: MatchCandidate, station_id: str | None) -> None:
            got.append((candidate, station_id))

        worker = AnalysisWorker(
            engine=engine,
            watchlist=Watchlist([("wanted-1", collins)]),
            sink=sink,
            queue_size=64,
            cameras=registry.get,
        )
        bus = MemoryBus()
        worker.start(bus)
        for _ in range(6):
            # The event claims another station; the match goes to the camera's own.
            await bus.publish(
                frame_event(camera_id="CAM-U", station_id="BKK", snapshot_url=snapshot_server)
            )
            await worker.drain()  # one request at a time, in order
        await worker.stop()

    asyncio.run(scenario())
    assert [(c.entry_id, station) for c, station in got] == [("wanted-1", "MDH")]


def test_frame_events_the_camera_registry_does_not_back_are_skipped(
    engine: FaceEngine, db: Database, settings: Any, snapshot_server: str
) -> None:
    """A frame event is fetched only from its camera's registered snapshot URL: anything
    that can publish on the bus must not make a worker fetch from another address."""
    forged = snapshot_server.replace("/snapshot.jpg", "/elsewhere.jpg")
    register_camera(db, "CAM-REG", snapshot_url=snapshot_server)
    register_camera(db, "CAM-OFF", snapshot_url=snapshot_server, active=False)
    register_camera(db, "CAM-NOURL", snapshot_url="")
    _Snapshots.frames = _frames("hopper", 1)
    _Snapshots.requested = []

    async def scenario() -> tuple[AnalysisWorker, AnalysisWorker]:
        bus = MemoryBus()
        worker = DatabaseWorker(db, media_dir=settings.media_dir, engine=engine)
        await worker.start(bus)
        for camera_id, url in [
            ("CAM-GHOST", snapshot_server),  # no such camera
            ("CAM-OFF", snapshot_server),  # inactive
            ("CAM-NOURL", snapshot_server),  # registered without a snapshot URL
            ("CAM-REG", forged),  # not the registered URL
            ("CAM-REG", snapshot_server),  # the one frame that is fetched
        ]:
            await bus.publish(frame_event(camera_id=camera_id, station_id="MDH", snapshot_url=url))
            await worker.worker.drain()
        await worker.stop()

        # A worker with no registry to check against fetches nothing named by URL.
        async def sink(candidate: MatchCandidate, station_id: str | None) -> None:
            raise AssertionError("nothing is analysed")

        bare = AnalysisWorker(engine=engine, watchlist=Watchlist(), sink=sink)
        bare.start(bus)
        await bus.publish(
            frame_event(camera_id="CAM-REG", station_id="MDH", snapshot_url=snapshot_server)
        )
        await bare.drain()
        await bare.stop()
        return worker.worker, bare

    worker, bare = asyncio.run(scenario())
    assert _Snapshots.requested == ["/snapshot.jpg"]  # once, and never the forged address
    assert (worker.stats.received, worker.stats.refused) == (5, 4)
    assert (worker.stats.analysed, worker.stats.failed) == (1, 0)
    assert (bare.stats.refused, bare.stats.analysed) == (1, 0)


def test_images_are_refused_on_a_bus_that_keeps_events() -> None:
    class KeepingBus:
        async def publish(self, event: Event) -> None:
            raise AssertionError("must not be published")

        def subscribe(self, handler: Handler) -> Callable[[], None]:
            return lambda: None

        async def close(self) -> None:
            pass

    event = frame_event(camera_id="CAM-1", station_id=None, jpeg=b"\xff\xd8")
    with pytest.raises(ValueError, match="snapshot_url"):
        asyncio.run(publish_frame(KeepingBus(), event))
    with pytest.raises(ValueError):
        frame_event(camera_id="CAM-1", station_id=None)
    with pytest.raises(ValueError):
        owner_of("CAM-1", 0)
    with pytest.raises(ValueError):
        AnalysisWorker(engine=None, watchlist=Watchlist(), sink=None, index=2, count=2)  # type: ignore[arg-type]


def test_the_worker_command_needs_the_shared_bus(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from safezone.cli import main as cli_main

    monkeypatch.setenv("SAFEZONE_ENV", "test")
    monkeypatch.setenv("SAFEZONE_BUS_URL", "memory://")
    assert cli_main(["--data-dir", str(tmp_path), "faces", "worker"]) == 2
    assert "SAFEZONE_BUS_URL=nats://" in capsys.readouterr().err
    assert cli_main(["--data-dir", str(tmp_path), "faces", "worker", "--index", "2"]) == 2
    assert "--index" in capsys.readouterr().err


def test_a_worker_on_a_shared_bus_skips_frames_that_carry_a_jpeg(engine: FaceEngine) -> None:
    """``publish_frame`` refuses JPEGs on a shared bus, but anything else that can publish
    there could still hand a worker a picture of its choosing; the worker refuses it too."""

    class SharedBus:
        handlers: list[Handler] = []

        async def publish(self, event: Event) -> None:
            for handler in self.handlers:
                await handler(event)

        def subscribe(self, handler: Handler) -> Callable[[], None]:
            self.handlers.append(handler)
            return lambda: None

        async def close(self) -> None:
            pass

    async def scenario() -> AnalysisWorker:
        async def sink(candidate: MatchCandidate, station_id: str | None) -> None:
            raise AssertionError("nothing is analysed")

        worker = AnalysisWorker(engine=engine, watchlist=Watchlist(), sink=sink)
        bus = SharedBus()
        worker.start(bus)
        jpeg = _frames("hopper", 1)[0]
        for _ in range(3):
            await bus.publish(frame_event(camera_id="CAM-X", station_id="MDH", jpeg=jpeg))
        await worker.drain()
        await worker.stop()
        return worker

    worker = asyncio.run(scenario())
    assert (worker.stats.received, worker.stats.refused, worker.stats.analysed) == (3, 3, 0)
