"""'Who sees this point': distance and field of view, including the 0/360 wrap."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from safezone.cameras.service import angle_between, sees
from safezone.core.geo import haversine_m

LAT, LON = 16.5440, 104.7280
# About 30 m north, east, south and west of the camera.
NORTH = (LAT + 0.00027, LON)
EAST = (LAT, LON + 0.00028)
SOUTH = (LAT - 0.00027, LON)
WEST = (LAT, LON - 0.00028)


@dataclass
class Cam:
    bearing_deg: float
    fov_deg: float = 90.0
    range_m: float = 50.0
    lat: float = LAT
    lon: float = LON


@pytest.mark.parametrize(
    ("bearing", "point", "expected"),
    [
        (0, NORTH, True),
        (0, EAST, False),
        (350, NORTH, True),  # 10° either side of north: the wrap at 0/360
        (10, NORTH, True),
        (359.9, (LAT + 0.00027, LON + 0.00004), True),
        (90, EAST, True),
        (90, WEST, False),
        (180, SOUTH, True),
        (270, WEST, True),
        (270, NORTH, False),
    ],
)
def test_field_of_view_by_bearing(bearing, point, expected):
    assert sees(Cam(bearing), *point)[0] is expected


def test_edges_of_the_angle():
    # About 44.4° off the axis is inside a 90° view; about 46.1° off is outside.
    # (A degree of longitude is shorter than one of latitude here, by cos(latitude).)
    camera = Cam(bearing_deg=0.0, fov_deg=90.0, range_m=100.0)
    squash = math.cos(math.radians(LAT))
    inside = (LAT + 0.0003, LON + 0.0003 * 0.98 / squash)
    outside = (LAT + 0.0003, LON + 0.0003 * 1.04 / squash)
    assert sees(camera, *inside)[0]
    assert not sees(camera, *outside)[0]


def test_edges_of_the_range():
    camera = Cam(bearing_deg=0.0, range_m=30.0)
    near = (LAT + 0.00026, LON)  # about 28.9 m
    far = (LAT + 0.00028, LON)  # about 31.1 m
    assert haversine_m(LAT, LON, *near) < 30 < haversine_m(LAT, LON, *far)
    assert sees(camera, *near)[0]
    assert not sees(camera, *far)[0]


def test_a_point_under_the_pole_is_seen_by_every_camera_on_it():
    for bearing in (0, 90, 180, 270):
        assert sees(Cam(bearing, fov_deg=30), LAT, LON)[0]


def test_a_360_degree_camera_sees_all_around_within_range():
    for point in (NORTH, EAST, SOUTH, WEST):
        assert sees(Cam(0, fov_deg=360), *point)[0]


@pytest.mark.parametrize(
    ("a", "b", "diff"), [(0, 360, 0), (350, 10, 20), (10, 350, 20), (90, 270, 180), (0, 181, 179)]
)
def test_angle_between_wraps(a, b, diff):
    assert angle_between(a, b) == pytest.approx(diff)


def _towards(bearing: float, metres: float) -> tuple[float, float]:
    """The point ``metres`` from the camera in direction ``bearing`` (small distances)."""
    north = metres * math.cos(math.radians(bearing)) / 111_195.0
    east = metres * math.sin(math.radians(bearing)) / (111_195.0 * math.cos(math.radians(LAT)))
    return LAT + north, LON + east


@pytest.mark.parametrize(
    ("camera_bearing", "fov", "point_bearing", "expected"),
    [
        # A 40° view centred on 20° covers 0°..40°: the edge sits on north.
        (20, 40, 0.5, True),
        (20, 40, 359.5, False),
        (20, 40, 39.5, True),
        (20, 40, 40.5, False),
        # Centred on 340°: covers 320°..360°, then nothing past north.
        (340, 40, 359.5, True),
        (340, 40, 0.5, False),
        (340, 40, 320.5, True),
        (340, 40, 319.5, False),
        # Centred just left of north, a wide view reaches well past it.
        (359, 120, 58, True),
        (359, 120, 60, False),
        (359, 120, 300, True),
        (359, 120, 298, False),
        # Centred on 0° exactly.
        (0, 10, 4.5, True),
        (0, 10, 355.5, True),
        (0, 10, 5.5, False),
        (0, 10, 354.5, False),
    ],
)
def test_angle_edges_across_north(camera_bearing, fov, point_bearing, expected):
    camera = Cam(bearing_deg=camera_bearing, fov_deg=fov, range_m=100.0)
    point = _towards(point_bearing, 60.0)
    covers, distance, towards = sees(camera, *point)
    assert covers is expected
    assert distance == pytest.approx(60.0, abs=0.5)
    assert angle_between(towards, point_bearing) < 0.2


@pytest.mark.parametrize(("metres", "expected"), [(49.5, True), (50.5, False)])
def test_range_edge_in_every_direction(metres, expected):
    for bearing in (0, 45, 90, 135, 180, 225, 270, 315):
        camera = Cam(bearing_deg=bearing, fov_deg=20, range_m=50.0)
        assert sees(camera, *_towards(bearing, metres))[0] is expected, bearing


def test_a_narrow_view_misses_a_point_just_beside_its_axis():
    camera = Cam(bearing_deg=90, fov_deg=2, range_m=100)
    assert sees(camera, *_towards(90.9, 80))[0]
    assert not sees(camera, *_towards(91.1, 80))[0]
