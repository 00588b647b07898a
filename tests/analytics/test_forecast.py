"""Forecast methods: the ETAS fit on a process with known parameters, no look-ahead."""

from __future__ import annotations

import numpy as np
import pytest

from safezone.analytics import forecast
from safezone.analytics.backtest import run_backtest
from safezone.analytics.forecast import DailyCells, Forecaster, fit_etas
from tests.analytics.synthetic import (
    FIRST_DAY,
    GRID,
    counts_to_events,
    events_from_cells,
    simulate_hawkes,
)

THETA, Q = 0.45, 0.8  # each event triggers 0.45 more in its cell, mean lag 5 days


@pytest.fixture(scope="module")
def process() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    mu = rng.gamma(shape=0.7, scale=0.05, size=GRID.size)
    return mu, simulate_hawkes(mu, THETA, Q, days=900, seed=11)


def test_em_recovers_known_parameters(process: tuple[np.ndarray, np.ndarray]) -> None:
    mu, counts = process
    fit = fit_etas(counts[:700], theta=0.1, q=0.5)
    assert fit.theta == pytest.approx(THETA, abs=0.05)
    assert fit.q == pytest.approx(Q, abs=0.05)
    assert fit.mean_lag_days == pytest.approx(1 / (1 - Q), rel=0.25)
    assert float(fit.mu.sum()) == pytest.approx(float(mu.sum()), rel=0.1)
    assert np.corrcoef(fit.mu, mu)[0, 1] > 0.9


def test_em_finds_no_triggering_in_a_poisson_process() -> None:
    rng = np.random.default_rng(3)
    mu = rng.gamma(shape=0.7, scale=0.05, size=GRID.size)
    counts = simulate_hawkes(mu, 0.0, 0.5, days=700, seed=5)
    fit = fit_etas(counts)
    assert fit.theta < 0.05


class TrueIntensity(Forecaster):
    """The simulating process's own intensity: the best any method can do."""

    name = "truth"

    def __init__(self, history: DailyCells, mu: np.ndarray) -> None:
        super().__init__(history)
        self.mu = mu
        self.a = np.zeros(GRID.size)

    def _take(self, day: int, cells: np.ndarray) -> None:
        self.a *= Q
        np.add.at(self.a, cells, 1.0)

    def _start(self, day: int) -> None:
        for d in range(self.history.first_day, day):
            self._take(d, self.history.cells_on(d))

    def _score(self, day: int) -> np.ndarray:
        return self.mu + THETA * (1 - Q) * self.a


def test_true_intensity_ranks_best(process: tuple[np.ndarray, np.ndarray]) -> None:
    mu, counts = process
    history = DailyCells(counts_to_events(counts), GRID)
    start = FIRST_DAY + 700
    rates = {}
    methods = ["etas", "default", "counts365", "counts30", "kde", "prospective", "uniform"]
    for name in ["truth", *methods]:
        model = TrueIntensity(history, mu) if name == "truth" else forecast.make(name, history)
        result = run_backtest(history, model, start_day=start, days=200)
        rates[name] = result.hit_rate(10)
    assert rates["truth"] == max(rates.values()), rates
    # The fitted model is close behind the truth and ahead of the plain counts.
    assert rates["etas"] > rates["counts365"]
    assert rates["etas"] > rates["counts30"]
    assert rates["uniform"] < 0.2


@pytest.mark.parametrize("method", sorted(forecast.METHODS))
def test_forecast_never_reads_the_day_it_forecasts(method: str) -> None:
    rng = np.random.default_rng(1)
    days = [int(d) for d in FIRST_DAY + rng.integers(0, 400, size=3000)]
    cells = [int(c) for c in rng.integers(0, GRID.size, size=3000)]
    cut = FIRST_DAY + 380
    past = [(d, c) for d, c in zip(days, cells, strict=True) if d < cut]
    # The same past, but a different future.
    other_future = [(d, (c * 7 + 3) % GRID.size) for d, c in zip(days, cells, strict=True)]
    other = past + [(d, c) for d, c in other_future if d >= cut]
    a = DailyCells(events_from_cells(days, cells), GRID)
    b = DailyCells(events_from_cells([d for d, _ in other], [c for _, c in other]), GRID)
    assert not np.array_equal(a.counts_on(cut), b.counts_on(cut))
    fa, fb = forecast.make(method, a), forecast.make(method, b)
    np.testing.assert_allclose(fa.forecast(cut - 10), fb.forecast(cut - 10))
    np.testing.assert_allclose(fa.forecast(cut), fb.forecast(cut))


def test_forecast_days_must_increase() -> None:
    history = DailyCells(events_from_cells([FIRST_DAY, FIRST_DAY + 1], [0, 1]), GRID)
    model = forecast.make("counts30", history)
    model.forecast(FIRST_DAY + 5)
    with pytest.raises(ValueError, match="increasing"):
        model.forecast(FIRST_DAY + 4)


def test_unknown_method_names_the_known_ones() -> None:
    history = DailyCells(events_from_cells([FIRST_DAY], [0]), GRID)
    with pytest.raises(KeyError, match="counts365"):
        forecast.make("magic", history)
