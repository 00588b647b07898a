"""Past incidents as arrays, read from the Toronto MCI layout or any CSV through a mapping.

The Toronto layout (the benchmark's data): ``date`` (YYYY-MM-DD), ``hour`` (0-23),
``category``, ``premises``, ``neighbourhood``, ``lat``, ``lon``. Another file names its
own columns with a mapping such as ``{"date": "occurred", "lat": "y", "lon": "x"}``; a
``date`` column may also carry the time (ISO 8601), in which case ``hour`` is optional.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

FIELDS = ("date", "hour", "category", "lat", "lon")
REQUIRED = ("date", "category", "lat", "lon")
EPOCH = date(1970, 1, 1)


class EventFileError(ValueError):
    """A file that cannot be read as events; the message names the line and column."""


@dataclass(frozen=True)
class Events:
    """One row per event, sorted by day then hour."""

    day: NDArray[np.int64]  # days since 1970-01-01
    hour: NDArray[np.int64]
    category: NDArray[np.int64]  # index into ``categories``
    lat: NDArray[np.float64]
    lon: NDArray[np.float64]
    categories: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.day)

    def only(self, category: str) -> Events:
        """The events of one category (case-insensitive), or KeyError naming the known ones."""
        lowered = [c.lower() for c in self.categories]
        if category.lower() not in lowered:
            raise KeyError(
                f"no category '{category}' in the events (known: {', '.join(self.categories)})"
            )
        keep = self.category == lowered.index(category.lower())
        return self.subset(keep)

    def subset(self, keep: NDArray[np.bool_]) -> Events:
        return Events(
            self.day[keep],
            self.hour[keep],
            self.category[keep],
            self.lat[keep],
            self.lon[keep],
            self.categories,
        )


def day_number(value: date) -> int:
    return (value - EPOCH).days


def day_of(number: int) -> date:
    return date.fromordinal(EPOCH.toordinal() + int(number))


def open_text(path: Path) -> io.TextIOBase:
    """A text stream over a plain or gzipped file."""
    if not path.exists():
        raise EventFileError(f"{path}: no such file")
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return io.TextIOWrapper(path.open("rb"), encoding="utf-8-sig", newline="")


def parse_mapping(text: str | None) -> dict[str, str]:
    """``date=occurred,lat=y`` -> {"date": "occurred", "lat": "y"}; unknown fields refused."""
    mapping: dict[str, str] = {}
    if not text:
        return mapping
    for part in text.split(","):
        field, sep, column = part.partition("=")
        field, column = field.strip(), column.strip()
        if not sep or not column:
            raise ValueError(f"column mapping '{part}': expected FIELD=COLUMN")
        if field not in FIELDS:
            raise ValueError(
                f"column mapping '{part}': unknown field '{field}' (fields: {', '.join(FIELDS)})"
            )
        mapping[field] = column
    return mapping


def parse_when(date_text: str, hour_text: str | None) -> datetime:
    """The moment of an event from a date (or date-time) and an optional hour; ValueError."""
    text = date_text.strip()
    if not text:
        raise ValueError("date is empty")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"date '{text}' is not YYYY-MM-DD or ISO 8601") from None
    if hour_text is not None and hour_text.strip() != "":
        try:
            hour = int(float(hour_text))
        except ValueError:
            raise ValueError(f"hour '{hour_text}' is not a number") from None
        if not 0 <= hour <= 23:
            raise ValueError(f"hour {hour} is outside 0-23")
        moment = moment.replace(hour=hour)
    return moment


def parse_coordinate(text: str, name: str, limit: float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name} '{text}' is not a number") from None
    if not math.isfinite(value) or not -limit <= value <= limit:
        raise ValueError(f"{name} {text} is outside -{limit:g}..{limit:g}")
    return value


def iter_rows(
    path: Path, mapping: Mapping[str, str] | None = None
) -> Iterator[tuple[int, dict[str, str | None], dict[str, str]]]:
    """(line number, {field: text}, the raw row) for each data row; EventFileError for a
    missing column."""
    columns = {field: field for field in FIELDS}
    columns.update(mapping or {})
    with open_text(path) as stream:
        reader = csv.DictReader(stream)
        header = reader.fieldnames or []
        missing = [f"{f} (column '{columns[f]}')" for f in REQUIRED if columns[f] not in header]
        if missing:
            raise EventFileError(
                f"{path}: missing {', '.join(missing)}; the file has: {', '.join(header)}. "
                "Map columns with FIELD=COLUMN."
            )
        for row in reader:
            yield (
                reader.line_num,
                {field: row.get(column) for field, column in columns.items()},
                row,
            )


def load_events(path: Path, mapping: Mapping[str, str] | None = None) -> Events:
    """Every event of a CSV file (plain or .gz); the first bad row stops it with its line."""
    days: list[int] = []
    hours: list[int] = []
    cats: list[int] = []
    lats: list[float] = []
    lons: list[float] = []
    codes: dict[str, int] = {}
    for line, row, _ in iter_rows(path, mapping):
        try:
            moment = parse_when(row["date"] or "", row.get("hour"))
            lat = parse_coordinate(row["lat"] or "", "lat", 90)
            lon = parse_coordinate(row["lon"] or "", "lon", 180)
            category = (row["category"] or "").strip()
            if not category:
                raise ValueError("category is empty")
        except ValueError as exc:
            raise EventFileError(f"{path}: line {line}: {exc}") from None
        days.append(day_number(moment.date()))
        hours.append(moment.hour)
        cats.append(codes.setdefault(category, len(codes)))
        lats.append(lat)
        lons.append(lon)
    if not days:
        raise EventFileError(f"{path}: no events")
    day = np.asarray(days, dtype=np.int64)
    hour = np.asarray(hours, dtype=np.int64)
    order = np.lexsort((hour, day))
    return Events(
        day[order],
        hour[order],
        np.asarray(cats, dtype=np.int64)[order],
        np.asarray(lats, dtype=np.float64)[order],
        np.asarray(lons, dtype=np.float64)[order],
        tuple(codes),
    )
