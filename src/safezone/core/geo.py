"""Geography that works the same on SQLite and PostgreSQL: haversine and H3 cells."""

from __future__ import annotations

import math
from typing import Annotated, Any

import h3
from pydantic import Field
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry

EARTH_RADIUS_M = 6_371_008.8
H3_RESOLUTION = 10  # cells about 66 m across: fine enough for "what is near here"

Latitude = Annotated[
    float, Field(ge=-90, le=90, allow_inf_nan=False, description="WGS84 latitude, degrees")
]
Longitude = Annotated[
    float, Field(ge=-180, le=180, allow_inf_nan=False, description="WGS84 longitude, degrees")
]


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def bearing_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Initial bearing from point 1 to point 2, degrees clockwise from north in [0, 360)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    x = math.sin(dl) * math.cos(p2)
    y = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return (math.degrees(math.atan2(x, y)) + 360.0) % 360.0


def h3_cell(lat: float, lon: float, resolution: int = H3_RESOLUTION) -> str:
    return str(h3.latlng_to_cell(lat, lon, resolution))


def polygon_geometry(geojson: dict[str, Any]) -> BaseGeometry:
    """A shapely geometry from a GeoJSON Polygon or MultiPolygon, or ValueError."""
    if not isinstance(geojson, dict) or geojson.get("type") not in ("Polygon", "MultiPolygon"):
        raise ValueError("must be a GeoJSON Polygon or MultiPolygon geometry")
    try:
        geometry = shape(geojson)
    except Exception as exc:  # shapely raises several types for malformed coordinates
        raise ValueError(f"has malformed coordinates ({exc})") from exc
    if geometry.is_empty:
        raise ValueError("is empty")
    minx, miny, maxx, maxy = geometry.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise ValueError("has coordinates outside lon -180..180 / lat -90..90 (order: lon, lat)")
    if not geometry.is_valid:
        raise ValueError("is not a valid polygon (self-intersecting or unclosed ring?)")
    return geometry


def contains(geometry: BaseGeometry, lat: float, lon: float) -> bool:
    return bool(geometry.covers(Point(lon, lat)))
