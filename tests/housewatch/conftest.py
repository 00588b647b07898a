"""A citizen's house in the market zone, a day plan at the station, an officer on duty."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from safezone.auth import schemas as auth_schemas
from safezone.auth import service as auth_service
from safezone.housewatch import service as housewatch_service
from tests.conftest import INSIDE, PASSWORD, STATION
from tests.patrol.conftest import CHECKPOINT, Patrol

V1 = "/api/v1"
HOUSE = (INSIDE[0] + 0.0009, INSIDE[1] + 0.0009)  # about 130 m from the market checkpoint


class HouseWatch:
    def __init__(self, client: Any, auth: Any, db: Any, settings: Any) -> None:
        self.client, self.auth, self.db, self.settings = client, auth, db, settings
        self.today: date = housewatch_service.local_today(settings)

    def body(self, **changes: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "address": "99/1 ถนนสำราญชายโขง ต.ศรีบุญเรือง",
            "lat": HOUSE[0],
            "lon": HOUSE[1],
            "starts_on": self.today.isoformat(),
            "ends_on": (self.today + timedelta(days=2)).isoformat(),
            "contact": {"kind": "phone", "value": "+66 81 234 5678"},
            "note": "แมวอยู่ในบ้าน",
        }
        body.update(changes)
        return body

    def request(self, user: str = "citizen", **changes: Any) -> dict[str, Any]:
        r = self.client.post(
            f"{V1}/housewatch/requests", headers=self.auth(user), json=self.body(**changes)
        )
        assert r.status_code == 201, r.text
        return dict(r.json())

    def approve(self, request_id: int, user: str = "operator", **body: Any) -> Any:
        return self.client.post(
            f"{V1}/housewatch/requests/{request_id}/approve", headers=self.auth(user), json=body
        )

    def detail(self, request_id: int, user: str = "citizen") -> dict[str, Any]:
        r = self.client.get(f"{V1}/housewatch/requests/{request_id}", headers=self.auth(user))
        assert r.status_code == 200, r.text
        return dict(r.json())

    def day_plan(self) -> dict[str, Any]:
        r = self.client.post(
            f"{V1}/patrol/plans",
            headers=self.auth("commander"),
            json={
                "name": "เวรตลอดวัน",
                "start_time": "00:00",
                "end_time": "23:59",
                "valid_from": (self.today - timedelta(days=7)).isoformat(),
                "checkpoints": [{"checkpoint_id": CHECKPOINT, "target_visits": 2}],
            },
        )
        assert r.status_code == 201, r.text
        return dict(r.json())

    def notify(self) -> int:
        with self.db.transaction() as session:
            return housewatch_service.notify_visits(
                session,
                channels=housewatch_service.channels_for(self.settings),
                timezone=self.settings.local_timezone,
            )


@pytest.fixture
def hw(client, auth, db, settings) -> HouseWatch:
    Patrol(client, auth, db).add_checkpoint(CHECKPOINT, *INSIDE)
    return HouseWatch(client, auth, db, settings)


@pytest.fixture
def neighbour(db) -> str:
    """A second citizen."""
    with db.transaction() as session:
        auth_service.create_user(
            session,
            data=auth_schemas.UserCreate(username="neighbour", password=PASSWORD, role="citizen"),
            station_id=STATION,
            actor="test",
        )
    return "neighbour"


@pytest.fixture
def officer(hw, client, auth, db) -> Patrol:
    patrol = Patrol(client, auth, db)
    patrol.register_phone()
    patrol.start_shift()
    return patrol
