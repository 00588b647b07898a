"""Browser test: the commander page draws its charts and the proposed plan, and the
dashboard shows the hotspot layer with its legend (desktop and phone)."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.commander.test_commander import COOL, HOT, add_checkpoint, past
from tests.conftest import LiveServer
from tests.e2e.support import (
    DESKTOP,
    LIVE_MS,
    PHONE,
    expect,
    screenshot,
    sign_in,
    skip_without_browser,
    watch_errors,
)

skip_without_browser()

pytestmark = pytest.mark.e2e


def seed(db: Any) -> None:
    """Two clusters in the zone (most incidents at HOT), a checkpoint at each; one SOS."""
    add_checkpoint(db, "CP-HOT", HOT[0], HOT[1])
    add_checkpoint(db, "CP-COOL", COOL[0], COOL[1])
    rng = random.Random(3)
    now = datetime.now(UTC)
    for i in range(60):
        centre = HOT if i % 4 else COOL
        where = (centre[0] + rng.gauss(0, 0.0006), centre[1] + rng.gauss(0, 0.0006))
        past(
            db,
            now - timedelta(days=1 + i % 14, hours=rng.random() * 20),
            where,
            category=rng.choice(["theft", "assault", "burglary"]),
            priority="high",
            steps={"acknowledged": timedelta(minutes=2), "resolved": timedelta(minutes=30)},
        )
    past(
        db,
        now - timedelta(days=2),
        HOT,
        category="sos",
        priority="critical",
        source="sos",
        steps={"acknowledged": timedelta(minutes=1), "resolved": timedelta(minutes=20)},
    )


def test_commander_page_and_dashboard_hotspots(
    live_server: LiveServer, browser: Any, db: Any
) -> None:
    seed(db)
    base = live_server.url
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    errors = watch_errors(page)
    sign_in(page, base, "commander", page_path="/commander")
    for name in ("incidents", "response", "sos", "checkins"):
        expect(page.locator(f'svg.sz-chart[data-chart="{name}"]')).to_be_visible(timeout=LIVE_MS)
    expect(page.locator('svg[data-chart="incidents"] rect.sz-bar').first).to_be_visible()
    assert page.locator('svg[data-chart="incidents"] rect.sz-bar').count() >= 14
    expect(page.locator('svg[data-chart="response"] rect.sz-bar').first).to_be_visible()
    expect(page.locator('#chart-response tr[data-priority="high"]')).to_contain_text("2")
    expect(page.locator('#rec-stops tr[data-checkpoint-id="CP-HOT"]')).to_be_visible(
        timeout=LIVE_MS
    )
    # Accepting the proposal makes it a patrol plan, linked to the compliance map.
    page.click("#rec-accept")
    expect(page.locator("#rec-accepted a[href^='/command/patrol?plan=']")).to_be_visible(
        timeout=LIVE_MS
    )
    expect(page.locator("#rec-accept")).to_be_hidden()
    link = page.locator("#rec-accepted a")
    plan_id = link.get_attribute("href").rsplit("=", 1)[1]
    link.click()
    expect(page.locator("#plan-select")).to_have_value(plan_id, timeout=LIVE_MS)
    page.goto(f"{base}/commander")
    # The commander page opens on the forecast layer.
    control = page.locator(".sz-hotspot-control")
    expect(control).to_have_attribute("data-layer", "forecast")
    expect(control).to_have_attribute("data-state", "ready", timeout=LIVE_MS)
    expect(page.locator("#cmd-map path.sz-hotspot-cell").first).to_be_attached()
    screenshot(page, "commander.png")

    # The same page on a phone: the charts fit the screen.
    phone = browser.new_context(viewport=PHONE, storage_state=context.storage_state())
    small = phone.new_page()
    small.goto(f"{base}/commander")
    chart = small.locator('svg[data-chart="incidents"]')
    expect(chart).to_be_visible(timeout=LIVE_MS)
    box = chart.bounding_box()
    assert box is not None and box["width"] <= PHONE["width"]
    # Nothing makes the page scroll sideways.
    assert small.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(small, "commander-phone.png")
    phone.close()

    # The daily brief page: its map image loads (a data: URL the page's CSP allows).
    page.click("a[href='/commander/brief']")
    image = page.locator("#brief-map")
    expect(image).to_be_visible(timeout=LIVE_MS)
    assert page.evaluate("document.getElementById('brief-map').naturalWidth") > 100
    expect(page.locator("#brief-pdf")).to_have_attribute("href", re.compile(r"brief\.pdf\?date="))

    # Dashboard: switch the hotspot layer to Gi* and to counts, with a legend each time.
    page.goto(f"{base}/dashboard")
    control = page.locator(".sz-hotspot-control")
    expect(control).to_be_visible(timeout=LIVE_MS)
    expect(page.locator("path.sz-hotspot-cell")).to_have_count(0)
    control.locator('input[value="counts"]').check()
    expect(control).to_have_attribute("data-state", "ready", timeout=LIVE_MS)
    expect(page.locator("#map path.sz-hotspot-cell").first).to_be_attached()
    expect(control.locator(".sz-hotspot-legend li")).to_have_count(5)
    control.locator('input[value="gi"]').check()
    expect(control).to_have_attribute("data-layer", "gi")
    expect(control).to_have_attribute("data-state", "ready", timeout=LIVE_MS)
    expect(control.locator(".sz-hotspot-legend li")).to_have_count(4)
    screenshot(page, "dashboard-hotspots.png")
    control.locator('input[value="off"]').check()
    expect(page.locator("path.sz-hotspot-cell")).to_have_count(0)
    assert not errors, errors
    context.close()
