"""End to end from a simulated camera: `safezone simulate cameras` plays a street where a
watchlisted person walks by; an analysis worker, fed the camera's snapshot URL as the
frame feeder does, matches her over several frames, and the operators' live event stream
delivers the review item (the /faces page and the dashboard listen to that stream)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx

from safezone.cameras.simulator import Simulator
from safezone.core.bus import MemoryBus
from safezone.core.db import Database
from safezone.faces.engine import FaceEngine
from safezone.faces.jobs import DatabaseWorker
from safezone.faces.worker import frame_event, publish_frame
from tests.conftest import register_camera
from tests.faces.test_watchlist import entry_body

CAMERA = "SIM-CAM-01"


def test_a_watchlisted_face_on_a_simulated_camera_reaches_the_operators(
    live_server: Any, auth: Any, db: Database, settings: Any, engine: FaceEngine
) -> None:
    with (
        Simulator(1, http_port=0, fps=5) as simulator,
        httpx.Client(base_url=live_server.url, timeout=httpx.Timeout(15.0)) as http,
    ):
        # Camera 1 of the simulator shows two people walking by; one of them is enrolled.
        # The worker fetches only from the snapshot URL the registry holds for the camera.
        register_camera(db, CAMERA, snapshot_url=simulator.snapshot_url(1))
        r = http.post("/api/v1/faces/watchlist", json=entry_body(), headers=auth("commander"))
        assert r.status_code == 201, r.text
        entry_id = r.json()["id"]

        def pending() -> list[dict[str, Any]]:
            listed = http.get("/api/v1/faces/matches?status=pending", headers=auth("operator"))
            assert listed.status_code == 200, listed.text
            return list(listed.json())

        async def analyse() -> int:
            bus = MemoryBus()
            worker = DatabaseWorker(db, media_dir=settings.media_dir, engine=engine)
            await worker.start(bus)
            frames = 0
            try:
                deadline = time.monotonic() + 30  # the scene loops every 12 s
                while time.monotonic() < deadline:
                    await publish_frame(
                        bus,
                        frame_event(
                            camera_id=CAMERA,
                            station_id="MDH",
                            snapshot_url=simulator.snapshot_url(1),
                        ),
                    )
                    await worker.worker.drain()
                    frames += 1
                    if await asyncio.to_thread(pending):
                        break
                    await asyncio.sleep(0.2)  # the simulator plays at 5 fps
            finally:
                await worker.stop()
            return frames

        frames = asyncio.run(analyse())
        [match] = pending()
        assert (match["entry_id"], match["camera_id"]) == (entry_id, CAMERA), match
        assert frames >= 3  # never on one frame

        headers = {**auth("operator"), "Last-Event-ID": "0"}
        item: dict[str, Any] = {}
        with http.stream("GET", "/api/v1/events/stream", headers=headers) as response:
            assert response.status_code == 200
            seen: list[str] = []
            for line in response.iter_lines():
                if line.startswith("event: "):
                    seen.append(line.removeprefix("event: "))
                if line.startswith("data: ") and seen and seen[-1] == "faces.review":
                    item = json.loads(line.removeprefix("data: "))
                    break
                assert len(seen) < 200, seen
    assert item["match"]["camera_id"] == CAMERA
    assert item["match"]["status"] == "pending"
