"""Stations, safety zones and the asset registry (cameras, SOS boxes, checkpoints).

The four asset kinds share one set of CRUD rules, described by ``AssetKind``: ids are
unique per kind, every row belongs to the caller's station, every change is audited and
published for the live map.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from shapely.geometry.base import BaseGeometry
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from safezone.audit import service as audit_service
from safezone.core import security
from safezone.core.db import utcnow
from safezone.core.errors import Conflict, InvalidInput, NotFound
from safezone.core.geo import contains, h3_cell, haversine_m, polygon_geometry
from safezone.zones import schemas
from safezone.zones.models import (
    Camera,
    Checkpoint,
    MaintenanceAlert,
    SosBox,
    Station,
    Zone,
)

AssetModel = type[Zone] | type[Camera] | type[SosBox] | type[Checkpoint]


@dataclass(frozen=True)
class AssetKind:
    name: str  # singular, used in audit entries, events and GeoJSON
    plural: str  # URL segment
    model: Any
    create: type[BaseModel]
    update: type[BaseModel]
    read: type[BaseModel]


KINDS: dict[str, AssetKind] = {
    k.name: k
    for k in (
        AssetKind("zone", "zones", Zone, schemas.ZoneCreate, schemas.ZoneUpdate, schemas.ZoneRead),
        AssetKind(
            "camera",
            "cameras",
            Camera,
            schemas.CameraCreate,
            schemas.CameraUpdate,
            schemas.CameraRead,
        ),
        AssetKind(
            "sos_box",
            "sos-boxes",
            SosBox,
            schemas.SosBoxCreate,
            schemas.SosBoxUpdate,
            schemas.SosBoxRead,
        ),
        AssetKind(
            "checkpoint",
            "checkpoints",
            Checkpoint,
            schemas.CheckpointCreate,
            schemas.CheckpointUpdate,
            schemas.CheckpointRead,
        ),
    )
}


# --- stations -------------------------------------------------------------------------


def get_station(session: Session, *, station_id: str) -> Station:
    station = session.get(Station, station_id)
    if station is None:
        raise NotFound(f"Station '{station_id}' does not exist.", field="station_id")
    return station


def find_station(session: Session, *, station_id: str) -> Station | None:
    return session.get(Station, station_id)


def list_stations(session: Session) -> list[Station]:
    return list(session.scalars(select(Station).order_by(Station.id)).all())


def create_station(
    session: Session,
    *,
    station_id: str,
    name_th: str,
    name_en: str,
    lat: float,
    lon: float,
    actor: str,
) -> Station:
    if session.get(Station, station_id) is not None:
        raise Conflict(f"Station '{station_id}' already exists.", field="station_id")
    station = Station(id=station_id, name_th=name_th, name_en=name_en, lat=lat, lon=lon)
    session.add(station)
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="station.created",
        object_type="station",
        object_id=station_id,
        station_id=station_id,
        payload={"name_th": name_th, "name_en": name_en, "lat": lat, "lon": lon},
    )
    return station


# --- assets ---------------------------------------------------------------------------


def _snapshot(kind: AssetKind, row: Any) -> dict[str, Any]:
    """The public view of an asset, as JSON (never includes a box secret)."""
    data: dict[str, Any] = kind.read.model_validate(row).model_dump(mode="json")
    data["kind"] = kind.name
    return data


def list_assets(session: Session, *, kind: AssetKind, station_id: str) -> list[Any]:
    model = kind.model
    return list(
        session.scalars(
            select(model).where(model.station_id == station_id).order_by(model.id)
        ).all()
    )


_CAMERA_GEOMETRY = select(
    Camera.id,
    Camera.pole_id,
    Camera.name,
    Camera.lat,
    Camera.lon,
    Camera.bearing_deg,
    Camera.fov_deg,
    Camera.range_m,
).where(Camera.station_id == bindparam("station"), Camera.active.is_(True))


def active_camera_geometry(session: Session, *, station_id: str) -> list[Any]:
    """The station's active cameras as light rows (id, pole, name, place and view), for
    the geometry of "who sees this point", which runs for every SOS."""
    # Core, prebuilt: no ORM or statement building for each SOS
    session.flush()  # (as the ORM would: this transaction's own changes count)
    return list(session.connection().execute(_CAMERA_GEOMETRY, {"station": station_id}).all())


def find_asset(session: Session, *, kind: AssetKind, asset_id: str) -> Any | None:
    """An asset by id, whatever its station (for devices, which identify themselves)."""
    return session.get(kind.model, asset_id)


def all_assets(session: Session, *, kind: AssetKind) -> list[Any]:
    """Every station's assets of a kind (for monitors that watch all devices)."""
    return list(session.scalars(select(kind.model).order_by(kind.model.id)).all())


def get_asset(session: Session, *, kind: AssetKind, station_id: str, asset_id: str) -> Any:
    row = session.get(kind.model, asset_id)
    if row is None or row.station_id != station_id:
        raise NotFound(f"No {kind.name.replace('_', ' ')} with id '{asset_id}'.", field="id")
    return row


def _apply_point(row: Any) -> None:
    if hasattr(row, "h3_cell"):
        row.h3_cell = h3_cell(row.lat, row.lon)


def create_asset(
    session: Session, *, kind: AssetKind, station_id: str, data: BaseModel, actor: str
) -> Any:
    """Register a new asset at the station; the id must not be in use anywhere."""
    values = data.model_dump()
    if session.get(kind.model, values["id"]) is not None:
        raise Conflict(
            f"A {kind.name.replace('_', ' ')} with id '{values['id']}' already exists.",
            field="id",
        )
    if kind.name == "sos_box" and not values.get("secret"):
        values["secret"] = security.random_secret(32)
    now = utcnow()
    row = kind.model(**values, station_id=station_id, created_at=now, updated_at=now)
    _apply_point(row)
    _check_camera(kind, row)
    session.add(row)
    session.flush()
    snapshot = _snapshot(kind, row)
    audit_service.record(
        session,
        actor=actor,
        action=f"{kind.name}.created",
        object_type=kind.name,
        object_id=row.id,
        station_id=station_id,
        payload=snapshot,
        event=snapshot,
        topic="registry.changed",
    )
    return row


def _check_camera(kind: AssetKind, row: Any) -> None:
    """A camera not owned by the police is used only under a sharing agreement, and its
    URLs must be ones SafeZone can read (HTTP snapshot; MJPEG over HTTP or RTSP)."""
    if kind.name != "camera":
        return
    if row.owner != "police" and not (row.sharing_agreement or "").strip():
        raise InvalidInput(
            f"A {row.owner} camera needs its sharing agreement (reference or terms).",
            field="sharing_agreement",
        )
    stream = (row.stream_url or "").strip()
    if stream and not stream.startswith(("http://", "https://", "rtsp://", "rtsps://")):
        raise InvalidInput(
            "The stream URL must be MJPEG over http(s):// or rtsp(s)://.", field="stream_url"
        )
    snapshot = (row.snapshot_url or "").strip()
    if snapshot and not snapshot.startswith(("http://", "https://")):
        raise InvalidInput("The snapshot URL must be http(s)://.", field="snapshot_url")


def update_asset(
    session: Session,
    *,
    kind: AssetKind,
    station_id: str,
    asset_id: str,
    data: BaseModel,
    actor: str,
) -> Any:
    row = get_asset(session, kind=kind, station_id=station_id, asset_id=asset_id)
    changes = data.model_dump(exclude_unset=True)
    nulls = [k for k, v in changes.items() if v is None]
    if nulls:
        raise InvalidInput(f"'{nulls[0]}' cannot be null; leave it out to keep it.", field=nulls[0])
    for key, value in changes.items():
        setattr(row, key, value)
    row.updated_at = utcnow()
    _apply_point(row)
    _check_camera(kind, row)
    session.flush()
    snapshot = _snapshot(kind, row)
    audited = {k: ("(changed)" if k == "secret" else v) for k, v in changes.items()}
    audit_service.record(
        session,
        actor=actor,
        action=f"{kind.name}.updated",
        object_type=kind.name,
        object_id=row.id,
        station_id=station_id,
        payload={"changes": audited},
        event=snapshot,
        topic="registry.changed",
    )
    return row


def delete_asset(
    session: Session, *, kind: AssetKind, station_id: str, asset_id: str, actor: str
) -> None:
    row = get_asset(session, kind=kind, station_id=station_id, asset_id=asset_id)
    snapshot = _snapshot(kind, row)
    session.delete(row)
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action=f"{kind.name}.deleted",
        object_type=kind.name,
        object_id=asset_id,
        station_id=station_id,
        payload=snapshot,
        event={"kind": kind.name, "id": asset_id, "deleted": True},
        topic="registry.changed",
    )


# --- where is a point -----------------------------------------------------------------


@dataclass(frozen=True)
class Placement:
    station_id: str
    zone_id: str | None


# Parsed zone polygons, reused until the zone changes (every report and SOS asks).
_SHAPES: dict[str, tuple[datetime, BaseGeometry]] = {}


_ACTIVE_ZONES = (
    select(Zone.id, Zone.station_id, Zone.updated_at).where(Zone.active.is_(True)).order_by(Zone.id)
)


def _zone_shapes(session: Session) -> list[tuple[Any, BaseGeometry]]:
    """(zone id and station, polygon) of each active zone; a polygon is read and parsed
    again only when its zone has changed."""
    session.flush()  # (as the ORM would: this transaction's own changes count)
    zones = session.connection().execute(_ACTIVE_ZONES).all()  # Core, prebuilt
    shapes = []
    for zone in zones:
        cached = _SHAPES.get(zone.id)
        if cached is None or cached[0] != zone.updated_at:
            geometry = session.execute(select(Zone.geometry).where(Zone.id == zone.id)).scalar_one()
            cached = (zone.updated_at, polygon_geometry(geometry))
            _SHAPES[zone.id] = cached
        shapes.append((zone, cached[1]))
    return shapes


def place(session: Session, *, lat: float, lon: float) -> Placement:
    """Which station and safety zone a point belongs to.

    A point outside every zone goes to the nearest station, with no zone.
    """
    for zone, geometry in _zone_shapes(session):
        if contains(geometry, lat, lon):
            return Placement(zone.station_id, zone.id)
    stations = list_stations(session)
    if not stations:
        raise Conflict("No station is set up yet; run 'safezone demo' or create one.")
    nearest = min(stations, key=lambda s: haversine_m(lat, lon, s.lat, s.lon))
    return Placement(nearest.id, None)


# --- GeoJSON import and export --------------------------------------------------------


def _feature(kind: AssetKind, row: Any, *, with_secrets: bool) -> dict[str, Any]:
    props: dict[str, Any] = kind.create.model_validate(
        {k: getattr(row, k) for k in kind.create.model_fields if k != "secret" or with_secrets}
    ).model_dump(mode="json")
    props = {"kind": kind.name, **props}
    if kind.name == "zone":
        geometry = props.pop("geometry")
    else:
        geometry = {"type": "Point", "coordinates": [props.pop("lon"), props.pop("lat")]}
    if kind.name == "sos_box" and not with_secrets:
        props.pop("secret", None)
    return {
        "type": "Feature",
        "id": f"{kind.name}:{row.id}",
        "geometry": geometry,
        "properties": props,
    }


def export_geojson(session: Session, *, station_id: str, with_secrets: bool) -> dict[str, Any]:
    """The station's whole registry as one GeoJSON FeatureCollection."""
    station = get_station(session, station_id=station_id)
    features = [
        _feature(kind, row, with_secrets=with_secrets)
        for kind in KINDS.values()
        for row in list_assets(session, kind=kind, station_id=station_id)
    ]
    return {
        "type": "FeatureCollection",
        "name": f"safezone-registry-{station.id}",
        "features": features,
    }


def _properties_of(feature: Any, index: int) -> tuple[AssetKind, dict[str, Any]]:
    where = f"features[{index}]"
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise InvalidInput(f"{where} is not a GeoJSON Feature.", field=where)
    props = feature.get("properties")
    geometry = feature.get("geometry")
    if not isinstance(props, dict) or not isinstance(geometry, dict):
        raise InvalidInput(f"{where} needs 'properties' and 'geometry'.", field=where)
    kind = KINDS.get(str(props.get("kind")))
    if kind is None:
        raise InvalidInput(
            f"{where}.properties.kind must be one of: {', '.join(KINDS)}.",
            field=f"{where}.properties.kind",
        )
    values = {k: v for k, v in props.items() if k != "kind"}
    if kind.name == "zone":
        values["geometry"] = geometry
    else:
        coords = geometry.get("coordinates")
        if geometry.get("type") != "Point" or not isinstance(coords, list) or len(coords) < 2:
            raise InvalidInput(f"{where}.geometry must be a Point.", field=f"{where}.geometry")
        values["lon"], values["lat"] = coords[0], coords[1]
    return kind, values


def import_geojson(
    session: Session, *, station_id: str, collection: Any, actor: str
) -> schemas.ImportResult:
    """Create or update every feature of a registry FeatureCollection, all or nothing."""
    get_station(session, station_id=station_id)
    if not isinstance(collection, dict) or collection.get("type") != "FeatureCollection":
        raise InvalidInput("The file must be a GeoJSON FeatureCollection.", field="type")
    features = collection.get("features")
    if not isinstance(features, list):
        raise InvalidInput("'features' must be a list.", field="features")
    created = dict.fromkeys(KINDS, 0)
    updated = dict.fromkeys(KINDS, 0)
    for index, feature in enumerate(features):
        kind, values = _properties_of(feature, index)
        asset_id = values.get("id")
        existing = session.get(kind.model, asset_id) if isinstance(asset_id, str) else None
        try:
            if existing is None:
                data: BaseModel = kind.create.model_validate(values)
            else:
                values.pop("id", None)
                data = kind.update.model_validate(values)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            raise InvalidInput(
                f"features[{index}] ({kind.name}): {loc}: {first['msg']}",
                field=f"features[{index}].properties.{loc}",
            ) from exc
        if existing is None:
            create_asset(session, kind=kind, station_id=station_id, data=data, actor=actor)
            created[kind.name] += 1
        else:
            if existing.station_id != station_id:
                raise Conflict(
                    f"features[{index}]: id '{existing.id}' belongs to another station.",
                    field=f"features[{index}].properties.id",
                )
            update_asset(
                session,
                kind=kind,
                station_id=station_id,
                asset_id=existing.id,
                data=data,
                actor=actor,
            )
            updated[kind.name] += 1
    return schemas.ImportResult(created=created, updated=updated)


# --- maintenance alerts ---------------------------------------------------------------


def _alert_view(alert: MaintenanceAlert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "asset_kind": alert.asset_kind,
        "asset_id": alert.asset_id,
        "kind": alert.kind,
        "detail": alert.detail,
        "raised_at": alert.raised_at.isoformat(),
        "cleared_at": alert.cleared_at.isoformat() if alert.cleared_at else None,
    }


def open_maintenance_alert(
    session: Session, *, asset_kind: str, asset_id: str, kind: str
) -> MaintenanceAlert | None:
    return session.scalar(
        select(MaintenanceAlert).where(
            MaintenanceAlert.asset_kind == asset_kind,
            MaintenanceAlert.asset_id == asset_id,
            MaintenanceAlert.kind == kind,
            MaintenanceAlert.cleared_at.is_(None),
        )
    )


def raise_maintenance_alert(
    session: Session,
    *,
    station_id: str,
    asset_kind: str,
    asset_id: str,
    kind: str,
    detail: str,
    actor: str,
) -> MaintenanceAlert:
    """Open an alert for a device, unless the same one is already open."""
    existing = open_maintenance_alert(session, asset_kind=asset_kind, asset_id=asset_id, kind=kind)
    if existing is not None:
        return existing
    alert = MaintenanceAlert(
        station_id=station_id,
        asset_kind=asset_kind,
        asset_id=asset_id,
        kind=kind,
        detail=detail,
        raised_at=utcnow(),
    )
    session.add(alert)
    session.flush()
    view = _alert_view(alert)
    audit_service.record(
        session,
        actor=actor,
        action="maintenance.raised",
        object_type=asset_kind,
        object_id=asset_id,
        station_id=station_id,
        payload=view,
        event={"maintenance": view},
    )
    return alert


def clear_maintenance_alert(
    session: Session, *, asset_kind: str, asset_id: str, kind: str, actor: str
) -> MaintenanceAlert | None:
    alert = open_maintenance_alert(session, asset_kind=asset_kind, asset_id=asset_id, kind=kind)
    if alert is None:
        return None
    alert.cleared_at = utcnow()
    session.flush()
    view = _alert_view(alert)
    audit_service.record(
        session,
        actor=actor,
        action="maintenance.cleared",
        object_type=asset_kind,
        object_id=asset_id,
        station_id=alert.station_id,
        payload=view,
        event={"maintenance": view},
    )
    return alert


def list_maintenance_alerts(
    session: Session, *, station_id: str, include_cleared: bool = False
) -> list[MaintenanceAlert]:
    query = select(MaintenanceAlert).where(MaintenanceAlert.station_id == station_id)
    if not include_cleared:
        query = query.where(MaintenanceAlert.cleared_at.is_(None))
    return list(session.scalars(query.order_by(MaintenanceAlert.raised_at.desc())))
