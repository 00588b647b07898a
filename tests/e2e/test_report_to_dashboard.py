"""Browser test: a citizen's report reaches an operator's already-open dashboard live,
and the operator turns it into an incident.

Drives Debian's Chromium (/usr/bin/chromium) with Playwright against the real app served
by uvicorn on 127.0.0.1. Skipped when that Chromium is not installed. With
SAFEZONE_SCREENSHOTS=1 it also writes docs/screenshots/{dashboard,citizen-app}.png.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import INSIDE, LiveServer
from tests.e2e.support import (
    DESKTOP,
    LIVE_MS,
    PHONE,
    api_post,
    expect,
    png_bytes,
    screenshot,
    seed_scene,
    sign_in,
    skip_without_browser,
    watch_errors,
)

skip_without_browser()

pytestmark = pytest.mark.e2e

TH_HIGH = "สูง"
TH_ACKNOWLEDGED = "รับเรื่องแล้ว"


def live(page: Any) -> None:
    expect(page.locator("#conn")).to_have_attribute("data-state", "live", timeout=LIVE_MS)


def test_citizen_report_reaches_the_open_dashboard_and_becomes_an_incident(
    live_server: LiveServer, browser: Any, token_for: Callable[[str], str]
) -> None:
    base = live_server.url
    seed_scene(base, token_for)
    operator = browser.new_context(viewport=DESKTOP)
    dashboard = operator.new_page()
    dashboard_errors = watch_errors(dashboard)
    sign_in(dashboard, base, "operator")
    live(dashboard)
    # With no tile server the map still draws zones and markers on a plain background.
    expect(dashboard.locator("#map path.sz-zone")).to_have_count(1)
    expect(dashboard.locator("#tile-note")).to_be_visible()
    expect(dashboard.locator("#map .sz-camera-marker")).to_have_count(2)
    expect(dashboard.locator('#map .sz-sos-marker[data-sos-box-id="SOS-T-1"]')).to_be_visible()
    expect(dashboard.locator("#map .sz-checkpoint-marker")).to_have_count(1)
    expect(dashboard.locator("#incident-list li")).to_have_count(2)
    expect(dashboard.locator("#map .sz-incident-marker")).to_have_count(2)
    expect(dashboard.locator("#report-list li")).to_have_count(0)
    # Marks this page load: a reload would clear it.
    dashboard.evaluate("window.__szSamePage = true")

    citizen = browser.new_context(
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        geolocation={"latitude": INSIDE[0], "longitude": INSIDE[1], "accuracy": 12},
        permissions=["geolocation"],
    )
    app = citizen.new_page()
    app_errors = watch_errors(app)
    app.goto(f"{base}/app")
    expect(app.locator("html")).to_have_attribute("lang", "th")
    expect(app.locator('.topbar a[href="tel:191"]')).to_be_visible()
    expect(app.locator("#citizen-map path.sz-zone")).to_have_count(1)
    app.select_option("#report-category", "suspicious")
    app.fill("#report-description", "ชายสวมหมวกดำเดินดูรถจักรยานยนต์หลายคันหน้าตลาด")
    app.click("#locate-btn")
    expect(app.locator("#report-lat")).to_have_value(f"{INSIDE[0]:.6f}")
    expect(app.locator("#report-lon")).to_have_value(f"{INSIDE[1]:.6f}")
    expect(app.locator("#report-accuracy")).to_have_value("12")
    app.set_input_files(
        "#report-photos",
        files=[{"name": "scene.png", "mimeType": "image/png", "buffer": png_bytes()}],
    )
    screenshot(app, "citizen-app.png")
    app.click("#report-form button[type=submit]")

    code_box = app.locator("#done-code")
    expect(code_box).to_have_text(re.compile(r"^SZ-[0-9A-Z]{5}-[0-9A-Z]{5}$"))
    code = code_box.inner_text()
    expect(app.locator("#done-track")).to_have_attribute("href", f"/app/track/{code}")
    expect(app.locator("#done-photos li.ok")).to_be_visible()
    assert app.evaluate("JSON.parse(localStorage.getItem('sz_codes'))[0].code") == code

    # The operator's page shows the report in the queue and on the map, without reload.
    item = dashboard.locator("#report-list li", has_text=code)
    expect(item).to_be_visible(timeout=LIVE_MS)
    report_id = item.get_attribute("data-report-id")
    assert report_id and report_id.isdigit()
    expect(dashboard.locator(f'.sz-report-marker[data-report-id="{report_id}"]')).to_be_visible(
        timeout=LIVE_MS
    )
    expect(item.locator("img.thumb")).to_have_count(1, timeout=LIVE_MS)
    expect(dashboard.locator("#report-count")).to_have_text("1")
    assert dashboard.evaluate("window.__szSamePage === true")
    screenshot(dashboard, "dashboard.png")

    # Triage: create an incident with high priority and a message for the citizen.
    item.locator('button[data-triage="create"]').click()
    item.locator("select[name=priority]").select_option("high")
    item.locator("textarea[name=public_message]").fill("เจ้าหน้าที่กำลังไปตรวจสอบ")
    item.locator("form.triage button[type=submit]").click()
    expect(dashboard.locator(f'#report-list [data-report-id="{report_id}"]')).to_have_count(
        0, timeout=LIVE_MS
    )
    expect(dashboard.locator(f'.sz-report-marker[data-report-id="{report_id}"]')).to_have_count(0)
    linked = dashboard.request.get(f"{base}/api/v1/reports/{report_id}").json()
    incident_id = linked["incident_id"]
    assert isinstance(incident_id, int)

    row = dashboard.locator(f'#incident-list [data-incident-id="{incident_id}"]')
    expect(row).to_be_visible(timeout=LIVE_MS)
    expect(row).to_contain_text(TH_HIGH)
    marker = dashboard.locator(f'.sz-incident-marker[data-incident-id="{incident_id}"]')
    expect(marker).to_be_visible(timeout=LIVE_MS)
    expect(marker).to_have_class(re.compile(r"\bprio-high\b.*\bstatus-new\b"))
    expect(dashboard.locator("#detail")).to_contain_text(f"#{incident_id}")
    expect(dashboard.locator("#detail")).to_contain_text(code)
    # Only the camera facing the spot is offered.
    expect(dashboard.locator("#detail")).to_contain_text("CAM-T-1")
    expect(dashboard.locator("#detail")).not_to_contain_text("CAM-T-2")

    # Acknowledge it from the detail panel; list and marker follow.
    dashboard.locator('#detail button[data-status="acknowledged"]').click()
    expect(row.locator(".chip")).to_have_text(TH_ACKNOWLEDGED, timeout=LIVE_MS)
    expect(marker).to_have_class(re.compile(r"\bstatus-acknowledged\b"))
    expect(dashboard.locator('#detail button[data-status="dispatched"]')).to_be_visible()

    # The citizen sees the public message and the police action on the tracking page.
    app.goto(f"{base}/app/track/{code}")
    expect(app.locator("#track-updates")).to_contain_text("เจ้าหน้าที่กำลังไปตรวจสอบ")
    expect(app.locator("#track-incident")).to_contain_text(TH_ACKNOWLEDGED)
    expect(app.locator("#track-photos")).to_have_text("1")
    app.click('.lang-toggle [data-lang="en"]')
    expect(app.locator("html")).to_have_attribute("lang", "en")
    expect(app.locator("#track-incident")).to_contain_text("Acknowledged")
    assert any(c["name"] == "sz_lang" and c["value"] == "en" for c in citizen.cookies())

    assert dashboard.evaluate("window.__szSamePage === true")
    assert not dashboard_errors, dashboard_errors
    assert not app_errors, app_errors
    citizen.close()
    operator.close()


def test_incidents_from_elsewhere_appear_and_change_live(
    live_server: LiveServer, browser: Any, token_for: Callable[[str], str]
) -> None:
    """Another operator's API calls reach this dashboard over the event stream."""
    base = live_server.url
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    errors = watch_errors(page)
    sign_in(page, base, "operator")
    live(page)
    page.evaluate("window.__szSamePage = true")

    # A registry change (a new SOS box) shows up on the map.
    api_post(base, token_for("admin"), "/api/v1/sos-boxes", {
        "id": "SOS-LIVE", "lat": INSIDE[0], "lon": INSIDE[1] + 0.001,
    })  # fmt: skip
    expect(page.locator('.sz-sos-marker[data-sos-box-id="SOS-LIVE"]')).to_be_visible(
        timeout=LIVE_MS
    )

    headers = {"Authorization": f"Bearer {token_for('commander')}"}
    created = httpx.post(
        f"{base}/api/v1/incidents",
        headers=headers,
        json={
            "category": "fire",
            "priority": "critical",
            "title": "ไฟไหม้แผงลอย",
            "description": "ควันขึ้นจากแผงลอยท้ายตลาด",
            "lat": INSIDE[0] + 0.001,
            "lon": INSIDE[1],
        },
    )
    assert created.status_code == 201, created.text
    incident_id = created.json()["id"]

    row = page.locator(f'#incident-list [data-incident-id="{incident_id}"]')
    expect(row).to_be_visible(timeout=LIVE_MS)
    expect(row).to_contain_text("ไฟไหม้แผงลอย")
    marker = page.locator(f'.sz-incident-marker[data-incident-id="{incident_id}"]')
    expect(marker).to_have_class(re.compile(r"\bprio-critical\b"), timeout=LIVE_MS)
    # newest first
    expect(page.locator("#incident-list li").first).to_have_attribute(
        "data-incident-id", str(incident_id)
    )

    moved = httpx.post(
        f"{base}/api/v1/incidents/{incident_id}/transitions",
        headers=headers,
        json={"status": "acknowledged", "note": ""},
    )
    assert moved.status_code == 200, moved.text
    expect(row.locator(".chip")).to_have_text(TH_ACKNOWLEDGED, timeout=LIVE_MS)
    expect(marker).to_have_class(re.compile(r"\bstatus-acknowledged\b"), timeout=LIVE_MS)

    # Language switch in place: the list re-renders, nothing is reloaded.
    expect(page).to_have_title("ศูนย์สั่งการ · SafeZone")
    page.click('.lang-toggle [data-lang="en"]')
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page).to_have_title("Command centre · SafeZone")
    expect(row.locator(".chip")).to_have_text("Acknowledged")
    expect(page.locator(".leaflet-control-layers")).to_contain_text("CCTV cameras")
    assert page.evaluate("window.__szSamePage === true")
    assert not errors, errors
    context.close()


def test_sign_in_shows_the_api_error(live_server: LiveServer, browser: Any) -> None:
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.goto(f"{live_server.url}/login")
    page.fill("#login-username", "operator")
    page.fill("#login-password", "not-the-password")
    page.click("#login-form button[type=submit]")
    expect(page.locator("#login-form .form-error")).to_have_text("Wrong username or password.")
    expect(page).to_have_url(f"{live_server.url}/login")
    context.close()
