"""Analysis workers: frames arrive on the event bus (topic ``faces.frame``), each worker
analyses the cameras it owns, and confirmed matches go to a sink (the review queue).

Cameras are shared out by a stable hash of the camera id, so ``count`` workers started
with indexes 0..count-1, in as many processes or machines, each take about 1/count of
the cameras and see every frame of theirs in order (a track needs consecutive frames).

A ``faces.frame`` event names the camera and carries either the JPEG itself
(``jpeg_b64``, only on the in-process bus) or the camera's ``snapshot_url``, which the
worker fetches. Frames are never put on a bus that keeps its events (NATS JetStream keeps
them for days): that would store the faces of passers-by.

The worker does not trust what a URL-carrying event says: anything that can publish on
the bus could otherwise make it fetch from any address and file what it finds as a match
of any station. It looks the camera up in the registry (through the cameras service) and
fetches only that camera's registered snapshot URL, on behalf of the camera's own station;
an event for an unknown or inactive camera, or whose URL is not the registered one, is
logged and skipped. A worker on any bus but the in-process one skips frames that carry a
JPEG: only code in its own process may hand it pictures.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import uuid
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import cv2
import numpy as np

from safezone.cameras import service as cameras_service
from safezone.core.bus import Event, EventBus, MemoryBus
from safezone.faces.engine import FaceEngine, Image, as_image
from safezone.faces.matcher import Watchlist
from safezone.faces.pipeline import FramePipeline, MatchCandidate
from safezone.faces.settings import FaceSettings

log = logging.getLogger(__name__)

FRAME_TOPIC = "faces.frame"

CandidateSink = Callable[[MatchCandidate, str | None], Awaitable[None]]
CameraLookup = Callable[[str], cameras_service.RegisteredCamera | None]


def owner_of(camera_id: str, count: int) -> int:
    """The index of the worker (of ``count``) that analyses ``camera_id``."""
    if count < 1:
        raise ValueError("there must be at least one worker")
    return zlib.crc32(camera_id.encode("utf-8")) % count


def frame_event(
    *,
    camera_id: str,
    station_id: str | None,
    jpeg: bytes | None = None,
    snapshot_url: str | None = None,
    captured_at: datetime | None = None,
) -> Event:
    """A ``faces.frame`` event with either the JPEG or the camera's snapshot URL."""
    if (jpeg is None) == (snapshot_url is None):
        raise ValueError("a frame event carries either jpeg or snapshot_url, not both")
    payload: dict[str, Any] = {"camera_id": camera_id}
    if jpeg is not None:
        payload["jpeg_b64"] = base64.b64encode(jpeg).decode("ascii")
    else:
        payload["snapshot_url"] = snapshot_url
    at = captured_at or datetime.now(UTC)
    payload["captured_at"] = at.isoformat()
    return Event(
        id=0,  # frames do not go through the outbox: they are not kept anywhere
        event_id=str(uuid.uuid4()),
        topic=FRAME_TOPIC,
        station_id=station_id,
        payload=payload,
        created_at=at,
    )


async def publish_frame(bus: EventBus, event: Event) -> None:
    """Put a frame event on the bus; refuses JPEGs on a bus that stores its events."""
    if "jpeg_b64" in event.payload and not isinstance(bus, MemoryBus):
        raise ValueError(
            "frames with images may only go over the in-process bus; on NATS publish the"
            " camera's snapshot_url so that no passer-by's face is kept in the stream"
        )
    await bus.publish(event)


def decode_jpeg(data: bytes) -> Image:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError("the frame is not a decodable image")
    return as_image(image)


@dataclass
class WorkerStats:
    received: int = 0  # frame events for this worker's cameras
    ignored: int = 0  # frame events for other workers' cameras
    dropped: int = 0  # frames skipped because analysis fell behind
    failed: int = 0  # frames that could not be fetched or decoded
    refused: int = 0  # frame events whose camera or URL the registry does not back
    analysed: int = 0
    candidates: int = 0


@dataclass
class _Frame:
    camera_id: str
    station_id: str | None
    payload: dict[str, Any]


class AnalysisWorker:
    """Analyses the frames of the cameras it owns; one pipeline (and track set) per camera.

    Frames wait in a short queue; when analysis falls behind the oldest are dropped, so
    the worker stays near real time instead of building a backlog.

    ``cameras`` looks a camera up in the registry; frames named by URL are fetched only
    from the URL registered for their camera, and refused when there is no registry.
    """

    def __init__(
        self,
        *,
        engine: FaceEngine,
        watchlist: Watchlist,
        sink: CandidateSink,
        settings: FaceSettings | None = None,
        index: int = 0,
        count: int = 1,
        queue_size: int = 8,
        fetch_timeout_s: float = 3.0,
        cameras: CameraLookup | None = None,
    ) -> None:
        if not 0 <= index < count:
            raise ValueError(f"worker index {index} is not in 0..{count - 1}")
        self.engine = engine
        self.watchlist = watchlist
        self.sink = sink
        self.settings = settings or FaceSettings()
        self.index = index
        self.count = count
        self.fetch_timeout_s = fetch_timeout_s
        self.cameras = cameras
        self._refusals: dict[str, str] = {}  # camera id -> the reason last logged
        self._images_allowed = False  # JPEGs in events: only from the in-process bus
        self.stats = WorkerStats()
        self.pipelines: dict[str, FramePipeline] = {}
        self._queue: asyncio.Queue[_Frame] = asyncio.Queue(maxsize=queue_size)
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe: Callable[[], None] | None = None

    def owns(self, camera_id: str) -> bool:
        return owner_of(camera_id, self.count) == self.index

    def start(self, bus: EventBus) -> None:
        """Subscribe to the bus and start analysing."""
        self._images_allowed = isinstance(bus, MemoryBus)
        self._unsubscribe = bus.subscribe(self.on_event)
        self._task = asyncio.create_task(self._run(), name=f"faces-worker-{self.index}")

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def drain(self) -> None:
        """Wait until every queued frame has been analysed."""
        await self._queue.join()

    async def on_event(self, event: Event) -> None:
        if event.topic != FRAME_TOPIC:
            return
        camera_id = event.payload.get("camera_id")
        if not isinstance(camera_id, str) or not camera_id:
            log.warning("faces.frame event %s names no camera", event.event_id)
            return
        if not self.owns(camera_id):
            self.stats.ignored += 1
            return
        self.stats.received += 1
        if "jpeg_b64" in event.payload and not self._images_allowed:
            self.stats.refused += 1
            if self._refusals.get(camera_id) != "image":
                self._refusals[camera_id] = "image"
                log.warning(
                    "camera %s: frame event with a JPEG skipped: pictures come over the"
                    " in-process bus only",
                    camera_id,
                )
            return
        frame = _Frame(camera_id, event.station_id, event.payload)
        if self._queue.full():
            self._queue.get_nowait()
            self._queue.task_done()
            self.stats.dropped += 1
        self._queue.put_nowait(frame)

    async def _run(self) -> None:
        while True:
            frame = await self._queue.get()
            try:
                await self._analyse(frame)
            except Exception:  # one bad frame must not stop the worker
                self.stats.failed += 1
                log.exception("analysing a frame of camera %s failed", frame.camera_id)
            finally:
                self._queue.task_done()

    async def _analyse(self, frame: _Frame) -> None:
        station_id = frame.station_id
        url: str | None = None
        if "jpeg_b64" not in frame.payload:
            camera = await asyncio.to_thread(self._registered, frame)
            if camera is None:
                self.stats.refused += 1
                return
            url, station_id = camera.snapshot_url, camera.station_id
        image = await asyncio.to_thread(self._load, frame, url)
        if image is None:
            self.stats.failed += 1
            return
        pipeline = self.pipelines.get(frame.camera_id)
        if pipeline is None:
            pipeline = FramePipeline(
                camera_id=frame.camera_id,
                engine=self.engine,
                watchlist=self.watchlist,
                settings=self.settings,
            )
            self.pipelines[frame.camera_id] = pipeline
        candidates = await asyncio.to_thread(pipeline.process, image)
        self.stats.analysed += 1
        for candidate in candidates:
            self.stats.candidates += 1
            await self.sink(candidate, station_id)

    def _registered(self, frame: _Frame) -> cameras_service.RegisteredCamera | None:
        """The registered camera whose snapshot URL a frame event names, or None (logged)
        when the registry does not back the event."""
        claimed = str(frame.payload.get("snapshot_url") or "").strip()
        camera = None if self.cameras is None else self.cameras(frame.camera_id)
        if self.cameras is None:
            reason = "this worker has no camera registry to check the snapshot URL against"
        elif camera is None:
            reason = "no camera with this id is registered"
        elif not camera.active:
            reason = "the camera is inactive"
        elif not camera.snapshot_url:
            reason = "the camera has no registered snapshot URL"
        elif claimed != camera.snapshot_url:
            reason = f"the event's snapshot URL {claimed[:200]!r} is not the registered one"
        else:
            self._refusals.pop(frame.camera_id, None)
            return camera
        # Logged once per camera and reason, not once per frame (several a second).
        if self._refusals.get(frame.camera_id) != reason:
            self._refusals[frame.camera_id] = reason
            log.warning("camera %s: frame event skipped: %s", frame.camera_id, reason)
        return None

    def _load(self, frame: _Frame, url: str | None) -> Image | None:
        payload = frame.payload
        data: bytes | None
        if "jpeg_b64" in payload:
            try:
                data = base64.b64decode(str(payload["jpeg_b64"]), validate=True)
            except (binascii.Error, ValueError):
                log.warning("camera %s: frame is not valid base64", frame.camera_id)
                return None
        else:
            fetched = cameras_service.fetch_snapshot(
                url or "",
                camera_id=frame.camera_id,
                timeout_s=self.fetch_timeout_s,
            )
            if fetched.data is None:
                log.info("camera %s: no frame (%s)", frame.camera_id, fetched.error)
                return None
            data = fetched.data
        try:
            return decode_jpeg(data)
        except ValueError:
            log.warning("camera %s: frame is not an image", frame.camera_id)
            return None
