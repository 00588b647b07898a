from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from safezone.core.db import Base, JsonText, UtcDateTime, utcnow


class Unit(Base):
    """A patrol unit (car, motorbike or officers on foot) and where it was last seen."""

    __tablename__ = "units"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    station_id: Mapped[str] = mapped_column(ForeignKey("stations.id"), index=True)
    callsign: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    officer_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    location_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class CheckpointKey(Base):
    """A checkpoint's signing secret. Rotating the key adds a version and retires the old
    one, which voids the posters printed with it."""

    __tablename__ = "checkpoint_keys"
    __table_args__ = (UniqueConstraint("checkpoint_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    checkpoint_id: Mapped[str] = mapped_column(ForeignKey("checkpoints.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    secret: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class OfficerDevice(Base):
    """A phone registered to an officer by a commander or admin."""

    __tablename__ = "officer_devices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    station_id: Mapped[str] = mapped_column(ForeignKey("stations.id"), index=True)
    officer_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    device_id: Mapped[str] = mapped_column(String(128), index=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    registered_by: Mapped[str] = mapped_column(String(100))
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Shift(Base):
    """An officer's time on duty: open (ended_at is None) until they end it."""

    __tablename__ = "shifts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    station_id: Mapped[str] = mapped_column(ForeignKey("stations.id"), index=True)
    officer_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)


class CheckIn(Base):
    """Every scan an officer submitted, whatever the verdict: rejected ones are evidence too."""

    __tablename__ = "checkins"
    __table_args__ = (Index("ix_checkins_officer_scanned", "officer_user_id", "scanned_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    station_id: Mapped[str] = mapped_column(ForeignKey("stations.id"), index=True)
    officer_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # As the code claims it: a forged code may name a checkpoint that does not exist.
    checkpoint_id: Mapped[str | None] = mapped_column(String(64), index=True)
    mode: Mapped[str | None] = mapped_column(String(8))
    code: Mapped[str] = mapped_column(String(200))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    accuracy_m: Mapped[float] = mapped_column(Float)
    device_id: Mapped[str] = mapped_column(String(128))
    scanned_at: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    status: Mapped[str] = mapped_column(String(10), index=True)
    reasons: Mapped[Any] = mapped_column(JsonText)
    distance_m: Mapped[float | None] = mapped_column(Float)
    shift_id: Mapped[int | None] = mapped_column(ForeignKey("shifts.id"))


class PatrolPlan(Base):
    """A route of checkpoints for a recurring shift window (in the station's local time)."""

    __tablename__ = "patrol_plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    station_id: Mapped[str] = mapped_column(ForeignKey("stations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    # "HH:MM" local; an end at or before the start means the shift runs past midnight.
    start_time: Mapped[str] = mapped_column(String(5))
    end_time: Mapped[str] = mapped_column(String(5))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class PlanCheckpoint(Base):
    """One stop of a plan's route, with its target visits per shift. A stop with dates
    applies only to the shifts starting on those dates (a house under watch)."""

    __tablename__ = "patrol_plan_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("patrol_plans.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    checkpoint_id: Mapped[str] = mapped_column(String(64), index=True)
    target_visits: Mapped[int] = mapped_column(Integer)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    housewatch_request_id: Mapped[int | None] = mapped_column(Integer, index=True)
