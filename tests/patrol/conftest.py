"""A checkpoint at the market, the officer's registered phone and a running shift."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from safezone.patrol import qr
from safezone.patrol import service as patrol_service
from safezone.patrol.models import Shift
from safezone.zones import schemas as zone_schemas
from safezone.zones import service as zones_service
from tests.conftest import INSIDE

V1 = "/api/v1"
CHECKPOINT = "CP-MARKET"
PHONE = "PHONE-OFFICER-1"
# About 200 m north of the market checkpoint.
NORTH_200M = (INSIDE[0] + 0.0018, INSIDE[1])


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


class Patrol:
    """Helpers over the API for one officer at one checkpoint."""

    def __init__(self, client: Any, auth: Any, db: Any) -> None:
        self.client, self.auth, self.db = client, auth, db

    def add_checkpoint(self, checkpoint_id: str, lat: float, lon: float, radius_m: float = 30.0):
        with self.db.transaction() as session:
            zones_service.create_asset(
                session,
                kind=zones_service.KINDS["checkpoint"],
                station_id="MDH",
                data=zone_schemas.CheckpointCreate(
                    id=checkpoint_id, name="จุดตรวจตลาด", lat=lat, lon=lon, radius_m=radius_m
                ),
                actor="test",
            )

    def printed(self, checkpoint_id: str = CHECKPOINT) -> str:
        with self.db.transaction() as session:
            checkpoint = zones_service.get_asset(
                session,
                kind=zones_service.KINDS["checkpoint"],
                station_id="MDH",
                asset_id=checkpoint_id,
            )
            return patrol_service.printed_code(session, checkpoint=checkpoint, actor="test")

    def rotating(self, moment: datetime, checkpoint_id: str = CHECKPOINT) -> str:
        r = self.client.get(
            f"{V1}/patrol/checkpoints/{checkpoint_id}/display-key", headers=self.auth("admin")
        )
        assert r.status_code == 200, r.text
        return qr.rotating_code(
            checkpoint_id=checkpoint_id,
            window=qr.window_of(moment.timestamp()),
            display_key_hex=r.json()["display_key"],
        )

    def officer_id(self) -> int:
        return int(self.client.get(f"{V1}/auth/me", headers=self.auth("officer")).json()["user_id"])

    def register_phone(self, device_id: str = PHONE) -> dict[str, Any]:
        r = self.client.post(
            f"{V1}/patrol/devices",
            headers=self.auth("commander"),
            json={"officer_user_id": self.officer_id(), "device_id": device_id, "label": "A54"},
        )
        assert r.status_code == 201, r.text
        return dict(r.json())

    def start_shift(self) -> dict[str, Any]:
        r = self.client.post(f"{V1}/patrol/shifts/start", headers=self.auth("officer"))
        assert r.status_code == 201, r.text
        return dict(r.json())

    def backdate_shift(self, by: timedelta) -> None:
        """Move the officer's running shift's start into the past."""
        with self.db.transaction() as session:
            shift = session.scalar(select(Shift).where(Shift.ended_at.is_(None)))
            assert shift is not None
            shift.started_at -= by

    def check_in(
        self,
        code: str,
        *,
        at: tuple[float, float] = INSIDE,
        accuracy_m: float = 5.0,
        scanned_at: datetime | None = None,
        device_id: str = PHONE,
        user: str = "officer",
    ) -> Any:
        return self.client.post(
            f"{V1}/patrol/checkins",
            headers=self.auth(user),
            json={
                "qr": code,
                "lat": at[0],
                "lon": at[1],
                "accuracy_m": accuracy_m,
                "scanned_at": iso(scanned_at or datetime.now(UTC)),
                "device_id": device_id,
            },
        )


@pytest.fixture
def patrol(client, auth, db) -> Patrol:
    helper = Patrol(client, auth, db)
    helper.add_checkpoint(CHECKPOINT, *INSIDE)
    return helper


@pytest.fixture
def on_duty(patrol) -> Patrol:
    patrol.register_phone()
    patrol.start_shift()
    return patrol
