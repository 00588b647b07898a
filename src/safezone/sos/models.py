from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from safezone.core.db import Base, JsonText, UtcDateTime, utcnow


class BoxEvent(Base):
    """An accepted, signed message from an SOS box. (box_id, seq) is unique: a message
    delivered twice is stored, and acted on, once."""

    __tablename__ = "sos_box_events"
    __table_args__ = (UniqueConstraint("box_id", "seq", name="uq_sos_box_events_box_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    box_id: Mapped[str] = mapped_column(ForeignKey("sos_boxes.id", ondelete="CASCADE"))
    station_id: Mapped[str] = mapped_column(ForeignKey("stations.id"), index=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(16))
    device_ts: Mapped[str] = mapped_column(String(40))
    signature: Mapped[str] = mapped_column(String(64))
    transport: Mapped[str] = mapped_column(String(8))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)


class BoxRejection(Base):
    """A message refused: unknown box, bad signature, stale clock, reused seq, malformed."""

    __tablename__ = "sos_rejections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    box_id: Mapped[str] = mapped_column(String(64), index=True)
    station_id: Mapped[str | None] = mapped_column(String(32), index=True)
    reason: Mapped[str] = mapped_column(String(24), index=True)
    seq: Mapped[int | None] = mapped_column(BigInteger)
    transport: Mapped[str] = mapped_column(String(8))
    detail: Mapped[str] = mapped_column(String(300), default="")
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class BoxStatus(Base):
    """A box's presence, as its heartbeats and last-will messages tell it."""

    __tablename__ = "sos_box_status"

    box_id: Mapped[str] = mapped_column(
        ForeignKey("sos_boxes.id", ondelete="CASCADE"), primary_key=True
    )
    station_id: Mapped[str] = mapped_column(ForeignKey("stations.id"), index=True)
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    last_heartbeat_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Heartbeats are not stored one by one; a replayed or late one is recognised by this.
    last_heartbeat_seq: Mapped[int | None] = mapped_column(BigInteger)
    last_message_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    offline_since: Mapped[datetime | None] = mapped_column(UtcDateTime)


class SosResponse(Base):
    """What one SOS trigger brought together: the cameras that see the place and the
    nearest available units (suggested, not assigned)."""

    __tablename__ = "sos_responses"

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), primary_key=True)
    station_id: Mapped[str] = mapped_column(ForeignKey("stations.id"), index=True)
    trigger: Mapped[str] = mapped_column(String(8))
    box_id: Mapped[str | None] = mapped_column(String(64))
    tracking_code: Mapped[str | None] = mapped_column(String(20), index=True)
    cameras: Mapped[Any] = mapped_column(JsonText)
    units: Mapped[Any] = mapped_column(JsonText)
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class TrailPoint(Base):
    """Where a citizen who raised a panic SOS was, every few seconds."""

    __tablename__ = "sos_trail_points"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
