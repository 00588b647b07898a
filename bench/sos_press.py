"""One SOS press's own work, with nothing else running: a yardstick for the machine.

Builds the demo station in a temporary SQLite database, then, for N presses from the
demo's boxes, times what the MQTT gateway does for each: ``sos.service.prepare`` in a read
session (signature, timestamp, the box's zone, the cameras that see it, the nearest units)
and ``sos.service.store`` in an urgent write transaction (the box event, the incident, its
timeline, the SOS response, the audit entries and outbox events, the commit). No broker,
no web process, no load: ``bench/sos_latency.py`` measures the whole path; this one says
how fast the machine runs the press's Python, so that runs of that benchmark on different
machines can be compared (docs/benchmarks.md, "SOS latency").

Prints one JSON line. Usage:
    python bench/sos_press.py [--presses 400]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from safezone import demo
from safezone.core import migrate
from safezone.core.db import Database
from safezone.sos import service as sos_service

WARMUP = 20  # the first presses fill SQLAlchemy's statement caches


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presses", type=int, default=400)
    args = parser.parse_args()
    if args.presses < 1:
        parser.error("--presses: must be at least 1")

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        db = Database(f"sqlite:///{data_dir / 'bench.db'}")
        migrate.upgrade(db)
        outcome = demo.ensure_demo(db, data_dir=data_dir, password="bench-password-1")
        boxes = json.loads(outcome.device_file.read_text(encoding="utf-8"))["sos_boxes"]
        prepare_ms: list[float] = []
        store_ms: list[float] = []
        for n in range(WARMUP + args.presses):
            box = boxes[n % len(boxes)]
            payload: dict[str, object] = {
                "type": "press",
                "seq": n + 1,
                "ts": datetime.now(UTC).isoformat(),
            }
            payload["sig"] = sos_service.sign(payload, box["secret"])
            body = json.dumps(payload).encode()
            start = time.perf_counter()
            with db.reader() as session:
                prepared = sos_service.prepare(session, [(box["id"], body)], tolerance_s=300)
            checked = time.perf_counter()
            with db.transaction(urgent=True) as session:
                result = sos_service.store(session, prepared, transport="mqtt")[0]
            stored = time.perf_counter()
            if result.incident_id is None:
                raise SystemExit(f"press {n + 1} on {box['id']} made no incident: {result}")
            if n >= WARMUP:
                prepare_ms.append((checked - start) * 1000)
                store_ms.append((stored - checked) * 1000)
        db.dispose()

    total = [a + b for a, b in zip(prepare_ms, store_ms, strict=True)]
    print(
        json.dumps(
            {
                "presses": args.presses,
                "prepare_p50_ms": round(statistics.median(prepare_ms), 2),
                "store_p50_ms": round(statistics.median(store_ms), 2),
                "press_p50_ms": round(statistics.median(total), 2),
                "press_p99_ms": round(percentile(total, 99), 2),
            }
        )
    )


if __name__ == "__main__":
    main()
