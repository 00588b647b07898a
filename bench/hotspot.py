"""Hotspot forecasting benchmark on real data (Toronto MCI 2014-2019, shipped in bench/data).

200 m cells, all categories, four consecutive 90-day test windows from 2019-01-01 (each
with its own rolling origin and study area): hit rate at 5 % of the area of ``default``
and ``counts365``, their paired difference with a day-bootstrap 95 % CI, and the wall
time of one 365-day backtest of ``default``. ``--methods`` adds other methods' hit rates,
``--per-category`` repeats the comparison for each category.

Data: Toronto Police Service Public Safety Data Portal (Open Government Licence - Toronto);
see bench/data/README.md.

Prints one JSON line. Usage:
    python bench/hotspot.py [--methods counts30,kde,prospective,etas,uniform] [--per-category]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from safezone.analytics import forecast
from safezone.analytics.backtest import (
    AREAS,
    BacktestResult,
    combine,
    paired_difference,
    run_backtest,
)
from safezone.analytics.events import Events, day_number, load_events
from safezone.analytics.service import prepare

DATA = Path(__file__).parent / "data" / "toronto_mci_2014_2019.csv.gz"
WINDOWS = [date(2019, 1, 1) + timedelta(days=90 * i) for i in range(4)]


def windows(history: forecast.DailyCells, method: str) -> BacktestResult:
    results = []
    for start in WINDOWS:
        results.append(
            run_backtest(
                history,
                forecast.make(method, history),
                start_day=day_number(start),
                days=90,
            )
        )
        print(f"  {method} window {start}: done", file=sys.stderr, flush=True)
    return combine(results)


def compare(events: Events, category: str | None, methods: list[str]) -> dict[str, Any]:
    history = prepare(events, cell_m=200.0, category=category)
    default = windows(history, "default")
    baseline = windows(history, "counts365")
    out: dict[str, Any] = {
        "events": default.events,
        "days": default.days,
        "default_hit_rate_5": round(default.hit_rate(5), 4),
        "counts365_hit_rate_5": round(baseline.hit_rate(5), 4),
    }
    diff = paired_difference(default, baseline)
    out["diff_hit_rate_5"] = diff["diff_hit_rate_5"]
    out["ci95_diff_5"] = diff["ci95_diff_5"]
    table = {"default": default, "counts365": baseline}
    for method in methods:
        table[method] = windows(history, method)
    out["methods"] = {
        name: {
            "hit_rate": {str(a): round(r.hit_rate(a), 4) for a in AREAS},
            "pai": {str(a): round(r.pai(a), 2) for a in AREAS},
            "ms_per_forecast": round(r.ms_per_forecast, 2),
        }
        for name, r in table.items()
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", default=str(DATA))
    parser.add_argument("--methods", default="", help="more methods to report, comma-separated")
    parser.add_argument("--per-category", action="store_true")
    args = parser.parse_args()
    methods = [m for m in args.methods.split(",") if m]
    events = load_events(Path(args.events))
    result: dict[str, Any] = {"bench": "hotspot", "cell_m": 200, "windows": len(WINDOWS)}
    result.update(compare(events, None, methods))
    began = time.perf_counter()
    history = prepare(events, cell_m=200.0, category=None)
    run_backtest(
        history, forecast.make("default", history), start_day=day_number(WINDOWS[0]), days=365
    )
    result["backtest_365_default_s"] = round(time.perf_counter() - began, 2)
    result["cpus"] = os.cpu_count()
    if args.per_category:
        result["per_category"] = {c: compare(events, c, methods) for c in events.categories}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
