"""Running analysis workers against the database: the watchlist they match comes from
the unexpired entries and is reloaded whenever it changes; their matches go to the
review queue (one transaction: the match, its evidence files, its audit entry and its
``faces.review`` event for the operators' dashboards)."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

from safezone.cameras import service as cameras_service
from safezone.config import Settings
from safezone.core.bus import Event, EventBus, make_bus
from safezone.core.db import Database
from safezone.faces import service as faces_service
from safezone.faces.engine import FaceEngine
from safezone.faces.matcher import Watchlist
from safezone.faces.pipeline import MatchCandidate
from safezone.faces.settings import FaceSettings
from safezone.faces.worker import AnalysisWorker

log = logging.getLogger(__name__)
RELOAD_EVERY_S = 60.0  # also catches entries that expired between purges


class DatabaseWorker:
    """An AnalysisWorker wired to the database: watchlist in, review items out."""

    def __init__(
        self,
        db: Database,
        *,
        media_dir: Path,
        engine: FaceEngine,
        settings: FaceSettings | None = None,
        index: int = 0,
        count: int = 1,
    ) -> None:
        self.db = db
        self.media_dir = media_dir
        self.watchlist = Watchlist()
        self.worker = AnalysisWorker(
            engine=engine,
            watchlist=self.watchlist,
            sink=self._store,
            settings=settings,
            index=index,
            count=count,
            cameras=self._camera,
        )
        self.queued: list[int] = []
        self._unsubscribe: list[object] = []

    def _camera(self, camera_id: str) -> cameras_service.RegisteredCamera | None:
        with self.db.reader() as session:
            return cameras_service.registered_camera(session, camera_id=camera_id)

    def reload(self) -> int:
        with self.db.reader() as session:
            self.watchlist.replace(faces_service.active_embeddings(session))
        return len(self.watchlist)

    async def start(self, bus: EventBus) -> None:
        await asyncio.to_thread(self.reload)
        self._unsubscribe.append(bus.subscribe(self._on_event))
        self.worker.start(bus)

    async def stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            if callable(unsubscribe):
                unsubscribe()
        self._unsubscribe.clear()
        await self.worker.stop()

    async def _on_event(self, event: Event) -> None:
        if event.topic == faces_service.WATCHLIST_TOPIC:
            await asyncio.to_thread(self.reload)

    async def _store(self, candidate: MatchCandidate, station_id: str | None) -> None:
        def write() -> int | None:
            with self.db.transaction() as session:
                match = faces_service.record_candidate(
                    session, candidate=candidate, station_id=station_id, media_dir=self.media_dir
                )
                return None if match is None else match.id

        match_id = await asyncio.to_thread(write)
        if match_id is not None:
            self.queued.append(match_id)


async def run_worker(settings: Settings, *, index: int, count: int) -> None:
    """A worker process: analyse this worker's share of the cameras until stopped."""
    if settings.bus_url.startswith("memory://"):
        raise ValueError(
            "an analysis worker in its own process needs the shared bus:"
            " set SAFEZONE_BUS_URL=nats://host:4222 (the in-process bus reaches no other"
            " process)"
        )
    db = Database(settings.resolved_database_url)
    bus = make_bus(settings.bus_url)
    worker = DatabaseWorker(
        db,
        media_dir=settings.media_dir,
        engine=FaceEngine(score_threshold=settings.faces.detect_score),
        settings=settings.faces,
        index=index,
        count=count,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await worker.start(bus)
    log.info("faces worker %d/%d: %d watchlist embeddings", index, count, len(worker.watchlist))
    try:
        while not stop.is_set():
            try:
                async with asyncio.timeout(RELOAD_EVERY_S):
                    await stop.wait()
            except TimeoutError:
                await asyncio.to_thread(worker.reload)
    finally:
        await worker.stop()
        await bus.close()
        db.dispose()
