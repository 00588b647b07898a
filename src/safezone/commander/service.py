"""The commander's figures: incidents by category and day, response times by priority,
SOS counts and patrol check-ins over local days, and the daily brief. Local days and
watches are in ``timezone``, the stations' zone (SAFEZONE_LOCAL_TIMEZONE), passed in.

Read-only: this domain writes nothing. Response times leave out imported history (source
``import``), whose lifecycle times are the occurrence time (ADR 0009). Percentiles are
nearest-rank: p-th percentile of n sorted values = the ceil(p/100 x n)-th value, a time
that actually occurred.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from safezone.analytics import service as analytics_service
from safezone.analytics import shifts
from safezone.core.errors import InvalidInput
from safezone.incidents import service as incidents_service
from safezone.incidents.schemas import Priority
from safezone.patrol import plans as patrol_plans
from safezone.patrol import service as patrol_service
from safezone.zones import service as zones_service

PRIORITIES: tuple[Priority, ...] = ("critical", "high", "medium", "low")
CHECKIN_STATUSES = ("accepted", "flagged", "rejected")
COMPLIANCE_OUTCOMES = ("on_time", "late", "missed", "pending", "flagged")
SOS_SOURCES = ("sos", "emergency")
MAX_DAYS = 92
# (name, lifecycle column): seconds from creation to each step.
STEPS = (
    ("acknowledge", "acknowledged_at"),
    ("on_scene", "on_scene_at"),
    ("resolve", "resolved_at"),
)


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile; None without values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100.0 * len(ordered)))
    return ordered[rank - 1]


def local_midnight(day: date, timezone: str) -> datetime:
    """The UTC moment local ``day`` begins in ``timezone``."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def local_day(moment: datetime, timezone: str) -> date:
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return aware.astimezone(ZoneInfo(timezone)).date()


def local_time(moment: datetime, timezone: str) -> str:
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return aware.astimezone(ZoneInfo(timezone)).strftime("%H:%M")


def local_today(timezone: str, now: datetime | None = None) -> date:
    """Today's date in ``timezone``."""
    return (now or datetime.now(UTC)).astimezone(ZoneInfo(timezone)).date()


def _seconds(later: datetime | None, earlier: datetime) -> float | None:
    if later is None:
        return None
    return max(0.0, (later - earlier).total_seconds())


def kpis(
    session: Session, *, station_id: str, start: date, end: date, timezone: str
) -> dict[str, Any]:
    """The KPI figures of local days ``start``..``end`` (inclusive) in ``timezone``."""
    if end < start:
        raise InvalidInput("end must not be before start.", field="end")
    if (end - start).days + 1 > MAX_DAYS:
        raise InvalidInput(f"At most {MAX_DAYS} days at a time.", field="start")
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    index = {d: i for i, d in enumerate(days)}
    since = local_midnight(start, timezone)
    until = local_midnight(end + timedelta(days=1), timezone)
    rows = [
        (
            i.created_at,
            i.category,
            i.source,
            i.priority,
            i.acknowledged_at,
            i.on_scene_at,
            i.resolved_at,
        )
        for i in incidents_service.created_between(
            session, station_id=station_id, since=since, until=until
        )
    ]
    by_category: dict[str, list[int]] = {}
    sos = [0] * len(days)
    times: dict[str, dict[str, list[float]]] = {
        p: {name: [] for name, _ in STEPS} for p in PRIORITIES
    }
    counted = Counter[str]()
    for created, category, source, priority, ack, on_scene, resolved in rows:
        i = index[local_day(created, timezone)]
        by_category.setdefault(category, [0] * len(days))[i] += 1
        if category == "sos" or source in SOS_SOURCES:
            sos[i] += 1
        if source == "import" or priority not in times:
            continue
        counted[priority] += 1
        steps = {"acknowledge": ack, "on_scene": on_scene, "resolve": resolved}
        for name, _ in STEPS:
            seconds = _seconds(steps[name], created)
            if seconds is not None:
                times[priority][name].append(seconds)
    response = []
    for p in PRIORITIES:
        entry: dict[str, Any] = {"priority": p, "incidents": counted[p]}
        for name, _ in STEPS:
            values = times[p][name]
            entry[f"{name}_n"] = len(values)
            entry[f"{name}_p50_s"] = percentile(values, 50)
            entry[f"{name}_p90_s"] = percentile(values, 90)
        response.append(entry)
    checkins = {s: [0] * len(days) for s in CHECKIN_STATUSES}
    for received, status in patrol_service.checkin_verdicts(
        session, station_id=station_id, since=since, until=until
    ):
        if status in checkins:
            checkins[status][index[local_day(received, timezone)]] += 1
    ordered = sorted(by_category, key=lambda c: (-sum(by_category[c]), c))
    compliance = plan_compliance(session, station_id=station_id, days=days)
    return {
        "station_id": station_id,
        "timezone": timezone,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "days": [d.isoformat() for d in days],
        "incidents": {
            "total": len(rows),
            "by_category": {c: by_category[c] for c in ordered},
        },
        "response_times": response,
        "sos": {"total": sum(sos), "by_day": sos},
        "checkins": {
            "totals": {s: sum(v) for s, v in checkins.items()},
            "by_day": checkins,
        },
        "compliance": compliance,
    }


def plan_compliance(session: Session, *, station_id: str, days: list[date]) -> dict[str, Any]:
    """Target visits of every active patrol plan's shifts on ``days``, by outcome (on time,
    late, missed, pending; flagged counts slots filled by a flagged check-in), from the
    same report as the compliance page (patrol.plans.compliance_report)."""
    by_day = {o: [0] * len(days) for o in COMPLIANCE_OUTCOMES}
    shifts_counted = 0
    for plan in patrol_plans.list_plans(session, station_id=station_id, active=True):
        for i, day in enumerate(days):
            if not patrol_plans.runs_on(plan, day):
                continue
            report = patrol_plans.compliance_report(
                session, plan_id=plan.id, station_id=station_id, day=day
            )
            shifts_counted += 1
            for outcome in COMPLIANCE_OUTCOMES:
                by_day[outcome][i] += getattr(report.totals, outcome)
    return {
        "shifts": shifts_counted,
        "totals": {o: sum(v) for o, v in by_day.items()},
        "by_day": by_day,
    }


def incidents_of_day(
    session: Session, *, station_id: str, day: date, timezone: str
) -> list[dict[str, Any]]:
    """The incidents created on a local day in ``timezone``, oldest first (at most 200)."""
    rows = incidents_service.created_between(
        session,
        station_id=station_id,
        since=local_midnight(day, timezone),
        until=local_midnight(day + timedelta(days=1), timezone),
        limit=200,
    )
    return [
        {
            "id": r.id,
            "time": local_time(r.created_at, timezone),
            "category": r.category,
            "priority": r.priority,
            "status": r.status,
            "source": r.source,
            "title": r.title,
            "zone_id": r.zone_id,
        }
        for r in rows
    ]


def brief(
    session: Session, *, station_id: str, day: date, timezone: str, top: int = 10
) -> dict[str, Any]:
    """The daily brief for local date ``day`` in ``timezone``: the day before (incidents,
    response times, SOS, check-ins) and the forecast of ``day``'s first watch
    (06:00-14:00) with its proposed patrol plan."""
    station = zones_service.get_station(session, station_id=station_id)
    yesterday = day - timedelta(days=1)
    shift = shifts.window(day, 0, timezone)
    figures = kpis(
        session, station_id=station_id, start=yesterday, end=yesterday, timezone=timezone
    )
    layer, plan = analytics_service.shift_outlook(
        session, station_id=station_id, shift=shift, top=top
    )
    zones = [
        {"id": z.id, "name": z.name, "name_en": z.name_en, "geometry": z.geometry}
        for z in zones_service.list_assets(
            session, kind=zones_service.KINDS["zone"], station_id=station_id
        )
        if z.active
    ]
    return {
        "station": {"id": station.id, "name_th": station.name_th, "name_en": station.name_en},
        "date": day.isoformat(),
        "yesterday": yesterday.isoformat(),
        "kpis": figures,
        "incidents": incidents_of_day(
            session, station_id=station_id, day=yesterday, timezone=timezone
        ),
        "shift": shift.as_dict(),
        "hotspots": layer,
        "recommendations": plan,
        "zones": zones,
    }
