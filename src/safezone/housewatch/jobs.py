"""House-watch work beside requests: telling owners about visits, the summaries after the
last day, and POSTing notices to the house-watch webhook."""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from safezone.config import Settings
from safezone.core.bus import Event, EventBus
from safezone.core.db import Database
from safezone.core.scheduler import Scheduler
from safezone.core.webhooks import post_webhook_once
from safezone.housewatch import service as housewatch_service
from safezone.housewatch.channels import WEBHOOK_TOPIC


class HouseWatchWorkers:
    """POSTs each queued ``housewatch.webhook`` event once (across nodes), off the relay."""

    def __init__(self, db: Database, settings: Settings, bus: EventBus) -> None:
        self.db = db
        self.settings = settings
        self._tasks: set[asyncio.Task[Any]] = set()
        self._unsubscribe = bus.subscribe(self._on_event)

    async def _on_event(self, event: Event) -> None:
        url = self.settings.housewatch_webhook_url
        if event.topic != WEBHOOK_TOPIC or not url:
            return
        body = {**event.payload, "event_id": event.event_id}
        task = asyncio.create_task(
            asyncio.to_thread(
                functools.partial(
                    post_webhook_once,
                    self.db,
                    url,
                    body=body,
                    secret=self.settings.webhook_secret,
                    event_id=event.event_id,
                    station_id=event.payload.get("station_id"),
                )
            )
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        self._unsubscribe()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=10)


def schedule(scheduler: Scheduler, settings: Settings) -> None:
    channels = housewatch_service.channels_for(settings)
    # Owners hear of a visit within seconds of the scan. Most rounds find no new scan:
    # they only read, and take the write lock (and the lease) when there is one.
    scheduler.add(
        "housewatch.visits",
        min(settings.monitor_interval_s, 5.0),
        lambda session: housewatch_service.notify_visits(
            session, channels=channels, timezone=settings.local_timezone
        ),
        due=lambda session: housewatch_service.visits_due(session),
    )
    scheduler.add(
        "housewatch.summaries",
        settings.housewatch_summary_interval_s,
        lambda session: housewatch_service.send_summaries(
            session,
            channels=channels,
            timezone=settings.local_timezone,
            today=housewatch_service.local_today(settings),
        ),
    )
