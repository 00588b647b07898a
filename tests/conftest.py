"""Shared fixtures: a real database per test (SQLite, or PostgreSQL when
SAFEZONE_TEST_DATABASE_URL is set), seeded with two stations and one user per role."""

from __future__ import annotations

import functools
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from safezone.app import create_app
from safezone.auth import schemas as auth_schemas
from safezone.auth import service as auth_service
from safezone.config import Settings
from safezone.core import migrate, security
from safezone.core.db import Base, Database
from safezone.core.models import Base as _all_models  # noqa: F401  (registers every table)
from safezone.core.permissions import ROLES
from safezone.zones import schemas as zone_schemas
from safezone.zones import service as zones_service

PG_URL = os.environ.get("SAFEZONE_TEST_DATABASE_URL")
SECRET = "test-secret-key-" + "x" * 32
PASSWORD = "correct-horse-battery"
STATION = "MDH"
OTHER_STATION = "BKK"
# The safety zone used by tests: a square around the Indochina Market riverside.
ZONE_RING = [
    [104.7250, 16.5400],
    [104.7310, 16.5400],
    [104.7310, 16.5480],
    [104.7250, 16.5480],
    [104.7250, 16.5400],
]
INSIDE = (16.5440, 104.7280)
OUTSIDE = (16.5600, 104.7000)

# argon2 is slow on purpose; tests reuse one hash per password (verification stays real).
security.hash_password = functools.lru_cache(maxsize=32)(security.hash_password)  # type: ignore[method-assign]
auth_service.security.hash_password = security.hash_password  # type: ignore[attr-defined]


def seed(db: Database) -> None:
    with db.transaction() as session:
        zones_service.create_station(
            session,
            station_id=STATION,
            name_th="สภ.เมืองมุกดาหาร",
            name_en="Mukdahan",
            lat=16.5453,
            lon=104.7236,
            actor="test",
        )
        zones_service.create_station(
            session,
            station_id=OTHER_STATION,
            name_th="สน.ทดสอบ",
            name_en="Other",
            lat=13.75,
            lon=100.50,
            actor="test",
        )
        zones_service.create_asset(
            session,
            kind=zones_service.KINDS["zone"],
            station_id=STATION,
            data=zone_schemas.ZoneCreate(
                id="ZONE-MARKET",
                name="ตลาดอินโดจีน",
                name_en="Indochina Market",
                geometry={"type": "Polygon", "coordinates": [ZONE_RING]},
            ),
            actor="test",
        )
        for role in ROLES:
            auth_service.create_user(
                session,
                data=auth_schemas.UserCreate(username=role, password=PASSWORD, role=role),
                station_id=STATION,
                actor="test",
            )
        auth_service.create_user(
            session,
            data=auth_schemas.UserCreate(
                username="other_operator", password=PASSWORD, role="operator"
            ),
            station_id=OTHER_STATION,
            actor="test",
        )


def _drop_triggers_and_truncate(db: Database) -> None:
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated, seeded database made once per test session."""
    if PG_URL:
        db = Database(PG_URL)
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        migrate.upgrade(db)
        db.dispose()
        return PG_URL
    path = tmp_path_factory.mktemp("template") / "template.db"
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db)
    seed(db)
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    return str(path)


@pytest.fixture
def settings(tmp_path: Path, template_db: str) -> Settings:
    if PG_URL:
        url = PG_URL
    else:
        target = tmp_path / "safezone.db"
        shutil.copyfile(template_db, target)
        url = f"sqlite:///{target}"
    return Settings(
        env="test",
        data_dir=tmp_path,
        database_url=url,
        secret_key=SECRET,
        sse_poll_s=0.2,
        relay_interval_s=0.1,
        tile_url="",
    )


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database(settings.resolved_database_url)
    if PG_URL:
        _drop_triggers_and_truncate(database)
        seed(database)
    yield database
    database.dispose()


@pytest.fixture
def app(settings: Settings, db: Database) -> Any:
    return create_app(settings, database=db)


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=True) as c:
        yield c


@pytest.fixture
def token_for(settings: Settings, db: Database) -> Callable[[str], str]:
    def make(username: str) -> str:
        with db.reader() as session:
            user = auth_service.find_user(session, username=username)
            assert user is not None, username
            return auth_service.access_token(settings, user)

    return make


@pytest.fixture
def auth(token_for: Callable[[str], str]) -> Callable[[str], dict[str, str]]:
    """Headers for a seeded user: auth("operator"), auth("other_operator"), ..."""

    def headers(username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token_for(username)}"}

    return headers


class LiveServer:
    """The real app served by uvicorn on a free loopback port, in a background thread."""

    def __init__(self, app: Any) -> None:
        import socket
        import threading

        import uvicorn

        # The bound socket is handed to uvicorn, so no other process can take the port.
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def __enter__(self) -> LiveServer:
        import time

        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)
        self.sock.close()


@pytest.fixture
def live_server(app: Any) -> Iterator[LiveServer]:
    with LiveServer(app) as server:
        yield server


# Shared with every test module: an SOS site (a box, cameras around it, units nearby).
from tests.sos.conftest import sos_site  # noqa: E402, F401


def count_own_writes(db: Database, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """From now on, note each write transaction that the calling thread opens (the app's
    own background jobs, such as the outbox relay, write from other threads and are left
    out). Returns the list the notes go to; clear it between rounds."""
    writes: list[int] = []
    transaction = db.transaction
    me = threading.get_ident()

    def counted(**kwargs: Any) -> Any:
        if threading.get_ident() == me:
            writes.append(me)
        return transaction(**kwargs)

    monkeypatch.setattr(db, "transaction", counted)
    return writes


def add_user(db: Database, username: str, role: str, station_id: str = STATION) -> None:
    """One more user beside the seeded ones (password PASSWORD), e.g. a second officer."""
    with db.transaction() as session:
        auth_service.create_user(
            session,
            data=auth_schemas.UserCreate(username=username, password=PASSWORD, role=role),
            station_id=station_id,
            actor="test",
        )


def record_notes(session: Any, numbers: Any) -> None:
    """An audited incident note with an event ({"n": number}) per number, in the caller's
    write transaction."""
    from safezone.audit import service as audit_service

    for n in numbers:
        audit_service.record(
            session,
            actor="t",
            action="incident.note",
            object_type="incident",
            object_id=n,
            station_id="MDH",
            event={"n": n},
        )


def register_camera(
    db: Database,
    camera_id: str,
    *,
    snapshot_url: str,
    active: bool = True,
    lat: float = 16.544,
    lon: float = 104.728,
    bearing_deg: float = 0.0,
    range_m: float = 50.0,
    pole_id: str = "POLE-1",
) -> None:
    """A camera of station MDH (a 90-degree view) in the registry."""
    from safezone.zones import schemas as zone_schemas
    from safezone.zones import service as zones_service

    with db.transaction() as session:
        zones_service.create_asset(
            session,
            kind=zones_service.KINDS["camera"],
            station_id="MDH",
            data=zone_schemas.CameraCreate(
                id=camera_id,
                pole_id=pole_id,
                lat=lat,
                lon=lon,
                bearing_deg=bearing_deg,
                fov_deg=90.0,
                range_m=range_m,
                snapshot_url=snapshot_url,
                active=active,
            ),
            actor="test",
        )
