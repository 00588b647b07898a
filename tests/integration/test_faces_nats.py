"""Face analysis workers sharing cameras over the real NATS JetStream bus: two workers
(as two processes would), frames named by snapshot URL, matches in the review queue."""

from __future__ import annotations

import asyncio
import os
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from safezone.core.db import Database
from safezone.faces.engine import FaceEngine
from safezone.faces.jobs import DatabaseWorker
from safezone.faces.models import FaceMatch
from safezone.faces.pipeline import encode_jpeg
from safezone.faces.scenes import Scene, Walker, sample_face, scaled
from safezone.faces.worker import frame_event, owner_of, publish_frame
from tests.conftest import register_camera
from tests.faces.test_watchlist import entry_body
from tests.integration.test_nats_bus import NATS_URL, Lane, _delete_stream, reachable, run, until

FRAMES: dict[str, list[bytes]] = {}


class _Cameras(BaseHTTPRequestHandler):
    """Each camera's snapshot URL gives its next frame."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        found = re.fullmatch(r"/(?P<cam>[\w-]+)/snapshot\.jpg", self.path)
        if found is None or not FRAMES.get(found["cam"]):
            self.send_error(404)
            return
        data = FRAMES[found["cam"]].pop(0)
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def nats_lane() -> Iterator[Lane]:
    if not reachable(NATS_URL):
        if os.environ.get("SAFEZONE_REQUIRE_SERVICES") == "1":
            pytest.fail(f"the NATS server at {NATS_URL} is unreachable")
        pytest.skip(f"no NATS server at {NATS_URL}")
    lane = Lane(NATS_URL)
    yield lane
    asyncio.run(_delete_stream(NATS_URL, lane.stream))


@pytest.fixture
def cameras() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Cameras)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _one_camera_each(count: int) -> list[str]:
    chosen: dict[int, str] = {}
    n = 0
    while len(chosen) < count:
        chosen.setdefault(owner_of(f"CAM-{n}", count), f"CAM-{n}")
        n += 1
    return [chosen[i] for i in range(count)]


def test_two_workers_share_cameras_over_nats(
    nats_lane: Lane, cameras: str, app: Any, db: Database, settings: Any, auth: Any
) -> None:
    from fastapi.testclient import TestClient

    engine = FaceEngine()
    app.state.face_engine = engine
    with TestClient(app) as client:
        r = client.post("/api/v1/faces/watchlist", json=entry_body(), headers=auth("commander"))
        assert r.status_code == 201, r.text
    cam0, cam1 = _one_camera_each(2)
    scene = Scene(
        seed=3,
        kind="faces",
        walkers=[Walker(scaled(sample_face("collins"), 220), (100, 200), (12, 0))],
    )
    frames = [encode_jpeg(scene.frame(i)) for i in range(6)]
    FRAMES.update({cam0: list(frames), cam1: list(frames)})
    for cam in (cam0, cam1):  # workers fetch only from a camera's registered URL
        register_camera(db, cam, snapshot_url=f"{cameras}/{cam}/snapshot.jpg")

    async def scenario() -> tuple[DatabaseWorker, DatabaseWorker]:
        buses = [nats_lane.bus(), nats_lane.bus(), nats_lane.bus()]  # two workers and a publisher
        workers = [
            DatabaseWorker(db, media_dir=settings.media_dir, engine=FaceEngine(), index=i, count=2)
            for i in range(2)
        ]
        for worker, bus in zip(workers, buses, strict=False):
            await worker.start(bus)
            await bus.start()
        publisher = buses[2]
        await publisher.start()
        with pytest.raises(ValueError, match="snapshot_url"):
            await publish_frame(
                publisher, frame_event(camera_id=cam0, station_id="MDH", jpeg=frames[0])
            )
        for _ in frames:
            for cam in (cam0, cam1):
                url = f"{cameras}/{cam}/snapshot.jpg"
                await publish_frame(
                    publisher, frame_event(camera_id=cam, station_id="MDH", snapshot_url=url)
                )
        await until(lambda: all(len(w.queued) == 1 for w in workers), timeout_s=90)
        for worker in workers:
            await worker.stop()
        for bus in buses:
            await bus.close()
        return workers[0], workers[1]

    w0, w1 = run(scenario(), timeout_s=120)
    assert set(w0.worker.pipelines) == {cam0} and set(w1.worker.pipelines) == {cam1}
    for w in (w0, w1):  # each saw all 12 frames and took its own 6
        assert (w.worker.stats.received, w.worker.stats.ignored, w.worker.stats.failed) == (6, 6, 0)
    with db.reader() as session:
        queued = sorted(m.camera_id for m in session.scalars(select(FaceMatch)))
    assert queued == sorted([cam0, cam1])
