"""SOS work that runs beside requests: snapshots after the alarm, the heartbeat and
escalation monitors, and the escalation webhook."""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from safezone.cameras import service as cameras_service
from safezone.config import Settings
from safezone.core.bus import Event, EventBus
from safezone.core.db import Database
from safezone.core.scheduler import Scheduler, claim
from safezone.core.webhooks import post_webhook_once
from safezone.sos import service as sos_service

log = logging.getLogger(__name__)
_NODE = f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"


def capture_snapshots(db: Database, settings: Settings, incident_id: int) -> int:
    """Fetch the current picture of each camera of an SOS response and keep it as
    evidence. Cameras are asked in parallel; one that fails is skipped. Returns how many
    snapshots were stored."""
    with db.transaction() as session:
        # With several nodes on a shared bus every node hears the event; one does the work.
        if not claim(
            session, name=f"sos.snapshots.{incident_id}", holder=_NODE, keep=timedelta(days=1)
        ):
            return 0
    with db.reader() as session:  # not under the write lock, which an SOS may be waiting for
        targets = sos_service.pending_snapshots(session, incident_id=incident_id)
        station = sos_service.station_of_response(session, incident_id=incident_id)
    if not targets or station is None:
        return 0
    with ThreadPoolExecutor(max_workers=min(8, len(targets))) as pool:
        fetched = list(
            pool.map(
                lambda t: cameras_service.fetch_snapshot(
                    t[1], camera_id=t[0], timeout_s=settings.snapshot_timeout_s
                ),
                targets,
            )
        )
    stored = 0
    with db.transaction() as session:
        for result in fetched:
            if result.data is None:
                log.info("snapshot of %s skipped: %s", result.camera_id, result.error)
                continue
            cameras_service.store_snapshot(
                session,
                station_id=station,
                camera_id=result.camera_id,
                incident_id=incident_id,
                data=result.data,
                content_type=result.content_type,
                media_dir=settings.media_dir,
                actor="system:sos",
            )
            stored += 1
    return stored


class SosWorkers:
    """Consumes SOS events from the bus; each piece of work runs in the background so the
    relay is never held up by a slow camera or webhook."""

    def __init__(self, db: Database, settings: Settings, bus: EventBus) -> None:
        self.db = db
        self.settings = settings
        self._tasks: set[asyncio.Task[Any]] = set()
        self._seen: set[str] = set()
        self._unsubscribe = bus.subscribe(self._on_event)

    def _spawn(self, func: Any, *args: Any) -> None:
        task = asyncio.create_task(asyncio.to_thread(func, *args))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _on_event(self, event: Event) -> None:
        # The relay delivers at least once: act on each event id once per process.
        if event.event_id in self._seen:
            return
        self._seen.add(event.event_id)
        if len(self._seen) > 10_000:
            self._seen.clear()
        if event.topic == "sos.response":
            self._spawn(capture_snapshots, self.db, self.settings, event.payload["incident_id"])
        elif event.topic == "incident.escalated" and self.settings.escalation_webhook_url:
            body = {"event": "incident.escalated", "event_id": event.event_id, **event.payload}
            self._spawn(
                functools.partial(
                    post_webhook_once,
                    self.db,
                    self.settings.escalation_webhook_url,
                    body=body,
                    secret=self.settings.webhook_secret,
                    event_id=event.event_id,
                    station_id=event.payload.get("incident", {}).get("station_id"),
                )
            )

    async def stop(self) -> None:
        self._unsubscribe()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=10)


def schedule(scheduler: Scheduler, settings: Settings) -> None:
    scheduler.add(
        "sos.heartbeats",
        settings.monitor_interval_s,
        lambda session: sos_service.check_heartbeats(session),
        due=lambda session: sos_service.any_box_silent(session),
    )
    scheduler.add(
        "sos.escalation",
        settings.monitor_interval_s,
        lambda session: sos_service.escalate_unacknowledged(
            session, timeout_s=settings.sos_ack_timeout_s
        ),
        due=lambda session: sos_service.any_unacknowledged_overdue(
            session, timeout_s=settings.sos_ack_timeout_s
        ),
    )
