"""Patrol plan compliance cost: the report for one shift, and its CSV and PDF exports.

Builds the demo station in a temporary SQLite database, adds a plan over all 20 demo
checkpoints with a target of 4 visits each in a 12-hour shift, and stores N check-ins by
officer1 spread over the shift (80 % accepted, 10 % flagged, 10 % rejected, at random
checkpoints). Then times the compliance report (reading the check-ins and judging every
slot), the CSV and the PDF (Thai text shaped with HarfBuzz).

Prints one JSON line. Usage:
    python bench/plan_compliance.py [--checkins 2000] [--repeat 20]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from safezone import demo
from safezone.auth import service as auth_service
from safezone.core import migrate
from safezone.core.db import Database
from safezone.patrol import export, plans
from safezone.patrol.models import CheckIn
from safezone.patrol.schemas import PlanCreate, PlanStop

PASSWORD = "bench-password-1"
T = TypeVar("T")
DAY = date(2026, 11, 20)
SHIFT_START = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)  # 08:00 Bangkok
SHIFT_S = 12 * 3600


def timed(repeat: int, work: Callable[[], T]) -> tuple[float, T]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = work()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkins", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        db = Database(f"sqlite:///{data_dir / 'safezone.db'}")
        migrate.upgrade(db)
        demo.ensure_demo(db, data_dir=data_dir, password=PASSWORD)
        with db.transaction() as session:
            commander = auth_service.find_user(session, username="commander")
            officer = auth_service.find_user(session, username="officer1")
            assert commander is not None and officer is not None
            ids = [f"CP-{n:03d}" for n in range(1, 21)]
            plan = plans.create_plan(
                session,
                data=PlanCreate(
                    name="bench",
                    start_time="08:00",
                    end_time="20:00",
                    valid_from=DAY,
                    checkpoints=[PlanStop(checkpoint_id=i, target_visits=4) for i in ids],
                ),
                principal=auth_service.principal_of(commander),
            )
            plan_id = plan.id
            for n in range(args.checkins):
                moment = SHIFT_START + timedelta(seconds=rng.uniform(0, SHIFT_S))
                roll = rng.random()
                status = "accepted" if roll < 0.8 else "flagged" if roll < 0.9 else "rejected"
                session.add(
                    CheckIn(
                        station_id="MDH",
                        officer_user_id=officer.id,
                        checkpoint_id=rng.choice(ids),
                        mode="static",
                        code=f"SZ1:S:bench:{n}",
                        lat=16.54,
                        lon=104.72,
                        accuracy_m=5.0,
                        device_id="DEMO-PHONE-OFFICER1",
                        scanned_at=moment,
                        received_at=moment,
                        status=status,
                        reasons=[],
                        distance_m=2.0,
                    )
                )
        with db.reader() as session:
            report_ms, report = timed(
                args.repeat,
                lambda: plans.compliance_report(
                    session, plan_id=plan_id, station_id="MDH", day=DAY
                ),
            )
        csv_ms, csv_text = timed(args.repeat, lambda: export.to_csv(report))
        pdf_ms, pdf = timed(
            max(1, args.repeat // 4),
            lambda: export.to_pdf(report, station_name="สภ.เมืองมุกดาหาร"),
        )
        db.dispose()
    totals = report.totals
    print(
        json.dumps(
            {
                "bench": "plan_compliance",
                "checkpoints": 20,
                "slots": 80,
                "checkins": args.checkins,
                "totals": totals.model_dump(),
                "report_p50_ms": round(report_ms, 2),
                "csv_p50_ms": round(csv_ms, 2),
                "csv_rows": csv_text.count("\r\n") - 1,
                "pdf_p50_ms": round(pdf_ms, 1),
                "pdf_kb": round(len(pdf) / 1024, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
