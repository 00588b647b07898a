"""Patrol plan compliance: which target visits of a shift were on time, late or missed.

Pure functions of the shift window, the target and the counted check-ins (accepted and
flagged), so the arithmetic can be checked on hand-made check-ins. ADR 0013 defines the
terms:

- A shift window ``[start, end)`` with ``n`` target visits at a checkpoint is cut into
  ``n`` equal *due slots*; slot ``i`` is ``[start + i·L/n, start + (i+1)·L/n)``.
- **on time**: a counted check-in at the checkpoint inside the slot. Each check-in fills
  at most one slot; within a slot an accepted check-in is preferred to a flagged one,
  then the earliest.
- **late**: no check-in inside the slot, but one left over after the slot's end and
  before the shift's end (the earliest such, accepted first).
- **missed**: neither, once the shift has ended; **pending** while it has not (a late
  visit may still come).
- A slot filled by a flagged check-in counts as on time or late, and is also counted as
  **flagged** so the supervisor sees it apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

Outcome = Literal["on_time", "late", "missed", "pending"]
CheckpointState = Literal["on_time", "late", "partial", "missed", "pending"]


@dataclass(frozen=True)
class Visit:
    """A counted check-in (accepted or flagged) at a checkpoint."""

    checkin_id: int
    officer_user_id: int
    scanned_at: datetime
    status: Literal["accepted", "flagged"]


@dataclass(frozen=True)
class SlotResult:
    index: int
    due_from: datetime
    due_until: datetime
    outcome: Outcome
    visit: Visit | None


@dataclass(frozen=True)
class Tally:
    on_time: int = 0
    late: int = 0
    missed: int = 0
    pending: int = 0
    flagged: int = 0


def parse_hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def shift_window(
    *, day: date, start_time: str, end_time: str, timezone: str
) -> tuple[datetime, datetime]:
    """The UTC window of the shift that starts on ``day`` (local). An end at or before
    the start is on the next day. Local wall times are resolved by the zone's rules."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(day, parse_hhmm(start_time), tzinfo=zone)
    end_day = day if parse_hhmm(end_time) > parse_hhmm(start_time) else day + timedelta(days=1)
    end = datetime.combine(end_day, parse_hhmm(end_time), tzinfo=zone)
    return start.astimezone(ZoneInfo("UTC")), end.astimezone(ZoneInfo("UTC"))


def due_slots(start: datetime, end: datetime, target: int) -> list[tuple[datetime, datetime]]:
    """``target`` equal, back-to-back slots covering ``[start, end)``."""
    if target < 1 or end <= start:
        raise ValueError("a shift needs a positive length and at least one target visit")
    length = (end - start) / target
    return [
        (start + length * i, end if i == target - 1 else start + length * (i + 1))
        for i in range(target)
    ]


def _pick(candidates: list[Visit]) -> Visit | None:
    if not candidates:
        return None
    return min(candidates, key=lambda v: (v.status != "accepted", v.scanned_at, v.checkin_id))


def judge(
    *,
    start: datetime,
    end: datetime,
    target: int,
    visits: Sequence[Visit],
    now: datetime,
) -> tuple[list[SlotResult], list[Visit]]:
    """Each due slot's outcome, and the counted visits that filled no slot (extra)."""
    slots = due_slots(start, end, target)
    inside = sorted(
        (v for v in visits if start <= v.scanned_at < end),
        key=lambda v: (v.scanned_at, v.checkin_id),
    )
    used: set[int] = set()
    filled: dict[int, tuple[Outcome, Visit]] = {}
    for i, (lo, hi) in enumerate(slots):
        visit = _pick([v for v in inside if lo <= v.scanned_at < hi and v.checkin_id not in used])
        if visit is not None:
            used.add(visit.checkin_id)
            filled[i] = ("on_time", visit)
    for i, (_lo, hi) in enumerate(slots):
        if i in filled:
            continue
        visit = _pick([v for v in inside if v.scanned_at >= hi and v.checkin_id not in used])
        if visit is not None:
            used.add(visit.checkin_id)
            filled[i] = ("late", visit)
    results = []
    for i, (lo, hi) in enumerate(slots):
        if i in filled:
            outcome, visit = filled[i]
            results.append(SlotResult(i, lo, hi, outcome, visit))
        else:
            results.append(SlotResult(i, lo, hi, "missed" if now >= end else "pending", None))
    extra = [v for v in inside if v.checkin_id not in used]
    return results, extra


def tally(results: Sequence[SlotResult]) -> Tally:
    counts = {"on_time": 0, "late": 0, "missed": 0, "pending": 0}
    flagged = 0
    for r in results:
        counts[r.outcome] += 1
        if r.visit is not None and r.visit.status == "flagged":
            flagged += 1
    return Tally(flagged=flagged, **counts)


def state(counts: Tally) -> CheckpointState:
    """One word for the map: missed (no visit and a slot missed), partial (visited but a
    slot missed), pending (nothing yet, shift running), late, or on time."""
    visited = counts.on_time + counts.late
    if counts.missed:
        return "partial" if visited else "missed"
    if not visited:
        return "pending"
    return "late" if counts.late else "on_time"
