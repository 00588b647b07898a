"""The demo station: Mukdahan city police station's safety zone, with sample history.

Everything here is sample data for trying SafeZone out, made from a fixed random seed.
The zone outlines are approximations drawn around the Indochina Market riverside, not
surveyed boundaries.
"""

from __future__ import annotations

import json
import os
import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from shapely.geometry import Point
from sqlalchemy.orm import Session

from safezone.auth import schemas as auth_schemas
from safezone.auth import service as auth_service
from safezone.core import security
from safezone.core.db import Database
from safezone.core.geo import polygon_geometry
from safezone.core.permissions import Principal
from safezone.incidents import service as incidents_service
from safezone.incidents.schemas import Category, IncidentCreate, Priority, Status
from safezone.patrol import plans
from safezone.patrol import service as patrol_service
from safezone.patrol.schemas import (
    DeviceRegister,
    LocationReport,
    PlanCreate,
    PlanStop,
    UnitCreate,
)
from safezone.reports import service as reports_service
from safezone.reports.schemas import ReportCreate
from safezone.zones import schemas as zone_schemas
from safezone.zones import service as zones_service

ACTOR = "system:demo"
STATION_ID = "MDH"
DEVICE_FILE = "demo-devices.json"
SECRET_FILE = "secret.key"
ACCOUNTS: tuple[tuple[str, str, str], ...] = (
    ("admin", "admin", "ผู้ดูแลระบบ (Admin)"),
    ("commander", "commander", "ผู้กำกับการ (Commander)"),
    ("operator", "operator", "เจ้าหน้าที่ศูนย์สั่งการ (Operator)"),
    ("officer1", "officer", "ส.ต.อ. สายตรวจ 1 (Officer)"),
    ("citizen1", "citizen", "ประชาชน 1 (Citizen)"),
)

# lon, lat rings (GeoJSON order). The Mekong runs north-south along lon ~104.7295 here.
ZONES: tuple[tuple[str, str, str, list[list[float]]], ...] = (
    (
        "ZONE-SRIMONGKOL",
        "ชุมชนศรีมงคลยอดแก้ว (ตลาดอินโดจีน)",
        "Si Mongkhon Yot Kaeo community (Indochina Market)",
        [
            [104.7262, 16.5478],
            [104.7296, 16.5478],
            [104.7301, 16.5445],
            [104.7300, 16.5405],
            [104.7268, 16.5405],
            [104.7258, 16.5440],
            [104.7262, 16.5478],
        ],
    ),
    (
        "ZONE-SRISUMANG",
        "ชุมชนศรีสุมังค์ (บางส่วน)",
        "Si Sumang community (part)",
        [
            [104.7236, 16.5512],
            [104.7290, 16.5512],
            [104.7294, 16.5480],
            [104.7240, 16.5480],
            [104.7236, 16.5512],
        ],
    ),
    (
        "ZONE-GOVCENTRE",
        "ชุมชนหลังศูนย์ราชการ (บางส่วน)",
        "Community behind the provincial government centre (part)",
        [
            [104.7205, 16.5470],
            [104.7255, 16.5470],
            [104.7252, 16.5415],
            [104.7208, 16.5415],
            [104.7205, 16.5470],
        ],
    ),
)

CATEGORY_WEIGHTS: tuple[tuple[Category, float, Priority], ...] = (
    ("theft", 0.24, "medium"),
    ("traffic", 0.16, "medium"),
    ("disturbance", 0.13, "low"),
    ("suspicious", 0.11, "low"),
    ("drugs", 0.08, "high"),
    ("assault", 0.07, "high"),
    ("burglary", 0.06, "high"),
    ("vandalism", 0.05, "low"),
    ("medical", 0.04, "high"),
    ("robbery", 0.03, "critical"),
    ("missing_person", 0.02, "high"),
    ("fire", 0.01, "critical"),
)
DESCRIPTIONS: dict[str, str] = {
    "theft": "กระเป๋าสตางค์ถูกขโมยในตลาด / wallet stolen at the market",
    "traffic": "รถจักรยานยนต์ชนกัน / motorbike collision",
    "disturbance": "ทะเลาะวิวาทเสียงดัง / loud quarrel",
    "suspicious": "บุคคลต้องสงสัยเดินดูรถ / person checking parked vehicles",
    "drugs": "แจ้งเบาะแสการซื้อขายยาเสพติด / tip about drug dealing",
    "assault": "ทำร้ายร่างกาย / assault",
    "burglary": "บ้านถูกงัด / house break-in",
    "vandalism": "ทำลายทรัพย์สินสาธารณะ / damage to public property",
    "medical": "ผู้ป่วยหมดสติ / person collapsed",
    "robbery": "ชิงทรัพย์ / robbery",
    "missing_person": "เด็กพลัดหลง / lost child",
    "fire": "ไฟไหม้แผงลอย / stall fire",
}
# Relative frequency by hour of day: quiet before dawn, busy market hours and evenings.
HOURLY = (
    2, 1, 1, 1, 1, 2, 4, 6, 7, 7, 7, 8, 8, 7, 7, 7, 8, 9, 10, 10, 9, 7, 5, 3,
)  # fmt: skip
HISTORY_DAYS = 42
INCIDENTS_PER_DAY = 7.0


@dataclass
class DemoOutcome:
    created: bool
    password: str
    accounts: list[tuple[str, str]]
    device_file: Path


def secret_key(data_dir: Path) -> str:
    """The demo's signing key, made once and kept in the data directory (mode 0600)."""
    path = data_dir / SECRET_FILE
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = security.random_secret(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    return key


def _point_in(rng: random.Random, ring: list[list[float]]) -> tuple[float, float]:
    geometry = polygon_geometry({"type": "Polygon", "coordinates": [ring]})
    minx, miny, maxx, maxy = geometry.bounds
    while True:
        lon, lat = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if geometry.contains(Point(lon, lat)):
            return round(lat, 6), round(lon, 6)


def _registry(session: Session, rng: random.Random) -> None:
    zones = zones_service.KINDS
    for zone_id, name_th, name_en, ring in ZONES:
        zones_service.create_asset(
            session,
            kind=zones["zone"],
            station_id=STATION_ID,
            data=zone_schemas.ZoneCreate(
                id=zone_id,
                name=name_th,
                name_en=name_en,
                description="Demo outline (approximate)",
                geometry={"type": "Polygon", "coordinates": [ring]},
            ),
            actor=ACTOR,
        )
    rings = [z[3] for z in ZONES]
    # 18 poles carrying 61 cameras: 7 poles with 4 cameras, 11 with 3.
    for pole in range(18):
        lat, lon = _point_in(rng, rings[pole % 3])
        count = 4 if pole < 7 else 3
        first_bearing = rng.uniform(0, 360 / count)
        for cam in range(count):
            zones_service.create_asset(
                session,
                kind=zones["camera"],
                station_id=STATION_ID,
                data=zone_schemas.CameraCreate(
                    id=f"CAM-{pole + 1:02d}-{'ABCD'[cam]}",
                    pole_id=f"POLE-{pole + 1:02d}",
                    name=f"เสา {pole + 1} กล้อง {'ABCD'[cam]}",
                    lat=lat,
                    lon=lon,
                    bearing_deg=round((first_bearing + cam * 360 / count) % 360, 1),
                    fov_deg=rng.choice((60.0, 75.0, 90.0, 110.0)),
                    range_m=rng.choice((40.0, 50.0, 60.0, 80.0)),
                    owner="municipality" if pole % 5 == 4 else "police",
                    sharing_agreement="MOU เทศบาลเมืองมุกดาหาร 2568" if pole % 5 == 4 else "",
                ),
                actor=ACTOR,
            )
    for box in range(12):
        lat, lon = _point_in(rng, rings[box % 3])
        zones_service.create_asset(
            session,
            kind=zones["sos_box"],
            station_id=STATION_ID,
            data=zone_schemas.SosBoxCreate(
                id=f"BOX-{box + 1:03d}",
                name=f"ตู้แจ้งเหตุ {box + 1}",
                lat=lat,
                lon=lon,
                heartbeat_interval_s=60,
            ),
            actor=ACTOR,
        )
    for cp in range(20):
        lat, lon = _point_in(rng, rings[cp % 3])
        zones_service.create_asset(
            session,
            kind=zones["checkpoint"],
            station_id=STATION_ID,
            data=zone_schemas.CheckpointCreate(
                id=f"CP-{cp + 1:03d}", name=f"จุดตรวจ {cp + 1}", lat=lat, lon=lon, radius_m=30.0
            ),
            actor=ACTOR,
        )


UNITS: tuple[tuple[str, str, str], ...] = (
    ("MDH-CAR-1", "สายตรวจ 1 (รถยนต์)", "car"),
    ("MDH-CAR-2", "สายตรวจ 2 (รถยนต์)", "car"),
    ("MDH-MC-1", "สายตรวจ จยย. 1", "motorbike"),
    ("MDH-MC-2", "สายตรวจ จยย. 2", "motorbike"),
    ("MDH-MC-3", "สายตรวจ จยย. 3", "motorbike"),
    ("MDH-FOOT-1", "สายตรวจเดินเท้า ตลาดอินโดจีน", "foot"),
)


def _units(session: Session, rng: random.Random) -> None:
    """Six patrol units placed in the zones; officer1 crews the first motorbike."""
    officer = auth_service.find_user(session, username="officer1")
    admin = Principal(user_id=0, username="demo", role="admin", station_id=STATION_ID)
    for index, (unit_id, callsign, kind) in enumerate(UNITS):
        patrol_service.create_unit(
            session,
            data=UnitCreate(
                id=unit_id,
                callsign=callsign,
                kind=kind,
                status="available",
                officer_user_id=officer.id if officer and unit_id == "MDH-MC-1" else None,
            ),
            principal=admin,
        )
        lat, lon = _point_in(rng, ZONES[index % 3][3])
        patrol_service.report_location(
            session,
            unit_id=unit_id,
            report=LocationReport(lat=lat, lon=lon),
            principal=admin,
        )


# Each demo officer's phone, registered by the commander. The officer app (or a tester)
# uses this id; it is not a secret, only proof of nothing on its own (see ADR 0011).
OFFICER_DEVICES: dict[str, str] = {"officer1": "DEMO-PHONE-OFFICER1"}


def _patrol(session: Session, now: datetime) -> None:
    """Every run: the demo officers' phones are registered and officer1 is on duty."""
    commander = auth_service.find_user(session, username="commander")
    assert commander is not None
    principal = auth_service.principal_of(commander)
    for username, device_id in OFFICER_DEVICES.items():
        officer = auth_service.find_user(session, username=username)
        assert officer is not None
        mine = patrol_service.list_devices(session, principal=auth_service.principal_of(officer))
        if device_id not in {d.device_id for d in mine}:
            patrol_service.register_device(
                session,
                data=DeviceRegister(
                    officer_user_id=officer.id, device_id=device_id, label="demo phone"
                ),
                principal=principal,
            )
        # An open shift runs until ended, so the officer stays on duty while the demo runs.
        if patrol_service.open_shift(session, officer_user_id=officer.id) is None:
            patrol_service.start_shift(
                session, principal=auth_service.principal_of(officer), now=now
            )


def _plans(session: Session, now: datetime, timezone: str) -> None:
    """A day and a night patrol plan over the market checkpoints, two rounds a shift, so
    the commander's map (/command/patrol) fills in as officer1 scans; the shift hours are
    local time of ``timezone``."""
    commander = auth_service.find_user(session, username="commander")
    assert commander is not None
    principal = auth_service.principal_of(commander)
    start = now.astimezone(ZoneInfo(timezone)).date() - timedelta(days=7)
    route = [PlanStop(checkpoint_id=f"CP-{n:03d}", target_visits=2) for n in (1, 4, 7, 10, 13)]
    for name, begins, ends in (
        ("เวรกลางวัน ตลาดอินโดจีน", "08:00", "20:00"),
        ("เวรกลางคืน ตลาดอินโดจีน", "20:00", "08:00"),
    ):
        plans.create_plan(
            session,
            data=PlanCreate(
                name=name,
                timezone=timezone,
                start_time=begins,
                end_time=ends,
                valid_from=start,
                checkpoints=route,
            ),
            principal=principal,
            local_timezone=timezone,
        )


def _history(session: Session, rng: random.Random, now: datetime) -> None:
    """Several weeks of past incidents with realistic hours, categories and response times."""
    rings = [z[3] for z in ZONES]
    categories = [c for c, _, _ in CATEGORY_WEIGHTS]
    weights = [w for _, w, _ in CATEGORY_WEIGHTS]
    priority_of = {c: p for c, _, p in CATEGORY_WEIGHTS}
    start = (now - timedelta(days=HISTORY_DAYS)).replace(minute=0, second=0, microsecond=0)
    for day in range(HISTORY_DAYS):
        for _ in range(_poisson(rng, INCIDENTS_PER_DAY)):
            hour = rng.choices(range(24), weights=HOURLY)[0]
            occurred = start + timedelta(days=day, hours=hour, minutes=rng.uniform(0, 59))
            if occurred >= now - timedelta(hours=2):
                continue
            category = rng.choices(categories, weights=weights)[0]
            # One in ten happens just outside the zones, in the wider city.
            if rng.random() < 0.1:
                lat, lon = _point_in(
                    rng,
                    [
                        [104.715, 16.536],
                        [104.729, 16.536],
                        [104.729, 16.556],
                        [104.715, 16.556],
                        [104.715, 16.536],
                    ],
                )
            else:
                lat, lon = _point_in(rng, rings[rng.choices((0, 1, 2), (5, 3, 2))[0]])
            steps = _steps(rng, occurred, now, priority_of[category])
            incidents_service.record_past_incident(
                session,
                data=IncidentCreate(
                    category=category,
                    priority=priority_of[category],
                    description=DESCRIPTIONS[category],
                    lat=lat,
                    lon=lon,
                ),
                source=rng.choice(("report", "report", "operator", "tip")),
                occurred_at=occurred,
                steps=steps,
                actor=ACTOR,
                station_id=STATION_ID,
            )


def _poisson(rng: random.Random, mean: float) -> int:
    count, threshold, product = 0, pow(2.718281828459045, -mean), rng.random()
    while product > threshold:
        count += 1
        product *= rng.random()
    return count


def _steps(
    rng: random.Random, occurred: datetime, now: datetime, priority: str
) -> dict[Status, datetime]:
    urgency = {"critical": 0.5, "high": 0.8, "medium": 1.2, "low": 1.6}[priority]
    moments: dict[Status, datetime] = {}
    t = occurred
    plan: list[tuple[Status, float]] = [
        ("acknowledged", rng.uniform(0.3, 2.5) * urgency),
        ("dispatched", rng.uniform(1, 4) * urgency),
        ("on_scene", rng.lognormvariate(2.0, 0.45) * urgency),
        ("resolved", rng.uniform(10, 60)),
        ("closed", rng.uniform(60, 600)),
    ]
    for status, minutes in plan:
        t = t + timedelta(minutes=minutes)
        if t >= now:
            break
        moments[status] = t
    return moments


def _accounts(session: Session, password: str) -> list[tuple[str, str]]:
    made = []
    for username, role, display in ACCOUNTS:
        user = auth_service.find_user(session, username=username)
        if user is None:
            auth_service.create_user(
                session,
                data=auth_schemas.UserCreate(
                    username=username,
                    password=password,
                    role=role,
                    display_name=display,
                ),
                station_id=STATION_ID,
                actor=ACTOR,
            )
        else:
            auth_service.set_password(session, user=user, password=password, actor=ACTOR)
        made.append((username, role))
    return made


def _open_reports(session: Session, rng: random.Random) -> None:
    """A few fresh citizen reports waiting in the operator's queue."""
    samples: list[tuple[str, Category, str]] = [
        ("tip", "drugs", "มีการซื้อขายยาบ้าหลังตลาดช่วงค่ำ / drug sales behind the market at night"),
        ("incident", "theft", "โทรศัพท์หายที่ท่าเรือ / phone stolen at the pier"),
        ("incident", "traffic", "รถจอดขวางทางเข้าตลาด / car blocking the market entrance"),
    ]
    for kind, category, text in samples:
        lat, lon = _point_in(rng, ZONES[0][3])
        reports_service.submit_report(
            session,
            data=ReportCreate(kind=kind, category=category, description=text, lat=lat, lon=lon),
            principal=None,
        )


def write_device_file(session: Session, data_dir: Path) -> Path:
    """demo-devices.json: what simulators and testers need to drive the demo."""
    kinds = zones_service.KINDS
    boxes = zones_service.list_assets(session, kind=kinds["sos_box"], station_id=STATION_ID)
    checkpoints = zones_service.list_assets(
        session, kind=kinds["checkpoint"], station_id=STATION_ID
    )
    content: dict[str, Any] = {
        "station_id": STATION_ID,
        "note": "Demo devices only. Secrets here are for the demo station, never production.",
        "sos_boxes": [
            {
                "id": b.id,
                "lat": b.lat,
                "lon": b.lon,
                "secret": b.secret,
                "heartbeat_interval_s": b.heartbeat_interval_s,
            }
            for b in sorted(boxes, key=lambda b: b.id)
        ],
        "checkpoints": [
            {
                "id": c.id,
                "lat": c.lat,
                "lon": c.lon,
                "radius_m": c.radius_m,
                # the printed (static) code, as a poster's QR code carries it
                "qr": patrol_service.printed_code(session, checkpoint=c, actor=ACTOR),
            }
            for c in sorted(checkpoints, key=lambda c: c.id)
        ],
        "officer_devices": dict(OFFICER_DEVICES),
    }
    path = data_dir / DEVICE_FILE
    temporary = path.with_suffix(".part")
    temporary.write_text(json.dumps(content, ensure_ascii=False, indent=1), encoding="utf-8")
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)
    return path


def ensure_demo(
    db: Database,
    *,
    data_dir: Path,
    password: str | None,
    now: datetime | None = None,
    timezone: str = "Asia/Bangkok",
) -> DemoOutcome:
    """Build the demo station if it does not exist; (re)set the demo accounts' password.
    ``timezone`` is SAFEZONE_LOCAL_TIMEZONE (the demo station is in Thailand)."""
    now = now or datetime.now(UTC)
    chosen = password or security.random_secret(9)
    rng = random.Random(20240915)
    with db.transaction() as session:
        created = zones_service.find_station(session, station_id=STATION_ID) is None
        if created:
            zones_service.create_station(
                session,
                station_id=STATION_ID,
                name_th="สถานีตำรวจภูธรเมืองมุกดาหาร",
                name_en="Mukdahan City Police Station",
                lat=16.5453,
                lon=104.7236,
                actor=ACTOR,
            )
            _registry(session, rng)
            _history(session, rng, now)
            _open_reports(session, rng)
        accounts = _accounts(session, chosen)
        if created:
            _units(session, rng)
            _plans(session, now, timezone)
        _patrol(session, now)
        device_file = write_device_file(session, data_dir)
    return DemoOutcome(created, chosen, accounts, device_file)


SIMULATED_SNAPSHOT = re.compile(r"^http://127\.0\.0\.1:\d+/cameras/\d+/snapshot\.jpg$")


def use_simulated_cameras(db: Database, *, base_url: str | None, count: int) -> int:
    """Point the demo cameras' snapshot URLs at ``count`` simulated feeds (``safezone
    simulate cameras``), in turn; with no ``base_url``, take back URLs that point at a
    simulator, so a demo run without it has no cameras reported offline. Returns how many
    cameras changed."""
    changed = 0
    with db.transaction() as session:
        cameras = zones_service.list_assets(
            session, kind=zones_service.KINDS["camera"], station_id=STATION_ID
        )
        for number, camera in enumerate(cameras):
            if base_url is None:
                wanted = "" if SIMULATED_SNAPSHOT.match(camera.snapshot_url) else None
            else:
                wanted = f"{base_url}/cameras/{number % count + 1}/snapshot.jpg"
            if wanted is None or wanted == camera.snapshot_url:
                continue
            zones_service.update_asset(
                session,
                kind=zones_service.KINDS["camera"],
                station_id=STATION_ID,
                asset_id=camera.id,
                data=zone_schemas.CameraUpdate(snapshot_url=wanted),
                actor=ACTOR,
            )
            changed += 1
    return changed


def banner(outcome: DemoOutcome, *, url: str) -> str:
    lines = [
        "",
        "SafeZone demo — สถานีตำรวจภูธรเมืองมุกดาหาร (sample data)",
        f"  {'built a new' if outcome.created else 'using the existing'} demo station",
        f"  sign in at {url}/login",
        f"  accounts: {', '.join(u for u, _ in outcome.accounts)}",
        f"  password: {outcome.password}",
        f"  citizen app: {url}/app    devices: {outcome.device_file}",
        "",
    ]
    return "\n".join(lines)
