"""Citizen reports, tips and emergencies: intake, photos, tracking and triage."""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, make_transient_to_detached

from safezone.audit import service as audit_service
from safezone.core.db import Database, utcnow
from safezone.core.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from safezone.core.geo import h3_cell
from safezone.core.media import stage_file
from safezone.core.permissions import Principal
from safezone.core.security import sha256_hex
from safezone.incidents import service as incidents_service
from safezone.incidents.schemas import IncidentCreate
from safezone.reports.models import Report, ReportPhoto, ReportUpdate
from safezone.reports.schemas import ReportCreate, ReportRead, TrackingView, TriageRequest
from safezone.zones import service as zones_service

_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
PHOTO_TYPES = {"JPEG": ("image/jpeg", ".jpg"), "PNG": ("image/png", ".png")}
PHOTO_WINDOW = timedelta(hours=24)
MAX_PIXELS = 40_000_000


def new_tracking_code() -> str:
    chars = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(10))
    return f"SZ-{chars[:5]}-{chars[5:]}"


def _event(report: Report) -> dict[str, Any]:
    """What operators' screens receive: never the reporter's identity."""
    data = ReportRead.model_validate(report).model_dump(mode="json")
    return {"report": data}


def _add_update(session: Session, report: Report, status: str, message: str) -> None:
    session.add(ReportUpdate(report_id=report.id, ts=utcnow(), status=status, message=message))


@dataclass
class Submitted:
    report: Report
    created: bool


def receive(db: Database, *, data: ReportCreate, principal: Principal | None) -> Submitted:
    """``submit_report`` for a request: where the report is, is looked up in a read
    session first, so that the write transaction (which holds SQLite's one write lock,
    an SOS's included) only writes."""
    with db.reader() as session:
        placement = zones_service.place(session, lat=data.lat, lon=data.lon)
    with db.transaction() as session:
        return submit_report(session, data=data, principal=principal, placement=placement)


def submit_report(
    session: Session,
    *,
    data: ReportCreate,
    principal: Principal | None,
    placement: zones_service.Placement | None = None,
) -> Submitted:
    """Accept a report from anyone. Emergencies open a critical incident at once.

    A report outside every safety zone is accepted, goes to the nearest station and is
    marked ``outside_zone``. A retry carrying the same ``client_ref`` returns the first
    report. ``placement``: where the point is, when the caller has looked it up.
    """
    if data.client_ref:
        existing = session.scalar(select(Report).where(Report.client_ref == data.client_ref))
        if existing is not None:
            return Submitted(existing, created=False)
    placement = placement or zones_service.place(session, lat=data.lat, lon=data.lon)
    anonymous = data.anonymous or principal is None
    now = utcnow()
    report = _insert_report(
        session,
        {
            "station_id": placement.station_id,
            "zone_id": placement.zone_id,
            "outside_zone": placement.zone_id is None,
            "tracking_code": new_tracking_code(),
            "client_ref": data.client_ref,
            "kind": data.kind,
            "category": data.category,
            "description": data.description,
            "lat": data.lat,
            "lon": data.lon,
            "accuracy_m": data.accuracy_m,
            "h3_cell": h3_cell(data.lat, data.lon),
            "anonymous": anonymous,
            "reporter_user_id": None if anonymous else principal.user_id if principal else None,
            "status": "received",
            "incident_id": None,
            "created_at": now,
            "updated_at": now,
        },
    )
    actor = "citizen:anonymous" if anonymous or principal is None else principal.actor
    if data.kind == "emergency":
        incident = incidents_service.create_incident(
            session,
            data=IncidentCreate(
                category=data.category,
                priority="critical",
                title="",
                description=data.description,
                lat=data.lat,
                lon=data.lon,
            ),
            source="emergency",
            actor=actor,
            station_id=report.station_id,
            placement=placement,
        )
        _link(session, report, incident.id, status="in_progress", actor=actor, message="")
    # Recorded after an emergency's incident exists, so the event carries its final state.
    audit_service.record(
        session,
        actor=actor,
        action="report.created",
        object_type="report",
        object_id=report.id,
        station_id=report.station_id,
        payload={
            "kind": report.kind,
            "category": report.category,
            "tracking_code": report.tracking_code,
            "outside_zone": report.outside_zone,
        },
        event=_event(report),
    )
    return Submitted(report, created=True)


def _insert_report(session: Session, values: dict[str, Any]) -> Report:
    """A new report and its first public line ("received"), through Core.

    Citizens' reports are the most frequent write at a busy station, and each holds the
    write lock an SOS may be waiting for: the ORM's unit of work costs more than the two
    INSERTs. The report is then handed to the session as the stored row it is, every
    column known, so a later change to it (an emergency's link) is tracked as usual.
    """
    connection = session.connection()
    report = Report(id=connection.execute(_INSERT_REPORT, values).scalar_one(), **values)
    make_transient_to_detached(report)
    session.add(report)
    connection.execute(
        _INSERT_UPDATE,
        {"report_id": report.id, "ts": values["created_at"], "status": "received", "message": ""},
    )
    return report


_INSERT_REPORT = insert(Report).returning(Report.id)
_INSERT_UPDATE = insert(ReportUpdate)


def _link(
    session: Session, report: Report, incident_id: int, *, status: str, actor: str, message: str
) -> None:
    report.incident_id = incident_id
    report.status = status
    report.updated_at = utcnow()
    _add_update(session, report, status, message)
    session.flush()
    incidents_service.add_note(
        session,
        incident_id=incident_id,
        note=f"report {report.tracking_code} ({report.kind}) linked",
        actor=actor,
        station_id=report.station_id,
        action="report_linked",
    )


def get_report(session: Session, *, report_id: int, station_id: str) -> Report:
    report = session.get(Report, report_id)
    if report is None or report.station_id != station_id:
        raise NotFound(f"No report with id {report_id} at your station.", field="id")
    return report


def by_tracking_code(session: Session, *, tracking_code: str) -> Report:
    report = session.scalar(select(Report).where(Report.tracking_code == tracking_code.upper()))
    if report is None:
        raise NotFound(
            "No report has this tracking code; check it against the one you were given.",
            field="tracking_code",
        )
    return report


def list_reports(
    session: Session, *, station_id: str, status: str | None, limit: int
) -> list[Report]:
    query = select(Report).where(Report.station_id == station_id)
    if status:
        query = query.where(Report.status == status)
    return list(
        session.scalars(query.order_by(Report.created_at.desc(), Report.id.desc()).limit(limit))
    )


def reports_of_user(session: Session, *, user_id: int) -> list[Report]:
    return list(
        session.scalars(
            select(Report)
            .where(Report.reporter_user_id == user_id)
            .order_by(Report.created_at.desc())
        )
    )


def reports_for_incident(session: Session, *, incident_id: int) -> list[Report]:
    return list(
        session.scalars(select(Report).where(Report.incident_id == incident_id).order_by(Report.id))
    )


def photos_of(session: Session, *, report_id: int) -> list[ReportPhoto]:
    return list(
        session.scalars(
            select(ReportPhoto).where(ReportPhoto.report_id == report_id).order_by(ReportPhoto.id)
        )
    )


def tracking_view(session: Session, *, tracking_code: str) -> TrackingView:
    """What the holder of a tracking code may see: status and public updates only."""
    report = by_tracking_code(session, tracking_code=tracking_code)
    incident_status = None
    if report.incident_id is not None:
        found = incidents_service.public_status(session, incident_id=report.incident_id)
        incident_status = found[0] if found else None
    updates = session.scalars(
        select(ReportUpdate).where(ReportUpdate.report_id == report.id).order_by(ReportUpdate.id)
    ).all()
    photo_count = session.scalar(
        select(func.count()).select_from(ReportPhoto).where(ReportPhoto.report_id == report.id)
    )
    return TrackingView.model_validate(
        {
            "tracking_code": report.tracking_code,
            "kind": report.kind,
            "category": report.category,
            "status": report.status,
            "outside_zone": report.outside_zone,
            "created_at": report.created_at,
            "incident_status": incident_status,
            "photos": int(photo_count or 0),
            "updates": [{"ts": u.ts, "status": u.status, "message": u.message} for u in updates],
        }
    )


@dataclass
class CheckedPhoto:
    data: bytes
    content_type: str
    extension: str
    width: int
    height: int


def check_photo(data: bytes, *, max_bytes: int, strip_metadata: bool) -> CheckedPhoto:
    """Accept only a real JPEG or PNG within the size limit.

    Anonymous photos are re-encoded without metadata (EXIF GPS, camera serial numbers)
    so that they cannot identify the sender.
    """
    if len(data) > max_bytes:
        raise PayloadTooLarge(
            f"The photo is {len(data)} bytes; the limit is {max_bytes} bytes.", field="file"
        )
    if not data:
        raise InvalidInput("The photo is empty.", field="file")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            fmt = probe.format or ""
            width, height = probe.size
            if fmt not in PHOTO_TYPES:
                raise UnsupportedMediaType(
                    f"Photos must be JPEG or PNG, not {fmt or 'unknown'}.", field="file"
                )
            if width * height > MAX_PIXELS:
                raise PayloadTooLarge(
                    f"The photo is {width}x{height} pixels; the limit is {MAX_PIXELS} pixels.",
                    field="file",
                )
            probe.verify()
        if strip_metadata:
            with Image.open(io.BytesIO(data)) as image:
                clean = io.BytesIO()
                if fmt == "JPEG":
                    image.convert("RGB").save(clean, format="JPEG", quality=90)
                else:
                    image.save(clean, format="PNG")
                data = clean.getvalue()
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise UnsupportedMediaType(
            "The file is not a readable JPEG or PNG image.", field="file"
        ) from exc
    content_type, extension = PHOTO_TYPES[fmt]
    return CheckedPhoto(data, content_type, extension, width, height)


def add_photo(
    session: Session,
    *,
    tracking_code: str,
    data: bytes,
    media_dir: Path,
    max_bytes: int,
    max_photos: int,
) -> ReportPhoto:
    """Attach a photo to a report within 24 hours of it being made.

    The file is written under a temporary name and renamed into place only when the
    transaction commits; a rollback deletes it, so no file is left without its row.
    """
    report = by_tracking_code(session, tracking_code=tracking_code)
    if utcnow() - report.created_at > PHOTO_WINDOW:
        raise Conflict("Photos can be added only within 24 hours of the report.", field="file")
    count = session.scalar(
        select(func.count()).select_from(ReportPhoto).where(ReportPhoto.report_id == report.id)
    )
    if int(count or 0) >= max_photos:
        raise Conflict(f"A report can have at most {max_photos} photos.", field="file")
    photo = check_photo(data, max_bytes=max_bytes, strip_metadata=report.anonymous)
    digest = sha256_hex(photo.data)
    relative = f"reports/{report.id}/{digest}{photo.extension}"
    stage_file(session, media_dir=media_dir, relative=relative, data=photo.data)
    row = ReportPhoto(
        report_id=report.id,
        content_type=photo.content_type,
        size_bytes=len(photo.data),
        sha256=digest,
        width=photo.width,
        height=photo.height,
        path=relative,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    report.updated_at = utcnow()
    audit_service.record(
        session,
        actor="citizen:tracking-code",
        action="report.photo_added",
        object_type="report",
        object_id=report.id,
        station_id=report.station_id,
        payload={"sha256": digest, "size_bytes": len(photo.data)},
        event={**_event(report), "photo_id": row.id},
    )
    return row


def photo_file(
    session: Session, *, report_id: int, photo_id: int, station_id: str, media_dir: Path
) -> tuple[Path, str]:
    get_report(session, report_id=report_id, station_id=station_id)
    photo = session.get(ReportPhoto, photo_id)
    if photo is None or photo.report_id != report_id:
        raise NotFound(f"Report {report_id} has no photo {photo_id}.", field="photo_id")
    return media_dir / photo.path, photo.content_type


def triage(
    session: Session, *, report_id: int, request: TriageRequest, principal: Principal
) -> Report:
    """Turn a received report into a new incident, merge it into one, or reject it."""
    report = get_report(session, report_id=report_id, station_id=principal.station_id)
    if report.status != "received":
        raise Conflict(
            f"Report {report.id} was already triaged (status '{report.status}').",
            field="status",
        )
    if request.action == "create_incident":
        incident = incidents_service.create_incident(
            session,
            data=IncidentCreate(
                category=request.category or report.category,
                priority=request.priority or ("high" if report.kind == "emergency" else "medium"),
                title="",
                description=report.description,
                lat=report.lat,
                lon=report.lon,
            ),
            source="tip" if report.kind == "tip" else "report",
            actor=principal.actor,
            station_id=report.station_id,
        )
        _link(
            session,
            report,
            incident.id,
            status="in_progress",
            actor=principal.actor,
            message=request.public_message,
        )
    elif request.action == "merge":
        if request.incident_id is None:
            raise InvalidInput("Merging needs the incident_id to merge into.", field="incident_id")
        incidents_service.get_incident(
            session, incident_id=request.incident_id, station_id=principal.station_id
        )
        _link(
            session,
            report,
            request.incident_id,
            status="merged",
            actor=principal.actor,
            message=request.public_message,
        )
    else:
        if not request.note.strip():
            raise InvalidInput("Rejecting a report needs a note saying why.", field="note")
        report.status = "rejected"
        report.updated_at = utcnow()
        _add_update(session, report, "rejected", request.public_message)
    session.flush()
    audit_service.record(
        session,
        actor=principal.actor,
        action="report.triaged",
        object_type="report",
        object_id=report.id,
        station_id=report.station_id,
        payload={
            "action": request.action,
            "incident_id": report.incident_id,
            "note": request.note,
        },
        event=_event(report),
    )
    return report
