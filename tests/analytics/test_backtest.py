"""Backtest arithmetic on hand-made data where the answer is known."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from safezone.analytics import forecast
from safezone.analytics.backtest import (
    AREAS,
    bootstrap_ci,
    combine,
    paired_difference,
    run_backtest,
)
from safezone.analytics.events import day_of
from safezone.analytics.forecast import DailyCells
from safezone.analytics.grid import Grid
from safezone.cli import main
from tests.analytics.synthetic import FIRST_DAY, events_from_cells

GRID = Grid(lat0=13.70, lon0=100.50, cell_m=200.0, nx=10, ny=11)  # 110 cells


def hand_made() -> DailyCells:
    """Cells 0..99 have 1..100 events on the first day (the study area is 100 cells;
    cells 100..109 have none). Test day 1: events in cells 99, 98, 0 and 105.
    Test day 2: two events in cell 99 and one in cell 97."""
    days: list[int] = []
    cells: list[int] = []
    for cell in range(100):
        days += [FIRST_DAY] * (cell + 1)
        cells += [cell] * (cell + 1)
    days += [FIRST_DAY + 1] * 4 + [FIRST_DAY + 2] * 3
    cells += [99, 98, 0, 105, 99, 99, 97]
    return DailyCells(events_from_cells(days, cells, GRID), GRID)


def test_hit_rate_and_pai_on_known_data() -> None:
    history = hand_made()
    result = run_backtest(
        history, forecast.make("counts365", history), start_day=FIRST_DAY + 1, days=2
    )
    assert result.study_cells == 100
    assert result.events == 7
    # Day 1 counts365 ranks 99, 98, 97, ...: 1 % = {99}, 2 % = {99, 98}, 5 % = top 5.
    # Day 1 hits: 1 % -> 1, 2 % -> 2, 5-20 % -> 2 (cell 0 is last, 105 is outside).
    # Day 2 (cell 98 now has one more event, so 99, 98, 97 still lead):
    # 1 % -> 2, 2 % -> 2, 5 % and up -> 3.
    assert result.hits.tolist() == [[1, 2, 2, 2, 2], [2, 2, 3, 3, 3]]
    assert result.hit_rate(1) == pytest.approx(3 / 7)
    assert result.hit_rate(5) == pytest.approx(5 / 7)
    assert result.pai(1) == pytest.approx((3 / 7) / 0.01)
    assert result.pai(20) == pytest.approx((5 / 7) / 0.2)
    summary = result.summary()
    assert set(summary["hit_rate"]) == {str(a) for a in AREAS}


def test_uniform_scores_as_chance() -> None:
    history = hand_made()
    result = run_backtest(
        history, forecast.make("uniform", history), start_day=FIRST_DAY + 1, days=2
    )
    assert result.hit_rate(20) < 0.6


def test_bootstrap_ci_of_constant_days_is_the_value() -> None:
    hits = np.array([3, 3, 3, 3])
    events = np.array([10, 10, 10, 10])
    assert bootstrap_ci(hits, events) == pytest.approx((0.3, 0.3))
    lo, hi = bootstrap_ci(np.array([0, 10, 0, 10]), events)
    assert lo < 0.5 < hi


def test_paired_difference_with_itself_is_zero_and_other_is_signed() -> None:
    history = hand_made()
    a = run_backtest(history, forecast.make("counts365", history), start_day=FIRST_DAY + 1, days=2)
    b = run_backtest(history, forecast.make("uniform", history), start_day=FIRST_DAY + 1, days=2)
    same = paired_difference(a, a)
    assert same["diff_hit_rate_5"] == 0 and same["ci95_diff_5"] == [0, 0]
    diff = paired_difference(a, b)
    assert diff["diff_hit_rate_5"] == pytest.approx(round(a.hit_rate(5) - b.hit_rate(5), 4))
    both = combine([a, a])
    assert both.days == 4 and both.hit_rate(5) == pytest.approx(a.hit_rate(5))


def test_window_past_the_data_is_refused() -> None:
    history = hand_made()
    with pytest.raises(ValueError, match="past the last event"):
        run_backtest(history, forecast.make("kde", history), start_day=FIRST_DAY + 1, days=5)


def write_csv(path: Path, rows: list[str]) -> Path:
    path.write_text("date,hour,category,premises,neighbourhood,lat,lon\n" + "\n".join(rows) + "\n")
    return path


def test_cli_backtest_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    history = hand_made()
    # An event on the grid's south-west corner makes the CLI's grid the same as GRID.
    rows = [f"{day_of(FIRST_DAY)},5,Assault,House,X,{GRID.lat0:.6f},{GRID.lon0:.6f}"]
    for day, cell in zip(history.day, history.cell, strict=True):
        lat, lon = GRID.cell_centre(int(cell))
        rows.append(f"{day_of(int(day))},5,Assault,House,X,{lat:.6f},{lon:.6f}")
    path = write_csv(tmp_path / "events.csv", rows)
    start = day_of(FIRST_DAY + 1).isoformat()
    code = main(
        [
            "analytics", "backtest", "--events", str(path), "--method", "counts365",
            "--start", start, "--days", "2", "--json", "--vs", "uniform",
        ]
    )  # fmt: skip
    assert code == 0
    out = json.loads(capsys.readouterr().out.strip())
    assert out["method"] == "counts365" and out["days"] == 2 and out["events"] == 7
    assert set(out) >= {"hit_rate", "pai", "ci95_hit_rate_5", "ms_per_forecast", "diff_hit_rate_5"}
    assert out["hit_rate"]["5"] == pytest.approx(5 / 7, abs=1e-4)


def test_cli_backtest_names_the_bad_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(
        tmp_path / "bad.csv",
        ["2019-01-01,5,Assault,House,X,43.7,-79.4", "2019-01-02,5,Assault,House,X,91.5,-79.4"],
    )
    code = main(
        ["analytics", "backtest", "--events", str(path), "--method", "kde",
         "--start", "2019-01-02", "--days", "1"]
    )  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "line 3" in err and "lat" in err


def test_cli_backtest_unknown_category(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_csv(tmp_path / "e.csv", ["2019-01-01,5,Assault,House,X,43.7,-79.4"])
    code = main(
        ["analytics", "backtest", "--events", str(path), "--method", "kde",
         "--start", "2019-01-02", "--days", "1", "--category", "Arson"]
    )  # fmt: skip
    assert code == 2
    assert "Arson" in capsys.readouterr().err
