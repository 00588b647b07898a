"""Cameras by place ("who sees this point") and snapshots kept as evidence."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from safezone.audit import service as audit_service
from safezone.cameras.models import Snapshot
from safezone.cameras.schemas import CameraView, SnapshotRead
from safezone.cameras.sources import Frames, look
from safezone.core.db import Database, utcnow
from safezone.core.errors import InvalidInput, NotFound
from safezone.core.geo import EARTH_RADIUS_M, bearing_deg, haversine_m
from safezone.core.media import stage_file
from safezone.core.permissions import Principal
from safezone.core.security import sha256_hex
from safezone.zones import service as zones_service

MAX_SNAPSHOT_BYTES = 10 * 1024 * 1024
_M_PER_DEGREE = EARTH_RADIUS_M * math.pi / 180  # along a meridian


def angle_between(a: float, b: float) -> float:
    """Smallest difference between two compass bearings, in [0, 180]."""
    diff = abs(a - b) % 360.0
    return 360.0 - diff if diff > 180.0 else diff


def sees(camera: Any, lat: float, lon: float) -> tuple[bool, float, float]:
    """Whether a camera's field of view covers the point: (covers, distance, bearing)."""
    distance = haversine_m(camera.lat, camera.lon, lat, lon)
    if distance > camera.range_m:
        return False, distance, 0.0
    if distance < 1.0:  # standing under the pole: every camera on it sees you
        return True, distance, camera.bearing_deg
    towards = bearing_deg(camera.lat, camera.lon, lat, lon)
    inside = angle_between(camera.bearing_deg, towards) <= camera.fov_deg / 2.0
    return inside, distance, towards


def covering(
    session: Session, *, station_id: str, lat: float, lon: float, radius_m: float | None = None
) -> list[CameraView]:
    """Active cameras whose field of view covers the point, nearest first.

    ``radius_m`` optionally keeps only cameras within that distance of the point.
    """
    views = []
    for camera in zones_service.active_camera_geometry(session, station_id=station_id):
        # The distance is at least the north-south one: most cameras are ruled out by
        # that subtraction alone, before the trigonometry of ``sees``.
        if abs(camera.lat - lat) * _M_PER_DEGREE > camera.range_m * (1 + 1e-9):
            continue
        covers, distance, towards = sees(camera, lat, lon)
        if not covers or (radius_m is not None and distance > radius_m):
            continue
        views.append(
            CameraView(
                camera_id=camera.id,
                pole_id=camera.pole_id,
                name=camera.name,
                lat=camera.lat,
                lon=camera.lon,
                bearing_deg=camera.bearing_deg,
                fov_deg=camera.fov_deg,
                range_m=camera.range_m,
                distance_m=round(distance, 1),
                bearing_to_point_deg=round(towards, 1),
            )
        )
    views.sort(key=lambda v: (v.distance_m, v.camera_id))
    return views


@dataclass
class Fetched:
    camera_id: str
    data: bytes | None
    content_type: str
    error: str | None


@dataclass(frozen=True)
class RegisteredCamera:
    """What the registry holds about a camera, detached from any session."""

    camera_id: str
    station_id: str
    active: bool
    snapshot_url: str


def registered_camera(session: Session, *, camera_id: str) -> RegisteredCamera | None:
    """A camera as registered, whatever its station; None if there is no such camera.

    Consumers of bus events (the face workers) check what an event says about a camera
    against this, so that a forged event cannot point them at another address.
    """
    camera = zones_service.find_asset(
        session, kind=zones_service.KINDS["camera"], asset_id=camera_id
    )
    if camera is None:
        return None
    return RegisteredCamera(
        camera_id=camera.id,
        station_id=camera.station_id,
        active=bool(camera.active),
        snapshot_url=(camera.snapshot_url or "").strip(),
    )


def fetch_snapshot(snapshot_url: str, *, camera_id: str, timeout_s: float) -> Fetched:
    """GET a camera's current JPEG. Never raises: a failure is reported in ``error``."""
    if not snapshot_url:
        return Fetched(camera_id, None, "", "the camera has no snapshot URL")
    try:
        with httpx.Client(timeout=timeout_s, follow_redirects=False) as client:
            response = client.get(snapshot_url)
    except httpx.HTTPError as exc:
        return Fetched(camera_id, None, "", f"unreachable: {exc.__class__.__name__}")
    content_type = response.headers.get("content-type", "").split(";")[0].strip()
    if response.status_code != 200:
        return Fetched(camera_id, None, "", f"HTTP {response.status_code}")
    if content_type not in ("image/jpeg", "image/png"):
        return Fetched(camera_id, None, "", f"not an image ({content_type or 'no type'})")
    if len(response.content) > MAX_SNAPSHOT_BYTES:
        return Fetched(camera_id, None, "", "larger than 10 MiB")
    return Fetched(camera_id, response.content, content_type, None)


def store_snapshot(
    session: Session,
    *,
    station_id: str,
    camera_id: str,
    incident_id: int | None,
    data: bytes,
    content_type: str,
    media_dir: Path,
    actor: str,
) -> Snapshot:
    """Keep a snapshot as evidence: the file, its row, and its SHA-256 in the audit chain."""
    digest = sha256_hex(data)
    extension = ".png" if content_type == "image/png" else ".jpg"
    relative = f"snapshots/{camera_id}/{digest}{extension}"
    stage_file(session, media_dir=media_dir, relative=relative, data=data)
    snapshot = Snapshot(
        station_id=station_id,
        camera_id=camera_id,
        incident_id=incident_id,
        content_type=content_type,
        size_bytes=len(data),
        sha256=digest,
        path=relative,
        captured_at=utcnow(),
    )
    session.add(snapshot)
    session.flush()
    view = SnapshotRead.model_validate(snapshot).model_dump(mode="json")
    audit_service.record(
        session,
        actor=actor,
        action="camera.snapshot_stored",
        object_type="camera",
        object_id=camera_id,
        station_id=station_id,
        payload={"sha256": digest, "incident_id": incident_id, "size_bytes": len(data)},
        event={"snapshot": view},
        topic="incident.evidence_added" if incident_id else "camera.snapshot_stored",
    )
    return snapshot


def snapshots_for_incident(session: Session, *, incident_id: int) -> list[Snapshot]:
    return list(
        session.scalars(
            select(Snapshot).where(Snapshot.incident_id == incident_id).order_by(Snapshot.id)
        )
    )


def view_snapshot(
    session: Session, *, snapshot_id: int, principal: Principal, media_dir: Path
) -> tuple[Path, str]:
    """The file of an evidence snapshot, for a viewer whose viewing is audited."""
    snapshot = session.get(Snapshot, snapshot_id)
    if snapshot is None or snapshot.station_id != principal.station_id:
        raise NotFound(f"No snapshot {snapshot_id} at your station.", field="snapshot_id")
    audit_service.record(
        session,
        actor=principal.actor,
        action="camera.snapshot_viewed",
        object_type="camera",
        object_id=snapshot.camera_id,
        station_id=snapshot.station_id,
        payload={
            "snapshot_id": snapshot.id,
            "sha256": snapshot.sha256,
            "incident_id": snapshot.incident_id,
        },
    )
    return media_dir / snapshot.path, snapshot.content_type


def list_cameras(session: Session, *, station_id: str) -> list[Any]:
    """Every camera of the station, by id."""
    return list(
        zones_service.list_assets(
            session, kind=zones_service.KINDS["camera"], station_id=station_id
        )
    )


def live_snapshot(
    db: Database,
    *,
    camera_id: str,
    principal: Principal,
    reason: str,
    timeout_s: float,
    reader: Callable[..., Frames] | None = None,
) -> Frames:
    """A camera's current picture (``jpeg``, or None with ``error``), for a control-room
    viewer who says why.

    The camera is read, then looked at with no transaction open (a slow camera must never
    hold the write lock an SOS may be waiting for), then the viewing is written to the
    audit chain (who, which camera, when, why), also when the camera cannot be reached:
    the attempt is a viewing too.
    """
    reason = reason.strip()
    if len(reason) < 3:
        raise InvalidInput(
            "Say why you look at this camera (3 characters or more).", field="reason"
        )
    with db.reader() as session:
        camera = zones_service.get_asset(
            session,
            kind=zones_service.KINDS["camera"],
            station_id=principal.station_id,
            asset_id=camera_id,
        )
        session.expunge(camera)
    frames = (reader or look)(camera, timeout_s=timeout_s)
    with db.transaction() as session:
        audit_service.record(
            session,
            actor=principal.actor,
            action="camera.live_viewed",
            object_type="camera",
            object_id=camera.id,
            station_id=camera.station_id,
            payload={
                "reason": reason,
                "source": frames.source,
                "sha256": sha256_hex(frames.jpeg) if frames.jpeg else None,
                "error": frames.error,
            },
        )
    return frames
