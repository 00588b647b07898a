"""Browser tests of dispatch: the operator sends the nearest unit from the dashboard, its
officer acknowledges in the officer app and the dashboard shows it live (with the unit's
marker moving as the app reports its position); an assignment nobody acknowledges raises
the operator's alarm, which survives a reload and goes away when the operator reassigns
or dismisses it; and the officer app lists the houses under watch on the route."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from safezone.app import create_app
from safezone.core.db import utcnow
from safezone.core.permissions import Principal
from safezone.patrol import service as patrol_service
from safezone.patrol.models import Unit
from safezone.patrol.schemas import LocationReport, UnitCreate
from tests.conftest import INSIDE, LiveServer
from tests.e2e.support import (
    DESKTOP,
    LIVE_MS,
    PHONE,
    api_post,
    expect,
    screenshot,
    sign_in,
    skip_without_browser,
    watch_errors,
)

skip_without_browser()

pytestmark = pytest.mark.e2e

ADMIN = Principal(user_id=0, username="test", role="admin", station_id="MDH")
OFFICER_UNIT = "BIKE-OFF"
# Offsets north of the incident: the officer's motorbike is nearest, then a foot patrol,
# then a car far away.
UNITS = ((OFFICER_UNIT, "motorbike", 0.001), ("FOOT-2", "foot", 0.004), ("CAR-3", "car", 0.03))


def api_get(base: str, token: str, path: str) -> Any:
    response = httpx.get(base + path, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def prepare(base: str, token_for: Callable[[str], str], db: Any) -> int:
    """Three available units (the nearest one is the officer's), located a minute ago so
    the officer app's next report is not throttled; returns a new incident at INSIDE."""
    officer_id = api_get(base, token_for("officer"), "/api/v1/auth/me")["user_id"]
    lat, lon = INSIDE
    with db.transaction() as session:
        for unit_id, kind, dlat in UNITS:
            patrol_service.create_unit(
                session,
                data=UnitCreate(
                    id=unit_id,
                    callsign=unit_id,
                    kind=kind,
                    status="available",
                    officer_user_id=officer_id if unit_id == OFFICER_UNIT else None,
                ),
                principal=ADMIN,
            )
            patrol_service.report_location(
                session,
                unit_id=unit_id,
                report=LocationReport(lat=lat + dlat, lon=lon),
                principal=ADMIN,
            )
            unit = session.get(Unit, unit_id)
            assert unit is not None
            unit.location_at = utcnow() - timedelta(minutes=1)
    incident = api_post(base, token_for("commander"), "/api/v1/incidents", {
        "category": "theft", "priority": "high", "title": "",
        "description": "ชิงทรัพย์หน้าตลาด", "lat": lat, "lon": lon,
    })  # fmt: skip
    return int(incident["id"])


def open_dashboard(
    browser: Any, base: str, viewport: dict[str, int] = DESKTOP
) -> tuple[Any, list[str]]:
    phone = viewport["width"] < 600
    context = browser.new_context(viewport=viewport, is_mobile=phone, has_touch=phone)
    page = context.new_page()
    errors = watch_errors(page)
    sign_in(page, base, "operator")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live", timeout=LIVE_MS)
    return page, errors


def open_incident(page: Any, incident_id: int) -> Any:
    page.locator(f'#incident-list [data-incident-id="{incident_id}"]').click()
    panel = page.locator(f'#detail .dispatch-panel[data-dispatch-incident="{incident_id}"]')
    expect(panel).to_be_visible(timeout=LIVE_MS)
    return panel


def expect_ranking(panel: Any, unit_ids: list[str]) -> None:
    rows = panel.locator("li[data-suggest-unit-id]")
    expect(rows).to_have_count(len(unit_ids), timeout=LIVE_MS)
    assert [rows.nth(i).get_attribute("data-suggest-unit-id") for i in range(len(unit_ids))] == (
        unit_ids
    )


# The officer's unit marker's place relative to the incident's marker (pixels), so that
# panning the map does not count as moving.
OFFSET_JS = """
    ([unit, incident]) => {
        const u = document.querySelector(`.sz-unit-marker[data-unit-id="${unit}"]`);
        const i = document.querySelector(`.sz-incident-marker[data-incident-id="${incident}"]`);
        if (!u || !i) return null;
        const a = u.getBoundingClientRect();
        const b = i.getBoundingClientRect();
        return [a.x + a.width / 2 - b.x - b.width / 2, a.y + a.height / 2 - b.y - b.height / 2];
    }
"""


def unit_offset(page: Any, incident_id: int) -> tuple[float, float]:
    """The offset once the map has stopped moving (a zoom or pan animation changes it)."""
    offset: list[float] | None = None
    for _ in range(50):
        previous = offset
        offset = page.evaluate(OFFSET_JS, [OFFICER_UNIT, incident_id])
        assert offset is not None, "unit or incident marker missing"
        if offset == previous:
            break
        page.wait_for_timeout(100)
    assert offset is not None
    return offset[0], offset[1]


def test_operator_assigns_the_nearest_unit_and_sees_the_officer_acknowledge(
    live_server: LiveServer, browser: Any, token_for: Callable[[str], str], db: Any
) -> None:
    base = live_server.url
    incident_id = prepare(base, token_for, db)
    dashboard, dash_errors = open_dashboard(browser, base)
    panel = open_incident(dashboard, incident_id)
    expect(panel).to_contain_text("หน่วยที่ว่าง")
    expect_ranking(panel, [OFFICER_UNIT, "FOOT-2", "CAR-3"])
    first = panel.locator("li[data-suggest-unit-id]").first
    expect(first).to_contain_text("111 ม.")
    expect(dashboard.locator(f'.sz-unit-marker[data-unit-id="{OFFICER_UNIT}"]')).to_be_visible()
    before = unit_offset(dashboard, incident_id)

    first.locator(f'button[data-assign-unit="{OFFICER_UNIT}"]').click()
    sent = panel.locator(f'li[data-assignment-id][data-unit-id="{OFFICER_UNIT}"]')
    expect(sent).to_have_attribute("data-status", "assigned", timeout=LIVE_MS)
    expect(sent).to_contain_text("สั่งการแล้ว รอรับทราบ")
    # The unit is busy now: only the other two are offered.
    expect_ranking(panel, ["FOOT-2", "CAR-3"])
    listed = dashboard.locator("#dispatch-list li[data-assignment-id]")
    expect(listed).to_have_count(1)
    expect(listed).to_have_attribute("data-status", "assigned")
    expect(dashboard.locator("#detail .detail-badges .chip.status-dispatched")).to_be_visible()
    assignment_id = int(listed.get_attribute("data-assignment-id") or 0)

    # The officer, on a phone 300 m north of the incident, starts the shift: the app
    # reports the position and the unit's marker moves north on the dashboard.
    officer = browser.new_context(
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        geolocation={"latitude": INSIDE[0] + 0.003, "longitude": INSIDE[1], "accuracy": 5},
        permissions=["geolocation"],
    )
    page = officer.new_page()
    errors = watch_errors(page)
    sign_in(page, base, "officer", page_path="/officer")
    item = page.locator(f'#assignment-list li[data-assignment-id="{assignment_id}"]')
    expect(item).to_have_attribute("data-status", "assigned", timeout=LIVE_MS)
    expect(item).to_contain_text("ชิงทรัพย์หน้าตลาด")
    page.click("#shift-start")
    expect(page.locator("#shift-state")).to_have_attribute("data-state", "on")
    dashboard.wait_for_function(
        "([args, dy]) => { const at = (" + OFFSET_JS + ")(args); return at && at[1] < dy - 40; }",
        arg=[[OFFICER_UNIT, incident_id], before[1]],
        timeout=LIVE_MS,
    )
    after = unit_offset(dashboard, incident_id)
    assert after[1] < before[1] - 40 and abs(after[0] - before[0]) < 5, (before, after)

    # The officer acknowledges; the dashboard shows it without a reload.
    item.locator("button[data-step=acknowledged]").click()
    expect(item).to_have_attribute("data-status", "acknowledged", timeout=LIVE_MS)
    expect(sent).to_have_attribute("data-status", "acknowledged", timeout=LIVE_MS)
    expect(sent).to_contain_text("รับทราบแล้ว")
    expect(sent.locator("[data-step=acknowledged] time")).to_have_count(1)
    expect(listed).to_have_attribute("data-status", "acknowledged", timeout=LIVE_MS)
    item.locator("button[data-step=en_route]").click()
    expect(sent).to_have_attribute("data-status", "en_route", timeout=LIVE_MS)
    expect(dashboard.locator("#dispatch-alarm")).to_be_hidden()

    # English, too.
    dashboard.click(".lang-toggle [data-lang=en]")
    expect(sent).to_contain_text("En route")
    expect(panel).to_contain_text("Available units, fastest first")
    screenshot(dashboard, "dashboard-dispatch.png")
    row = api_get(base, token_for("operator"), f"/api/v1/dispatch/assignments/{assignment_id}")
    assert row["status"] == "en_route" and row["acknowledged_by"] == "user:officer"
    assert row["times"]["to_acknowledge_s"] is not None
    assert dash_errors == [] and errors == []


@pytest.fixture
def quick_server(settings: Any, db: Any) -> Iterator[LiveServer]:
    """The app with a 5 s acknowledgement deadline, checked every 0.2 s."""
    quick = settings.model_copy(update={"dispatch_ack_timeout_s": 5, "monitor_interval_s": 0.2})
    with LiveServer(create_app(quick, database=db)) as server:
        yield server


def test_an_unacknowledged_assignment_alarms_the_operator_until_handled(
    quick_server: LiveServer, browser: Any, token_for: Callable[[str], str], db: Any
) -> None:
    base = quick_server.url
    incident_id = prepare(base, token_for, db)
    dashboard, errors = open_dashboard(browser, base, PHONE)
    alarm = dashboard.locator("#dispatch-alarm")
    expect(alarm).to_be_hidden()
    panel = open_incident(dashboard, incident_id)
    expect_ranking(panel, [OFFICER_UNIT, "FOOT-2", "CAR-3"])
    panel.locator(f'button[data-assign-unit="{OFFICER_UNIT}"]').click()
    expect(panel.locator(f'li[data-unit-id="{OFFICER_UNIT}"]')).to_have_attribute(
        "data-status", "assigned", timeout=LIVE_MS
    )

    # Nobody acknowledges: after 5 s the alarm comes, sound offered (not yet enabled).
    item = alarm.locator("li[data-assignment-id]")
    expect(item).to_have_count(1, timeout=LIVE_MS)
    expect(alarm).to_be_visible()
    expect(item).to_contain_text(f"หน่วย {OFFICER_UNIT} ยังไม่รับทราบ")
    expect(item).to_contain_text(f"#{incident_id}")
    expect(alarm).to_have_attribute("data-sound", "off")
    expect(dashboard.locator("body")).to_have_class(re.compile(r"\bdispatch-alarming\b"))
    expect(panel.locator(f'li[data-unit-id="{OFFICER_UNIT}"].overdue')).to_be_visible()
    assert dashboard.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    dashboard.locator("#dispatch-alarm-unmute").click()
    expect(alarm).to_have_attribute("data-sound", "playing")
    # The SOS banner stays idle: it is not an SOS.
    expect(dashboard.locator("#sos-alarm")).to_be_hidden()
    screenshot(dashboard, "dispatch-alarm-phone.png")

    # It stays: a reload shows it again.
    dashboard.reload()
    expect(alarm.locator("li[data-assignment-id]")).to_have_count(1, timeout=LIVE_MS)

    # Reassign: the silent unit is stood down, the incident opens with the units ranked
    # again (the silent one marked), and another unit is sent.
    alarm.locator("button[data-overdue-reassign]").click()
    expect(alarm).to_be_hidden(timeout=LIVE_MS)
    panel = dashboard.locator(f'#detail .dispatch-panel[data-dispatch-incident="{incident_id}"]')
    expect(panel.locator(f'li[data-unit-id="{OFFICER_UNIT}"]')).to_have_attribute(
        "data-status", "cancelled", timeout=LIVE_MS
    )
    expect_ranking(panel, [OFFICER_UNIT, "FOOT-2", "CAR-3"])
    expect(panel.locator(f'li[data-suggest-unit-id="{OFFICER_UNIT}"] .chip.warn')).to_be_visible()
    panel.locator('button[data-assign-unit="FOOT-2"]').click()
    expect(panel.locator('li[data-unit-id="FOOT-2"]')).to_have_attribute(
        "data-status", "assigned", timeout=LIVE_MS
    )

    # FOOT-2 does not answer either; this time the operator dismisses the alarm, and it
    # stays dismissed after a reload.
    item = alarm.locator('li[data-unit-id="FOOT-2"]')
    expect(item).to_be_visible(timeout=LIVE_MS)
    item.locator("button[data-overdue-dismiss]").click()
    expect(alarm).to_be_hidden()
    dashboard.reload()
    expect(dashboard.locator("#dispatch-list li[data-status=assigned]")).to_have_count(
        1, timeout=LIVE_MS
    )
    expect(alarm).to_be_hidden()

    rows = api_get(
        base, token_for("operator"), f"/api/v1/dispatch/assignments?incident_id={incident_id}"
    )
    assert [(r["unit_id"], r["status"], r["ack_overdue_at"] is not None) for r in rows] == [
        ("FOOT-2", "assigned", True),
        (OFFICER_UNIT, "cancelled", True),
    ]
    assert errors == []


def test_the_officer_app_lists_approved_house_watches(
    live_server: LiveServer, browser: Any, token_for: Callable[[str], str]
) -> None:
    base = live_server.url
    today = datetime.now(ZoneInfo("Asia/Bangkok")).date()
    citizen = token_for("citizen")

    def ask(address: str, dlat: float, starts: int, days: int) -> int:
        created = api_post(base, citizen, "/api/v1/housewatch/requests", {
            "address": address, "lat": INSIDE[0] + dlat, "lon": INSIDE[1],
            "starts_on": (today + timedelta(days=starts)).isoformat(),
            "ends_on": (today + timedelta(days=starts + days)).isoformat(),
            "contact": {"kind": "app", "value": ""}, "note": "มีสุนัขในบ้าน",
        })  # fmt: skip
        return int(created["id"])

    far = ask("99 ถนนสำราญชายโขง", 0.01, 0, 3)
    near = ask("12 ถนนพิทักษ์พนมเขต", 0.001, 0, 2)
    pending = ask("5 ถนนเพชรกุดหัวช้าง", 0.0015, 0, 1)  # not approved: not a task
    for request_id in (far, near):
        api_post(
            base, token_for("operator"), f"/api/v1/housewatch/requests/{request_id}/approve", {}
        )

    context = browser.new_context(
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        geolocation={"latitude": INSIDE[0], "longitude": INSIDE[1], "accuracy": 5},
        permissions=["geolocation"],
    )
    page = context.new_page()
    errors = watch_errors(page)
    sign_in(page, base, "officer", page_path="/officer")
    tasks = page.locator("#housewatch-list li[data-watch-id]")
    expect(tasks).to_have_count(2, timeout=LIVE_MS)
    expect(page.locator("#housewatch-count")).to_have_text("2")
    expect(page.locator("#housewatch-empty")).to_be_hidden()
    # With a GPS fix (on shift), the nearest house comes first.
    page.click("#shift-start")
    expect(page.locator("#gps-state")).to_have_attribute("data-state", "fix", timeout=LIVE_MS)
    expect(tasks.first).to_have_attribute("data-watch-id", str(near))
    expect(tasks.nth(1)).to_have_attribute("data-watch-id", str(far))
    first = tasks.first
    expect(first).to_have_attribute("data-checkpoint-id", f"HW-{near}")
    expect(first).to_contain_text("12 ถนนพิทักษ์พนมเขต")
    expect(first).to_contain_text(f"HW-{near}")
    expect(first).to_contain_text("สแกน QR ที่บ้าน")
    expect(first).to_contain_text("มีสุนัขในบ้าน")
    expect(first).to_contain_text("ห่าง 111 ม.")
    expect(first.locator("a[href^='geo:']")).to_have_count(1)
    listed = {tasks.nth(i).get_attribute("data-watch-id") for i in range(2)}
    assert str(pending) not in listed
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.click(".lang-toggle [data-lang=en]")
    expect(first).to_contain_text("Scan the QR code at the house")
    expect(first).to_contain_text("111 m away")
    first.scroll_into_view_if_needed()
    screenshot(page, "officer-housewatch.png")
    assert errors == []
