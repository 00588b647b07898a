from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from safezone.cameras.simulator import Simulator
from safezone.zones import schemas as zone_schemas
from safezone.zones import service as zones_service

LAT, LON = 16.5440, 104.7280


@pytest.fixture(scope="module")
def simulator() -> Iterator[Simulator]:
    with Simulator(2, http_port=0, rtsp_port=0, fps=5) as sim:
        yield sim


@pytest.fixture
def add_camera(db: Any):
    def make(camera_id: str, station: str = "MDH", **fields: Any) -> str:
        values: dict[str, Any] = {
            "pole_id": "POLE-1",
            "lat": LAT,
            "lon": LON,
            "bearing_deg": 0.0,
            "fov_deg": 90.0,
            "range_m": 50.0,
        }
        values.update(fields)
        with db.transaction() as session:
            zones_service.create_asset(
                session,
                kind=zones_service.KINDS["camera"],
                station_id=station,
                data=zone_schemas.CameraCreate(id=camera_id, **values),
                actor="test",
            )
        return camera_id

    return make
