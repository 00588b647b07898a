"""Browser test of public alerts: an operator issues, updates and cancels an alert for
ZONE-MARKET on the dashboard; citizens whose phone is inside the zone see it in the PWA
(in their language), a phone outside does not."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import INSIDE, OUTSIDE, LiveServer
from tests.e2e.support import (
    DESKTOP,
    LIVE_MS,
    PHONE,
    expect,
    sign_in,
    skip_without_browser,
    watch_errors,
)

skip_without_browser()

pytestmark = pytest.mark.e2e

HEADLINE_TH = "ระวังคนร้ายฉกชิงทรัพย์ในตลาดอินโดจีน"
HEADLINE_EN = "Snatch thieves in the Indochina Market"
UPDATED_TH = "จับกุมคนร้ายได้แล้ว โปรดระวังต่อไป"


def phone(browser: Any, where: tuple[float, float]) -> Any:
    return browser.new_context(
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        geolocation={"latitude": where[0], "longitude": where[1], "accuracy": 20},
        permissions=["geolocation"],
    )


def poll_now(page: Any) -> None:
    """What happens when the person comes back to the app: it asks for alerts at once."""
    page.evaluate("window.dispatchEvent(new Event('focus'))")


def test_operator_issues_an_alert_that_citizens_in_the_zone_see(
    live_server: LiveServer, browser: Any, token_for: Callable[[str], str]
) -> None:
    base = live_server.url
    inside = phone(browser, INSIDE)
    app = inside.new_page()
    app_errors = watch_errors(app)
    app.goto(f"{base}/app")
    expect(app.locator("#sz-citizen")).to_have_attribute("data-alert-poll-s", "30")
    expect(app.locator("#alerts-section")).to_be_hidden()
    outside = phone(browser, OUTSIDE)
    far = outside.new_page()
    far.goto(f"{base}/app")

    operator = browser.new_context(viewport=DESKTOP)
    dashboard = operator.new_page()
    dashboard_errors = watch_errors(dashboard)
    sign_in(dashboard, base, "operator")
    expect(dashboard.locator("#conn")).to_have_attribute("data-state", "live", timeout=LIVE_MS)
    dashboard.locator("#tab-alerts").click()
    expect(dashboard.locator("#alert-empty")).to_be_visible()
    dashboard.locator("#alert-new").click()
    form = dashboard.locator("form.alert-form")
    # The station's only zone is chosen already; the Thai texts are required.
    expect(form.locator('input[name=zone_ids][value="ZONE-MARKET"]')).to_be_checked()
    form.locator("button[type=submit]").click()
    expect(form.locator(".field-error").first).to_be_visible()
    form.locator("input[name=headline_th]").fill(HEADLINE_TH)
    form.locator("input[name=headline_en]").fill(HEADLINE_EN)
    form.locator("textarea[name=description_th]").fill("มีรายงานคนร้ายขี่รถจักรยานยนต์ฉกกระเป๋า")
    form.locator("textarea[name=instruction_th]").fill("ถือกระเป๋าไว้ด้านในทางเท้า")
    form.locator("select[name=severity]").select_option("Moderate")
    form.locator("select[name=expires_in]").select_option("4")
    form.locator("button[type=submit]").click()
    expect(dashboard.locator("form.alert-form")).to_have_count(0, timeout=LIVE_MS)
    item = dashboard.locator("#alert-list li[data-alert-id]")
    expect(item).to_have_count(1)
    expect(item).to_contain_text(HEADLINE_TH)
    expect(item).to_contain_text("ตลาดอินโดจีน")
    alert_id = item.get_attribute("data-alert-id")
    expect(item.locator("a.cap-link")).to_have_attribute(
        "href", re.compile(rf"/api/v1/alerts/{alert_id}\.cap$")
    )
    expect(dashboard.locator("#alert-count")).to_have_text("1")
    cap = httpx.get(f"{base}/api/v1/alerts/{alert_id}.cap", timeout=10)
    assert cap.status_code == 200 and HEADLINE_TH in cap.text

    # The phone in the zone sees it when it next asks; the one outside does not.
    poll_now(app)
    alerts = app.locator("#alerts-list li")
    expect(alerts).to_have_count(1, timeout=LIVE_MS)
    expect(alerts).to_contain_text(HEADLINE_TH)
    expect(alerts).to_contain_text("ถือกระเป๋าไว้ด้านในทางเท้า")
    expect(alerts.locator(".badge")).to_have_text("ปานกลาง")
    expect(alerts).to_have_class(re.compile(r"\bsev-Moderate\b"))
    poll_now(far)
    far.wait_for_load_state("networkidle")
    expect(far.locator("#alerts-section")).to_be_hidden()
    # English, with the Thai text where no English was written.
    app.click('.lang-toggle [data-lang="en"]')
    expect(alerts).to_contain_text(HEADLINE_EN)
    expect(alerts).to_contain_text("มีรายงานคนร้าย")
    expect(alerts.locator(".badge")).to_have_text("Moderate")
    app.click('.lang-toggle [data-lang="th"]')

    # An update replaces it everywhere.
    item.locator("[data-alert-update]").click()
    update = item.locator("form.alert-form")
    expect(update.locator("input[name=headline_th]")).to_have_value(HEADLINE_TH)
    update.locator("input[name=headline_th]").fill(UPDATED_TH)
    update.locator("button[type=submit]").click()
    expect(dashboard.locator("#alert-list li[data-alert-id]")).to_contain_text(
        UPDATED_TH, timeout=LIVE_MS
    )
    poll_now(app)
    expect(alerts).to_contain_text(UPDATED_TH, timeout=LIVE_MS)
    expect(alerts).to_have_count(1)

    # Cancelled: gone from the phone.
    current = dashboard.locator("#alert-list li[data-alert-id]")
    current.locator("[data-alert-cancel]").click()
    current.locator("form.alert-cancel textarea[name=note]").fill("คลี่คลายแล้ว")
    current.locator("form.alert-cancel button[type=submit]").click()
    expect(dashboard.locator("#alert-list li[data-alert-id]")).to_have_count(0, timeout=LIVE_MS)
    expect(dashboard.locator("#alert-empty")).to_be_visible()
    poll_now(app)
    expect(app.locator("#alerts-section")).to_be_hidden(timeout=LIVE_MS)

    assert not dashboard_errors, dashboard_errors
    assert not app_errors, app_errors
    inside.close()
    outside.close()
    operator.close()
