"""How house-watch notices reach the owner: one small interface, one class per channel.

A channel acts inside the caller's transaction, so a notice exists exactly when the change
that caused it commits: the in-app channel stores the message (the owner's inbox), the
webhook channel queues it on the outbox and a worker POSTs it after commit (signed like
the escalation webhook). A LINE channel would be one more class that queues a
``housewatch.line`` event and a worker that pushes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from sqlalchemy.orm import Session

from safezone.core.bus import outbox
from safezone.housewatch.models import HouseWatchNotice

NoticeKind = Literal["approved", "declined", "visit", "summary", "cancelled"]
WEBHOOK_TOPIC = "housewatch.webhook"


@dataclass(frozen=True)
class Message:
    request_id: int
    station_id: str
    owner_user_id: int
    kind: NoticeKind
    title_th: str
    title_en: str
    text_th: str
    text_en: str
    contact: dict[str, str]
    data: dict[str, Any] = field(default_factory=dict)
    checkin_id: int | None = None

    def body(self) -> dict[str, Any]:
        """The message as JSON for channels that leave the server."""
        return {
            "event": f"housewatch.{self.kind}",
            "request_id": self.request_id,
            "station_id": self.station_id,
            "contact": self.contact,
            "title": {"th": self.title_th, "en": self.title_en},
            "text": {"th": self.text_th, "en": self.text_en},
            "data": self.data,
        }


class Channel(Protocol):
    """Delivers (or queues for delivery) one message, within the caller's transaction."""

    name: str

    def send(self, session: Session, message: Message) -> None: ...


class InAppChannel:
    """The owner's inbox in the citizen app: the stored notice is the delivery."""

    name = "app"

    def send(self, session: Session, message: Message) -> None:
        session.add(
            HouseWatchNotice(
                request_id=message.request_id,
                kind=message.kind,
                title_th=message.title_th,
                title_en=message.title_en,
                text_th=message.text_th,
                text_en=message.text_en,
                data=message.data,
                checkin_id=message.checkin_id,
            )
        )
        session.flush()


class WebhookChannel:
    """Queues the message for the house-watch webhook (SAFEZONE_HOUSEWATCH_WEBHOOK_URL);
    ``housewatch.jobs.HouseWatchWorkers`` POSTs it once committed. The URL stays in the
    settings, not in the event."""

    name = "webhook"

    def send(self, session: Session, message: Message) -> None:
        outbox.enqueue(
            session,
            topic=WEBHOOK_TOPIC,
            payload=message.body(),
            station_id=message.station_id,
            audit_seq=None,
        )
