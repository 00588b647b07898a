"""The frame feeder: announces each camera's next frame on the bus at a steady rate.

For every active camera of the registry that has a snapshot URL, it publishes a
``faces.frame`` event naming the camera and that URL, ``fps`` times a second; the worker
that owns the camera fetches the picture itself (see worker.py), so no image ever rides
the bus. One feeder serves every camera; workers share the analysis.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from safezone.config import Settings
from safezone.core.bus import EventBus, make_bus
from safezone.core.db import Database
from safezone.faces.worker import frame_event, publish_frame
from safezone.zones import service as zones_service

log = logging.getLogger(__name__)
REFRESH_TARGETS_S = 60.0  # cameras added to or removed from the registry are picked up


@dataclass(frozen=True)
class FeedTarget:
    camera_id: str
    station_id: str
    snapshot_url: str


def feed_targets(db: Database) -> list[FeedTarget]:
    """The active cameras that have a snapshot URL, in id order."""
    with db.reader() as session:
        cameras = zones_service.all_assets(session, kind=zones_service.KINDS["camera"])
        return [
            FeedTarget(c.id, c.station_id, c.snapshot_url)
            for c in cameras
            if c.active and c.snapshot_url
        ]


async def feed(
    bus: EventBus,
    targets: Callable[[], list[FeedTarget]],
    *,
    fps: float,
    stop: asyncio.Event,
    refresh_s: float = REFRESH_TARGETS_S,
) -> int:
    """Publish one frame event per camera every 1/fps seconds until ``stop`` is set;
    returns how many were published."""
    if not 0 < fps <= 30:
        raise ValueError("fps must be above 0 and at most 30")
    loop = asyncio.get_running_loop()
    period = 1.0 / fps
    current = await asyncio.to_thread(targets)
    refreshed = loop.time()
    published = 0
    next_tick = loop.time()
    while not stop.is_set():
        for target in current:
            await publish_frame(
                bus,
                frame_event(
                    camera_id=target.camera_id,
                    station_id=target.station_id,
                    snapshot_url=target.snapshot_url,
                ),
            )
            published += 1
        if loop.time() - refreshed >= refresh_s:
            current = await asyncio.to_thread(targets)
            refreshed = loop.time()
        next_tick += period
        delay = next_tick - loop.time()
        if delay < 0:  # behind (a slow bus): skip the missed ticks rather than burst
            next_tick = loop.time()
            delay = 0.0
        try:
            async with asyncio.timeout(delay):
                await stop.wait()
        except TimeoutError:
            pass
    return published


async def run_feeder(settings: Settings, *, fps: float) -> None:
    """The feeder process: until SIGINT/SIGTERM."""
    import signal

    if settings.bus_url.startswith("memory://"):
        raise ValueError(
            "the frame feeder in its own process needs the shared bus:"
            " set SAFEZONE_BUS_URL=nats://host:4222"
        )
    db = Database(settings.resolved_database_url)
    bus = make_bus(settings.bus_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        count = await feed(bus, lambda: feed_targets(db), fps=fps, stop=stop)
        log.info("frame feeder stopped after %d frame events", count)
    finally:
        await bus.close()
        db.dispose()
