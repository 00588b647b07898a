"""Registry API: /api/v1/{zones,cameras,sos-boxes,checkpoints} and GeoJSON import/export.

The four kinds share one router factory because their rules are the same (see service).
"""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response

from safezone.core.deps import SessionDep
from safezone.core.permissions import STAFF, Principal, allow, public
from safezone.zones import schemas
from safezone.zones import service as zones_service
from safezone.zones.service import KINDS, AssetKind

router = APIRouter(prefix="/api/v1", tags=["registry"])

Admin = Annotated[Principal, allow("admin")]
Staff = Annotated[Principal, allow(*STAFF)]


@router.get("/stations/current", response_model=schemas.StationRead)
def current_station(session: SessionDep, principal: Staff) -> Any:
    return zones_service.get_station(session, station_id=principal.station_id)


@router.get("/zones", response_model=list[schemas.ZoneRead])
def list_zones(session: SessionDep, principal: Annotated[Principal | None, public()]) -> Any:
    """Safety zones are public: citizens (signed in or not) see every station's active
    zones on the PWA map; staff get all of their own station's zones."""
    kind = KINDS["zone"]
    if principal is None or principal.role == "citizen":
        return [
            zone
            for station in zones_service.list_stations(session)
            for zone in zones_service.list_assets(session, kind=kind, station_id=station.id)
            if zone.active
        ]
    return zones_service.list_assets(session, kind=kind, station_id=principal.station_id)


def _register(kind: AssetKind) -> None:
    read_model: Any = kind.read
    created_model: Any = schemas.SosBoxWithSecret if kind.name == "sos_box" else kind.read
    create_body: Any = kind.create
    update_body: Any = kind.update
    path = f"/{kind.plural}"
    label = kind.name.replace("_", " ")

    # Zones have their public list above; the cameras router lists cameras (with the
    # "who sees this point" query).
    if kind.name not in ("zone", "camera"):

        @router.get(path, response_model=list[read_model], name=f"list_{kind.plural}")
        def list_items(session: SessionDep, principal: Staff) -> Any:
            return zones_service.list_assets(session, kind=kind, station_id=principal.station_id)

    @router.get(path + "/{asset_id}", response_model=read_model, name=f"get_{kind.name}")
    def get_item(asset_id: str, session: SessionDep, principal: Staff) -> Any:
        return zones_service.get_asset(
            session, kind=kind, station_id=principal.station_id, asset_id=asset_id
        )

    @router.post(
        path,
        response_model=created_model,
        status_code=201,
        name=f"create_{kind.name}",
        summary=f"Register a {label}",
    )
    def create_item(
        data: Annotated[create_body, Body()], session: SessionDep, principal: Admin
    ) -> Any:
        return zones_service.create_asset(
            session, kind=kind, station_id=principal.station_id, data=data, actor=principal.actor
        )

    patch_model: Any = (
        schemas.SosBoxRead | schemas.SosBoxWithSecret if kind.name == "sos_box" else read_model
    )

    @router.patch(
        path + "/{asset_id}",
        response_model=patch_model,
        name=f"update_{kind.name}",
        summary=f"Change a {label}",
    )
    def update_item(
        asset_id: str,
        data: Annotated[update_body, Body()],
        session: SessionDep,
        principal: Admin,
    ) -> Any:
        row = zones_service.update_asset(
            session,
            kind=kind,
            station_id=principal.station_id,
            asset_id=asset_id,
            data=data,
            actor=principal.actor,
        )
        # A box's secret is shown only to the admin who has just set it.
        if kind.name == "sos_box" and "secret" in data.model_fields_set:
            return schemas.SosBoxWithSecret.model_validate(row)
        return read_model.model_validate(row)

    @router.delete(
        path + "/{asset_id}",
        status_code=204,
        name=f"delete_{kind.name}",
        summary=f"Remove a {label}",
    )
    def delete_item(asset_id: str, session: SessionDep, principal: Admin) -> Response:
        zones_service.delete_asset(
            session,
            kind=kind,
            station_id=principal.station_id,
            asset_id=asset_id,
            actor=principal.actor,
        )
        return Response(status_code=204)


for _kind in KINDS.values():
    _register(_kind)


@router.get("/maintenance-alerts", response_model=list[schemas.MaintenanceAlertRead])
def maintenance_alerts(
    session: SessionDep,
    principal: Staff,
    include_cleared: Annotated[bool, Query(description="Also list cleared alerts")] = False,
) -> Any:
    """Field devices that need attention (offline, tampered, power fault), newest first."""
    return zones_service.list_maintenance_alerts(
        session, station_id=principal.station_id, include_cleared=include_cleared
    )


@router.get("/registry/export.geojson")
def export_registry(session: SessionDep, principal: Admin) -> Any:
    """The registry as GeoJSON, without SOS box secrets (the CLI can include them)."""
    return zones_service.export_geojson(
        session, station_id=principal.station_id, with_secrets=False
    )


@router.post("/registry/import", response_model=schemas.ImportResult)
def import_registry(
    collection: Annotated[dict[str, Any], Body()], session: SessionDep, principal: Admin
) -> Any:
    return zones_service.import_geojson(
        session, station_id=principal.station_id, collection=collection, actor=principal.actor
    )
