"""An SOS site: a box at the market, cameras around it, units nearby."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from safezone.core.permissions import Principal
from safezone.patrol import service as patrol_service
from safezone.patrol.schemas import LocationReport, UnitCreate
from safezone.sos.service import sign
from safezone.zones import schemas as zone_schemas
from safezone.zones import service as zones_service
from tests.conftest import INSIDE

BOX_ID = "BOX-T1"
BOX_SECRET = "box-secret-for-tests-0123456789"
ADMIN = Principal(user_id=0, username="test", role="admin", station_id="MDH")


def box_message(
    type_: str, seq: int, *, secret: str = BOX_SECRET, ts: datetime | None = None, **extra: Any
) -> dict[str, Any]:
    stamp = (ts or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    payload: dict[str, Any] = {"type": type_, "seq": seq, "ts": stamp, **extra}
    payload["sig"] = sign(payload, secret)
    return payload


def last_heard(db: Any, at: datetime) -> None:
    """The test box was last heard from at ``at`` (its messages stopped then)."""
    from safezone.sos.models import BoxStatus

    with db.transaction() as session:
        session.merge(BoxStatus(box_id=BOX_ID, station_id="MDH", online=False, last_message_at=at))


@dataclass
class Site:
    box_id: str
    secret: str


@pytest.fixture
def sos_site(db) -> Site:
    # (tests/conftest imports this module part-way through, before register_camera)
    from tests.conftest import register_camera

    kinds = zones_service.KINDS
    lat, lon = INSIDE
    with db.transaction() as session:
        zones_service.create_asset(
            session,
            kind=kinds["sos_box"],
            station_id="MDH",
            actor="test",
            data=zone_schemas.SosBoxCreate(
                id=BOX_ID,
                name="ตู้ทดสอบ",
                lat=lat,
                lon=lon,
                secret=BOX_SECRET,
                heartbeat_interval_s=30,
            ),
        )
        for unit_id, kind, dlat in (
            ("CAR-1", "car", 0.01),
            ("BIKE-1", "motorbike", 0.002),
            ("FOOT-1", "foot", 0.0005),
        ):
            patrol_service.create_unit(
                session,
                data=UnitCreate(id=unit_id, callsign=unit_id, kind=kind, status="available"),
                principal=ADMIN,
            )
            patrol_service.report_location(
                session,
                unit_id=unit_id,
                report=LocationReport(lat=lat + dlat, lon=lon),
                principal=ADMIN,
            )
    # Three cameras: one 20 m west looking east (sees the box), one 40 m north looking
    # south (sees it, farther), one 20 m east looking further east (does not).
    for cam_id, dlat, dlon, bearing in (
        ("CAM-W", 0.0, -0.00019, 90.0),
        ("CAM-N", 0.00036, 0.0, 180.0),
        ("CAM-E", 0.0, 0.00019, 90.0),
    ):
        register_camera(
            db,
            cam_id,
            snapshot_url="",
            lat=lat + dlat,
            lon=lon + dlon,
            bearing_deg=bearing,
            range_m=60,
            pole_id=f"P-{cam_id}",
        )
    return Site(BOX_ID, BOX_SECRET)
