"""House-watch (ฝากบ้าน): a citizen asks the station to look after their house while away;
once approved the house is a temporary patrol checkpoint on the station's plans for those
dates, every counted scan there is told to the owner, and a summary follows the last day.
ADR 0013 records the choices."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from safezone.audit import service as audit_service
from safezone.config import Settings
from safezone.core.db import utcnow
from safezone.core.errors import Conflict, InvalidInput, InvalidTransition, NotFound
from safezone.core.permissions import Principal
from safezone.core.security import sha256_hex
from safezone.housewatch.channels import Channel, InAppChannel, Message, NoticeKind, WebhookChannel
from safezone.housewatch.models import HouseWatchNotice, HouseWatchRequest
from safezone.housewatch.schemas import (
    CONTACT_PATTERNS,
    MAX_DAYS,
    Approval,
    Decline,
    NoticeRead,
    RequestCreate,
    RequestDetail,
    RequestRead,
    VisitRead,
)
from safezone.patrol import plans as plan_service
from safezone.patrol import qr as patrol_qr
from safezone.patrol import service as patrol_service
from safezone.zones import schemas as zone_schemas
from safezone.zones import service as zones_service

OPEN = ("pending", "approved")
# A citizen may have this many open requests at once (one house, perhaps a parent's too).
MAX_OPEN_PER_OWNER = 3
# How far ahead a watch may be asked for.
MAX_LEAD_DAYS = 180
SYSTEM = "system:housewatch"


def channels_for(settings: Settings) -> list[Channel]:
    """In-app always; the webhook when SAFEZONE_HOUSEWATCH_WEBHOOK_URL is set."""
    found: list[Channel] = [InAppChannel()]
    if settings.housewatch_webhook_url:
        found.append(WebhookChannel())
    return found


def thai_date(day: date) -> str:
    """A date as Thai readers write it: day/month/Buddhist-era year (2026 -> 2569)."""
    return f"{day.day}/{day.month}/{day.year + 543}"


def local_today(settings: Settings, now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(ZoneInfo(settings.local_timezone)).date()


def _snapshot(row: HouseWatchRequest) -> dict[str, Any]:
    return RequestRead.model_validate(row).model_dump(mode="json")


RequestView = TypeVar("RequestView", bound=RequestRead)


def for_viewer(view: RequestView, principal: Principal) -> RequestView:
    """Officers see where and when a house is empty, not who owns it or how to reach them:
    the owner's contact is for the owner and the control room."""
    if principal.role != "officer":
        return view
    return view.model_copy(update={"contact_value": None, "owner_user_id": None})


def _audit(
    session: Session, *, row: HouseWatchRequest, actor: str, action: str, **extra: Any
) -> None:
    # The audit chain is kept for good: it holds a digest of the owner's contact, not the
    # contact itself, so that an erasure request can be met.
    snapshot = _snapshot(row)
    contact = snapshot.pop("contact_value") or ""
    snapshot["contact_sha256"] = sha256_hex(contact.encode())
    audit_service.record(
        session,
        actor=actor,
        action=action,
        object_type="housewatch_request",
        object_id=row.id,
        station_id=row.station_id,
        payload={**snapshot, **extra},
        event={"request": snapshot},
        topic=action,
    )


def _send(
    session: Session,
    channels: Sequence[Channel],
    row: HouseWatchRequest,
    *,
    kind: NoticeKind,
    titles: tuple[str, str],
    texts: tuple[str, str],
    data: dict[str, Any] | None = None,
    checkin_id: int | None = None,
) -> None:
    message = Message(
        request_id=row.id,
        station_id=row.station_id,
        owner_user_id=row.owner_user_id,
        kind=kind,
        title_th=titles[0],
        title_en=titles[1],
        text_th=texts[0],
        text_en=texts[1],
        contact={"kind": row.contact_kind, "value": row.contact_value},
        data=data or {},
        checkin_id=checkin_id,
    )
    for channel in channels:
        channel.send(session, message)


# --- requests ------------------------------------------------------------------------------


def create_request(
    session: Session, *, data: RequestCreate, principal: Principal, today: date
) -> HouseWatchRequest:
    """A citizen's request; it goes to the station whose area the house is in."""
    contact = data.contact
    if contact.kind == "app":
        if contact.value:
            raise InvalidInput(
                "Leave contact.value empty for in-app notices.", field="contact.value"
            )
    elif not re.fullmatch(CONTACT_PATTERNS[contact.kind], contact.value):
        raise InvalidInput(
            f"'{contact.value}' is not a valid {contact.kind} contact.", field="contact.value"
        )
    if data.starts_on < today:
        raise InvalidInput("starts_on is in the past.", field="starts_on")
    if data.starts_on > today + timedelta(days=MAX_LEAD_DAYS):
        raise InvalidInput(
            f"starts_on is more than {MAX_LEAD_DAYS} days ahead; ask nearer the time.",
            field="starts_on",
        )
    if data.ends_on < data.starts_on:
        raise InvalidInput("ends_on is before starts_on.", field="ends_on")
    if (data.ends_on - data.starts_on).days + 1 > MAX_DAYS:
        raise InvalidInput(
            f"A watch lasts at most {MAX_DAYS} days; for longer, contact the station.",
            field="ends_on",
        )
    open_count = session.scalar(
        select(func.count())
        .select_from(HouseWatchRequest)
        .where(
            HouseWatchRequest.owner_user_id == principal.user_id,
            HouseWatchRequest.status.in_(OPEN),
        )
    )
    if (open_count or 0) >= MAX_OPEN_PER_OWNER:
        raise Conflict(
            f"You already have {MAX_OPEN_PER_OWNER} open house-watch requests; cancel one first."
        )
    placement = zones_service.place(session, lat=data.lat, lon=data.lon)
    row = HouseWatchRequest(
        station_id=placement.station_id,
        owner_user_id=principal.user_id,
        address=data.address.strip(),
        lat=data.lat,
        lon=data.lon,
        starts_on=data.starts_on,
        ends_on=data.ends_on,
        contact_kind=contact.kind,
        contact_value=contact.value.strip(),
        note=data.note.strip(),
        status="pending",
        created_at=utcnow(),
        decision_note="",
        last_checkin_id=0,
    )
    session.add(row)
    session.flush()
    _audit(session, row=row, actor=principal.actor, action="housewatch.requested")
    return row


def list_requests(
    session: Session, *, principal: Principal, status: str | None = None, limit: int = 100
) -> list[HouseWatchRequest]:
    """A citizen's own requests; for staff, their station's."""
    query = select(HouseWatchRequest)
    if principal.role == "citizen":
        query = query.where(HouseWatchRequest.owner_user_id == principal.user_id)
    else:
        query = query.where(HouseWatchRequest.station_id == principal.station_id)
    if status is not None:
        query = query.where(HouseWatchRequest.status == status)
    return list(session.scalars(query.order_by(HouseWatchRequest.id.desc()).limit(limit)))


def get_request(
    session: Session, *, request_id: int, principal: Principal, lock: bool = False
) -> HouseWatchRequest:
    """The request if the caller may see it: its owner, or staff of its station.

    ``lock`` reads it with SELECT ... FOR UPDATE (PostgreSQL; SQLite's writers are one at
    a time anyway) and fresh from the database, so that two decisions at once queue and
    the second sees the first."""
    row = session.get(
        HouseWatchRequest, request_id, with_for_update=lock or None, populate_existing=lock
    )
    visible = row is not None and (
        row.owner_user_id == principal.user_id
        if principal.role == "citizen"
        else row.station_id == principal.station_id
    )
    if row is None or not visible:
        raise NotFound(f"No house-watch request {request_id} of yours.", field="request_id")
    return row


def detail(session: Session, *, row: HouseWatchRequest, timezone: str) -> RequestDetail:
    """The request with the patrol visits in its dates and the owner's notices."""
    zone = ZoneInfo(timezone)
    visits: list[VisitRead] = []
    if row.checkpoint_id is not None:
        visits = [
            VisitRead(
                checkin_id=c.id,
                scanned_at=c.scanned_at,
                status="flagged" if c.status == "flagged" else "accepted",
            )
            for c in plan_service.visits_at(session, checkpoint_id=row.checkpoint_id)
            if row.starts_on <= _local_date(c.scanned_at, zone) <= row.ends_on
        ]
    notices = session.scalars(
        select(HouseWatchNotice)
        .where(HouseWatchNotice.request_id == row.id)
        .order_by(HouseWatchNotice.id)
    ).all()
    return RequestDetail(
        **RequestRead.model_validate(row).model_dump(),
        visits=visits,
        notices=[NoticeRead.model_validate(n) for n in notices],
    )


def _pending_for_decision(
    session: Session, *, request_id: int, principal: Principal
) -> HouseWatchRequest:
    """The request, locked, if it still awaits a decision: a request is decided once, so
    of two operators approving or declining at the same moment the second gets a 409
    naming what the first decided."""
    row = get_request(session, request_id=request_id, principal=principal, lock=True)
    if row.status != "pending":
        raise InvalidTransition(
            f"House-watch request {row.id} is already {row.status}; only a pending request "
            "can be approved or declined.",
            field="status",
            details=[{"status": row.status, "decided_by": row.decided_by}],
        )
    return row


def _checkpoint_id(row: HouseWatchRequest) -> str:
    return f"HW-{row.id}"


def approve(
    session: Session,
    *,
    request_id: int,
    data: Approval,
    principal: Principal,
    channels: Sequence[Channel],
    today: date,
) -> HouseWatchRequest:
    """The station takes the watch: the house becomes a checkpoint (with its own printed
    code) and a temporary stop on the plans for the dates; the owner is told."""
    row = _pending_for_decision(session, request_id=request_id, principal=principal)
    if row.ends_on < today:
        raise Conflict("The request's dates have passed; decline it instead.", field="ends_on")
    if data.plan_ids is not None:
        for plan_id in data.plan_ids:
            try:
                plan = plan_service.get_plan(session, plan_id=plan_id, station_id=row.station_id)
            except NotFound:
                raise NotFound(
                    f"No patrol plan {plan_id} at the station.", field="plan_ids"
                ) from None
            if not plan.active:
                raise Conflict(f"Patrol plan {plan_id} is not active.", field="plan_ids")
    checkpoint = zones_service.create_asset(
        session,
        kind=zones_service.KINDS["checkpoint"],
        station_id=row.station_id,
        data=zone_schemas.CheckpointCreate(
            id=_checkpoint_id(row),
            name=f"ฝากบ้าน #{row.id}: {row.address}"[:200],
            lat=row.lat,
            lon=row.lon,
            radius_m=data.radius_m,
            active=True,
        ),
        actor=principal.actor,
    )
    patrol_service.ensure_key(session, checkpoint=checkpoint, actor=principal.actor)
    if data.plan_ids is None:
        plan_ids = [
            p.id
            for p in plan_service.list_plans(session, station_id=row.station_id, active=True)
            if p.valid_from <= row.ends_on and (p.valid_to is None or p.valid_to >= row.starts_on)
        ]
    else:
        plan_ids = list(dict.fromkeys(data.plan_ids))
    for plan_id in plan_ids:
        plan_service.add_temporary_stop(
            session,
            plan_id=plan_id,
            station_id=row.station_id,
            checkpoint_id=checkpoint.id,
            valid_from=row.starts_on,
            valid_to=row.ends_on,
            target_visits=data.target_visits,
            housewatch_request_id=row.id,
            actor=principal.actor,
        )
    row.status = "approved"
    row.checkpoint_id = checkpoint.id
    row.target_visits = data.target_visits
    row.decided_by = principal.actor
    row.decided_at = utcnow()
    row.decision_note = data.note
    # Visits are told from now on; scans before approval were not at a watched house.
    latest = plan_service.visits_at(session, checkpoint_id=checkpoint.id)
    row.last_checkin_id = latest[-1].id if latest else 0
    session.flush()
    _audit(session, row=row, actor=principal.actor, action="housewatch.approved", plan_ids=plan_ids)
    _send(
        session,
        channels,
        row,
        kind="approved",
        titles=("รับฝากบ้านแล้ว", "House-watch approved"),
        texts=(
            f"สถานีรับฝากบ้าน {row.address} วันที่ {thai_date(row.starts_on)} ถึง "
            f"{thai_date(row.ends_on)} แล้ว สายตรวจจะแวะตรวจและสแกนคิวอาร์โค้ดที่บ้านของท่าน "
            "กรุณาพิมพ์คิวอาร์โค้ดจากหน้าคำขอและติดไว้ที่ประตูหน้าบ้านก่อนออกเดินทาง",
            f"The station will watch {row.address} from {row.starts_on.isoformat()} to "
            f"{row.ends_on.isoformat()}. Patrols will scan a QR code at your house: print it "
            "from your request page and fix it at your front gate before you leave.",
        ),
        data={"checkpoint_id": checkpoint.id, "target_visits_per_shift": data.target_visits},
    )
    return row


def decline(
    session: Session,
    *,
    request_id: int,
    data: Decline,
    principal: Principal,
    channels: Sequence[Channel],
) -> HouseWatchRequest:
    row = _pending_for_decision(session, request_id=request_id, principal=principal)
    row.status = "declined"
    row.decided_by = principal.actor
    row.decided_at = utcnow()
    row.decision_note = data.note
    row.closed_at = row.decided_at
    session.flush()
    _audit(session, row=row, actor=principal.actor, action="housewatch.declined")
    _send(
        session,
        channels,
        row,
        kind="declined",
        titles=("ไม่สามารถรับฝากบ้านได้", "House-watch declined"),
        texts=(
            f"สถานีไม่สามารถรับฝากบ้าน {row.address} ได้: {data.note}",
            f"The station cannot watch {row.address}: {data.note}",
        ),
    )
    return row


def _retire_checkpoint(session: Session, row: HouseWatchRequest, *, actor: str) -> None:
    """The house's code stops working (code_expired) once the watch is over."""
    if row.checkpoint_id is None:
        return
    checkpoint = zones_service.find_asset(
        session, kind=zones_service.KINDS["checkpoint"], asset_id=row.checkpoint_id
    )
    if checkpoint is not None and checkpoint.active:
        zones_service.update_asset(
            session,
            kind=zones_service.KINDS["checkpoint"],
            station_id=row.station_id,
            asset_id=row.checkpoint_id,
            data=zone_schemas.CheckpointUpdate(active=False),
            actor=actor,
        )


def cancel(
    session: Session, *, request_id: int, principal: Principal, today: date
) -> HouseWatchRequest:
    """The owner is back early or changed plans: the watch stops from today.

    The row is locked like a decision's, so a cancel racing an approval sees the approval
    (and retires its code and stops) instead of overwriting it."""
    row = get_request(session, request_id=request_id, principal=principal, lock=True)
    if row.owner_user_id != principal.user_id:
        raise NotFound(f"No house-watch request {request_id} of yours.", field="request_id")
    if row.status not in OPEN:
        raise InvalidTransition(f"This request is already {row.status}.")
    if row.status == "approved":
        plan_service.end_temporary_stops(
            session,
            housewatch_request_id=row.id,
            last_day=today - timedelta(days=1),
            actor=principal.actor,
        )
        _retire_checkpoint(session, row, actor=principal.actor)
    row.status = "cancelled"
    row.closed_at = utcnow()
    session.flush()
    _audit(session, row=row, actor=principal.actor, action="housewatch.cancelled")
    return row


def house_qr_svg(session: Session, *, request_id: int, principal: Principal) -> bytes:
    """The house's printed code, for the owner to fix at the gate (issue audited)."""
    row = get_request(session, request_id=request_id, principal=principal)
    if row.status != "approved" or row.checkpoint_id is None:
        raise Conflict("The house has a code only while its watch is approved.")
    checkpoint = zones_service.get_asset(
        session,
        kind=zones_service.KINDS["checkpoint"],
        station_id=row.station_id,
        asset_id=row.checkpoint_id,
    )
    code = patrol_service.printed_code(session, checkpoint=checkpoint, actor=principal.actor)
    audit_service.record(
        session,
        actor=principal.actor,
        action="housewatch.qr_issued",
        object_type="housewatch_request",
        object_id=row.id,
        station_id=row.station_id,
        payload={"checkpoint_id": row.checkpoint_id},
    )
    return patrol_qr.svg(code)


def active_for_station(
    session: Session, *, station_id: str, today: date
) -> list[HouseWatchRequest]:
    """Houses under watch today (the officers' task list)."""
    return list(
        session.scalars(
            select(HouseWatchRequest)
            .where(
                HouseWatchRequest.station_id == station_id,
                HouseWatchRequest.status == "approved",
                HouseWatchRequest.starts_on <= today,
                HouseWatchRequest.ends_on >= today,
            )
            .order_by(HouseWatchRequest.id)
        )
    )


# --- scheduled work ---------------------------------------------------------------------------


def _local_date(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


def _tell_visits(
    session: Session, row: HouseWatchRequest, *, channels: Sequence[Channel], zone: ZoneInfo
) -> int:
    assert row.checkpoint_id is not None
    told = 0
    for checkin in plan_service.visits_at(
        session, checkpoint_id=row.checkpoint_id, after_id=row.last_checkin_id
    ):
        row.last_checkin_id = checkin.id
        local = checkin.scanned_at.astimezone(zone)
        if not row.starts_on <= local.date() <= row.ends_on:
            continue
        _send(
            session,
            channels,
            row,
            kind="visit",
            titles=("สายตรวจมาตรวจบ้านของท่าน", "A patrol visited your house"),
            texts=(
                f"เจ้าหน้าที่สายตรวจตรวจบ้าน {row.address} เมื่อ {thai_date(local.date())} "
                f"เวลา {local:%H:%M} น.",
                f"A patrol officer checked {row.address} at {local:%Y-%m-%d %H:%M}.",
            ),
            data={"scanned_at": checkin.scanned_at.isoformat(), "status": checkin.status},
            checkin_id=checkin.id,
        )
        told += 1
    session.flush()
    return told


def visits_due(session: Session) -> bool:
    """Whether ``notify_visits`` has anything to do: an approved watch with a counted scan
    above its cursor. Only reads, so the job runs it outside a write transaction and most
    rounds (nothing new) take no write lock at all."""
    cursors = session.execute(
        select(HouseWatchRequest.checkpoint_id, HouseWatchRequest.last_checkin_id).where(
            HouseWatchRequest.status == "approved",
            HouseWatchRequest.checkpoint_id.is_not(None),
        )
    ).all()
    if not cursors:
        return False
    latest = plan_service.latest_visit_ids(
        session, checkpoint_ids=sorted({c for c, _ in cursors if c is not None})
    )
    return any(latest.get(c or "", 0) > cursor for c, cursor in cursors)


def notify_visits(session: Session, *, channels: Sequence[Channel], timezone: str) -> int:
    """Tell owners about new counted scans at their houses (a scheduled job). Returns how
    many visits were told. The cursor moves in the same transaction as the notices, so a
    visit is told once even across restarts and nodes (the job runs under its lease)."""
    zone = ZoneInfo(timezone)
    rows = session.scalars(
        select(HouseWatchRequest).where(HouseWatchRequest.status == "approved")
    ).all()
    return sum(_tell_visits(session, row, channels=channels, zone=zone) for row in rows)


def send_summaries(
    session: Session, *, channels: Sequence[Channel], timezone: str, today: date
) -> list[int]:
    """Close every approved watch whose last day is over: tell the last visits, retire the
    house's code, send the owner a summary (a scheduled job). Returns the request ids."""
    zone = ZoneInfo(timezone)
    rows = session.scalars(
        select(HouseWatchRequest)
        .where(HouseWatchRequest.status == "approved", HouseWatchRequest.ends_on < today)
        .order_by(HouseWatchRequest.id)
        .with_for_update()  # an owner's cancel at the same moment waits, then sees "completed"
        .execution_options(populate_existing=True)
    ).all()
    done = []
    for row in rows:
        assert row.checkpoint_id is not None
        _tell_visits(session, row, channels=channels, zone=zone)
        per_day: Counter[date] = Counter(
            _local_date(c.scanned_at, zone)
            for c in plan_service.visits_at(session, checkpoint_id=row.checkpoint_id)
            if row.starts_on <= _local_date(c.scanned_at, zone) <= row.ends_on
        )
        days = (row.ends_on - row.starts_on).days + 1
        visited_days = len(per_day)
        total = sum(per_day.values())
        _retire_checkpoint(session, row, actor=SYSTEM)
        row.status = "completed"
        row.closed_at = utcnow()
        session.flush()
        summary = {
            "visits": total,
            "days": days,
            "days_visited": visited_days,
            "per_day": {
                (row.starts_on + timedelta(days=i)).isoformat(): per_day.get(
                    row.starts_on + timedelta(days=i), 0
                )
                for i in range(days)
            },
        }
        _audit(session, row=row, actor=SYSTEM, action="housewatch.completed", summary=summary)
        _send(
            session,
            channels,
            row,
            kind="summary",
            titles=("สรุปการฝากบ้าน", "House-watch summary"),
            texts=(
                f"ระหว่างวันที่ {thai_date(row.starts_on)} ถึง {thai_date(row.ends_on)} "
                f"สายตรวจตรวจบ้าน {row.address} รวม {total} ครั้ง "
                f"ใน {visited_days} จาก {days} วัน ขอบคุณที่ใช้บริการฝากบ้าน",
                f"From {row.starts_on.isoformat()} to {row.ends_on.isoformat()} patrols "
                f"checked {row.address} {total} times, on {visited_days} of {days} days.",
            ),
            data=summary,
        )
        done.append(row.id)
    return done
