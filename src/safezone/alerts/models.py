from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from safezone.core.db import Base, JsonText, UtcDateTime, utcnow


class Alert(Base):
    """One CAP 1.2 message, as sent: an Alert, or an Update or Cancel of an earlier one.

    A message never changes once sent (partners may have stored it): an Update or a Cancel
    is a new row referencing the one it replaces, which only gets ``replaced_by_id`` (and,
    for a Cancel, ``cancelled_at``/``cancelled_by``). ``areas`` keeps the zones' names and
    polygons as they were when the message was sent.
    """

    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_station_created", "station_id", "created_at"),
        Index("ix_alerts_current", "replaced_by_id", "expires"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    identifier: Mapped[str] = mapped_column(String(128), unique=True)
    station_id: Mapped[str] = mapped_column(ForeignKey("stations.id"))
    sender: Mapped[str] = mapped_column(String(128))
    sender_name_th: Mapped[str] = mapped_column(String(200))
    sender_name_en: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    msg_type: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(16))
    event_th: Mapped[str] = mapped_column(String(200))
    event_en: Mapped[str] = mapped_column(String(200))
    response_type: Mapped[str | None] = mapped_column(String(16))
    urgency: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16))
    certainty: Mapped[str] = mapped_column(String(16))
    headline_th: Mapped[str] = mapped_column(String(200))
    headline_en: Mapped[str | None] = mapped_column(String(200))
    description_th: Mapped[str] = mapped_column(Text)
    description_en: Mapped[str | None] = mapped_column(Text)
    instruction_th: Mapped[str | None] = mapped_column(Text)
    instruction_en: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    zone_ids: Mapped[list[str]] = mapped_column(JsonText)
    # [{"zone_id", "name_th", "name_en", "geometry"}], copied from the zones when sent.
    areas: Mapped[list[dict[str, Any]]] = mapped_column(JsonText)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    effective: Mapped[datetime] = mapped_column(UtcDateTime)
    expires: Mapped[datetime] = mapped_column(UtcDateTime)
    # CAP <references>: "sender,identifier,sent" of every earlier message of the thread.
    cap_references: Mapped[list[str]] = mapped_column(JsonText, default=list)
    # The message this one updates or cancels; unique, so a message is replaced only once.
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"), unique=True)
    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    cancelled_by: Mapped[str | None] = mapped_column(String(128))

    @property
    def sent(self) -> datetime:
        """CAP <sent>: the creation time to the second (CAP times have no fractions)."""
        return self.created_at.replace(microsecond=0)

    @property
    def references(self) -> list[str]:
        return list(self.cap_references or [])
