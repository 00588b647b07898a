"""The per-camera frame pipeline: motion gate, reduced-size detection, short tracks,
a few embeddings per face, and a match only when several frames agree.

What it keeps about a face that matches nobody: its box, for as long as its track lives.
No image and no embedding of it survives the call that computed them. Evidence (a crop and
the frame) is held only for a face that already scored above the threshold against a
watchlist entry, and is dropped with its track if that match is not confirmed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import cv2
import numpy as np

from safezone.faces.engine import Detection, Embedding, FaceEngine, Image, as_image, resize_to
from safezone.faces.matcher import Watchlist
from safezone.faces.settings import FaceSettings


@dataclass
class MatchCandidate:
    """A watchlist match waiting for a person's review, with its evidence."""

    camera_id: str
    entry_id: str
    similarity: float  # mean of the agreeing votes
    votes: int
    crop_jpeg: bytes
    frame_jpeg: bytes
    frame_index: int
    seen_at: datetime


@dataclass
class PipelineStats:
    frames: int = 0
    gated: int = 0  # frames skipped by the motion gate
    analysed: int = 0
    faces: int = 0  # detections at or above the minimum size
    small_faces: int = 0
    embeddings: int = 0
    candidates: int = 0


@dataclass
class _Evidence:
    similarity: float
    crop: Image
    frame: Image
    frame_index: int
    seen_at: datetime


@dataclass
class _Track:
    box: tuple[float, float, float, float]
    seen: int = 1
    missed: int = 0
    embedded: int = 0
    confirmed: bool = False
    votes: dict[str, list[float]] = field(default_factory=dict)
    evidence: dict[str, _Evidence] = field(default_factory=dict)


def iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    ax2, ay2 = a[0] + a[2], a[1] + a[3]
    bx2, by2 = b[0] + b[2], b[1] + b[3]
    iw = min(ax2, bx2) - max(a[0], b[0])
    ih = min(ay2, by2) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def encode_jpeg(image: Image, quality: int = 90) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("could not encode the image as JPEG")
    return bytes(buf.tobytes())


class FramePipeline:
    """Analyses one camera's frames in order. One instance per camera."""

    def __init__(
        self,
        *,
        camera_id: str,
        engine: FaceEngine,
        watchlist: Watchlist,
        settings: FaceSettings | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.camera_id = camera_id
        self.engine = engine
        self.watchlist = watchlist
        self.settings = settings or FaceSettings()
        self.stats = PipelineStats()
        self._clock = clock
        self._previous: Image | None = None
        self._tracks: list[_Track] = []

    @property
    def track_count(self) -> int:
        return len(self._tracks)

    def retained_images(self) -> int:
        """Images held in memory as evidence (only for faces that scored a vote)."""
        return sum(len(t.evidence) for t in self._tracks)

    def motion(self, frame: Image) -> bool:
        """True when the frame differs enough from the previous one to be analysed."""
        s = self.settings
        h, w = frame.shape[:2]
        # Bilinear sampling then a small blur: a tenth of the cost of an area average of
        # the whole frame, and still smooth enough that sensor noise does not pass the gate.
        size = (s.motion_width, max(1, round(h * s.motion_width / w)))
        small = as_image(cv2.resize(frame, size, interpolation=cv2.INTER_LINEAR))
        if small.ndim == 3:
            small = as_image(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY))
        small = as_image(cv2.GaussianBlur(small, (3, 3), 0))
        previous, self._previous = self._previous, small
        if previous is None or previous.shape != small.shape or s.motion_min_fraction == 0:
            return True
        diff = cv2.absdiff(small, previous)
        changed = int(np.count_nonzero(diff > s.motion_pixel_delta))
        return changed >= s.motion_min_fraction * diff.size

    def process(self, frame: Image) -> list[MatchCandidate]:
        """Analyse the next frame of this camera; returns matches confirmed on it."""
        self.stats.frames += 1
        if not self.motion(frame):
            self.stats.gated += 1
            return []
        self.stats.analysed += 1
        detections = self._detect(frame)
        candidates: list[MatchCandidate] = []
        for track in self._assign(detections):
            candidate = self._consider(track, frame)
            if candidate is not None:
                candidates.append(candidate)
        self.stats.candidates += len(candidates)
        return candidates

    def _detect(self, frame: Image) -> list[Detection]:
        s = self.settings
        h, w = frame.shape[:2]
        scale = max(1.0, w / s.detect_width)
        small = frame if scale == 1.0 else resize_to(frame, s.detect_width, round(h / scale))
        kept: list[Detection] = []
        for d in self.engine.detect(small, scale=scale):
            if d.score < s.detect_score:
                continue
            if min(d.w, d.h) < s.min_face_px:
                self.stats.small_faces += 1
                continue
            kept.append(d)
        self.stats.faces += len(kept)
        return kept

    def embed_largest(self, frame: Image) -> Embedding | None:
        """The embedding of the largest face this pipeline would analyse in one frame,
        found and aligned as in ``process``; for calibration and the benchmark."""
        faces = self._detect(frame)
        if not faces:
            return None
        largest = max(faces, key=lambda d: d.w * d.h)
        return self.engine.embed(frame, self.engine.refine(frame, largest))

    def _assign(self, detections: list[Detection]) -> list[tuple[_Track, Detection]]:
        """Continue tracks with the detections that overlap them, start new ones for the
        rest, and end tracks whose face has been gone too long."""
        s = self.settings
        pairs = sorted(
            (
                (iou(t.box, d.box), ti, di)
                for ti, t in enumerate(self._tracks)
                for di, d in enumerate(detections)
            ),
            reverse=True,
        )
        used_t: set[int] = set()
        used_d: set[int] = set()
        result: list[tuple[_Track, Detection]] = []
        for overlap, ti, di in pairs:
            if overlap < s.track_iou:
                break
            if ti in used_t or di in used_d:
                continue
            used_t.add(ti)
            used_d.add(di)
            track = self._tracks[ti]
            track.box = detections[di].box
            track.seen += 1
            track.missed = 0
            result.append((track, detections[di]))
        survivors: list[_Track] = []
        for ti, track in enumerate(self._tracks):
            if ti not in used_t:
                track.missed += 1
                if track.missed > s.track_max_missed:
                    continue  # the track ends; any unconfirmed evidence goes with it
            survivors.append(track)
        for di, d in enumerate(detections):
            if di not in used_d:
                track = _Track(box=d.box)
                survivors.append(track)
                result.append((track, d))
        self._tracks = survivors
        return result

    def _consider(self, pair: tuple[_Track, Detection], frame: Image) -> MatchCandidate | None:
        track, detection = pair
        s = self.settings
        if track.confirmed or track.embedded >= s.max_embeddings_per_track:
            return None
        if (track.seen - 1) % s.embed_every != 0:
            return None
        embedding = self.engine.embed(frame, self.engine.refine(frame, detection))
        track.embedded += 1
        self.stats.embeddings += 1
        hit = self.watchlist.search(embedding)
        del embedding  # never kept: the face may belong to no one on the watchlist
        if hit is None or hit.similarity < s.match_threshold:
            return None
        votes = track.votes.setdefault(hit.entry_id, [])
        votes.append(hit.similarity)
        now = self._clock()
        best = track.evidence.get(hit.entry_id)
        if best is None or hit.similarity > best.similarity:
            track.evidence[hit.entry_id] = _Evidence(
                similarity=hit.similarity,
                crop=self._crop(frame, detection),
                frame=frame.copy(),
                frame_index=self.stats.frames,
                seen_at=now,
            )
        if len(votes) < s.frames_to_confirm:
            return None
        track.confirmed = True
        evidence = track.evidence.pop(hit.entry_id)
        track.evidence.clear()
        return MatchCandidate(
            camera_id=self.camera_id,
            entry_id=hit.entry_id,
            similarity=float(np.mean(votes)),
            votes=len(votes),
            crop_jpeg=encode_jpeg(evidence.crop),
            frame_jpeg=encode_jpeg(evidence.frame, quality=85),
            frame_index=evidence.frame_index,
            seen_at=evidence.seen_at,
        )

    def _crop(self, frame: Image, d: Detection) -> Image:
        m = self.settings.evidence_margin
        h, w = frame.shape[:2]
        x0 = max(0, int(d.x - d.w * m))
        y0 = max(0, int(d.y - d.h * m))
        x1 = min(w, int(d.x + d.w * (1 + m)))
        y1 = min(h, int(d.y + d.h * (1 + m)))
        crop: Image = frame[y0:y1, x0:x1].copy()
        return crop
