from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from safezone.core.deps import AuditedReadDep, DatabaseDep, SessionDep, SettingsDep
from safezone.core.geo import Latitude, Longitude
from safezone.core.permissions import COMMAND, CONTROL_ROOM, STAFF, Principal, allow
from safezone.patrol import export, plans, schemas
from safezone.patrol import service as patrol_service
from safezone.zones import service as zones_service
from safezone.zones.schemas import ASSET_ID

router = APIRouter(prefix="/api/v1/units", tags=["patrol"])

Staff = Annotated[Principal, allow(*STAFF)]
ControlRoom = Annotated[Principal, allow(*CONTROL_ROOM)]
Admin = Annotated[Principal, allow("admin")]
NO_STORE = {"Cache-Control": "no-store"}


@router.get("", response_model=list[schemas.UnitRead])
def list_units(session: SessionDep, principal: Staff) -> Any:
    return patrol_service.list_units(session, station_id=principal.station_id)


@router.get("/nearest", response_model=list[schemas.UnitSuggestion])
def nearest(
    session: SessionDep,
    settings: SettingsDep,
    principal: ControlRoom,
    lat: Annotated[Latitude, Query()],
    lon: Annotated[Longitude, Query()],
    limit: Annotated[int, Query(ge=1, le=20)] = 3,
) -> Any:
    """Available units with a fresh location, fastest to reach the point first (by road
    when a road graph is configured)."""
    return patrol_service.rank_available(
        session,
        station_id=principal.station_id,
        lat=lat,
        lon=lon,
        limit=limit,
        graph=patrol_service.road_graph(settings),
    )


@router.post("", response_model=schemas.UnitRead, status_code=201)
def create_unit(data: schemas.UnitCreate, session: SessionDep, principal: Admin) -> Any:
    return patrol_service.create_unit(session, data=data, principal=principal)


@router.patch("/{unit_id}", response_model=schemas.UnitRead)
def update_unit(
    unit_id: str, data: schemas.UnitUpdate, session: SessionDep, principal: Staff
) -> Any:
    """The control room changes any unit; an officer only their own unit's status."""
    return patrol_service.update_unit(session, unit_id=unit_id, data=data, principal=principal)


@router.post("/{unit_id}/location", status_code=204)
def report_location(
    unit_id: str, data: schemas.LocationReport, db: DatabaseDep, principal: Staff
) -> Response:
    """Phones report every few seconds; a fix inside the throttle interval is checked with
    a read, so it never holds the write lock that an SOS may be waiting for."""
    with db.reader() as session:
        due = patrol_service.location_due(session, unit_id=unit_id, principal=principal)
    if due:
        with db.transaction() as session:
            patrol_service.report_location(
                session, unit_id=unit_id, report=data, principal=principal
            )
    return Response(status_code=204)


# --- /api/v1/patrol: checkpoint codes, officers' devices, shifts, check-ins ----------------

patrol_router = APIRouter(prefix="/api/v1/patrol", tags=["patrol"])

Command = Annotated[Principal, allow(*COMMAND)]
Officer = Annotated[Principal, allow("officer")]
CheckpointId = Annotated[str, Path(pattern=ASSET_ID, max_length=64)]


@patrol_router.get(
    "/checkpoints/{checkpoint_id}/qr.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}},
)
def checkpoint_qr_svg(
    checkpoint_id: CheckpointId, session: AuditedReadDep, principal: Command
) -> Response:
    """The checkpoint's printed (static) code as SVG. Every issue is audited."""
    body = patrol_service.checkpoint_qr(
        session, checkpoint_id=checkpoint_id, kind="svg", principal=principal
    )
    return Response(body, media_type="image/svg+xml", headers=NO_STORE)


@patrol_router.get(
    "/checkpoints/{checkpoint_id}/qr.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
def checkpoint_qr_png(
    checkpoint_id: CheckpointId, session: AuditedReadDep, principal: Command
) -> Response:
    """The checkpoint's printed (static) code as PNG. Every issue is audited."""
    body = patrol_service.checkpoint_qr(
        session, checkpoint_id=checkpoint_id, kind="png", principal=principal
    )
    return Response(body, media_type="image/png", headers=NO_STORE)


@patrol_router.get(
    "/checkpoints/{checkpoint_id}/display-key", response_model=schemas.DisplayKeyRead
)
def checkpoint_display_key(
    checkpoint_id: CheckpointId, session: AuditedReadDep, principal: Admin, response: Response
) -> Any:
    """Provision a checkpoint's screen with the key it makes rotating codes with."""
    response.headers.update(NO_STORE)
    return patrol_service.display_key(session, checkpoint_id=checkpoint_id, principal=principal)


@patrol_router.post("/checkpoints/{checkpoint_id}/rotate-key", response_model=schemas.KeyRotated)
def rotate_checkpoint_key(
    checkpoint_id: CheckpointId, session: SessionDep, principal: Admin
) -> Any:
    """Retire the checkpoint's key (a poster was stolen or copied): print new posters."""
    return patrol_service.rotate_key(session, checkpoint_id=checkpoint_id, principal=principal)


@patrol_router.get("/devices", response_model=list[schemas.DeviceRead])
def list_devices(
    session: SessionDep,
    principal: Staff,
    include_revoked: Annotated[bool, Query()] = False,
) -> Any:
    """Registered phones; an officer sees only their own."""
    return patrol_service.list_devices(
        session, principal=principal, include_revoked=include_revoked
    )


@patrol_router.post("/devices", response_model=schemas.DeviceRead, status_code=201)
def register_device(data: schemas.DeviceRegister, session: SessionDep, principal: Command) -> Any:
    """Register an officer's phone: printed codes are only accepted from registered phones."""
    return patrol_service.register_device(session, data=data, principal=principal)


@patrol_router.post("/devices/{registration_id}/revoke", response_model=schemas.DeviceRead)
def revoke_device(registration_id: int, session: SessionDep, principal: Command) -> Any:
    return patrol_service.revoke_device(
        session, registration_id=registration_id, principal=principal
    )


@patrol_router.get("/shifts", response_model=list[schemas.ShiftRead])
def list_shifts(
    session: SessionDep,
    principal: Staff,
    running: Annotated[bool | None, Query(description="only running / ended shifts")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Any:
    """Shifts, newest first; an officer sees only their own."""
    return patrol_service.list_shifts(session, principal=principal, running=running, limit=limit)


@patrol_router.post("/shifts/start", response_model=schemas.ShiftRead, status_code=201)
def start_shift(session: SessionDep, principal: Officer) -> Any:
    return patrol_service.start_shift(session, principal=principal)


@patrol_router.post("/shifts/end", response_model=schemas.ShiftRead)
def end_shift(session: SessionDep, principal: Officer) -> Any:
    return patrol_service.end_shift(session, principal=principal)


@patrol_router.post("/checkins", response_model=schemas.CheckInResult, status_code=201)
def check_in(
    data: schemas.CheckInCreate, session: SessionDep, settings: SettingsDep, principal: Officer
) -> Any:
    """Submit a scanned checkpoint code. Every scan is stored and audited, whatever the
    verdict: ``accepted``, ``flagged`` (counts, to be reviewed) or ``rejected``."""
    row = patrol_service.check_in(
        session, data=data, principal=principal, policy=patrol_service.checkin_policy(settings)
    )
    return schemas.CheckInResult(
        id=row.id,
        status=row.status,
        reasons=list(row.reasons),
        checkpoint_id=row.checkpoint_id,
        mode=row.mode,
        distance_m=row.distance_m,
    )


@patrol_router.get("/checkins", response_model=list[schemas.CheckInRead])
def list_checkins(
    session: SessionDep,
    principal: Staff,
    status: Annotated[schemas.CheckInStatus | None, Query()] = None,
    checkpoint_id: Annotated[str | None, Query(pattern=ASSET_ID, max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Any:
    """Check-ins, newest scan first; an officer sees only their own."""
    return patrol_service.list_checkins(
        session, principal=principal, status=status, checkpoint_id=checkpoint_id, limit=limit
    )


# --- /api/v1/patrol/plans: routes with target visits, compliance reports ------------------

PlanId = Annotated[int, Path(ge=1)]
ShiftDate = Annotated[
    date | None,
    Query(description="Local date the shift starts on; default the running or last shift"),
]


@patrol_router.get("/plans", response_model=list[schemas.PlanRead])
def list_plans(
    session: SessionDep,
    principal: Staff,
    active: Annotated[bool | None, Query()] = None,
) -> Any:
    """The station's patrol plans with their routes (officers see their routes too)."""
    return [
        plans.read(session, p)
        for p in plans.list_plans(session, station_id=principal.station_id, active=active)
    ]


@patrol_router.post("/plans", response_model=schemas.PlanRead, status_code=201)
def create_plan(
    data: schemas.PlanCreate, session: SessionDep, principal: Command, settings: SettingsDep
) -> Any:
    plan = plans.create_plan(
        session, data=data, principal=principal, local_timezone=settings.local_timezone
    )
    return plans.read(session, plan)


@patrol_router.get("/plans/{plan_id}", response_model=schemas.PlanRead)
def get_plan(plan_id: PlanId, session: SessionDep, principal: Staff) -> Any:
    return plans.read(
        session, plans.get_plan(session, plan_id=plan_id, station_id=principal.station_id)
    )


@patrol_router.patch("/plans/{plan_id}", response_model=schemas.PlanRead)
def update_plan(
    plan_id: PlanId, data: schemas.PlanUpdate, session: SessionDep, principal: Command
) -> Any:
    """Rename, end or deactivate a plan, or replace its route (house-watch stops stay)."""
    return plans.read(
        session, plans.update_plan(session, plan_id=plan_id, data=data, principal=principal)
    )


@patrol_router.get("/plans/{plan_id}/compliance", response_model=schemas.ComplianceReport)
def plan_compliance(
    plan_id: PlanId, session: SessionDep, principal: Command, date: ShiftDate = None
) -> Any:
    """On time, late, missed and pending visits per checkpoint and officer (ADR 0013)."""
    return plans.compliance_report(
        session, plan_id=plan_id, station_id=principal.station_id, day=date
    )


@patrol_router.get(
    "/plans/{plan_id}/compliance.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
def plan_compliance_csv(
    plan_id: PlanId, session: SessionDep, principal: Command, date: ShiftDate = None
) -> Response:
    """The compliance report, one row per due slot (UTF-8 with BOM, for spreadsheets)."""
    report = plans.compliance_report(
        session, plan_id=plan_id, station_id=principal.station_id, day=date
    )
    body = "\ufeff" + export.to_csv(report)
    name = f"compliance-plan{report.plan_id}-{report.date.isoformat()}.csv"
    return Response(
        body.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"', **NO_STORE},
    )


@patrol_router.get(
    "/plans/{plan_id}/compliance.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
def plan_compliance_pdf(
    plan_id: PlanId, session: SessionDep, principal: Command, date: ShiftDate = None
) -> Response:
    report = plans.compliance_report(
        session, plan_id=plan_id, station_id=principal.station_id, day=date
    )
    station = zones_service.get_station(session, station_id=principal.station_id)
    body = export.to_pdf(report, station_name=f"{station.name_th} / {station.name_en}")
    name = f"compliance-plan{report.plan_id}-{report.date.isoformat()}.pdf"
    return Response(
        body,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"', **NO_STORE},
    )
