"""Browser tests: the commander's patrol map colours checkpoints by what the shift's
check-ins achieved; a citizen asks for house-watch in the app and follows it."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import INSIDE, PASSWORD, LiveServer
from tests.e2e.support import (
    DESKTOP,
    LIVE_MS,
    PHONE,
    api_post,
    expect,
    skip_without_browser,
    watch_errors,
)
from tests.patrol.test_plans_api import DAY, add_checkin, plan_body

skip_without_browser()

pytestmark = pytest.mark.e2e


def log_in(page: Any, base: str, username: str, path: str) -> None:
    page.goto(base + "/login?next=" + path)
    page.fill("#login-username", username)
    page.fill("#login-password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(re.compile(re.escape(base + path) + "$"))


def test_commander_map_shows_visited_and_missed_checkpoints(
    live_server: LiveServer, browser: Any, db: Any, token_for: Callable[[str], str]
) -> None:
    base = live_server.url
    admin = token_for("admin")
    api_post(
        base, admin, "/api/v1/checkpoints", {"id": "CP-MARKET", "lat": INSIDE[0], "lon": INSIDE[1]}
    )
    api_post(
        base,
        admin,
        "/api/v1/checkpoints",
        {"id": "CP-PIER", "lat": INSIDE[0] + 0.002, "lon": INSIDE[1]},
    )
    plan = api_post(base, token_for("commander"), "/api/v1/patrol/plans", plan_body())
    for hours, status in (
        (0.5, "accepted"),
        (2.5, "flagged"),
        (7.0, "accepted"),
        (7.5, "accepted"),
    ):
        add_checkin(db, checkpoint="CP-MARKET", hours=hours, status=status)

    page = browser.new_context(viewport=DESKTOP).new_page()
    errors = watch_errors(page)
    log_in(page, base, "commander", "/command/patrol")
    expect(page.locator("#plan-select option")).to_have_count(1, timeout=LIVE_MS)
    page.fill("#plan-date", DAY)
    page.dispatch_event("#plan-date", "change")
    market = page.locator('#plan-map .sz-marker[data-checkpoint="CP-MARKET"]')
    expect(market).to_have_attribute("data-state", "late", timeout=LIVE_MS)
    expect(page.locator('#plan-map .sz-marker[data-checkpoint="CP-PIER"]')).to_have_attribute(
        "data-state", "missed"
    )
    expect(page.locator('#plan-totals [data-total="missed"]')).to_contain_text("1")
    expect(page.locator('#plan-totals [data-total="on_time"]')).to_contain_text("3")
    expect(page.locator('#plan-table tr[data-checkpoint="CP-PIER"]')).to_contain_text("ไม่ได้ตรวจ")
    expect(page.locator("#plan-officers tbody tr")).to_contain_text("officer")
    href = page.get_attribute("#plan-csv", "href")
    assert href == f"/api/v1/patrol/plans/{plan['id']}/compliance.csv?date={DAY}"
    csv = page.request.get(base + href)
    assert csv.status == 200 and "CP-PIER" in csv.text()
    assert errors == []


def test_citizen_asks_for_house_watch_and_sees_the_decision(
    live_server: LiveServer, browser: Any, token_for: Callable[[str], str]
) -> None:
    base = live_server.url
    page = browser.new_context(viewport=PHONE).new_page()
    errors = watch_errors(page)
    page.on("dialog", lambda dialog: dialog.accept())
    log_in(page, base, "citizen", "/app")
    form = page.locator("#hw-form")
    form.locator("[name=address]").fill("99/1 ถนนสำราญชายโขง")
    form.locator("[name=lat]").fill(str(INSIDE[0]))
    form.locator("[name=lon]").fill(str(INSIDE[1]))
    form.locator("[name=contact]").select_option("phone")
    # A bad phone number comes back from the API next to its field.
    form.locator("[name=contact_value]").fill("call me")
    form.locator("button[type=submit]").click()
    expect(form.locator(".field:has([name=contact_value]) .field-error")).to_be_visible(
        timeout=LIVE_MS
    )
    form.locator("[name=contact_value]").fill("0812345678")
    form.locator("button[type=submit]").click()
    item = page.locator("#hw-list li.hw-item").first
    expect(item).to_have_attribute("data-status", "pending", timeout=LIVE_MS)
    request_id = item.get_attribute("data-request")
    api_post(base, token_for("operator"), f"/api/v1/housewatch/requests/{request_id}/approve", {})
    page.reload()
    expect(item).to_have_attribute("data-status", "approved", timeout=LIVE_MS)
    expect(item.locator("a[href$='/qr.svg']")).to_be_visible()
    item.locator("button", has_text="ดูการตรวจ").click()
    expect(item.locator('[data-notice="approved"]')).to_contain_text("รับฝากบ้านแล้ว", timeout=LIVE_MS)
    qr = page.request.get(f"{base}/api/v1/housewatch/requests/{request_id}/qr.svg")
    assert qr.status == 200 and "<svg" in qr.text()
    item.locator("button", has_text="ยกเลิก").click()
    expect(item).to_have_attribute("data-status", "cancelled", timeout=LIVE_MS)
    assert errors == []


def test_operator_approves_a_request_onto_the_plans_at_the_desk(
    live_server: LiveServer, browser: Any, token_for: Callable[[str], str]
) -> None:
    base = live_server.url
    api_post(
        base,
        token_for("admin"),
        "/api/v1/checkpoints",
        {"id": "CP-MARKET", "lat": INSIDE[0], "lon": INSIDE[1]},
    )
    plan = api_post(
        base,
        token_for("commander"),
        "/api/v1/patrol/plans",
        plan_body(checkpoints=[{"checkpoint_id": "CP-MARKET"}]),
    )
    today = datetime.now(ZoneInfo("Asia/Bangkok")).date()
    request = api_post(base, token_for("citizen"), "/api/v1/housewatch/requests", {
        "address": "12 ถนนพิทักษ์พนมเขต", "lat": INSIDE[0] + 0.001, "lon": INSIDE[1],
        "starts_on": today.isoformat(), "ends_on": (today + timedelta(days=1)).isoformat(),
        "contact": {"kind": "app", "value": ""},
    })  # fmt: skip

    page = browser.new_context(viewport=DESKTOP).new_page()
    errors = watch_errors(page)
    log_in(page, base, "operator", "/housewatch")
    row = page.locator(f'#hwdesk-table tr[data-request="{request["id"]}"]')
    expect(row).to_have_attribute("data-status", "pending", timeout=LIVE_MS)
    expect(page.locator(f'#hwdesk-map .sz-marker[data-request="{request["id"]}"]')).to_be_visible()
    row.locator("button").click()
    form = page.locator("#hwdesk-approve")
    expect(form.locator("input[name=plan]")).to_have_count(1)
    # Declining needs a reason: the API's error shows next to the note.
    form.locator('[data-action="decline"]').click()
    expect(form.locator(".field:has([name=note]) .field-error")).to_be_visible(timeout=LIVE_MS)
    form.locator("[name=target_visits]").fill("2")
    form.locator('[data-action="approve"]').click()
    expect(form).to_be_hidden(timeout=LIVE_MS)
    detail = page.request.get(f"{base}/api/v1/housewatch/requests/{request['id']}").json()
    assert detail["status"] == "approved" and detail["target_visits"] == 2
    stops = page.request.get(f"{base}/api/v1/patrol/plans/{plan['id']}").json()["checkpoints"]
    assert [s["checkpoint_id"] for s in stops] == ["CP-MARKET", f"HW-{request['id']}"]
    page.select_option("#hwdesk-status", "approved")
    expect(row).to_have_attribute("data-status", "approved", timeout=LIVE_MS)
    assert errors == []
