from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from safezone.core.db import Base, UtcDateTime, utcnow


class Assignment(Base):
    """A unit sent to an incident, with the time of every step of its response."""

    __tablename__ = "dispatch_assignments"
    __table_args__ = (Index("ix_dispatch_assignments_ack_due", "status", "ack_due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    station_id: Mapped[str] = mapped_column(ForeignKey("stations.id"), index=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"), index=True)
    # The one who must acknowledge and act: the unit's officer when it was assigned, and
    # whoever crews the unit since while it is open (ADR 0018); None for nobody.
    officer_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # assigned, acknowledged, en_route, on_scene, resolved or cancelled
    status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    assigned_by: Mapped[str] = mapped_column(String(128))
    distance_m: Mapped[float | None] = mapped_column(Float)
    eta_s: Mapped[float | None] = mapped_column(Float)
    assigned_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    ack_due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(128))
    en_route_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    on_scene_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # When the operator was alerted that nobody acknowledged in time (once).
    ack_overdue_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
