"""The camera health monitor: looks at every camera with a stream or snapshot URL, keeps
online/offline, frame rate and last frame time, and raises (and later clears) a
maintenance alert for a camera that gave no frame for ``offline_after_s``.

Cameras are looked at outside any transaction (a slow camera must not hold the database's
write lock); the results are then written in one short transaction. One node at a time
runs a round, through the scheduler's lease, which is sized from the number of cameras so
that it outlasts the slowest possible round (see :func:`round_lease`); a node that was
stalled past its lease anyway writes its results only if no other node has taken the job
over meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from safezone.cameras.models import CameraHealth
from safezone.cameras.sources import Frames, look, source_of
from safezone.config import Settings
from safezone.core.db import Database, utcnow
from safezone.core.scheduler import acquire, lease_ttl, renew
from safezone.zones import service as zones_service
from safezone.zones.models import Camera

log = logging.getLogger(__name__)
ACTOR = "system:camera-monitor"
ALERT_KIND = "offline"
LEASE = "cameras.health"  # the scheduler lease one node holds for a round
_NODE = f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
LOOK_WINDOW_S = 1.0  # how long a stream is watched to measure its frame rate
LOOK_WORKERS = 8  # cameras looked at in parallel


@dataclass
class Transition:
    camera_id: str
    online: bool


def monitored(session: Session) -> list[Camera]:
    """Active cameras that have something to look at."""
    return [
        camera
        for camera in zones_service.all_assets(session, kind=zones_service.KINDS["camera"])
        if camera.active and source_of(camera)[0]
    ]


def record_look(
    session: Session,
    *,
    camera: Any,
    frames: Frames,
    now: datetime,
    offline_after_s: float,
) -> Transition | None:
    """Write one look at a camera; a change between online and offline raises or clears
    its maintenance alert. Returns the change, if any."""
    health = session.get(CameraHealth, camera.id)
    if health is None:
        health = CameraHealth(
            camera_id=camera.id,
            station_id=camera.station_id,
            online=False,
            first_checked_at=now,
            last_checked_at=now,
            last_error="",
        )
        session.add(health)
        was_online: bool | None = None
    else:
        was_online = health.online
    health.source = frames.source
    health.last_checked_at = now
    since = health.last_frame_at or health.first_checked_at
    overdue = frames.jpeg is None and (now - since) >= timedelta(seconds=offline_after_s)
    if frames.jpeg is not None:
        health.last_frame_at = now
        health.fps = frames.fps
        health.last_error = ""
        health.online = True
    else:
        health.last_error = (frames.error or "no frame")[:300]
        health.fps = None
        if overdue or was_online is None:
            # A camera just added is offline until it shows a frame; one that was online
            # keeps that status through short gaps, until ``offline_after_s``.
            health.online = False
    session.flush()
    if health.online and was_online is not True:
        zones_service.clear_maintenance_alert(
            session, asset_kind="camera", asset_id=camera.id, kind=ALERT_KIND, actor=ACTOR
        )
        return Transition(camera.id, True) if was_online is False else None
    if health.online or not overdue:
        return None
    if zones_service.open_maintenance_alert(
        session, asset_kind="camera", asset_id=camera.id, kind=ALERT_KIND
    ):
        return None
    last = health.last_frame_at.isoformat() if health.last_frame_at else "never"
    zones_service.raise_maintenance_alert(
        session,
        station_id=camera.station_id,
        asset_kind="camera",
        asset_id=camera.id,
        kind=ALERT_KIND,
        detail=f"no frame since {last}: {health.last_error}",
        actor=ACTOR,
    )
    return Transition(camera.id, False)


def look_budget_s(*, timeout_s: float, window_s: float) -> float:
    """The longest one look at a camera can take: opening the source (``timeout_s``), the
    measuring window, and one more read that may wait ``timeout_s`` (RTSP, MJPEG)."""
    return 2 * timeout_s + window_s


def round_lease(
    *,
    cameras: int,
    interval_s: float,
    timeout_s: float,
    window_s: float = LOOK_WINDOW_S,
    workers: int = LOOK_WORKERS,
) -> timedelta:
    """The lease for one monitor round over ``cameras``: the worst case of every look
    timing out, ``workers`` at a time, plus a margin; never under the scheduler's floor."""
    return lease_ttl(
        interval_s=interval_s,
        items=cameras,
        per_item_s=look_budget_s(timeout_s=timeout_s, window_s=window_s),
        concurrency=workers,
    )


def check_cameras(
    db: Database,
    *,
    offline_after_s: float,
    timeout_s: float,
    window_s: float = LOOK_WINDOW_S,
    reader: Callable[[Any], Frames] | None = None,
    now: Callable[[], datetime] = utcnow,
    workers: int = LOOK_WORKERS,
    still_ours: Callable[[Session], bool] | None = None,
) -> list[Transition]:
    """One round of the monitor over every monitored camera of every station.

    ``still_ours``, asked in the transaction that writes the round's results: when it
    says no (another node took the job over during the looks), the round writes
    nothing."""
    with db.reader() as session:
        cameras = monitored(session)
        for camera in cameras:
            session.expunge(camera)
    if not cameras:
        return []
    read = reader or (lambda camera: look(camera, timeout_s=timeout_s, window_s=window_s))
    with ThreadPoolExecutor(max_workers=min(workers, len(cameras))) as pool:
        looks = list(pool.map(read, cameras))
    moment = now()
    changes = []
    with db.transaction() as session:
        if still_ours is not None and not still_ours(session):
            log.warning(
                "camera health round of %d cameras outlasted its lease and another node "
                "took the job over; this round's results are dropped",
                len(cameras),
            )
            return []
        for camera, frames in zip(cameras, looks, strict=True):
            change = record_look(
                session,
                camera=camera,
                frames=frames,
                now=moment,
                offline_after_s=offline_after_s,
            )
            if change is not None:
                changes.append(change)
    return changes


def list_health(session: Session, *, station_id: str) -> list[CameraHealth]:
    return list(
        session.scalars(
            select(CameraHealth)
            .where(CameraHealth.station_id == station_id)
            .order_by(CameraHealth.camera_id)
        )
    )


class CameraMonitor:
    """Runs :func:`check_cameras` every ``camera_check_interval_s`` beside the app."""

    def __init__(
        self, db: Database, settings: Settings, *, reader: Callable[[Any], Frames] | None = None
    ) -> None:
        self.db = db
        self.settings = settings
        self.reader = reader
        self.holder = _NODE
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.settings.camera_check_interval_s > 0:
            self._task = asyncio.create_task(self._loop(), name="camera-monitor")

    def run_once(self) -> list[Transition]:
        timeout_s = self.settings.snapshot_timeout_s
        with self.db.transaction() as session:
            ttl = round_lease(
                cameras=len(monitored(session)),
                interval_s=self.settings.camera_check_interval_s,
                timeout_s=timeout_s,
            )
            if not acquire(session, name=LEASE, holder=self.holder, ttl=ttl):
                return []
        return check_cameras(
            self.db,
            offline_after_s=self.settings.camera_offline_after_s,
            timeout_s=timeout_s,
            reader=self.reader,
            still_ours=lambda session: renew(session, name=LEASE, holder=self.holder, ttl=ttl),
        )

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.camera_check_interval_s)
            try:
                await asyncio.to_thread(self.run_once)
            except Exception:
                log.exception("camera health round failed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
