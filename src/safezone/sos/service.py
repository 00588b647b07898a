"""SOS: signed box messages (MQTT or HTTP), box presence, citizen panic SOS, and the one
trigger that brings cameras and the nearest units to every SOS incident.

Both transports use the same rules: ``prepare`` checks messages and reads what an SOS
needs before the write lock, ``store`` writes (``receive`` does both for HTTP;
``handle_box_message`` does both in one session). Nothing about the rules lives in a
gateway.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from safezone.audit import service as audit_service
from safezone.cameras import service as cameras_service
from safezone.cameras.schemas import CameraView, SnapshotRead
from safezone.core.bus import outbox
from safezone.core.db import Database, insert_unless_exists, utcnow
from safezone.core.errors import Conflict, NotFound
from safezone.core.security import constant_time_equal, hmac_sha256_hex
from safezone.incidents import service as incidents_service
from safezone.incidents.schemas import IncidentCreate
from safezone.patrol import service as patrol_service
from safezone.patrol.schemas import UnitSuggestion
from safezone.reports import service as reports_service
from safezone.reports.schemas import ReportCreate
from safezone.sos.models import BoxEvent, BoxRejection, BoxStatus, SosResponse, TrailPoint
from safezone.sos.schemas import (
    BoxMessage,
    PanicStart,
    PanicState,
    RejectionCount,
    ResponseRead,
    TrailBatch,
    TrailPointIn,
)
from safezone.zones import service as zones_service

URGENT_SOURCES = ("sos", "emergency")
CANCEL_WINDOW = timedelta(minutes=10)
UNREGISTERED_SHOWN = 50  # refusals of unregistered box ids listed for admins, most first
MAX_BODY_BYTES = 4096
# HTTP status, field and message for each reason a message is refused. An unknown box
# answers as a bad signature does (the reason is counted apart), so ids cannot be probed.
REJECTIONS: dict[str, tuple[int, str, str]] = {
    "malformed": (422, "payload", "The message is not a valid SOS box message"),
    "unknown_box": (401, "sig", "Unknown box or wrong signature"),
    "bad_signature": (401, "sig", "Unknown box or wrong signature"),
    "stale_timestamp": (422, "ts", "The box's clock is outside the allowed window"),
    "seq_reused": (409, "seq", "This sequence number was already used"),
}


@dataclass
class BoxResult:
    """What became of one box message. ``accepted`` and ``duplicate`` are successes."""

    status: str  # accepted | duplicate | rejected
    box_id: str
    seq: int | None = None
    reason: str | None = None
    detail: str = ""
    incident_id: int | None = None
    fault_field: str | None = None  # the message's field at fault, where one is (malformed)

    @property
    def ok(self) -> bool:
        return self.status in ("accepted", "duplicate")

    def http(self) -> tuple[int, dict[str, Any]]:
        if self.status == "accepted":
            return 201, {
                "status": "accepted",
                "box_id": self.box_id,
                "seq": self.seq,
                "incident_id": self.incident_id,
            }
        if self.status == "duplicate":
            return 200, {
                "status": "duplicate",
                "box_id": self.box_id,
                "seq": self.seq,
                "incident_id": self.incident_id,
            }
        reason = self.reason or "malformed"
        status, fieldname, message = REJECTIONS[reason]
        return status, {
            "error": {
                "code": "bad_signature" if reason == "unknown_box" else reason,
                "field": self.fault_field or fieldname,
                "message": f"{message}. {self.detail}".strip(),
            }
        }


@dataclass(frozen=True)
class BoxInfo:
    """What checking and acting on a message needs of its box, read before the write
    transaction (a plain copy: read sessions end before it)."""

    id: str
    station_id: str
    name: str
    lat: float
    lon: float
    secret: str
    active: bool
    # When SafeZone last heard from the box (its status row), for messages that arrive
    # late (``check``). Not part of what makes the box "the same box" for ``store``'s
    # re-check: a heartbeat stored in between changes it and nothing else.
    last_heard: datetime | None = field(default=None, compare=False)

    @classmethod
    def of(cls, row: Any) -> BoxInfo:
        return cls(
            row.id,
            row.station_id,
            row.name,
            row.lat,
            row.lon,
            row.secret,
            bool(row.active),
            row.last_message_at,
        )


@dataclass(frozen=True)
class Checked:
    """One box message after every check that needs no write: the message, or why it is
    refused (``reason``, a key of ``REJECTIONS``)."""

    box_id: str
    box: BoxInfo | None
    message: BoxMessage | None
    received_at: datetime
    reason: str | None = None
    seq: int | None = None
    detail: str = ""
    fault_field: str | None = None  # the message's field at fault (malformed), if one is
    # What was checked, to check it again if the box changed before the write.
    body: bytes | str | dict[str, Any] = b""
    tolerance_s: int = 0
    # A message older than the window that was held while the box could not reach
    # SafeZone (``check``): how many seconds late it arrived; 0 for one on time.
    late_s: float = 0.0


@dataclass(frozen=True)
class Surroundings:
    """Where an SOS is and what is around it: its zone, the cameras that see it and the
    nearest available units. Read before the press's write transaction, so the alarm
    holds the database's one write lock only for its inserts."""

    placement: zones_service.Placement
    cameras: list[CameraView]
    units: list[UnitSuggestion]


@dataclass(frozen=True)
class Prepared:
    """A checked message, with the surroundings of its SOS when it is a press."""

    checked: Checked
    surroundings: Surroundings | None = None


def signing_bytes(payload: dict[str, Any]) -> bytes:
    """What a box signs: the payload without ``sig``, exactly as docs/devices.md gives it:
    ``json.dumps(payload, sort_keys=True, separators=(",", ":"))``, whose default escapes
    every non-ASCII character (``\\u0e1b``), so firmware in any language can produce the
    same bytes."""
    unsigned = {k: v for k, v in payload.items() if k != "sig"}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":")).encode("ascii")


def sign(payload: dict[str, Any], secret: str) -> str:
    return hmac_sha256_hex(secret, signing_bytes(payload))


def _reject(
    session: Session,
    *,
    box_id: str,
    station_id: str | None,
    reason: str,
    seq: int | None,
    transport: str,
    detail: str,
    at: str | None = None,
) -> BoxResult:
    """Count and audit a refused message; it changes nothing else. ``at``: the message's
    field at fault, where one is."""
    session.add(
        BoxRejection(
            box_id=box_id[:64],
            station_id=station_id,
            reason=reason,
            seq=seq,
            transport=transport,
            detail=detail[:300],
            received_at=utcnow(),
        )
    )
    audit_service.record(
        session,
        actor=f"device:{box_id[:64]}",
        action="sos.rejected",
        object_type="sos_box",
        object_id=box_id[:64],
        station_id=station_id,
        payload={"reason": reason, "seq": seq, "transport": transport, "detail": detail[:300]},
    )
    return BoxResult("rejected", box_id, seq=seq, reason=reason, detail=detail, fault_field=at)


@contextmanager
def preloaded(session: Session, *, box_ids: Collection[str | None]) -> Iterator[None]:
    """Load these boxes' status rows once for a batch of heartbeats.

    The session holds loaded rows only weakly, so without this each heartbeat would load
    its box's status row again and write it at once; held here, a batch costs one query
    and one UPDATE per box.
    """
    wanted = [box_id for box_id in box_ids if box_id]
    if not wanted:
        yield
        return
    held = list(session.scalars(select(BoxStatus).where(BoxStatus.box_id.in_(wanted))))
    try:
        yield
    finally:
        held.clear()


def _status_row(session: Session, box: Any) -> BoxStatus:
    row = session.get(BoxStatus, box.id)
    if row is None:
        row = BoxStatus(box_id=box.id, station_id=box.station_id, online=False)
        session.add(row)
    return row


def _mark_online(session: Session, box: Any, row: BoxStatus, now: datetime) -> None:
    was_offline = not row.online
    row.online = True
    row.offline_since = None
    if was_offline:
        audit_service.record(
            session,
            actor=f"device:{box.id}",
            action="sos_box.online",
            object_type="sos_box",
            object_id=box.id,
            station_id=box.station_id,
            payload={},
            event={"box_id": box.id, "online": True},
            topic="sos.box_status",
        )
        zones_service.clear_maintenance_alert(
            session,
            asset_kind="sos_box",
            asset_id=box.id,
            kind="offline",
            actor=f"device:{box.id}",
        )


def mark_offline(session: Session, *, box: Any, now: datetime, reason: str, actor: str) -> bool:
    """Mark a box offline and raise a maintenance alert; False if it already was."""
    row = _status_row(session, box)
    if not row.online and row.offline_since is not None:
        return False
    row.online = False
    row.offline_since = now
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="sos_box.offline",
        object_type="sos_box",
        object_id=box.id,
        station_id=box.station_id,
        payload={"reason": reason},
        event={"box_id": box.id, "online": False, "reason": reason},
        topic="sos.box_status",
    )
    zones_service.raise_maintenance_alert(
        session,
        station_id=box.station_id,
        asset_kind="sos_box",
        asset_id=box.id,
        kind="offline",
        detail=reason,
        actor=actor,
    )
    return True


def parse_body(body: bytes | str | dict[str, Any]) -> dict[str, Any] | str:
    """The message as a dict, or a string saying why it cannot be one."""
    if isinstance(body, dict):
        return body
    if isinstance(body, bytes) and len(body) > MAX_BODY_BYTES:
        return f"larger than {MAX_BODY_BYTES} bytes"
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return "not JSON"
    return value if isinstance(value, dict) else "not a JSON object"


def handle_box_message(
    session: Session,
    *,
    box_id: str,
    body: bytes | str | dict[str, Any],
    transport: str,
    tolerance_s: int,
    now: datetime | None = None,
) -> BoxResult:
    """Check one box message and act on it, in the caller's transaction.

    Refused (counted, audited, nothing else changes): malformed, unknown box, bad
    signature, timestamp outside ``tolerance_s``, a seq already used with other content.
    The same message delivered again answers ``duplicate`` and changes nothing.
    (``prepare`` then ``store`` do the same in two sessions, so that the checks and the
    reads of an SOS's surroundings happen before the write lock is taken.)
    """
    [prepared] = prepare(session, [(box_id, body)], tolerance_s=tolerance_s, now=now or utcnow())
    [result] = store(session, [prepared], transport=transport)
    return result


def receive(
    db: Database,
    *,
    box_id: str,
    body: bytes | str | dict[str, Any],
    transport: str,
    tolerance_s: int,
) -> BoxResult:
    """``handle_box_message`` in two sessions: the checks and an SOS's surroundings are
    read first, then the write transaction (urgent: ahead of other writers) only writes."""
    with db.reader() as session:
        prepared = prepare(session, [(box_id, body)], tolerance_s=tolerance_s)
    with db.transaction(urgent=True) as session:
        [result] = store(session, prepared, transport=transport)
    return result


_BOX = zones_service.KINDS["sos_box"].model
_BOX_COLUMNS = (_BOX.id, _BOX.station_id, _BOX.name, _BOX.lat, _BOX.lon, _BOX.secret, _BOX.active)
_BOXES = select(*_BOX_COLUMNS, BoxStatus.last_message_at).outerjoin(
    BoxStatus, BoxStatus.box_id == _BOX.id
)
_ONE_BOX = _BOXES.where(_BOX.id == bindparam("box"))


def boxes_by_id(session: Session, box_ids: Collection[str | None]) -> dict[str, BoxInfo]:
    """The registered boxes among these ids, active or not, as plain copies."""
    wanted = [box_id for box_id in box_ids if box_id]
    if not wanted:
        return {}
    connection = session.connection()  # Core: plain rows, no ORM compile step
    if len(wanted) == 1:  # (an IN list is rendered again at each execution)
        rows = connection.execute(_ONE_BOX, {"box": wanted[0]})
    else:
        rows = connection.execute(_BOXES.where(_BOX.id.in_(wanted)))
    return {row.id: BoxInfo.of(row) for row in rows}


def check(
    box: BoxInfo | None,
    *,
    box_id: str,
    body: bytes | str | dict[str, Any],
    tolerance_s: int,
    now: datetime,
) -> Checked:
    """Every check of a box message that needs no write: the box is known and active, the
    message is a signed, well-formed box message, and its clock is within
    ``tolerance_s`` of ``now``. A reused seq is found only by ``store``.

    A message sent more than ``tolerance_s`` ago is still taken, as late, when SafeZone
    had heard nothing from the box since then (``held``): a press held by the box, the
    broker or a retrying box while SafeZone, the broker or the box's network was down is
    an emergency, not a replay. A replayed old message is refused once the box has been
    heard since it was sent."""
    payload = parse_body(body)
    raw_seq = payload.get("seq") if isinstance(payload, dict) else None
    seq_hint = raw_seq if isinstance(raw_seq, int) and not isinstance(raw_seq, bool) else None

    def refused(
        reason: str, seq: int | None = seq_hint, detail: str = "", at: str | None = None
    ) -> Checked:
        return Checked(
            box_id, box, None, now, reason, seq, detail, at, body=body, tolerance_s=tolerance_s
        )

    if isinstance(payload, str):  # (before the box: answers must not tell ids apart)
        return refused("malformed", None, payload)
    if box is None or not box.active:
        return refused("unknown_box")
    signature = payload.get("sig")
    if not isinstance(signature, str) or not constant_time_equal(
        signature.lower(), sign(payload, box.secret)
    ):
        return refused("bad_signature")
    try:
        message = BoxMessage.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "payload"
        return refused("malformed", detail=f"{where}: {first['msg']}", at=where)
    sent = message.ts  # (with its zone: BoxMessage refuses one without)
    behind = (now - sent).total_seconds()
    late_s = 0.0
    if abs(behind) > tolerance_s:
        if behind < 0 or not held(box, sent=sent, tolerance_s=tolerance_s):
            limit = f"{int(abs(behind))} s from server time (limit {tolerance_s} s)"
            return refused("stale_timestamp", message.seq, limit)
        late_s = behind
    return Checked(
        box_id,
        box,
        message,
        now,
        seq=message.seq,
        body=body,
        tolerance_s=tolerance_s,
        late_s=late_s,
    )


def held(box: BoxInfo, *, sent: datetime, tolerance_s: int) -> bool:
    """Whether a message the box sent at ``sent`` (older than the window) can have been
    held on its way: SafeZone had heard nothing from the box since (within the clock
    tolerance). A box never heard from has no such record, and its old messages are
    refused."""
    if box.last_heard is None:
        return False
    return sent >= box.last_heard - timedelta(seconds=tolerance_s)


def surroundings(session: Session, *, station_id: str, lat: float, lon: float) -> Surroundings:
    """The zone of an SOS at (lat, lon), the station's cameras that see it (nearest first)
    and its nearest available units with a fresh location."""
    return Surroundings(
        placement=zones_service.place(session, lat=lat, lon=lon),
        cameras=cameras_service.covering(session, station_id=station_id, lat=lat, lon=lon),
        units=patrol_service.rank_available(session, station_id=station_id, lat=lat, lon=lon),
    )


def prepare(
    session: Session,
    messages: Sequence[tuple[str, bytes | str | dict[str, Any]]],
    *,
    tolerance_s: int,
    now: datetime | None = None,
    arrived: Sequence[datetime] | None = None,
    keep_going: Callable[[], bool] | None = None,
    heard_before: Mapping[str, datetime] | None = None,
) -> list[Prepared]:
    """Check (box id, body) messages and read the surroundings of each press, all in a
    read session: what ``store`` then writes needs no more reads of its own.
    ``arrived``: when each message arrived, if not ``now``. ``keep_going``, asked before
    each message after the first: when it says no, the messages prepared so far are
    returned, and the caller prepares the rest later. ``heard_before``: for boxes whose
    message arrived before and could not be stored (it comes again), when SafeZone had
    last heard from them then; late or not is judged by the earlier time (``held``)."""
    now = now or utcnow()
    boxes = boxes_by_id(session, {box_id for box_id, _ in messages})
    for box_id, heard in (heard_before or {}).items():
        box = boxes.get(box_id)
        if box is not None and (box.last_heard is None or heard < box.last_heard):
            boxes[box_id] = replace(box, last_heard=heard)
    prepared: list[Prepared] = []
    for index, (box_id, body) in enumerate(messages):
        if prepared and keep_going is not None and not keep_going():
            break
        box = boxes.get(box_id)
        at = arrived[index] if arrived is not None else now
        checked = check(box, box_id=box_id, body=body, tolerance_s=tolerance_s, now=at)
        around = None
        if box is not None and checked.message is not None and checked.message.type == "press":
            around = surroundings(session, station_id=box.station_id, lat=box.lat, lon=box.lon)
        prepared.append(Prepared(checked, around))
    return prepared


def store(
    session: Session,
    prepared: list[Prepared],
    *,
    transport: str,
    current: dict[str, BoxInfo] | None = None,
) -> list[BoxResult]:
    """Act on prepared messages in the caller's (write) transaction.

    The boxes are read once more here, inside the transaction (``current``, when the
    caller has just done so): a message whose box changed since ``prepare`` (deactivated,
    its secret rotated, deleted) is checked again against the box as it is now.
    """
    if current is None:
        current = boxes_by_id(session, {item.checked.box_id for item in prepared})
    return [
        _act(session, _as_of_now(item, current.get(item.checked.box_id)), transport=transport)
        for item in prepared
    ]


def _as_of_now(item: Prepared, box: BoxInfo | None) -> Prepared:
    checked = item.checked
    if box == checked.box:
        return item
    if box is not None and checked.box is not None:
        # Late or not is judged by what SafeZone had heard when the message arrived.
        box = replace(box, last_heard=checked.box.last_heard)
    again = check(
        box,
        box_id=checked.box_id,
        body=checked.body,
        tolerance_s=checked.tolerance_s,
        now=checked.received_at,
    )
    # Surroundings read for the box as it was are read again in the transaction.
    return Prepared(again, None)


def _act(session: Session, item: Prepared, *, transport: str) -> BoxResult:
    checked = item.checked
    box, message = checked.box, checked.message
    if checked.reason == "stale_timestamp" and box is not None and checked.seq is not None:
        # An old message already stored (its answer lost, the box retrying after an
        # outage): the same message again, not a stale one.
        payload = parse_body(checked.body)
        sig = payload.get("sig") if isinstance(payload, dict) else None
        previous = _stored(session, box=box, seq=checked.seq)
        if previous is not None and isinstance(sig, str) and previous.signature == sig.lower():
            return BoxResult("duplicate", box.id, seq=checked.seq, incident_id=previous.incident_id)
    if message is None or box is None:
        return _reject(
            session,
            box_id=checked.box_id,
            station_id=box.station_id if box is not None else None,
            reason=checked.reason or "malformed",
            seq=checked.seq,
            transport=transport,
            detail=checked.detail,
            at=checked.fault_field,
        )
    now = checked.received_at
    if message.type == "heartbeat":
        if checked.late_s:
            # It says the box was alive when it was sent, which is older than what its
            # status shows; the next heartbeat on time says where it is now.
            return BoxResult("accepted", box.id, seq=message.seq)
        return _heartbeat(session, box=box, message=message, now=now)
    # (box_id, seq) is unique: the row goes in unless this seq is stored already, which
    # one statement settles (no read before, no savepoint, whoever else is writing).
    event_id = insert_unless_exists(
        session,
        BoxEvent,
        {
            "box_id": box.id,
            "station_id": box.station_id,
            "seq": message.seq,
            "type": message.type,
            "device_ts": message.ts.isoformat(),
            "signature": message.sig.lower(),
            "transport": transport,
            "received_at": now,
        },
    )
    if event_id is None:
        previous = _stored(session, box=box, seq=message.seq)
        if previous is None or previous.signature == message.sig.lower():
            incident_id = previous.incident_id if previous is not None else None
            return BoxResult("duplicate", box.id, seq=message.seq, incident_id=incident_id)
        return _reject(
            session,
            box_id=box.id,
            station_id=box.station_id,
            reason="seq_reused",
            seq=message.seq,
            transport=transport,
            detail="a different message already used it",
        )
    return _accept(
        session,
        box=box,
        event_id=event_id,
        message=message,
        transport=transport,
        now=now,
        around=item.surroundings,
        late_s=checked.late_s,
    )


def _stored(session: Session, *, box: BoxInfo, seq: int) -> BoxEvent | None:
    """The box's stored message with this seq, if there is one."""
    return session.scalar(select(BoxEvent).where(BoxEvent.box_id == box.id, BoxEvent.seq == seq))


def _heartbeat(session: Session, *, box: Any, message: BoxMessage, now: datetime) -> BoxResult:
    """Heartbeats only keep a box's presence: they are not stored one by one (a box sends
    thousands a day), and one that is not newer than the last is a harmless repeat."""
    status = _status_row(session, box)
    if status.last_heartbeat_seq is not None and message.seq <= status.last_heartbeat_seq:
        return BoxResult("duplicate", box.id, seq=message.seq)
    status.last_heartbeat_seq = message.seq
    status.last_heartbeat_at = now
    if status.last_message_at is None or status.last_message_at < now:
        status.last_message_at = now
    went_offline = status.offline_since if not status.online else None
    if went_offline is None or now > went_offline:
        _mark_online(session, box, status, now)
    # else it arrived before the box was marked offline (its last will, the watchdog) and
    # is stored only now: it says nothing about the box since then.
    return BoxResult("accepted", box.id, seq=message.seq)


def _accept(
    session: Session,
    *,
    box: BoxInfo,
    event_id: int,
    message: BoxMessage,
    transport: str,
    now: datetime,
    around: Surroundings | None,
    late_s: float = 0.0,
) -> BoxResult:
    """Act on a stored box message (``event_id``) other than a heartbeat. One that
    arrived late (``late_s``) is acted on all the same, and says so."""
    if not late_s:
        # A late one says nothing newer about the box; leaving its last-heard time as it
        # was lets the rest of what it held (sent later) in too.
        _note_message(session, box, now)
    incident_id: int | None = None
    actor = f"device:{box.id}"
    if message.type == "press":
        incident = incidents_service.create_incident(
            session,
            data=IncidentCreate(
                category="sos",
                priority="critical",
                title=f"SOS {box.name or box.id}",
                description=_press_description(box, message, late_s),
                lat=box.lat,
                lon=box.lon,
            ),
            source="sos",
            actor=actor,
            station_id=box.station_id,
            placement=around.placement if around is not None else None,
        )
        incident_id = incident.id
        respond(
            session,
            incident=incident,
            trigger="box",
            box_id=box.id,
            tracking_code=None,
            around=around,
        )
    elif message.type == "cancel":
        incident_id = _cancel_from_box(session, box=box, now=now, actor=actor)
    elif message.type in ("tamper", "power"):
        zones_service.raise_maintenance_alert(
            session,
            station_id=box.station_id,
            asset_kind="sos_box",
            asset_id=box.id,
            kind=message.type,
            detail=json.dumps(message.data or {}, ensure_ascii=False)[:500],
            actor=actor,
        )
    audit_service.record(
        session,
        actor=actor,
        action=f"sos.{message.type}",
        object_type="sos_box",
        object_id=box.id,
        station_id=box.station_id,
        payload={
            "seq": message.seq,
            "transport": transport,
            "incident_id": incident_id,
            **({"late_s": round(late_s), "sent_at": message.ts.isoformat()} if late_s else {}),
        },
    )
    if incident_id is not None:
        session.connection().execute(  # Core: no ORM bookkeeping for one column
            _LINK_EVENT, {"event": event_id, "incident": incident_id}
        )
    session.flush()
    return BoxResult("accepted", box.id, seq=message.seq, incident_id=incident_id)


def _press_description(box: BoxInfo, message: BoxMessage, late_s: float) -> str:
    if not late_s:
        return f"SOS box {box.id} was pressed"
    sent = message.ts.astimezone(UTC)
    return (
        f"SOS box {box.id} was pressed {_duration(late_s)} before the press reached SafeZone"
        f" (held while the box could not reach it; sent {sent:%Y-%m-%d %H:%M:%S} UTC)"
    )


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes >= 10:
        return f"{minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


_LINK_EVENT = (
    update(BoxEvent)
    .where(BoxEvent.id == bindparam("event"))
    .values(incident_id=bindparam("incident"))
)


def _note_message(session: Session, box: BoxInfo, now: datetime) -> None:
    """The box's last message time, in one UPDATE (its status row exists once it has
    sent a heartbeat; before that it is made here)."""
    touched = session.connection().execute(_NOTE_MESSAGE, {"box": box.id, "at": now})
    if not touched.rowcount:
        _status_row(session, box).last_message_at = now


_NOTE_MESSAGE = (
    update(BoxStatus)
    .where(BoxStatus.box_id == bindparam("box"))
    .values(last_message_at=bindparam("at"))
)


def _cancel_from_box(session: Session, *, box: Any, now: datetime, actor: str) -> int | None:
    """A cancel at the box notes the latest recent press; an operator still decides."""
    press = session.scalar(
        select(BoxEvent)
        .where(
            BoxEvent.box_id == box.id,
            BoxEvent.type == "press",
            BoxEvent.incident_id.is_not(None),
            BoxEvent.received_at >= now - CANCEL_WINDOW,
        )
        .order_by(BoxEvent.received_at.desc())
        .limit(1)
    )
    if press is None or press.incident_id is None:
        return None
    incidents_service.add_note(
        session,
        incident_id=press.incident_id,
        note="cancelled at the SOS box",
        actor=actor,
        station_id=box.station_id,
        action="sos_cancelled",
    )
    response = session.get(SosResponse, press.incident_id)
    if response is not None and response.cancelled_at is None:
        response.cancelled_at = now
    return press.incident_id


def handle_box_status(session: Session, *, box_id: str, payload: bytes) -> bool:
    """A box's last-will (or clean) 'offline' message marks it offline at once.

    'online' is not trusted from this unsigned topic: a signed heartbeat brings a box back.
    """
    text = payload.decode("utf-8", "replace").strip().lower()
    box = zones_service.find_asset(session, kind=zones_service.KINDS["sos_box"], asset_id=box_id)
    if box is None or text != "offline":
        return False
    return mark_offline(
        session,
        box=box,
        now=utcnow(),
        reason="last will: connection lost",
        actor=f"device:{box_id}",
    )


def _silent_boxes(session: Session, now: datetime) -> list[tuple[Any, datetime]]:
    """Active boxes that missed two heartbeat intervals and are not yet marked offline,
    each with its last heartbeat (or registration) time."""
    statuses = {row.box_id: row for row in session.scalars(select(BoxStatus))}
    silent = []
    for box in zones_service.all_assets(session, kind=zones_service.KINDS["sos_box"]):
        if not box.active:
            continue
        status = statuses.get(box.id)
        if status is not None and not status.online and status.offline_since is not None:
            continue  # already offline: mark_offline would do nothing
        last = (status.last_heartbeat_at if status else None) or box.created_at
        if now - last > timedelta(seconds=2 * box.heartbeat_interval_s):
            silent.append((box, last))
    return silent


def any_box_silent(session: Session, *, now: datetime | None = None) -> bool:
    """Read-only: whether :func:`check_heartbeats` has a box to mark offline."""
    return bool(_silent_boxes(session, now or utcnow()))


def check_heartbeats(session: Session, *, now: datetime | None = None) -> list[str]:
    """Mark offline every active box that missed two heartbeat intervals."""
    now = now or utcnow()
    went_offline = []
    for box, last in _silent_boxes(session, now):
        if mark_offline(
            session,
            box=box,
            now=now,
            reason=f"no heartbeat for {int((now - last).total_seconds())} s",
            actor="system:monitor",
        ):
            went_offline.append(box.id)
    return went_offline


def any_unacknowledged_overdue(
    session: Session, *, timeout_s: int, now: datetime | None = None
) -> bool:
    """Read-only: whether :func:`escalate_unacknowledged` has an incident to escalate."""
    created_before = (now or utcnow()) - timedelta(seconds=timeout_s)
    return bool(
        incidents_service.overdue_unacknowledged(
            session, sources=URGENT_SOURCES, created_before=created_before
        )
    )


def escalate_unacknowledged(
    session: Session, *, timeout_s: int, now: datetime | None = None
) -> list[int]:
    """Escalate urgent incidents nobody acknowledged in time."""
    now = now or utcnow()
    escalated = []
    for incident in incidents_service.overdue_unacknowledged(
        session, sources=URGENT_SOURCES, created_before=now - timedelta(seconds=timeout_s)
    ):
        incidents_service.escalate(
            session,
            incident_id=incident.id,
            actor="system:monitor",
            reason=f"not acknowledged within {timeout_s} s",
        )
        escalated.append(incident.id)
    return escalated


# --- the one trigger ------------------------------------------------------------------


def respond(
    session: Session,
    *,
    incident: Any,
    trigger: str,
    box_id: str | None,
    tracking_code: str | None,
    around: Surroundings | None = None,
) -> SosResponse:
    """Attach to an SOS incident the cameras that see it and the nearest free units
    (``around``, when they were read before the transaction).

    Snapshots are fetched after commit (``capture_snapshots``), outside the transaction,
    so a slow camera never delays the alarm.
    """
    if around is None:
        around = surroundings(
            session, station_id=incident.station_id, lat=incident.lat, lon=incident.lon
        )
    cameras, units = around.cameras, around.units
    values: dict[str, Any] = {
        "incident_id": incident.id,
        "station_id": incident.station_id,
        "trigger": trigger,
        "box_id": box_id,
        "tracking_code": tracking_code,
        "cameras": [c.model_dump(mode="json") for c in cameras],
        "units": [u.model_dump(mode="json") for u in units],
        "created_at": utcnow(),
    }
    session.connection().execute(_INSERT_RESPONSE, values)  # Core: no ORM bookkeeping
    response = SosResponse(**values)  # a copy of the stored row (not in the session)
    audit_service.record(
        session,
        actor="system:sos",
        action="sos.response",
        object_type="incident",
        object_id=incident.id,
        station_id=incident.station_id,
        payload={"cameras": [c.camera_id for c in cameras], "units": [u.unit_id for u in units]},
        event={
            "incident_id": incident.id,
            "incident": incidents_service.summary(incident),
            "trigger": trigger,
            "box_id": box_id,
            "cameras": response.cameras,
            "units": response.units,
        },
    )
    return response


_INSERT_RESPONSE = insert(SosResponse)


def pending_snapshots(session: Session, *, incident_id: int) -> list[tuple[str, str]]:
    """(camera id, snapshot URL) for each camera of an SOS response."""
    response = session.get(SosResponse, incident_id)
    if response is None:
        return []
    wanted = {c["camera_id"] for c in response.cameras}
    kind = zones_service.KINDS["camera"]
    return [
        (camera.id, camera.snapshot_url)
        for camera in zones_service.list_assets(session, kind=kind, station_id=response.station_id)
        if camera.id in wanted
    ]


def station_of_response(session: Session, *, incident_id: int) -> str | None:
    response = session.get(SosResponse, incident_id)
    return response.station_id if response is not None else None


def get_response(session: Session, *, incident_id: int, station_id: str) -> ResponseRead:
    incidents_service.get_incident(session, incident_id=incident_id, station_id=station_id)
    response = session.get(SosResponse, incident_id)
    if response is None:
        raise NotFound(f"Incident {incident_id} was not raised by an SOS.", field="id")
    trail = session.scalars(
        select(TrailPoint).where(TrailPoint.incident_id == incident_id).order_by(TrailPoint.at)
    ).all()
    return ResponseRead.model_validate(
        {
            "incident_id": incident_id,
            "trigger": response.trigger,
            "box_id": response.box_id,
            "cameras": response.cameras,
            "units": response.units,
            "snapshots": [
                SnapshotRead.model_validate(s)
                for s in cameras_service.snapshots_for_incident(session, incident_id=incident_id)
            ],
            "trail": [
                {"lat": p.lat, "lon": p.lon, "accuracy_m": p.accuracy_m, "at": p.at} for p in trail
            ],
            "cancelled_at": response.cancelled_at,
        }
    )


def box_statuses(session: Session, *, station_id: str) -> list[BoxStatus]:
    return list(
        session.scalars(
            select(BoxStatus).where(BoxStatus.station_id == station_id).order_by(BoxStatus.box_id)
        )
    )


def rejection_counts(
    session: Session, *, station_id: str, unregistered: bool = False
) -> list[RejectionCount]:
    """Refused messages per box and reason at the station; with ``unregistered`` (for
    admins, who register boxes) also those from box ids no station has, which belong to
    no station: a box installed with a mistyped id shows up there."""
    counted = select(BoxRejection.box_id, BoxRejection.reason, func.count()).group_by(
        BoxRejection.box_id, BoxRejection.reason
    )
    rows = list(
        session.execute(
            counted.where(BoxRejection.station_id == station_id).order_by(
                BoxRejection.box_id, BoxRejection.reason
            )
        ).all()
    )
    if unregistered:  # anyone can send to made-up ids: the most frequent ones only
        rows += session.execute(
            counted.where(BoxRejection.station_id.is_(None))
            .order_by(func.count().desc(), BoxRejection.box_id)
            .limit(UNREGISTERED_SHOWN)
        ).all()
    return [RejectionCount(box_id=b, reason=r, count=int(n)) for b, r, n in rows]


# --- citizen panic SOS ----------------------------------------------------------------

SAME_SOURCE_WINDOW_S = 600.0
SAME_SOURCE_NOTED_FROM = 3  # the 3rd SOS from one address in the window is pointed out
SAME_SOURCE_KEPT = 100  # counted up to this many per address (enough to say "a flood")


class PanicSources:
    """How many different panic SOS one network address started lately (per process).

    An SOS is never refused for this: many phones share one address (a carrier's NAT, a
    building's Wi-Fi), and a crowd at one fire presses SOS together. From the third in
    ten minutes the incident says so, so the operator can tell a prank run from a crowd.
    """

    def __init__(self, window_s: float = SAME_SOURCE_WINDOW_S, sweep_s: float = 60.0) -> None:
        self.window_s = window_s
        self.sweep_s = sweep_s
        self._seen: dict[str, dict[str, float]] = {}  # address -> {client_ref: first seen}
        self._next_sweep = 0.0
        self._lock = threading.Lock()

    def note(self, address: str, client_ref: str) -> int:
        """Record an SOS (a retry with the same client_ref counts once); how many
        different ones the address started within the window, this one included (at
        most ``SAME_SOURCE_KEPT``)."""
        now = time.monotonic()
        with self._lock:
            if now >= self._next_sweep:  # forget quiet addresses, now and then
                self._seen = {
                    a: refs
                    for a, refs in self._seen.items()
                    if any(now - at < self.window_s for at in refs.values())
                }
                self._next_sweep = now + self.sweep_s
            refs = {
                ref: at
                for ref, at in self._seen.get(address, {}).items()
                if now - at < self.window_s
            }
            if client_ref not in refs and len(refs) < SAME_SOURCE_KEPT:
                refs[client_ref] = now
            self._seen[address] = refs
            return len(refs) if client_ref in refs else SAME_SOURCE_KEPT

    def __len__(self) -> int:
        """How many addresses are remembered."""
        with self._lock:
            return len(self._seen)


def start_panic(
    session: Session, *, data: PanicStart, principal: Any, same_source: int = 1
) -> PanicState:
    """A citizen's panic button: an emergency report, a critical incident and the whole
    response at once. A retry with the same client_ref returns the first SOS.
    ``same_source``: how many different SOS this one's network address started lately
    (``PanicSources``), said in the incident from ``SAME_SOURCE_NOTED_FROM`` on."""
    submitted = reports_service.submit_report(
        session,
        data=ReportCreate(
            kind="emergency",
            category="sos",
            description=_panic_description(data, same_source),
            lat=data.lat,
            lon=data.lon,
            # A place marked by hand has no measured accuracy.
            accuracy_m=data.accuracy_m if data.location_source == "gps" else None,
            client_ref=data.client_ref,
        ),
        principal=principal,
    )
    report = submitted.report
    assert report.incident_id is not None  # an emergency report always opens an incident
    if submitted.created:
        incident = incidents_service.get_incident(
            session, incident_id=report.incident_id, station_id=report.station_id
        )
        respond(
            session,
            incident=incident,
            trigger="panic",
            box_id=None,
            tracking_code=report.tracking_code,
        )
        if data.location_source == "gps":  # a place marked by hand is not where they were
            session.add(
                TrailPoint(
                    incident_id=incident.id,
                    lat=data.lat,
                    lon=data.lon,
                    accuracy_m=data.accuracy_m,
                    at=utcnow(),
                    received_at=utcnow(),
                )
            )
        session.flush()
    return panic_state(session, tracking_code=report.tracking_code)


def _panic_description(data: PanicStart, same_source: int = 1) -> str:
    text = data.description.strip() or "SOS (panic button in the SafeZone app)"
    if data.location_source == "map":
        text += (
            " — the phone could not give a position: the caller marked the place on the map"
            " (check it on the call)"
        )
    if same_source >= SAME_SOURCE_NOTED_FROM:
        minutes = round(SAME_SOURCE_WINDOW_S / 60)
        text += (
            f" — SOS no. {same_source} from the same network address in {minutes} minutes"
            " (a crowd in one place, or a prank: check)"
        )
    return text


def _panic(session: Session, tracking_code: str) -> tuple[Any, SosResponse]:
    report = reports_service.by_tracking_code(session, tracking_code=tracking_code)
    response = (
        session.get(SosResponse, report.incident_id) if report.incident_id is not None else None
    )
    if response is None or response.trigger != "panic":
        raise NotFound("No SOS has this tracking code.", field="tracking_code")
    return report, response


def panic_state(session: Session, *, tracking_code: str) -> PanicState:
    report, response = _panic(session, tracking_code)
    found = incidents_service.public_status(session, incident_id=response.incident_id)
    status = found[0] if found else "closed"
    points = session.scalar(
        select(func.count())
        .select_from(TrailPoint)
        .where(TrailPoint.incident_id == response.incident_id)
    )
    return PanicState(
        tracking_code=report.tracking_code,
        incident_id=response.incident_id,
        incident_status=status,
        active=response.cancelled_at is None and status not in ("resolved", "closed"),
        cancelled_at=response.cancelled_at,
        trail_points=int(points or 0),
    )


def add_trail(session: Session, *, tracking_code: str, batch: TrailBatch) -> PanicState:
    """Points of the live location trail (several at once after being offline)."""
    state = panic_state(session, tracking_code=tracking_code)
    if not state.active:
        raise Conflict("This SOS has ended; the location trail is closed.", field="tracking_code")
    now = utcnow()
    report, response = _panic(session, tracking_code)
    latest: TrailPointIn | None = None
    for point in batch.points:
        at = point.at if point.at.tzinfo else point.at.replace(tzinfo=UTC)
        if at > now + timedelta(minutes=5):
            raise Conflict(
                "A trail point is in the future; check the phone's clock.", field="points.at"
            )
        session.add(
            TrailPoint(
                incident_id=response.incident_id,
                lat=point.lat,
                lon=point.lon,
                accuracy_m=point.accuracy_m,
                at=at,
                received_at=now,
            )
        )
        latest = point if latest is None or point.at > latest.at else latest
    session.flush()
    assert latest is not None
    outbox.enqueue(
        session,
        topic="sos.trail",
        payload={
            "incident_id": response.incident_id,
            "lat": latest.lat,
            "lon": latest.lon,
            "accuracy_m": latest.accuracy_m,
            "at": latest.at.isoformat(),
            "points": len(batch.points),
        },
        station_id=response.station_id,
        audit_seq=None,
    )
    return panic_state(session, tracking_code=tracking_code)


def cancel_panic(session: Session, *, tracking_code: str) -> PanicState:
    """The citizen cancelled: noted on the incident; an operator still checks on them."""
    report, response = _panic(session, tracking_code)
    if response.cancelled_at is None:
        response.cancelled_at = utcnow()
        incidents_service.add_note(
            session,
            incident_id=response.incident_id,
            note="SOS cancelled by the citizen",
            actor="citizen:tracking-code",
            station_id=response.station_id,
            action="sos_cancelled",
        )
    return panic_state(session, tracking_code=tracking_code)
