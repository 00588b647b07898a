"""Next-day risk for every grid cell, from events of earlier days only.

Each forecaster is fed day by day: ``forecast(day)`` first takes in every day before
``day`` it has not seen, then scores each cell. Days must be asked in increasing order,
and a forecaster never reads a day at or after the one it forecasts, which is what makes
the rolling-origin backtest honest.

Methods:
- ``counts30`` / ``counts365``: events in each cell over the last 30 / 365 days.
- ``kde``: Gaussian kernel density (100 m bandwidth) of the last 730 days.
- ``prospective``: Bowers, Johnson and Pease (2004): every event within 400 m and 8
  weeks adds 1/(1 + distance in cells) x 1/(1 + age in weeks).
- ``etas``: a grid self-exciting point process (after Mohler et al. 2015), fitted by EM
  on the last 365 days and refitted every 28 days; see :class:`GridEtas`.
- ``default``: what ships; the blend that beat the others on the 2018 tuning windows
  (ADR 0009).
- ``uniform``: every cell alike (the backtest breaks ties at random), the floor.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from safezone.analytics.events import Events
from safezone.analytics.grid import Grid, convolve_image, gaussian_smooth

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


class DailyCells:
    """The events as (day, cell), indexed by day for fast day-by-day feeding."""

    def __init__(self, events: Events, grid: Grid) -> None:
        cells = grid.cells(events.lat, events.lon)
        inside = cells >= 0
        self.grid = grid
        self.day = events.day[inside]
        self.cell = cells[inside]
        self.hour = events.hour[inside]
        self.category = events.category[inside]
        self.first_day = int(self.day.min()) if len(self.day) else 0
        self.last_day = int(self.day.max()) if len(self.day) else -1
        span = self.last_day - self.first_day + 2
        # Events are sorted by day, so day d's events are rows ptr[d - first]..ptr[d - first + 1].
        self._ptr = np.searchsorted(self.day, self.first_day + np.arange(span)).astype(np.int64)

    def rows_on(self, day: int) -> slice:
        i = day - self.first_day
        if i < 0 or day > self.last_day:
            return slice(0, 0)
        return slice(int(self._ptr[i]), int(self._ptr[i + 1]))

    def cells_on(self, day: int) -> IntArray:
        """The cell of each event on that day (a cell repeats once per event)."""
        return self.cell[self.rows_on(day)]

    def counts_on(self, day: int) -> FloatArray:
        return np.bincount(self.cells_on(day), minlength=self.grid.size).astype(np.float64)

    def counts_between(self, start: int, stop: int) -> FloatArray:
        """Events per cell on days start <= d < stop."""
        lo = int(np.searchsorted(self.day, start))
        hi = int(np.searchsorted(self.day, stop))
        return np.bincount(self.cell[lo:hi], minlength=self.grid.size).astype(np.float64)


class Forecaster:
    """Base: feeds each earlier day once, in order, to ``_take``; subclasses score."""

    name = "base"

    def __init__(self, history: DailyCells) -> None:
        self.history = history
        self.grid = history.grid
        self._next_day: int | None = None

    def forecast(self, day: int) -> FloatArray:
        """Risk of each grid cell for ``day``, from the events of days before it."""
        if self._next_day is None:
            self._start(day)
            self._next_day = day
        if day < self._next_day:
            raise ValueError("forecast days must be asked in increasing order")
        while self._next_day < day:
            self._take(self._next_day, self.history.cells_on(self._next_day))
            self._next_day += 1
        return self._score(day)

    def _start(self, day: int) -> None:
        """Build the state from every day before ``day``."""

    def _take(self, day: int, cells: IntArray) -> None:
        """Add one day's events (day < the day forecast next)."""

    def _score(self, day: int) -> FloatArray:
        raise NotImplementedError


class Uniform(Forecaster):
    name = "uniform"

    def _score(self, day: int) -> FloatArray:
        return np.zeros(self.grid.size)


class WindowCounts(Forecaster):
    """Events per cell over the last ``window`` days."""

    def __init__(self, history: DailyCells, window: int) -> None:
        super().__init__(history)
        self.window = window
        self.name = f"counts{window}"
        self.counts = np.zeros(self.grid.size)

    def _start(self, day: int) -> None:
        self.counts = self.history.counts_between(day - self.window, day)

    def _take(self, day: int, cells: IntArray) -> None:
        np.add.at(self.counts, cells, 1.0)
        np.subtract.at(self.counts, self.history.cells_on(day - self.window), 1.0)

    def _score(self, day: int) -> FloatArray:
        return self.counts.copy()


class Kde(WindowCounts):
    """Gaussian kernel density of the last ``window`` days, bandwidth in metres."""

    def __init__(self, history: DailyCells, window: int = 730, bandwidth_m: float = 100.0) -> None:
        super().__init__(history, window)
        self.name = "kde"
        self.sigma_cells = bandwidth_m / self.grid.cell_m

    def _score(self, day: int) -> FloatArray:
        image = gaussian_smooth(self.grid.as_image(self.counts), self.sigma_cells)
        return image.ravel()


class Prospective(Forecaster):
    """Bowers, Johnson and Pease (2004), on the grid: weight 1/(1+cells) x 1/(1+weeks)."""

    name = "prospective"

    def __init__(self, history: DailyCells, radius_m: float = 400.0, weeks: int = 8) -> None:
        super().__init__(history)
        self.weeks = weeks
        r = int(radius_m // self.grid.cell_m)
        dy, dx = np.mgrid[-r : r + 1, -r : r + 1]
        distance = np.hypot(dx, dy)
        self.kernel = np.where(distance <= r + 1e-9, 1.0 / (1.0 + distance), 0.0)

    def _score(self, day: int) -> FloatArray:
        weighted = np.zeros(self.grid.size)
        for week in range(self.weeks):
            counts = self.history.counts_between(day - 7 * (week + 1), day - 7 * week)
            weighted += counts / (1.0 + week)
        return convolve_image(self.grid.as_image(weighted), self.kernel).ravel()


@dataclass
class EtasFit:
    """A fitted grid ETAS model (daily steps).

    The expected count in cell c on day t is ``mu[c] + theta * sum_k n[c, t-k] g(k)``,
    with the geometric kernel ``g(k) = (1 - q) q**(k-1)`` over lags k >= 1 day (it sums
    to 1, so ``theta`` is the mean number of events each event triggers in its cell).
    """

    mu: FloatArray
    theta: float
    q: float
    iterations: int
    log_likelihood: float

    @property
    def mean_lag_days(self) -> float:
        return 1.0 / (1.0 - self.q)


def fit_etas(
    counts: FloatArray,
    *,
    theta: float = 0.2,
    q: float = 0.9,
    mu: FloatArray | None = None,
    max_iterations: int = 60,
    tolerance: float = 1e-6,
) -> EtasFit:
    """Fit a grid self-exciting process by EM to ``counts`` (days x cells).

    E-step: each event's probability of being background (``mu / lambda``) or triggered
    by an earlier event of its cell; with a geometric kernel the sums over earlier events
    are carried day to day (``a`` = kernel-weighted past counts, ``b`` = the same weighted
    by lag), so one pass costs O(days x cells). M-step: ``mu`` = expected background
    events / days; ``theta`` = expected triggered events / kernel mass inside the window;
    ``q`` from the mean lag of triggered events (geometric MLE).
    """
    days, ncells = counts.shape
    total = float(counts.sum())
    if days < 2 or total == 0:
        raise ValueError("an ETAS fit needs at least two days and one event")
    mu_ = counts.mean(axis=0) * (1 - theta) if mu is None else mu.copy()
    mu_ = np.maximum(mu_, 1e-9)
    previous_ll = -math.inf
    ll = -math.inf
    iteration = 0
    # Kernel mass inside the window for an event on day s: 1 - q**(days - 1 - s).
    remaining = days - 1 - np.arange(days, dtype=np.float64)
    per_day = counts.sum(axis=1)
    for iteration in range(1, max_iterations + 1):  # noqa: B007 - reported in the fit
        a = np.zeros(ncells)
        b = np.zeros(ncells)
        background = np.zeros(ncells)
        triggered = 0.0
        lag_sum = 0.0
        log_sum = 0.0
        scale = theta * (1.0 - q)
        for t in range(days):
            if t:
                b = q * (b + a) + counts[t - 1]
                a = q * a + counts[t - 1]
            n = counts[t]
            hit = n > 0
            if not hit.any():
                continue
            n_hit = n[hit]
            mu_hit = mu_[hit]
            trig = scale * a[hit]
            lam = mu_hit + trig
            ratio = n_hit / lam
            background[hit] += mu_hit * ratio
            triggered += float(np.dot(trig, ratio))
            lag_sum += scale * float(np.dot(b[hit], ratio))
            log_sum += float(np.dot(n_hit, np.log(lam)))
        mass = float(np.dot(per_day, 1.0 - q**remaining))
        compensator = float(mu_.sum()) * days + theta * mass
        ll = log_sum - compensator
        mu_ = np.maximum(background / days, 1e-9)
        theta = min(triggered / max(mass, 1e-12), 0.99)
        if triggered > 0:
            q = min(max(1.0 - triggered / lag_sum, 0.0), 0.999) if lag_sum > 0 else q
        if abs(ll - previous_ll) <= tolerance * abs(ll):
            break
        previous_ll = ll
    return EtasFit(mu=mu_, theta=theta, q=q, iterations=iteration, log_likelihood=ll)


class GridEtas(Forecaster):
    """ETAS fitted on the last ``fit_days`` days, refitted every ``refit_every`` days."""

    name = "etas"

    def __init__(self, history: DailyCells, fit_days: int = 365, refit_every: int = 28) -> None:
        super().__init__(history)
        self.fit_days = fit_days
        self.refit_every = refit_every
        self.fit: EtasFit | None = None
        self.fitted_on = 0
        self.mu = np.zeros(self.grid.size)
        self.a = np.zeros(self.grid.size)

    def _refit(self, day: int) -> None:
        start = day - self.fit_days
        lo = int(np.searchsorted(self.history.day, start))
        hi = int(np.searchsorted(self.history.day, day))
        active = np.unique(self.history.cell[lo:hi])
        if len(active) == 0:
            self.fit = None
            self.fitted_on = day
            return
        column = np.full(self.grid.size, -1, dtype=np.int64)
        column[active] = np.arange(len(active))
        counts = np.zeros((self.fit_days, len(active)))
        np.add.at(counts, (self.history.day[lo:hi] - start, column[self.history.cell[lo:hi]]), 1)
        warm = self.fit
        if warm is not None:
            fit = fit_etas(counts, theta=warm.theta, q=warm.q, max_iterations=15)
        else:
            fit = fit_etas(counts)
        self.fit = fit
        self.fitted_on = day
        self.mu = np.zeros(self.grid.size)
        self.mu[active] = fit.mu
        # Kernel-weighted past counts as of ``day``, under the new q.
        self.a = np.zeros(self.grid.size)
        for d in range(start, day):
            self.a *= fit.q
            np.add.at(self.a, self.history.cells_on(d), 1.0)

    def _start(self, day: int) -> None:
        self._refit(day)

    def _take(self, day: int, cells: IntArray) -> None:
        if self.fit is not None:
            self.a *= self.fit.q
            np.add.at(self.a, cells, 1.0)

    def _score(self, day: int) -> FloatArray:
        if day - self.fitted_on >= self.refit_every:
            self._refit(day)
        if self.fit is None:
            return np.zeros(self.grid.size)
        return self.mu + self.fit.theta * (1.0 - self.fit.q) * self.a


class DefaultBlend(Forecaster):
    """What ships as ``default``: an additive blend of memories of several lengths.

    Components (each scaled to mean 1 over the cells seen so far, so the weights do not
    depend on how busy the city is): exponentially decaying event counts per cell with
    time constants of 30, 365, 730 and 1500 days; the same-weekday count (730 days); a
    200 m Gaussian smoothing of the 730-day and of the 7-day counts (near repeats in the
    neighbouring cells); and a constant. The weights are the Poisson maximum-likelihood
    blend on the 2018 Toronto windows (multiplicative EM updates), fixed before any 2019
    day was scored; see ADR 0009.
    """

    name = "default"
    TAUS = (7.0, 30.0, 365.0, 730.0, 1500.0)
    DOW_TAU = 730.0
    SMOOTH_M = 200.0
    WEIGHTS: dict[str, float] = {
        "d30": 0.0413,
        "d365": 0.1005,
        "d730": 0.2437,
        "d1500": 0.4538,
        "dow": 0.0505,
        "sm730": 0.0306,
        "sm7": 0.0316,
        "const": 0.0479,
    }

    def __init__(self, history: DailyCells) -> None:
        super().__init__(history)
        n = self.grid.size
        self.acc = {tau: np.zeros(n) for tau in self.TAUS}
        self.dow = np.zeros((7, n))
        self.seen = np.zeros(n, dtype=bool)
        self.sigma_cells = self.SMOOTH_M / self.grid.cell_m

    def _start(self, day: int) -> None:
        lo = 0
        hi = int(np.searchsorted(self.history.day, day))
        days = self.history.day[lo:hi]
        cells = self.history.cell[lo:hi]
        age = (day - 1 - days).astype(np.float64)
        n = self.grid.size
        for tau in self.TAUS:
            decayed = np.bincount(cells, weights=np.exp(-age / tau), minlength=n)
            self.acc[tau] = decayed.astype(np.float64)
        weight = np.exp(-age / self.DOW_TAU)
        for weekday in range(7):
            on = days % 7 == weekday
            self.dow[weekday] = np.bincount(cells[on], weights=weight[on], minlength=n)
        self.seen[cells] = True

    def _take(self, day: int, cells: IntArray) -> None:
        for tau, acc in self.acc.items():
            acc *= math.exp(-1.0 / tau)
            np.add.at(acc, cells, 1.0)
        self.dow *= math.exp(-1.0 / self.DOW_TAU)
        np.add.at(self.dow[day % 7], cells, 1.0)
        self.seen[cells] = True

    def components(self, day: int) -> dict[str, FloatArray]:
        """Each component, scaled to mean 1 over the cells seen before ``day``."""
        raw = {
            "d30": self.acc[30.0],
            "d365": self.acc[365.0],
            "d730": self.acc[730.0],
            "d1500": self.acc[1500.0],
            "dow": self.dow[day % 7],
            "sm730": gaussian_smooth(self.grid.as_image(self.acc[730.0]), self.sigma_cells).ravel(),
            "sm7": gaussian_smooth(self.grid.as_image(self.acc[7.0]), self.sigma_cells).ravel(),
            "const": np.ones(self.grid.size),
        }
        scaled = {}
        for name, values in raw.items():
            mean = float(values[self.seen].mean()) if self.seen.any() else 0.0
            scaled[name] = values / mean if mean > 0 else np.zeros(self.grid.size)
        return scaled

    def _score(self, day: int) -> FloatArray:
        total = np.zeros(self.grid.size)
        for name, values in self.components(day).items():
            total += self.WEIGHTS[name] * values
        return total


METHODS: dict[str, Callable[[DailyCells], Forecaster]] = {
    "uniform": Uniform,
    "counts30": lambda h: WindowCounts(h, 30),
    "counts365": lambda h: WindowCounts(h, 365),
    "kde": Kde,
    "prospective": Prospective,
    "etas": GridEtas,
    "default": DefaultBlend,
}


def make(method: str, history: DailyCells) -> Forecaster:
    """A forecaster by name, or KeyError naming the known ones."""
    try:
        factory = METHODS[method]
    except KeyError:
        raise KeyError(f"unknown method '{method}' (known: {', '.join(METHODS)})") from None
    return factory(history)
