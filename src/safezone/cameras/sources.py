"""Reading pictures from cameras: an HTTP JPEG snapshot, an MJPEG stream over HTTP, or
RTSP (through OpenCV's FFmpeg backend). Nothing here touches the database."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import httpx

SourceKind = Literal["snapshot", "mjpeg", "rtsp", ""]
MAX_FRAME_BYTES = 10 * 1024 * 1024
SOI, EOI = b"\xff\xd8", b"\xff\xd9"


@dataclass
class Frames:
    """What one look at a camera gave: the newest JPEG (if any), how many frames came
    in ``seconds``, and why nothing came."""

    source: SourceKind
    jpeg: bytes | None
    frames: int
    seconds: float
    error: str | None

    @property
    def fps(self) -> float | None:
        if self.source == "snapshot" or self.frames < 2 or self.seconds <= 0:
            return None
        return round(self.frames / self.seconds, 1)


def source_of(camera: Any) -> tuple[SourceKind, str]:
    """Which source to read a camera from: its stream (MJPEG or RTSP) when it has one,
    else its snapshot URL."""
    stream = (camera.stream_url or "").strip()
    if stream.startswith(("rtsp://", "rtsps://")):
        return "rtsp", stream
    if stream.startswith(("http://", "https://")):
        return "mjpeg", stream
    snapshot = (camera.snapshot_url or "").strip()
    if snapshot.startswith(("http://", "https://")):
        return "snapshot", snapshot
    return "", ""


def read_snapshot(url: str, *, timeout_s: float) -> Frames:
    start = time.monotonic()
    try:
        with httpx.Client(timeout=timeout_s, follow_redirects=False) as client:
            response = client.get(url)
    except httpx.HTTPError as exc:
        return Frames("snapshot", None, 0, 0.0, f"unreachable: {exc.__class__.__name__}")
    elapsed = time.monotonic() - start
    content_type = response.headers.get("content-type", "").split(";")[0].strip()
    if response.status_code != 200:
        return Frames("snapshot", None, 0, elapsed, f"HTTP {response.status_code}")
    if content_type != "image/jpeg" or not response.content.startswith(SOI):
        return Frames("snapshot", None, 0, elapsed, f"not a JPEG ({content_type or 'no type'})")
    if len(response.content) > MAX_FRAME_BYTES:
        return Frames("snapshot", None, 0, elapsed, "larger than 10 MiB")
    return Frames("snapshot", response.content, 1, elapsed, None)


def read_mjpeg(url: str, *, timeout_s: float, window_s: float) -> Frames:
    """Read a multipart MJPEG stream for ``window_s`` (at least one frame), counting
    frames. Frames are cut at the JPEG start/end markers, whatever the boundary."""
    start = time.monotonic()
    frames = 0
    newest: bytes | None = None
    buffer = b""
    try:
        with (
            httpx.Client(timeout=timeout_s, follow_redirects=False) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                return Frames("mjpeg", None, 0, 0.0, f"HTTP {response.status_code}")
            for chunk in response.iter_bytes():
                buffer += chunk
                while True:
                    begin = buffer.find(SOI)
                    end = buffer.find(EOI, begin + 2) if begin >= 0 else -1
                    if begin < 0 or end < 0:
                        break
                    newest = buffer[begin : end + 2]
                    buffer = buffer[end + 2 :]
                    frames += 1
                if len(buffer) > MAX_FRAME_BYTES:
                    return Frames("mjpeg", newest, frames, 0.0, "frame larger than 10 MiB")
                elapsed = time.monotonic() - start
                if frames and elapsed >= window_s:
                    break
                if elapsed > timeout_s + window_s:
                    break
    except httpx.HTTPError as exc:
        if newest is None:
            return Frames("mjpeg", None, 0, 0.0, f"unreachable: {exc.__class__.__name__}")
    elapsed = time.monotonic() - start
    if newest is None:
        return Frames("mjpeg", None, 0, elapsed, "no frame in the stream")
    return Frames("mjpeg", newest, frames, elapsed, None)


def read_rtsp(url: str, *, timeout_s: float, window_s: float) -> Frames:
    """Read an RTSP stream through OpenCV's FFmpeg backend for ``window_s``."""
    import cv2

    # Cameras are read over TCP (interleaved): no UDP ports to open, no loss.
    os.environ.setdefault(
        "OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp|analyzeduration;200000|probesize;65536"
    )
    start = time.monotonic()
    params = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
        int(timeout_s * 1000),
        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
        int(timeout_s * 1000),
    ]
    capture = cv2.VideoCapture(url, cv2.CAP_FFMPEG, params)
    try:
        if not capture.isOpened():
            return Frames("rtsp", None, 0, time.monotonic() - start, "cannot open the stream")
        frames = 0
        newest = None
        first_at = time.monotonic()
        first_pts = last_pts = 0.0
        while True:
            ok, image = capture.read()
            if not ok:
                break
            frames += 1
            newest = image
            last_pts = float(capture.get(cv2.CAP_PROP_POS_MSEC))
            if frames == 1:
                first_pts = last_pts
            if time.monotonic() - first_at >= window_s:
                break
        # The rate comes from the stream's own timestamps: FFmpeg hands over the frames
        # it buffered while opening all at once.
        elapsed = (last_pts - first_pts) / 1000.0 if frames > 1 else 0.0
        if elapsed <= 0:
            elapsed = time.monotonic() - first_at
    finally:
        capture.release()
    if newest is None:
        return Frames("rtsp", None, 0, elapsed, "no frame in the stream")
    ok, encoded = cv2.imencode(".jpg", newest, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        return Frames("rtsp", None, frames, elapsed, "could not encode the frame")
    return Frames("rtsp", encoded.tobytes(), frames, elapsed, None)


Reader = Callable[[Any], Frames]


def look(camera: Any, *, timeout_s: float, window_s: float = 0.0) -> Frames:
    """One look at a camera through its best source: the newest frame, and the frame
    rate over ``window_s`` for streams (0: just one frame)."""
    kind, url = source_of(camera)
    if kind == "rtsp":
        return read_rtsp(url, timeout_s=timeout_s, window_s=window_s)
    if kind == "mjpeg":
        return read_mjpeg(url, timeout_s=timeout_s, window_s=window_s)
    if kind == "snapshot":
        return read_snapshot(url, timeout_s=timeout_s)
    return Frames("", None, 0, 0.0, "the camera has no stream or snapshot URL")
