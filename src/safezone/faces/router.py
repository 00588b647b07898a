"""Face identification API: the watchlist (commanders and admins enrol), 1:N search, and
the review queue where operators confirm or reject each match. Every call that shows or
changes anything is audited in the service."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse

from safezone.core.deps import AuditedReadDep, SessionDep, SettingsDep
from safezone.core.permissions import COMMAND, CONTROL_ROOM, Principal, allow
from safezone.faces import schemas
from safezone.faces import service as faces_service
from safezone.faces.engine import FaceEngine

router = APIRouter(prefix="/api/v1/faces", tags=["faces"])

ControlRoom = Annotated[Principal, allow(*CONTROL_ROOM)]
Command = Annotated[Principal, allow(*COMMAND)]


def face_engine(request: Request) -> FaceEngine:
    """The app's face engine, loaded (and its weights checked) on first use."""
    engine: FaceEngine | None = getattr(request.app.state, "face_engine", None)
    if engine is None:
        engine = FaceEngine()
        request.app.state.face_engine = engine
    return engine


@router.post("/watchlist", response_model=schemas.EntryRead, status_code=201)
def enrol(
    body: schemas.EntryCreate,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: Command,
) -> Any:
    """Enrol a person: legal basis, approver and expiry are required."""
    entry = faces_service.enrol(
        session,
        principal=principal,
        data=body,
        engine=face_engine(request),
        media_dir=settings.media_dir,
        max_photo_bytes=settings.photo_max_bytes,
    )
    return faces_service.entry_view(session, entry)


@router.get("/watchlist", response_model=list[schemas.EntryRead])
def list_entries(session: AuditedReadDep, principal: ControlRoom) -> Any:
    return faces_service.list_entries(session, principal=principal)


@router.get("/watchlist/{entry_id}", response_model=schemas.EntryRead)
def view_entry(entry_id: str, session: AuditedReadDep, principal: ControlRoom) -> Any:
    return faces_service.view_entry(session, principal=principal, entry_id=entry_id)


@router.delete("/watchlist/{entry_id}", status_code=204)
def withdraw(
    entry_id: str, session: SessionDep, settings: SettingsDep, principal: Command
) -> Response:
    faces_service.withdraw(
        session, principal=principal, entry_id=entry_id, media_dir=settings.media_dir
    )
    return Response(status_code=204)


@router.get("/watchlist/{entry_id}/photos/{photo_id}", response_class=FileResponse)
def view_photo(
    entry_id: str,
    photo_id: int,
    session: AuditedReadDep,
    settings: SettingsDep,
    principal: ControlRoom,
) -> Any:
    path, content_type = faces_service.view_photo(
        session,
        principal=principal,
        entry_id=entry_id,
        photo_id=photo_id,
        media_dir=settings.media_dir,
    )
    return FileResponse(path, media_type=content_type, headers={"Cache-Control": "no-store"})


@router.post("/search", response_model=list[schemas.SearchHit])
def search(
    body: schemas.SearchCreate,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: Command,
) -> Any:
    """Search one photo against the station's watchlist; the reason is audited."""
    return faces_service.search(
        session,
        principal=principal,
        data=body,
        engine=face_engine(request),
        threshold=settings.faces.match_threshold,
    )


@router.get("/matches", response_model=list[schemas.MatchRead])
def list_matches(
    session: AuditedReadDep,
    principal: ControlRoom,
    status: Annotated[schemas.MatchStatus | None, Query()] = None,
) -> Any:
    """The review queue (``status=pending``) and past decisions, newest first."""
    return faces_service.list_matches(session, principal=principal, status=status)


@router.get("/matches/{match_id}/{which}.jpg", response_class=FileResponse)
def view_evidence(
    match_id: int,
    which: schemas.Evidence,
    session: AuditedReadDep,
    settings: SettingsDep,
    principal: ControlRoom,
) -> Any:
    path = faces_service.view_evidence(
        session, principal=principal, match_id=match_id, which=which, media_dir=settings.media_dir
    )
    return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.post("/matches/{match_id}/decision", response_model=schemas.MatchRead)
def decide(
    match_id: int,
    body: schemas.DecisionCreate,
    session: SessionDep,
    settings: SettingsDep,
    principal: ControlRoom,
) -> Any:
    """Confirm or reject a match; nothing is dispatched from a match before this."""
    match = faces_service.decide(
        session, principal=principal, match_id=match_id, data=body, media_dir=settings.media_dir
    )
    return faces_service.match_view(match, session)


@router.get("/false-matches", response_model=list[schemas.CameraFalseMatches])
def false_matches(session: SessionDep, principal: ControlRoom) -> Any:
    """Rejected matches per camera: where the threshold may need raising."""
    return faces_service.false_matches(session, station_id=principal.station_id)
