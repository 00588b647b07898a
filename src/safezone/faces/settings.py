"""The face pipeline's thresholds: a light module, so that the app's Settings can hold
them without importing OpenCV. Set them with ``SAFEZONE_FACES`` as JSON, for example
``SAFEZONE_FACES='{"match_threshold": 0.5, "frames_to_confirm": 4}'``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class FaceSettings(BaseModel):
    """Thresholds of the face pipeline. See docs/operations.md ("Face identification")
    for how to calibrate ``match_threshold`` and ``frames_to_confirm`` on a station's own
    cameras."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    motion_width: int = Field(
        160, ge=32, le=1280, description="Width (px) of the grey copy compared for motion."
    )
    motion_pixel_delta: int = Field(
        18,
        ge=1,
        le=255,
        description="A motion-copy pixel has changed when its grey level moved this much.",
    )
    motion_min_fraction: float = Field(
        0.002,
        ge=0.0,
        le=1.0,
        description="Share of motion-copy pixels that must change for a frame to be analysed."
        " 0 analyses every frame.",
    )
    detect_width: int = Field(
        512, ge=160, le=3840, description="Frames are shrunk to this width for detection."
    )
    detect_score: float = Field(
        0.7, gt=0.0, lt=1.0, description="YuNet's confidence needed to report a face."
    )
    min_face_px: int = Field(
        36,
        ge=16,
        description="Faces narrower or shorter than this (full-frame pixels) are ignored:"
        " too small to identify anyone reliably.",
    )
    track_iou: float = Field(
        0.3, gt=0.0, le=1.0, description="Overlap that continues a face's track."
    )
    track_max_missed: int = Field(
        4, ge=0, description="Analysed frames a track survives without its face."
    )
    embed_every: int = Field(
        2, ge=1, description="A track is embedded on its first frame and every Nth after."
    )
    max_embeddings_per_track: int = Field(
        4, ge=1, description="After this many embeddings a track is not embedded again."
    )
    match_threshold: float = Field(
        0.40,
        ge=-1.0,
        le=1.0,
        description="Cosine similarity to a watchlist embedding that counts as a vote."
        " SFace's authors give 0.363 for 'same person'; we ship a slightly stricter value"
        " (bench/faces.py: strangers reach at most about 0.35, distorted portraits of the"
        " same person at least about 0.42).",
    )
    frames_to_confirm: int = Field(
        3,
        ge=1,
        description="Votes for the same entry, from different frames of one track,"
        " before a match goes to review.",
    )
    evidence_margin: float = Field(
        0.4, ge=0.0, le=2.0, description="Margin around the face box in the evidence crop."
    )

    @model_validator(mode="after")
    def _confirmable(self) -> FaceSettings:
        if self.frames_to_confirm > self.max_embeddings_per_track:
            raise ValueError(
                "frames_to_confirm must not exceed max_embeddings_per_track,"
                " or no match could ever be confirmed"
            )
        return self
