"""Check-in verification: the rules that decide whether a scan counts as a patrol visit.

``verify`` is a pure function of the scan, the facts the service read from the database
and the policy (from the settings): no database, no clock. That keeps every rule testable
on its own and lets property tests (hypothesis) drive it with any input. ADR 0011 gives
the reasons for each rule and for which reasons reject and which only flag.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from safezone.core.geo import haversine_m
from safezone.patrol import qr

Status = Literal["accepted", "flagged", "rejected"]
Reason = Literal[
    "bad_signature",
    "code_expired",
    "future_timestamp",
    "outside_geofence",
    "geofence_uncertain",
    "unknown_device",
    "replay",
    "impossible_speed",
    "outside_shift",
    "late_sync",
]
# The order reasons are reported in: the most damning first.
REASON_ORDER: tuple[Reason, ...] = (
    "bad_signature",
    "code_expired",
    "future_timestamp",
    "outside_geofence",
    "unknown_device",
    "replay",
    "impossible_speed",
    "geofence_uncertain",
    "outside_shift",
    "late_sync",
)
# Reasons that reject whatever the code's mode: the code itself is not good evidence.
ALWAYS_REJECT: frozenset[Reason] = frozenset(
    {"bad_signature", "code_expired", "future_timestamp", "replay"}
)
# A printed code can be photographed, so for it the place and the phone are the proof and
# these reject too. A rotating code already proves someone saw the screen within seconds;
# for it they only flag (screens are often indoors, where GPS is poor).
STATIC_REJECT: frozenset[Reason] = frozenset({"outside_geofence", "unknown_device"})


@dataclass(frozen=True)
class Policy:
    """Tunable limits, from the settings (``checkin_*``)."""

    max_speed_m_s: float = 120 / 3.6
    clock_skew_s: float = 30.0
    replay_window_s: float = 600.0
    max_sync_delay_s: float = 12 * 3600.0
    # A rotating code is still good this many windows after its own (decode time, a
    # screen refreshing just as the officer scans).
    grace_windows: int = 1


@dataclass(frozen=True)
class Scan:
    """What the officer's app sent, and when the server received it."""

    qr: str
    lat: float
    lon: float
    accuracy_m: float
    scanned_at: datetime
    device_id: str
    received_at: datetime


@dataclass(frozen=True)
class CheckpointFacts:
    id: str
    lat: float
    lon: float
    radius_m: float
    active: bool
    current_key_version: int
    secrets: Mapping[int, str]  # key version -> secret, retired versions included


@dataclass(frozen=True)
class PriorCheckIn:
    """One of the officer's earlier check-ins that was not rejected."""

    checkpoint_id: str
    code: str
    mode: qr.CodeMode
    lat: float
    lon: float
    accuracy_m: float
    scanned_at: datetime


@dataclass(frozen=True)
class Context:
    """What the database knows that bears on this scan (see ``service.check_in``)."""

    checkpoint: CheckpointFacts | None  # the checkpoint the code names, at the officer's station
    devices: frozenset[str]  # device ids registered to the officer and not revoked
    shifts: Sequence[tuple[datetime, datetime | None]]  # (started, ended or None if open)
    # The officer's check-ins closest in scan time before and after this one (an offline
    # queue may deliver scans out of order).
    neighbours: Sequence[PriorCheckIn] = ()
    # The officer's check-ins at this checkpoint near this scan's time, or with this code.
    uses: Sequence[PriorCheckIn] = ()


@dataclass(frozen=True)
class Verdict:
    status: Status
    reasons: tuple[Reason, ...]
    mode: qr.CodeMode | None
    checkpoint_id: str | None
    distance_m: float | None = None
    details: dict[str, float] = field(default_factory=dict)


def severity(reason: Reason, mode: qr.CodeMode | None) -> Literal["reject", "flag"]:
    if reason in ALWAYS_REJECT:
        return "reject"
    if reason in STATIC_REJECT and mode != "rotating":
        return "reject"
    return "flag"


def status_of(reasons: Sequence[Reason], mode: qr.CodeMode | None) -> Status:
    if any(severity(r, mode) == "reject" for r in reasons):
        return "rejected"
    return "flagged" if reasons else "accepted"


def _seconds(a: datetime, b: datetime) -> float:
    return (a - b).total_seconds()


def _code_reasons(
    code: qr.CheckpointCode, checkpoint: CheckpointFacts | None, scan: Scan, policy: Policy
) -> list[Reason]:
    if checkpoint is None or checkpoint.id != code.checkpoint_id:
        return ["bad_signature"]
    if code.mode == "static":
        secret = checkpoint.secrets.get(code.number)
        if secret is None or not qr.signature_valid(code, secret=secret):
            return ["bad_signature"]
        # Genuine, but printed before the key was rotated or for a retired checkpoint.
        if code.number != checkpoint.current_key_version or not checkpoint.active:
            return ["code_expired"]
        return []
    secret = checkpoint.secrets.get(checkpoint.current_key_version)
    if secret is None or not qr.signature_valid(code, secret=secret):
        return ["bad_signature"]
    start = code.number * qr.WINDOW_S
    end = start + qr.WINDOW_S * (1 + policy.grace_windows)
    moment = scan.scanned_at.timestamp()
    if not checkpoint.active or not (
        start - policy.clock_skew_s <= moment <= end + policy.clock_skew_s
    ):
        return ["code_expired"]
    return []


def geofence_reason(
    distance_m: float, accuracy_m: float, radius_m: float
) -> Literal["outside_geofence", "geofence_uncertain"] | None:
    """Clearly outside when even the nearest point the fix allows is beyond the radius;
    uncertain when the fix's circle of accuracy crosses the boundary."""
    if distance_m - accuracy_m > radius_m:
        return "outside_geofence"
    if distance_m + accuracy_m > radius_m:
        return "geofence_uncertain"
    return None


def travel_speed_m_s(
    a: tuple[float, float, float, datetime],
    b: tuple[float, float, float, datetime],
    *,
    clock_skew_s: float,
) -> float:
    """The slowest speed that explains two fixes (lat, lon, accuracy, time): the distance
    less both accuracies, over the time between them plus the clocks' tolerated skew."""
    distance = haversine_m(a[0], a[1], b[0], b[1]) - a[2] - b[2]
    if distance <= 0:
        return 0.0
    seconds = abs(_seconds(a[3], b[3])) + clock_skew_s
    if seconds <= 0:
        return math.inf
    return distance / seconds


def _replayed(
    code: qr.CheckpointCode, scan: Scan, uses: Sequence[PriorCheckIn], policy: Policy
) -> bool:
    for use in uses:
        if use.checkpoint_id != code.checkpoint_id:
            continue
        if code.mode == "rotating":
            if use.mode == "rotating" and use.code == code.payload:
                return True
        elif (
            use.mode == "static"
            and abs(_seconds(scan.scanned_at, use.scanned_at)) <= policy.replay_window_s
        ):
            return True
    return False


def verify(scan: Scan, context: Context, policy: Policy) -> Verdict:
    """Judge one scan: accepted, flagged (counts, but a supervisor should look) or
    rejected (does not count), with every reason that applies."""
    code = qr.parse(scan.qr)
    if code is None:
        return Verdict("rejected", ("bad_signature",), None, None)
    reasons: list[Reason] = _code_reasons(code, context.checkpoint, scan, policy)
    details: dict[str, float] = {}
    distance: float | None = None

    ahead = _seconds(scan.scanned_at, scan.received_at)
    if ahead > policy.clock_skew_s:
        reasons.append("future_timestamp")
    elif -ahead > policy.max_sync_delay_s:
        reasons.append("late_sync")

    checkpoint = context.checkpoint
    if checkpoint is not None and checkpoint.id == code.checkpoint_id:
        distance = haversine_m(scan.lat, scan.lon, checkpoint.lat, checkpoint.lon)
        fence = geofence_reason(distance, scan.accuracy_m, checkpoint.radius_m)
        if fence is not None:
            reasons.append(fence)

    if scan.device_id not in context.devices:
        reasons.append("unknown_device")

    skew = policy.clock_skew_s
    on_shift = any(
        _seconds(scan.scanned_at, started) >= -skew
        and (ended is None or _seconds(scan.scanned_at, ended) <= skew)
        for started, ended in context.shifts
    )
    if not on_shift:
        reasons.append("outside_shift")

    if _replayed(code, scan, context.uses, policy):
        reasons.append("replay")

    here = (scan.lat, scan.lon, scan.accuracy_m, scan.scanned_at)
    fastest = 0.0
    for prior in context.neighbours:
        there = (prior.lat, prior.lon, prior.accuracy_m, prior.scanned_at)
        fastest = max(fastest, travel_speed_m_s(here, there, clock_skew_s=skew))
    if context.neighbours:
        details["speed_kmh"] = round(fastest * 3.6, 1) if math.isfinite(fastest) else -1.0
    if fastest > policy.max_speed_m_s:
        reasons.append("impossible_speed")

    ordered = tuple(r for r in REASON_ORDER if r in reasons)
    if distance is not None:
        details["distance_m"] = round(distance, 1)
    return Verdict(
        status_of(ordered, code.mode),
        ordered,
        code.mode,
        code.checkpoint_id,
        distance_m=None if distance is None else round(distance, 1),
        details=details,
    )
