"""verify() on its own: each rule, and properties that must hold for any input."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from safezone.core.geo import haversine_m
from safezone.patrol import checkins, qr

SECRET = "checkpoint-secret-for-tests-0123456789"
CP = "CP-001"
LAT, LON = 16.5440, 104.7280
T0 = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
POLICY = checkins.Policy()
PHONE = "PHONE-1"
METRES_PER_DEG_LAT = 111_195.0


def checkpoint(**kw) -> checkins.CheckpointFacts:
    values = {
        "id": CP,
        "lat": LAT,
        "lon": LON,
        "radius_m": 30.0,
        "active": True,
        "current_key_version": 1,
        "secrets": {1: SECRET},
    }
    values.update(kw)
    return checkins.CheckpointFacts(**values)


def context(**kw) -> checkins.Context:
    values = {
        "checkpoint": checkpoint(),
        "devices": frozenset({PHONE}),
        "shifts": [(T0 - timedelta(hours=4), None)],
    }
    values.update(kw)
    return checkins.Context(**values)


def scan(code: str, **kw) -> checkins.Scan:
    values = {
        "qr": code,
        "lat": LAT,
        "lon": LON,
        "accuracy_m": 5.0,
        "scanned_at": T0,
        "device_id": PHONE,
        "received_at": T0,
    }
    values.update(kw)
    return checkins.Scan(**values)


STATIC = qr.static_code(checkpoint_id=CP, key_version=1, secret=SECRET)


def rotating(moment: datetime) -> str:
    return qr.rotating_code(
        checkpoint_id=CP,
        window=qr.window_of(moment.timestamp()),
        display_key_hex=qr.display_key(SECRET),
    )


def prior(lat: float, lon: float, at: datetime, acc: float = 5.0, **kw) -> checkins.PriorCheckIn:
    values = {
        "checkpoint_id": "CP-000",
        "code": "x",
        "mode": "static",
        "lat": lat,
        "lon": lon,
        "accuracy_m": acc,
        "scanned_at": at,
    }
    values.update(kw)
    return checkins.PriorCheckIn(**values)


# --- codes ------------------------------------------------------------------------------


def test_code_formats_round_trip():
    parsed = qr.parse(STATIC)
    assert parsed is not None and parsed.mode == "static" and parsed.number == 1
    assert parsed.payload == STATIC and STATIC.startswith("SZ1:S:CP-001:1:")
    assert len(STATIC.rsplit(":", 1)[1]) == 32
    assert qr.parse(STATIC.lower().replace("sz1:s:cp-001", "SZ1:S:CP-001")) == parsed
    for text in ("", "SZ1:S:CP-001:1", "SZ1:X:CP-001:1:" + "0" * 32, "SZ2:S:CP-001:1:" + "0" * 32):
        assert qr.parse(text) is None


def test_documented_test_vectors():
    # docs/checkpoints.md gives these to poster vendors and screen makers.
    assert (
        qr.static_code(checkpoint_id="CP-001", key_version=1, secret="s" * 43)
        == "SZ1:S:CP-001:1:3BA614C43840C6758433EC10DCD6BCFE"
    )
    assert (
        qr.rotating_code(checkpoint_id="CP-001", window=59_000_000, display_key_hex="a" * 64)
        == "SZ1:R:CP-001:59000000:959BBD8F379C4A403E23FA961F6D7F35"
    )


def test_a_screen_key_cannot_make_a_printed_code():
    key = qr.display_key(SECRET)
    forged = qr.static_code(checkpoint_id=CP, key_version=1, secret=key)
    assert checkins.verify(scan(forged), context(), POLICY).reasons == ("bad_signature",)


def test_qr_images_are_made():
    assert qr.svg(STATIC).lstrip().startswith(b"<?xml") and b"<svg" in qr.svg(STATIC)
    assert qr.png(STATIC).startswith(b"\x89PNG")


# --- single rules ---------------------------------------------------------------------------


def test_good_scans_are_accepted():
    assert checkins.verify(scan(STATIC), context(), POLICY).status == "accepted"
    assert checkins.verify(scan(rotating(T0)), context(), POLICY).status == "accepted"


def test_unknown_checkpoint_and_missing_key():
    assert (
        checkins.verify(scan(STATIC), context(checkpoint=None), POLICY).reasons[0]
        == "bad_signature"
    )
    no_key = context(checkpoint=checkpoint(secrets={}, current_key_version=0))
    assert checkins.verify(scan(STATIC), no_key, POLICY).reasons[0] == "bad_signature"


def test_retired_checkpoint_code_is_expired():
    off = context(checkpoint=checkpoint(active=False))
    assert checkins.verify(scan(STATIC), off, POLICY).reasons == ("code_expired",)


def test_late_sync_is_flagged():
    verdict = checkins.verify(scan(STATIC, received_at=T0 + timedelta(hours=13)), context(), POLICY)
    assert verdict.status == "flagged" and verdict.reasons == ("late_sync",)


def test_unknown_device_only_flags_a_rotating_code():
    verdict = checkins.verify(scan(rotating(T0), device_id="OTHER"), context(), POLICY)
    assert verdict.status == "flagged" and verdict.reasons == ("unknown_device",)


def test_geofence_boundaries():
    assert checkins.geofence_reason(25, 4, 30) is None
    assert checkins.geofence_reason(25, 6, 30) == "geofence_uncertain"
    assert checkins.geofence_reason(40, 15, 30) == "geofence_uncertain"
    assert checkins.geofence_reason(50, 15, 30) == "outside_geofence"


# --- properties -----------------------------------------------------------------------------


@settings(max_examples=200)
@given(position=st.integers(0, 31), replacement=st.sampled_from("0123456789ABCDEF"))
def test_any_changed_signature_digit_is_a_bad_signature(position, replacement):
    head, sig = STATIC.rsplit(":", 1)
    assume(sig[position] != replacement)
    forged = f"{head}:{sig[:position]}{replacement}{sig[position + 1 :]}"
    verdict = checkins.verify(scan(forged), context(), POLICY)
    assert verdict.status == "rejected" and "bad_signature" in verdict.reasons


@given(text=st.text(max_size=80))
def test_arbitrary_text_is_never_accepted(text):
    verdict = checkins.verify(scan(text), context(), POLICY)
    assert verdict.status == "rejected" and "bad_signature" in verdict.reasons


@given(
    distance=st.floats(0, 500, allow_nan=False),
    accuracy=st.floats(0, 200, allow_nan=False),
    bearing=st.floats(0, 2 * math.pi, allow_nan=False),
)
def test_geofence_rule_matches_the_distance(distance, accuracy, bearing):
    lat = LAT + distance * math.cos(bearing) / METRES_PER_DEG_LAT
    lon = LON + distance * math.sin(bearing) / (METRES_PER_DEG_LAT * math.cos(math.radians(LAT)))
    actual = haversine_m(lat, lon, LAT, LON)
    verdict = checkins.verify(
        scan(STATIC, lat=lat, lon=lon, accuracy_m=accuracy), context(), POLICY
    )
    if actual - accuracy > 30:
        assert verdict.status == "rejected" and verdict.reasons == ("outside_geofence",)
    elif actual + accuracy > 30:
        assert verdict.status == "flagged" and verdict.reasons == ("geofence_uncertain",)
    else:
        assert verdict.status == "accepted"


@given(offset_s=st.integers(-3600, 3600))
def test_rotating_code_is_good_only_in_its_window_give_or_take_skew(offset_s):
    shown = T0 + timedelta(seconds=offset_s)
    code = rotating(shown)
    start = qr.window_of(shown.timestamp()) * qr.WINDOW_S
    end = start + qr.WINDOW_S * (1 + POLICY.grace_windows)
    moment = T0.timestamp()
    verdict = checkins.verify(scan(code), context(), POLICY)
    if start - POLICY.clock_skew_s <= moment <= end + POLICY.clock_skew_s:
        assert verdict.status == "accepted"
    else:
        assert verdict.reasons == ("code_expired",) and verdict.status == "rejected"


@given(phone_clock_s=st.floats(-30, 30, allow_nan=False))
def test_a_phone_clock_within_the_skew_never_expires_a_fresh_code(phone_clock_s):
    # The screen shows the code of the moment; the phone stamps it with its own clock.
    verdict = checkins.verify(
        scan(rotating(T0), scanned_at=T0 + timedelta(seconds=phone_clock_s)), context(), POLICY
    )
    assert verdict.status == "accepted"


@settings(max_examples=300)
@example(true_speed_kmh=120, minutes=1, clock_a=15, clock_b=-15)
@example(true_speed_kmh=120, minutes=0.05, clock_a=15, clock_b=-15)
@given(
    true_speed_kmh=st.floats(0, 120, allow_nan=False),
    minutes=st.floats(0.05, 240, allow_nan=False),
    clock_a=st.floats(-15, 15, allow_nan=False),
    clock_b=st.floats(-15, 15, allow_nan=False),
)
def test_a_possible_trip_is_never_flagged_even_with_skewed_clocks(
    true_speed_kmh, minutes, clock_a, clock_b
):
    # Two clocks each within 15 s of the truth disagree by at most the 30 s skew.
    distance = true_speed_kmh / 3.6 * minutes * 60
    start_lat = LAT - distance / METRES_PER_DEG_LAT
    before = prior(start_lat, LON, T0 - timedelta(minutes=minutes) + timedelta(seconds=clock_a))
    verdict = checkins.verify(
        scan(
            STATIC,
            scanned_at=T0 + timedelta(seconds=clock_b),
            received_at=T0 + timedelta(seconds=clock_b),
        ),
        context(neighbours=[before]),
        POLICY,
    )
    assert "impossible_speed" not in verdict.reasons


@given(
    excess=st.floats(1.05, 50, allow_nan=False),
    seconds=st.floats(0, 7200, allow_nan=False),
    accuracy=st.floats(0, 50, allow_nan=False),
)
def test_a_trip_faster_than_the_limit_after_every_allowance_is_flagged(excess, seconds, accuracy):
    allowed = POLICY.max_speed_m_s * (seconds + POLICY.clock_skew_s) + 2 * accuracy
    distance = allowed * excess
    assume(distance < 2_000_000)
    before = prior(
        LAT - distance / METRES_PER_DEG_LAT, LON, T0 - timedelta(seconds=seconds), accuracy
    )
    verdict = checkins.verify(
        scan(STATIC, accuracy_m=accuracy), context(neighbours=[before]), POLICY
    )
    assert "impossible_speed" in verdict.reasons
    assert verdict.status in ("flagged", "rejected")


@given(gap_s=st.floats(0, 1200, allow_nan=False), same_code=st.booleans())
def test_printed_code_replay_depends_only_on_the_window(gap_s, same_code):
    earlier = prior(LAT, LON, T0 - timedelta(seconds=gap_s), checkpoint_id=CP, code=STATIC)
    verdict = checkins.verify(scan(STATIC), context(uses=[earlier]), POLICY)
    assert ("replay" in verdict.reasons) == (gap_s <= POLICY.replay_window_s)


@given(start_min=st.integers(-600, 600), length_min=st.one_of(st.none(), st.integers(0, 720)))
def test_shift_rule(start_min, length_min):
    started = T0 + timedelta(minutes=start_min)
    ended = None if length_min is None else started + timedelta(minutes=length_min)
    verdict = checkins.verify(scan(STATIC), context(shifts=[(started, ended)]), POLICY)
    on = started - timedelta(seconds=30) <= T0 and (
        ended is None or T0 <= ended + timedelta(seconds=30)
    )
    assert ("outside_shift" in verdict.reasons) == (not on)


@given(ahead_s=st.floats(-100_000, 100_000, allow_nan=False))
def test_scan_time_against_arrival_time(ahead_s):
    verdict = checkins.verify(
        scan(STATIC, received_at=T0 - timedelta(seconds=ahead_s)), context(), POLICY
    )
    assert ("future_timestamp" in verdict.reasons) == (ahead_s > POLICY.clock_skew_s)
    assert ("late_sync" in verdict.reasons) == (-ahead_s > POLICY.max_sync_delay_s)


@given(
    reasons=st.lists(st.sampled_from(checkins.REASON_ORDER), unique=True),
    mode=st.sampled_from(["static", "rotating", None]),
)
def test_status_follows_the_severity_of_its_reasons(reasons, mode):
    status = checkins.status_of(reasons, mode)
    severities = {checkins.severity(r, mode) for r in reasons}
    assert status == (
        "rejected" if "reject" in severities else "flagged" if reasons else "accepted"
    )
