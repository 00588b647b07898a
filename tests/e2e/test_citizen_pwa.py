"""Browser tests of the citizen PWA: offline app shell, retries that do not duplicate,
and the officer's view of the dashboard (no event stream: it polls)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import INSIDE, LiveServer
from tests.e2e.support import LIVE_MS, PHONE, expect, sign_in, skip_without_browser, watch_errors

skip_without_browser()

pytestmark = pytest.mark.e2e


def fill_report(page: Any, text: str) -> None:
    page.fill("#report-description", text)
    page.fill("#report-lat", str(INSIDE[0]))
    page.fill("#report-lon", str(INSIDE[1]))


def reports_count(base: str, token_for: Callable[[str], str]) -> int:
    response = httpx.get(
        f"{base}/api/v1/reports",
        headers={"Authorization": f"Bearer {token_for('operator')}"},
        timeout=10,
    )
    assert response.status_code == 200
    return len(response.json())


def test_app_shell_opens_offline_and_keeps_the_draft(
    live_server: LiveServer, browser: Any, token_for: Callable[[str], str]
) -> None:
    base = live_server.url
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    errors = watch_errors(page)
    page.goto(f"{base}/app")
    # (page.evaluate, not wait_for_function: the page's CSP forbids eval)
    deadline = time.monotonic() + LIVE_MS / 1000
    while not page.evaluate("navigator.serviceWorker.controller !== null"):
        assert time.monotonic() < deadline, "the service worker never took control"
        page.wait_for_timeout(100)
    scope = page.evaluate("navigator.serviceWorker.ready.then((r) => r.scope)")
    assert scope == f"{base}/app"

    context.set_offline(True)
    page.reload()
    expect(page.locator("#report-form")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "th")
    expect(page.locator('.topbar a[href="tel:191"]')).to_be_visible()
    # Sending while offline says so and keeps what was typed.
    fill_report(page, "ไฟดับทั้งซอย มืดมาก")
    page.click("#report-form button[type=submit]")
    expect(page.locator("#report-form .form-error")).to_contain_text("ไม่ซ้ำ")
    expect(page.locator("#report-description")).to_have_value("ไฟดับทั้งซอย มืดมาก")
    assert reports_count(base, token_for) == 0

    context.set_offline(False)
    page.click("#report-form button[type=submit]")
    expect(page.locator("#done-section")).to_be_visible(timeout=LIVE_MS)
    expect(page.locator("#done-code")).to_have_text(re.compile(r"^SZ-[0-9A-Z]{5}-[0-9A-Z]{5}$"))
    assert reports_count(base, token_for) == 1
    assert not errors, errors
    context.close()


def test_a_retry_after_a_lost_answer_does_not_duplicate_the_report(
    live_server: LiveServer, browser: Any, token_for: Callable[[str], str]
) -> None:
    base = live_server.url
    # Block the service worker so that page.route sees the app's own requests.
    context = browser.new_context(viewport=PHONE, service_workers="block")
    page = context.new_page()
    lost = {"count": 0}

    def lose_first_answer(route: Any) -> None:
        if route.request.method == "POST" and lost["count"] == 0:
            lost["count"] += 1
            route.fetch()  # the server receives and stores the report ...
            route.abort("connectionreset")  # ... but the phone never hears back
        else:
            route.continue_()

    page.route("**/api/v1/reports", lose_first_answer)
    page.goto(f"{base}/app")
    fill_report(page, "มีคนทะเลาะกันหน้าร้านค้า")
    page.click("#report-form button[type=submit]")
    expect(page.locator("#report-form .form-error")).to_be_visible()
    assert reports_count(base, token_for) == 1

    page.click("#report-form button[type=submit]")
    expect(page.locator("#done-section")).to_be_visible(timeout=LIVE_MS)
    assert reports_count(base, token_for) == 1
    context.close()


def test_officer_dashboard_polls_without_the_report_queue(
    live_server: LiveServer, browser: Any
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors = watch_errors(page)
    sign_in(page, live_server.url, "officer")
    expect(page.locator("#conn")).to_have_attribute("data-state", "polling")
    expect(page.locator("#reports-panel")).to_be_hidden()
    expect(page.locator("#map path.sz-zone")).to_have_count(1)
    # Sign out (a CSRF-protected POST) ends the session for the pages too.
    page.click("[data-logout]")
    page.wait_for_url(f"{live_server.url}/login")
    assert not [c for c in context.cookies() if c["name"] == "sz_session"]
    page.goto(f"{live_server.url}/dashboard")
    expect(page).to_have_url(f"{live_server.url}/login?next=%2Fdashboard")
    assert not errors, errors
    context.close()
