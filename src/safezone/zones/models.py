from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from safezone.core.db import Base, JsonText, UtcDateTime, utcnow


class Station(Base):
    __tablename__ = "stations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_th: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class _Asset:
    """Columns every registry asset shares."""

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class _PointAsset(_Asset):
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    h3_cell: Mapped[str] = mapped_column(String(16), index=True)


class Zone(_Asset, Base):
    __tablename__ = "zones"

    station_id: Mapped[str] = mapped_column(ForeignKey("stations.id"), index=True)
    name_en: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    geometry: Mapped[Any] = mapped_column(JsonText)


class Camera(_PointAsset, Base):
    __tablename__ = "cameras"

    station_id: Mapped[str] = mapped_column(ForeignKey("stations.id"), index=True)
    pole_id: Mapped[str] = mapped_column(String(64), index=True)
    bearing_deg: Mapped[float] = mapped_column(Float)
    fov_deg: Mapped[float] = mapped_column(Float)
    range_m: Mapped[float] = mapped_column(Float)
    stream_url: Mapped[str] = mapped_column(String(500), default="")
    snapshot_url: Mapped[str] = mapped_column(String(500), default="")
    owner: Mapped[str] = mapped_column(String(16))
    sharing_agreement: Mapped[str] = mapped_column(String(500), default="")


class SosBox(_PointAsset, Base):
    __tablename__ = "sos_boxes"

    station_id: Mapped[str] = mapped_column(ForeignKey("stations.id"), index=True)
    secret: Mapped[str] = mapped_column(String(128))
    heartbeat_interval_s: Mapped[int] = mapped_column(Integer, default=60)


class Checkpoint(_PointAsset, Base):
    __tablename__ = "checkpoints"

    station_id: Mapped[str] = mapped_column(ForeignKey("stations.id"), index=True)
    radius_m: Mapped[float] = mapped_column(Float, default=30.0)


class MaintenanceAlert(Base):
    """Something wrong with a field device (offline, tampered, power fault), until cleared."""

    __tablename__ = "maintenance_alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    station_id: Mapped[str] = mapped_column(ForeignKey("stations.id"), index=True)
    asset_kind: Mapped[str] = mapped_column(String(16))
    asset_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, default="")
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    cleared_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
