"""The watchlist (entries, enrolment photos, embeddings) and the review queue of matches.

No table here ever holds anything about a face that matched nobody: rows exist only for
enrolled people and for matches against them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from safezone.core.db import Base, UtcDateTime, utcnow

CATEGORIES = ("wanted", "missing", "other")
MATCH_STATES = ("pending", "confirmed", "rejected")


class WatchlistEntry(Base):
    """A person being looked for, on a legal basis, approved, until an expiry date."""

    __tablename__ = "watchlist_entries"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    station_id: Mapped[str] = mapped_column(ForeignKey("stations.id"), index=True)
    person_id: Mapped[str] = mapped_column(String(64), index=True)
    person_name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(16))
    legal_basis: Mapped[str] = mapped_column(String(200))
    approved_by: Mapped[str] = mapped_column(String(200))
    enrolled_by: Mapped[str] = mapped_column(String(100))
    notes: Mapped[str] = mapped_column(Text, default="")
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class EnrolmentPhoto(Base):
    __tablename__ = "watchlist_photos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[str] = mapped_column(
        ForeignKey("watchlist_entries.id", ondelete="CASCADE"), index=True
    )
    sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(300))
    content_type: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class FaceEmbedding(Base):
    """One enrolment photo's SFace embedding: 128 float32, L2-normalised."""

    __tablename__ = "watchlist_embeddings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[str] = mapped_column(
        ForeignKey("watchlist_entries.id", ondelete="CASCADE"), index=True
    )
    photo_id: Mapped[int] = mapped_column(
        ForeignKey("watchlist_photos.id", ondelete="CASCADE"), index=True
    )
    vector: Mapped[bytes] = mapped_column(LargeBinary)


class FaceMatch(Base):
    """A watchlist match from a camera, waiting for (or holding) a person's decision.

    A rejected match was someone else: its evidence images are deleted at the decision,
    and the row stays only as a counted false match of its camera."""

    __tablename__ = "face_matches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    station_id: Mapped[str] = mapped_column(ForeignKey("stations.id"), index=True)
    camera_id: Mapped[str] = mapped_column(String(64), index=True)
    entry_id: Mapped[str | None] = mapped_column(
        ForeignKey("watchlist_entries.id", ondelete="SET NULL"), index=True
    )
    person_id: Mapped[str] = mapped_column(String(64), index=True)
    category: Mapped[str] = mapped_column(String(16))
    similarity: Mapped[float] = mapped_column(Float)
    votes: Mapped[int] = mapped_column(Integer)
    crop_path: Mapped[str | None] = mapped_column(String(300))
    frame_path: Mapped[str | None] = mapped_column(String(300))
    crop_sha256: Mapped[str] = mapped_column(String(64))
    frame_sha256: Mapped[str] = mapped_column(String(64))
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    decision_note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
