from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Response, UploadFile
from fastapi.responses import FileResponse

from safezone.core.deps import DatabaseDep, SessionDep, SettingsDep
from safezone.core.permissions import CONTROL_ROOM, Principal, allow, public
from safezone.reports import schemas
from safezone.reports import service as reports_service

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

ControlRoom = Annotated[Principal, allow(*CONTROL_ROOM)]
Anyone = Annotated[Principal | None, public()]


@router.post("", response_model=schemas.ReportCreated, status_code=201)
def submit_report(
    data: schemas.ReportCreate, db: DatabaseDep, principal: Anyone, response: Response
) -> Any:
    """Anyone may report. A retry with the same client_ref answers 200 with the first one."""
    submitted = reports_service.receive(db, data=data, principal=principal)
    if not submitted.created:
        response.status_code = 200
    report = submitted.report
    return schemas.ReportCreated(
        id=report.id,
        tracking_code=report.tracking_code,
        status=report.status,
        outside_zone=report.outside_zone,
    )


@router.get("/track/{tracking_code}", response_model=schemas.TrackingView)
def track(tracking_code: str, session: SessionDep, principal: Anyone) -> Any:
    return reports_service.tracking_view(session, tracking_code=tracking_code)


@router.post("/track/{tracking_code}/photos", response_model=schemas.PhotoRead, status_code=201)
def add_photo(
    tracking_code: str,
    file: Annotated[UploadFile, File(description="A JPEG or PNG photo")],
    session: SessionDep,
    settings: SettingsDep,
    principal: Anyone,
) -> Any:
    data = file.file.read(settings.photo_max_bytes + 1)
    return reports_service.add_photo(
        session,
        tracking_code=tracking_code,
        data=data,
        media_dir=settings.media_dir,
        max_bytes=settings.photo_max_bytes,
        max_photos=settings.photos_per_report,
    )


@router.get("/mine", response_model=list[schemas.ReportRead])
def my_reports(session: SessionDep, principal: Annotated[Principal, allow("citizen")]) -> Any:
    """A citizen's own reports (anonymous ones are not linked, so they are not listed)."""
    return reports_service.reports_of_user(session, user_id=principal.user_id)


@router.get("", response_model=list[schemas.ReportRead])
def list_reports(
    session: SessionDep,
    principal: ControlRoom,
    status: Annotated[schemas.ReportStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Any:
    return reports_service.list_reports(
        session, station_id=principal.station_id, status=status, limit=limit
    )


@router.get("/{report_id}", response_model=schemas.ReportDetail)
def get_report(report_id: int, session: SessionDep, principal: ControlRoom) -> Any:
    report = reports_service.get_report(
        session, report_id=report_id, station_id=principal.station_id
    )
    return schemas.ReportDetail(
        **schemas.ReportRead.model_validate(report).model_dump(),
        photos=[
            schemas.PhotoRead.model_validate(p)
            for p in reports_service.photos_of(session, report_id=report.id)
        ],
    )


@router.get("/{report_id}/photos/{photo_id}", response_class=FileResponse)
def get_photo(
    report_id: int,
    photo_id: int,
    session: SessionDep,
    settings: SettingsDep,
    principal: ControlRoom,
) -> Any:
    path, content_type = reports_service.photo_file(
        session,
        report_id=report_id,
        photo_id=photo_id,
        station_id=principal.station_id,
        media_dir=settings.media_dir,
    )
    return FileResponse(path, media_type=content_type)


@router.post("/{report_id}/triage", response_model=schemas.ReportRead)
def triage(
    report_id: int, data: schemas.TriageRequest, session: SessionDep, principal: ControlRoom
) -> Any:
    return reports_service.triage(session, report_id=report_id, request=data, principal=principal)
