from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from safezone.core.db import Base, JsonText, UtcDateTime, utcnow


class HouseWatchRequest(Base):
    """A citizen's request that patrols look after their house while they are away."""

    __tablename__ = "housewatch_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    station_id: Mapped[str] = mapped_column(ForeignKey("stations.id"), index=True)
    owner_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    address: Mapped[str] = mapped_column(String(500))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date, index=True)
    contact_kind: Mapped[str] = mapped_column(String(16))
    contact_value: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(Text, default="")
    # pending -> approved | declined; pending/approved -> cancelled; approved -> completed
    status: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    decision_note: Mapped[str] = mapped_column(Text, default="")
    checkpoint_id: Mapped[str | None] = mapped_column(String(64), index=True)
    target_visits: Mapped[int | None] = mapped_column(Integer)
    # The last check-in at the house the owner was told about (the visit notifier's cursor).
    last_checkin_id: Mapped[int] = mapped_column(Integer, default=0)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class HouseWatchNotice(Base):
    """A message to the owner, kept as their in-app inbox (InAppChannel)."""

    __tablename__ = "housewatch_notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("housewatch_requests.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    title_th: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200))
    text_th: Mapped[str] = mapped_column(Text)
    text_en: Mapped[str] = mapped_column(Text)
    data: Mapped[Any] = mapped_column(JsonText)
    checkin_id: Mapped[int | None] = mapped_column(Integer, index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
