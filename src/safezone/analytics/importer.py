"""Import past incidents from CSV or GeoJSON into the incidents table.

Every row is checked first; a bad row is rejected with the reason (which field, what was
wrong). By default nothing is written when any row is bad; with ``skip_bad`` the good
rows are written and the bad ones listed. Rows go in through the incidents service
(``record_past_incident``) in one transaction, with one audit entry for the import.

Imported incidents are history: they are entered as closed, with source ``import``, and
their lifecycle times are not known (the steps carry the occurrence time), so response
time figures leave them out.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from safezone.analytics.events import (
    EventFileError,
    iter_rows,
    parse_coordinate,
    parse_when,
)
from safezone.audit import service as audit_service
from safezone.incidents import service as incidents_service
from safezone.incidents.schemas import Category, IncidentCreate

# The Toronto Police MCI categories (the benchmark's data), as SafeZone categories.
KNOWN_ALIASES: dict[str, Category] = {
    "assault": "assault",
    "break and enter": "burglary",
    "auto theft": "theft",
    "robbery": "robbery",
    "theft over": "theft",
    "theft": "theft",
    "burglary": "burglary",
}
MAX_REJECTIONS_SHOWN = 50


@dataclass(frozen=True)
class Rejection:
    where: str  # "line 12" or "feature 3"
    reason: str


@dataclass(frozen=True)
class PastIncident:
    where: str
    occurred_at: datetime
    category: Category
    lat: float
    lon: float
    description: str


@dataclass
class ImportPlan:
    """What a file holds: the rows that can go in and the ones that cannot."""

    source: str
    good: list[PastIncident] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.good) + len(self.rejected)


def parse_category_map(text: str | None) -> dict[str, Category]:
    """``"Break and Enter=burglary,Auto Theft=theft"``; ValueError for an unknown target."""
    result: dict[str, Category] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, sep, target = part.partition("=")
        target = target.strip().lower()
        if not sep or not name.strip():
            raise ValueError(f"category map '{part}': expected NAME=CATEGORY")
        if target not in incidents_service.CATEGORIES:
            raise ValueError(
                f"category map '{part}': '{target}' is not a SafeZone category "
                f"(use one of: {', '.join(incidents_service.CATEGORIES)})"
            )
        result[name.strip().lower()] = target
    return result


def _category(text: str, category_map: Mapping[str, Category]) -> Category:
    key = text.strip().lower()
    if not key:
        raise ValueError("category is empty")
    if key in category_map:
        return category_map[key]
    if key in incidents_service.CATEGORIES:
        return key
    if key in KNOWN_ALIASES:
        return KNOWN_ALIASES[key]
    raise ValueError(
        f"category '{text.strip()}' is not known; use one of "
        f"{', '.join(incidents_service.CATEGORIES)} or map it with --category-map "
        f"'{text.strip()}=CATEGORY'"
    )


def _geojson_rows(
    path: Path, mapping: Mapping[str, str]
) -> Iterator[tuple[str, dict[str, str | None], dict[str, Any], str | None]]:
    """(where, {field: text}, properties, geometry problem) per feature."""
    try:
        collection = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EventFileError(f"{path}: no such file") from None
    except json.JSONDecodeError as exc:
        raise EventFileError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(collection, dict) or collection.get("type") != "FeatureCollection":
        raise EventFileError(f"{path}: expected a GeoJSON FeatureCollection")
    features = collection.get("features")
    if not isinstance(features, list):
        raise EventFileError(f"{path}: 'features' must be a list")
    names = {f: mapping.get(f, f) for f in ("date", "hour", "category")}
    for number, feature in enumerate(features, start=1):
        where = f"feature {number}"
        props = feature.get("properties") if isinstance(feature, dict) else None
        props = props if isinstance(props, dict) else {}
        geometry = feature.get("geometry") if isinstance(feature, dict) else None
        fields: dict[str, str | None] = {
            f: None if props.get(column) is None else str(props.get(column))
            for f, column in names.items()
        }
        problem = None
        coords = geometry.get("coordinates") if isinstance(geometry, dict) else None
        if not isinstance(geometry, dict) or geometry.get("type") != "Point":
            problem = "geometry must be a GeoJSON Point"
        elif not isinstance(coords, list) or len(coords) < 2:
            problem = "geometry coordinates must be [lon, lat]"
        else:
            fields["lon"], fields["lat"] = str(coords[0]), str(coords[1])
        yield where, fields, props, problem


def _rows(
    path: Path, mapping: Mapping[str, str]
) -> Iterator[tuple[str, dict[str, str | None], Mapping[str, Any], str | None]]:
    if path.suffix.lower() in (".geojson", ".json"):
        yield from _geojson_rows(path, mapping)
        return
    for line, fields, raw in iter_rows(path, mapping):
        yield f"line {line}", fields, raw, None


def plan_import(
    path: Path,
    *,
    mapping: Mapping[str, str] | None = None,
    category_map: Mapping[str, Category] | None = None,
    timezone: str = "UTC",
    now: datetime,
    progress: Callable[[int], None] | None = None,
) -> ImportPlan:
    """Check every row of a CSV or GeoJSON file; EventFileError if the file itself is
    unreadable (missing, not CSV/GeoJSON, a required column absent)."""
    try:
        zone = ZoneInfo(timezone)
    except (KeyError, ValueError):
        raise EventFileError(f"--timezone '{timezone}' is not a known time zone") from None
    plan = ImportPlan(source=path.name)
    for number, (where, fields, extra, problem) in enumerate(_rows(path, mapping or {}), 1):
        try:
            if problem:
                raise ValueError(problem)
            moment = parse_when(fields.get("date") or "", fields.get("hour"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=zone)
            if moment > now + timedelta(minutes=5):
                raise ValueError(f"date {fields.get('date')} is in the future")
            lat = parse_coordinate(fields.get("lat") or "", "lat", 90)
            lon = parse_coordinate(fields.get("lon") or "", "lon", 180)
            category = _category(fields.get("category") or "", category_map or {})
        except ValueError as exc:
            plan.rejected.append(Rejection(where, str(exc)))
        else:
            detail = ", ".join(
                f"{k}: {v}" for k, v in extra.items() if k in ("premises", "neighbourhood") and v
            )
            original = (fields.get("category") or "").strip()
            plan.good.append(
                PastIncident(
                    where=where,
                    occurred_at=moment,
                    category=category,
                    lat=lat,
                    lon=lon,
                    description=f"Imported from {path.name} ({where}): {original}"
                    + (f"; {detail}" if detail else ""),
                )
            )
        if progress is not None:
            progress(number)
    return plan


def write_import(
    session: Session,
    *,
    plan: ImportPlan,
    station_id: str,
    actor: str,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Write the plan's good rows (the caller's transaction); the count written."""
    total = len(plan.good)
    for number, row in enumerate(plan.good, start=1):
        steps: dict[Any, datetime] = {
            "acknowledged": row.occurred_at,
            "resolved": row.occurred_at,
            "closed": row.occurred_at,
        }
        incidents_service.record_past_incident(
            session,
            data=IncidentCreate(
                category=row.category,
                priority="medium",
                title=row.category.replace("_", " ").capitalize(),
                description=row.description[:5000],
                lat=row.lat,
                lon=row.lon,
            ),
            source="import",
            occurred_at=row.occurred_at,
            steps=steps,
            actor=actor,
            station_id=station_id,
        )
        if progress is not None:
            progress(number, total)
    audit_service.record(
        session,
        actor=actor,
        action="incidents.imported",
        object_type="import",
        object_id=plan.source,
        station_id=station_id,
        payload={
            "file": plan.source,
            "rows": plan.total,
            "imported": total,
            "rejected": len(plan.rejected),
        },
    )
    return total
