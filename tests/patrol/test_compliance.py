"""Compliance arithmetic on hand-made check-ins with known on-time / late / missed counts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from safezone.patrol import compliance
from safezone.patrol.compliance import Visit

START = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)  # 08:00 in Bangkok
END = START + timedelta(hours=8)  # 16:00
AFTER = END + timedelta(minutes=1)


def at(hours: float) -> datetime:
    return START + timedelta(hours=hours)


def visit(n: int, hours: float, status: str = "accepted", officer: int = 7) -> Visit:
    return Visit(checkin_id=n, officer_user_id=officer, scanned_at=at(hours), status=status)  # type: ignore[arg-type]


def outcomes(target: int, visits: list[Visit], now: datetime = AFTER) -> list[str]:
    slots, _ = compliance.judge(start=START, end=END, target=target, visits=visits, now=now)
    return [s.outcome for s in slots]


def test_bangkok_day_shift_window_and_overnight_shift():
    assert compliance.shift_window(
        day=date(2026, 11, 27), start_time="08:00", end_time="16:00", timezone="Asia/Bangkok"
    ) == (START, END)
    start, end = compliance.shift_window(
        day=date(2026, 11, 27), start_time="22:00", end_time="06:00", timezone="Asia/Bangkok"
    )
    assert start == datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
    assert end == datetime(2026, 11, 27, 23, 0, tzinfo=UTC)


def test_slots_split_the_shift_evenly():
    slots = compliance.due_slots(START, END, 4)
    assert [(a - START, b - START) for a, b in slots] == [
        (timedelta(hours=h), timedelta(hours=h + 2)) for h in (0, 2, 4, 6)
    ]
    with pytest.raises(ValueError):
        compliance.due_slots(START, END, 0)


def test_four_targets_two_on_time_one_late_one_missed():
    # Slots: 0-2h, 2-4h, 4-6h, 6-8h. Visits at 0.5h and 2.5h are on time in slots 0 and
    # 1, the one at 7.0h in slot 3. Slot 2 had none: the spare visit at 7.5h came after
    # its end, so it is late; without that visit it is missed.
    visits = [visit(1, 0.5), visit(2, 2.5), visit(3, 7.0), visit(4, 7.5)]
    assert outcomes(4, visits) == ["on_time", "on_time", "late", "on_time"]
    assert outcomes(4, visits[:3]) == ["on_time", "on_time", "missed", "on_time"]
    counts = compliance.tally(
        compliance.judge(start=START, end=END, target=4, visits=visits[:3], now=AFTER)[0]
    )
    assert counts == compliance.Tally(on_time=3, late=0, missed=1, pending=0, flagged=0)


def test_a_visit_fills_one_slot_only_and_early_visits_do_not_count_ahead():
    # Three visits in the first slot: one on time there, and the two left over cannot
    # fill later slots (they came before those slots began).
    visits = [visit(1, 0.1), visit(2, 0.2), visit(3, 0.3)]
    slots, extra = compliance.judge(start=START, end=END, target=3, visits=visits, now=AFTER)
    assert [s.outcome for s in slots] == ["on_time", "missed", "missed"]
    assert [v.checkin_id for v in extra] == [2, 3]


def test_a_late_visit_goes_to_the_earliest_unfilled_slot():
    # Target 2 (0-4h, 4-8h). One visit at 5h: on time in slot 1; slot 0 has nothing and no
    # spare visit: missed. Two visits at 5h and 6h: the second makes slot 0 late.
    assert outcomes(2, [visit(1, 5.0)]) == ["missed", "on_time"]
    assert outcomes(2, [visit(1, 5.0), visit(2, 6.0)]) == ["late", "on_time"]


def test_visits_outside_the_shift_do_not_count():
    visits = [visit(1, -0.5), visit(2, 8.0), visit(3, 9.0)]
    assert outcomes(1, visits) == ["missed"]


def test_unfilled_slots_are_pending_until_the_shift_ends():
    visits = [visit(1, 0.5)]
    assert outcomes(3, visits, now=at(5)) == ["on_time", "pending", "pending"]
    assert outcomes(3, visits, now=END) == ["on_time", "missed", "missed"]


def test_accepted_is_preferred_to_flagged_and_flagged_counts_apart():
    visits = [visit(1, 0.2, "flagged"), visit(2, 0.4, "accepted")]
    slots, extra = compliance.judge(start=START, end=END, target=1, visits=visits, now=AFTER)
    assert slots[0].visit is not None and slots[0].visit.checkin_id == 2
    assert [v.checkin_id for v in extra] == [1]
    only_flagged = compliance.judge(
        start=START,
        end=END,
        target=2,
        visits=[visit(1, 1.0, "flagged"), visit(2, 6.0, "flagged")],
        now=AFTER,
    )[0]
    counts = compliance.tally(only_flagged)
    assert (counts.on_time, counts.late, counts.missed, counts.flagged) == (2, 0, 0, 2)


def test_checkpoint_state_words():
    tally = compliance.Tally
    assert compliance.state(tally(on_time=2)) == "on_time"
    assert compliance.state(tally(on_time=1, late=1)) == "late"
    assert compliance.state(tally(on_time=1, missed=1)) == "partial"
    assert compliance.state(tally(missed=2)) == "missed"
    assert compliance.state(tally(pending=2)) == "pending"
    assert compliance.state(tally(on_time=1, pending=1)) == "on_time"
