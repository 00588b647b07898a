"""How much room there is above ``counts365`` on the Toronto backtest: reference maps that
are allowed to look at events a real forecast never sees.

Same data, grid and windows as ``bench/hotspot.py`` (200 m cells, four 90-day windows of
2019, hit rate at 5 % of the study area). Each reference is scored by the same backtest:
- ``oracle_year_in_sample``: one static map of all 2019 test events (it counts the very
  events it is scored on);
- ``same_year_other_windows``: for each window, a static map of the other 270 days of 2019
  (mostly the future, never the window itself): the best a static map learnt from the
  same year can do out of sample;
- ``peek_pm{7,30}d_w{0.1,0.3,1}``: ``counts365`` plus w x the counts of the 7 or 30 days
  before *and after* the test day (the day itself left out): short-term dynamics with
  perfect knowledge of the neighbouring days;
- ``default_peek_pm90d_w{0.2,0.4,0.8}``: the same with ``default`` as the base and the 90
  days on either side.
A forecast may only use earlier days, so a gain over ``counts365`` that none of the
out-of-sample references reaches cannot be expected from any method.

Prints one JSON line. Usage:
    python bench/hotspot_ceiling.py
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from hotspot import DATA, WINDOWS  # noqa: E402

from safezone.analytics import forecast  # noqa: E402
from safezone.analytics.backtest import combine, run_backtest  # noqa: E402
from safezone.analytics.events import day_number, load_events  # noqa: E402
from safezone.analytics.service import prepare  # noqa: E402


class Fixed(forecast.Forecaster):
    """The same map every day."""

    def __init__(self, history: forecast.DailyCells, scores: forecast.FloatArray) -> None:
        super().__init__(history)
        self.scores = scores

    def _score(self, day: int) -> forecast.FloatArray:
        return self.scores


class PeekAround(forecast.Forecaster):
    """counts365 (mean 1) + w x counts of days d-half..d+half without day d (mean 1)."""

    def __init__(self, history: forecast.DailyCells, weight: float, half: int) -> None:
        super().__init__(history)
        self.weight, self.half = weight, half

    def _score(self, day: int) -> forecast.FloatArray:
        base = self.history.counts_between(day - 365, day)
        near = self.history.counts_between(day - self.half, day + self.half + 1)
        near -= self.history.counts_on(day)
        return base / max(base.mean(), 1e-12) + self.weight * near / max(near.mean(), 1e-12)


class DefaultPeekAround(PeekAround):
    """``default`` (mean 1) + w x counts of the days around the test day (mean 1)."""

    def __init__(self, history: forecast.DailyCells, weight: float, half: int) -> None:
        super().__init__(history, weight, half)
        self.default = forecast.make("default", history)

    def _score(self, day: int) -> forecast.FloatArray:
        base = self.default.forecast(day)
        near = self.history.counts_between(day - self.half, day + self.half + 1)
        near -= self.history.counts_on(day)
        return base / max(base.mean(), 1e-12) + self.weight * near / max(near.mean(), 1e-12)


def main() -> None:
    events = load_events(DATA)
    history = prepare(events, cell_m=200.0, category=None)
    year_start = day_number(WINDOWS[0])
    year = history.counts_between(year_start, year_start + 90 * len(WINDOWS))

    def score(make: Callable[[int], forecast.Forecaster], label: str) -> float:
        results = []
        for start in WINDOWS:
            first = day_number(start)
            results.append(run_backtest(history, make(first), start_day=first, days=90))
        rate = combine(results).hit_rate(5)
        print(f"  {label}: {100 * rate:.2f} %", file=sys.stderr, flush=True)
        return round(rate, 4)

    out: dict[str, Any] = {"bench": "hotspot_ceiling", "cell_m": 200, "windows": len(WINDOWS)}
    out["counts365"] = score(lambda first: forecast.make("counts365", history), "counts365")
    out["default"] = score(lambda first: forecast.make("default", history), "default")
    out["oracle_year_in_sample"] = score(lambda first: Fixed(history, year), "oracle")
    out["same_year_other_windows"] = score(
        lambda first: Fixed(history, year - history.counts_between(first, first + 90)),
        "other windows",
    )
    for half in (7, 30):
        for weight in (0.1, 0.3, 1.0):
            name = f"peek_pm{half}d_w{weight:g}"
            out[name] = score(
                lambda first, w=weight, h=half: PeekAround(history, w, h),
                name,
            )
    for weight in (0.2, 0.4, 0.8):
        name = f"default_peek_pm90d_w{weight:g}"
        out[name] = score(lambda first, w=weight: DefaultPeekAround(history, w, 90), name)
    best_honest = max(
        value
        for key, value in out.items()
        if key.startswith(("peek_", "default_peek", "same_year")) and isinstance(value, float)
    )
    out["best_out_of_sample_minus_counts365"] = round(float(best_honest - out["counts365"]), 4)
    out["target_hit_rate_5"] = round(float(np.round(out["counts365"] + 0.02, 4)), 4)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
