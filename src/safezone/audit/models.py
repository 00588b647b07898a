from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from safezone.core.db import Base, JsonText


class AuditEntry(Base):
    """One link of the hash chain. Rows are append-only (database triggers refuse
    UPDATE and DELETE); the chain itself reveals any change made around them."""

    __tablename__ = "audit_entries"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    ts: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(64))
    station_id: Mapped[str | None] = mapped_column(String(32), index=True)
    payload: Mapped[Any] = mapped_column(JsonText)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
