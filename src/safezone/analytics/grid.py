"""A metric grid over a city: square cells of a configurable size, numbered row by row.

Cells come from a local equirectangular projection around the grid's south-west corner,
which is within a few centimetres of a true metric grid over a city-sized area.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from safezone.core.geo import EARTH_RADIUS_M

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class Grid:
    """``nx`` by ``ny`` cells of ``cell_m`` metres; cell id = row * nx + column."""

    lat0: float
    lon0: float
    cell_m: float
    nx: int
    ny: int

    @classmethod
    def covering(cls, lat: FloatArray, lon: FloatArray, cell_m: float) -> Grid:
        """The smallest grid that holds every point given."""
        if cell_m <= 0 or not math.isfinite(cell_m):
            raise ValueError("cell size must be a positive number of metres")
        if len(lat) == 0:
            raise ValueError("a grid needs at least one point")
        lat0, lon0 = float(np.min(lat)), float(np.min(lon))
        probe = cls(lat0, lon0, cell_m, 1, 1)
        x, y = probe.project(lat, lon)
        nx = int(np.floor(float(np.max(x)) / cell_m)) + 1
        ny = int(np.floor(float(np.max(y)) / cell_m)) + 1
        return cls(lat0, lon0, cell_m, nx, ny)

    @property
    def size(self) -> int:
        return self.nx * self.ny

    @property
    def _m_per_deg_lat(self) -> float:
        return math.pi * EARTH_RADIUS_M / 180.0

    @property
    def _m_per_deg_lon(self) -> float:
        return self._m_per_deg_lat * math.cos(math.radians(self.lat0))

    def project(self, lat: FloatArray, lon: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Metres east and north of the grid's corner."""
        x = (np.asarray(lon, dtype=np.float64) - self.lon0) * self._m_per_deg_lon
        y = (np.asarray(lat, dtype=np.float64) - self.lat0) * self._m_per_deg_lat
        return x, y

    def cells(self, lat: FloatArray, lon: FloatArray) -> IntArray:
        """The cell id of each point, or -1 for a point outside the grid."""
        x, y = self.project(lat, lon)
        col = np.floor(x / self.cell_m).astype(np.int64)
        row = np.floor(y / self.cell_m).astype(np.int64)
        inside = (col >= 0) & (col < self.nx) & (row >= 0) & (row < self.ny)
        return np.where(inside, row * self.nx + col, -1)

    def cell_bounds(self, cell: int) -> tuple[float, float, float, float]:
        """(south, west, north, east) of a cell, in degrees."""
        row, col = divmod(int(cell), self.nx)
        south = self.lat0 + row * self.cell_m / self._m_per_deg_lat
        west = self.lon0 + col * self.cell_m / self._m_per_deg_lon
        return (
            south,
            west,
            south + self.cell_m / self._m_per_deg_lat,
            west + self.cell_m / self._m_per_deg_lon,
        )

    def cell_centre(self, cell: int) -> tuple[float, float]:
        south, west, north, east = self.cell_bounds(cell)
        return (south + north) / 2, (west + east) / 2

    def as_image(self, values: FloatArray) -> FloatArray:
        """A per-cell vector as a (ny, nx) array, row 0 in the south."""
        return np.asarray(values, dtype=np.float64).reshape(self.ny, self.nx)


def gaussian_kernel_1d(sigma_cells: float) -> FloatArray:
    """A normalised Gaussian over +-3 sigma (at least the centre cell)."""
    if sigma_cells <= 0:
        return np.ones(1)
    radius = max(1, int(math.ceil(3 * sigma_cells)))
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (offsets / sigma_cells) ** 2)
    return np.asarray(kernel / kernel.sum())


def convolve_image(image: FloatArray, kernel: FloatArray) -> FloatArray:
    """2-D convolution with zero padding, same size out (small kernels, by shifted sums)."""
    ky, kx = kernel.shape
    ry, rx = ky // 2, kx // 2
    padded = np.pad(image, ((ry, ry), (rx, rx)))
    out = np.zeros_like(image, dtype=np.float64)
    ny, nx = image.shape
    for dy in range(ky):
        for dx in range(kx):
            weight = kernel[dy, dx]
            if weight != 0.0:
                out += weight * padded[dy : dy + ny, dx : dx + nx]
    return out


def gaussian_smooth(image: FloatArray, sigma_cells: float) -> FloatArray:
    """Separable Gaussian smoothing of a (ny, nx) image, zero outside."""
    kernel = gaussian_kernel_1d(sigma_cells)
    if len(kernel) == 1:
        return np.asarray(image, dtype=np.float64)
    return convolve_image(convolve_image(image, kernel[None, :]), kernel[:, None])
