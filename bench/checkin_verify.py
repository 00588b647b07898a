"""Patrol check-in cost: the pure rules, and the whole POST /api/v1/patrol/checkins.

Builds the demo station in a temporary SQLite database, then (1) times ``verify`` alone
on a realistic scan, and (2) sends N check-ins as officer1 from the demo's device file,
walking between checkpoints, through the app in-process (no network), timing each request
(rules, the check-ins table growing, the audit entry and the outbox event). The floor is
an authenticated GET /api/v1/auth/me through the same client.

Prints one JSON line. Usage:
    python bench/checkin_verify.py [--checkins 1000] [--verify 20000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from safezone import demo
from safezone.app import create_app
from safezone.config import Settings
from safezone.core import migrate
from safezone.core.db import Database
from safezone.patrol import checkins, qr
from safezone.patrol.models import Shift

PASSWORD = "bench-password-1"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def time_verify(n: int) -> float:
    secret = "s" * 43
    code = qr.static_code(checkpoint_id="CP-001", key_version=1, secret=secret)
    now = datetime.now(UTC)
    facts = checkins.CheckpointFacts("CP-001", 16.544, 104.728, 30.0, True, 1, {1: secret})
    prior = checkins.PriorCheckIn(
        "CP-002", "x", "static", 16.545, 104.728, 5.0, now - timedelta(minutes=3)
    )
    context = checkins.Context(
        facts, frozenset({"PHONE"}), [(now - timedelta(hours=1), None)], [prior], [prior]
    )
    scan = checkins.Scan(code, 16.544, 104.728, 5.0, now, "PHONE", now)
    policy = checkins.Policy()
    start = time.perf_counter()
    for _ in range(n):
        checkins.verify(scan, context, policy)
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkins", type=int, default=1000)
    parser.add_argument("--verify", type=int, default=20000)
    args = parser.parse_args()
    verify_us = time_verify(args.verify)

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        db = Database(f"sqlite:///{data_dir / 'safezone.db'}")
        migrate.upgrade(db)
        demo.ensure_demo(db, data_dir=data_dir, password=PASSWORD)
        devices = json.loads((data_dir / demo.DEVICE_FILE).read_text(encoding="utf-8"))
        settings = Settings(
            env="test", data_dir=data_dir, secret_key=demo.secret_key(data_dir), tile_url=""
        )
        app = create_app(settings, database=db)
        statuses: dict[str, int] = {}
        latencies: list[float] = []
        with TestClient(app) as client:
            token = client.post(
                "/api/v1/auth/token", data={"username": "officer1", "password": PASSWORD}
            ).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            points = devices["checkpoints"]
            device_id = devices["officer_devices"]["officer1"]
            # A scan every 40 s over the last hours (an offline queue being drained): a
            # checkpoint comes round every 20 scans, past the replay window, and the next
            # one is always reachable in 40 s. The shift began before the first scan.
            first = datetime.now(UTC) - timedelta(seconds=40 * args.checkins)
            with db.transaction() as session:
                shift = session.scalars(select(Shift)).one()
                shift.started_at = first - timedelta(minutes=1)
            for i in range(args.checkins):
                cp = points[i % len(points)]
                body = {
                    "qr": cp["qr"],
                    "lat": cp["lat"],
                    "lon": cp["lon"],
                    "accuracy_m": 6,
                    "scanned_at": (first + timedelta(seconds=40 * i)).isoformat(),
                    "device_id": device_id,
                }
                start = time.perf_counter()
                r = client.post("/api/v1/patrol/checkins", json=body, headers=headers)
                latencies.append((time.perf_counter() - start) * 1000)
                r.raise_for_status()
                verdict = r.json()
                key = "+".join([verdict["status"], *verdict["reasons"]])
                statuses[key] = statuses.get(key, 0) + 1
            # The floor: an authenticated request that writes nothing.
            floor: list[float] = []
            for _ in range(200):
                start = time.perf_counter()
                client.get("/api/v1/auth/me", headers=headers).raise_for_status()
                floor.append((time.perf_counter() - start) * 1000)
        db.dispose()
    print(
        json.dumps(
            {
                "bench": "checkin_verify",
                "verify_us": round(verify_us, 1),
                "checkins": args.checkins,
                "statuses": statuses,
                "checkin_p50_ms": round(statistics.median(latencies), 2),
                "checkin_p99_ms": round(percentile(latencies, 99), 2),
                "checkins_per_s": round(len(latencies) / (sum(latencies) / 1000), 1),
                "auth_me_p50_ms": round(statistics.median(floor), 2),
            }
        )
    )


if __name__ == "__main__":
    main()
