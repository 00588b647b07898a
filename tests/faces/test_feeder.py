from __future__ import annotations

import asyncio
from typing import Any

import pytest

from safezone.core.bus import Event, MemoryBus
from safezone.core.db import Database
from safezone.faces.feeder import FeedTarget, feed, feed_targets
from safezone.faces.worker import FRAME_TOPIC
from tests.conftest import register_camera


def test_targets_are_the_active_cameras_with_a_snapshot_url(db: Database) -> None:
    register_camera(db, "CAM-A", snapshot_url="http://10.1.0.5/snap.jpg")
    register_camera(db, "CAM-B", snapshot_url="")
    register_camera(db, "CAM-C", snapshot_url="http://10.1.0.6/snap.jpg", active=False)
    assert feed_targets(db) == [FeedTarget("CAM-A", "MDH", "http://10.1.0.5/snap.jpg")]


def test_the_feeder_announces_each_camera_at_the_rate_without_images() -> None:
    got: list[Event] = []
    targets = [
        FeedTarget("CAM-A", "MDH", "http://a/s.jpg"),
        FeedTarget("CAM-B", "MDH", "http://b/s.jpg"),
    ]

    async def scenario() -> int:
        bus = MemoryBus()

        async def inbox(event: Event) -> None:
            got.append(event)

        bus.subscribe(inbox)
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(0.5, stop.set)
        return await feed(bus, lambda: targets, fps=10, stop=stop, refresh_s=0.2)

    published = asyncio.run(scenario())
    assert published == len(got)
    per_camera = {c: sum(e.payload["camera_id"] == c for e in got) for c in ("CAM-A", "CAM-B")}
    assert all(3 <= n <= 7 for n in per_camera.values()), per_camera  # ~10 fps for 0.5 s
    assert all(e.topic == FRAME_TOPIC and "jpeg_b64" not in e.payload for e in got)
    assert {e.payload["snapshot_url"] for e in got} == {"http://a/s.jpg", "http://b/s.jpg"}

    with pytest.raises(ValueError, match="fps"):
        asyncio.run(feed(MemoryBus(), lambda: targets, fps=0, stop=asyncio.Event()))


def test_the_feed_command_needs_the_shared_bus_and_a_sane_rate(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from safezone.cli import main as cli_main

    monkeypatch.setenv("SAFEZONE_ENV", "test")
    monkeypatch.setenv("SAFEZONE_BUS_URL", "memory://")
    assert cli_main(["--data-dir", str(tmp_path), "faces", "feed"]) == 2
    assert "SAFEZONE_BUS_URL=nats://" in capsys.readouterr().err
    assert cli_main(["--data-dir", str(tmp_path), "faces", "feed", "--fps", "0"]) == 2
    assert "--fps" in capsys.readouterr().err
