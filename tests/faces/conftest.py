"""Face fixtures: one engine per test session (loading the ONNX models takes a moment)."""

from __future__ import annotations

import pytest

from safezone.core.db import Database
from safezone.faces.engine import Embedding, FaceEngine
from safezone.faces.scenes import sample_face
from safezone.zones import schemas as zone_schemas
from safezone.zones import service as zones_service


@pytest.fixture(scope="session")
def engine() -> FaceEngine:
    return FaceEngine()


@pytest.fixture(scope="session")
def collins(engine: FaceEngine) -> Embedding:
    return engine.embed_photo(sample_face("collins"))


@pytest.fixture(scope="session")
def hopper(engine: FaceEngine) -> Embedding:
    return engine.embed_photo(sample_face("hopper"))


def register_camera(
    db: Database, camera_id: str, *, snapshot_url: str, active: bool = True
) -> None:
    """A camera of station MDH in the registry, with this snapshot URL."""
    with db.transaction() as session:
        zones_service.create_asset(
            session,
            kind=zones_service.KINDS["camera"],
            station_id="MDH",
            data=zone_schemas.CameraCreate(
                id=camera_id,
                pole_id="POLE-1",
                lat=16.544,
                lon=104.728,
                bearing_deg=0.0,
                fov_deg=90.0,
                range_m=50.0,
                snapshot_url=snapshot_url,
                active=active,
            ),
            actor="test",
        )
