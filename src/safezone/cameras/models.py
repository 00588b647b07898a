from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from safezone.core.db import Base, UtcDateTime, utcnow


class Snapshot(Base):
    """A camera picture kept as evidence for an incident, identified by its SHA-256."""

    __tablename__ = "camera_snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    station_id: Mapped[str] = mapped_column(ForeignKey("stations.id"), index=True)
    camera_id: Mapped[str] = mapped_column(String(64), index=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    content_type: Mapped[str] = mapped_column(String(32))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(300))
    captured_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class CameraHealth(Base):
    """What the health monitor last saw of a camera: online or not, its frame rate and
    when its last frame came. One row per monitored camera."""

    __tablename__ = "camera_health"

    camera_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    station_id: Mapped[str] = mapped_column(ForeignKey("stations.id"), index=True)
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(16), default="")
    fps: Mapped[float | None] = mapped_column(Float)
    last_frame_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    first_checked_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_checked_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_error: Mapped[str] = mapped_column(String(300), default="")


class EvidenceExport(Base):
    """One export of an incident's evidence: who took it, when, and the digest of its
    manifest's file list, which is also in the audit chain at ``audit_seq``."""

    __tablename__ = "evidence_exports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    station_id: Mapped[str] = mapped_column(ForeignKey("stations.id"), index=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    exporter: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(String(300))
    file_count: Mapped[int] = mapped_column(Integer)
    files_sha256: Mapped[str] = mapped_column(String(64))
    audit_seq: Mapped[int] = mapped_column(Integer)
    exported_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
