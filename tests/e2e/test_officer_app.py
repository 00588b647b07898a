"""Browser tests of the officer app (/officer): a check-in at a checkpoint reaches the
operator's dashboard live, the same code again is refused as a replay, and a scan taken
offline waits in the queue and is sent, with its own scan time, when the phone is back
online. The camera cannot be emulated: the tests type the code (the manual path)."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from safezone.patrol import service as patrol_service
from safezone.zones import service as zones_service
from tests.conftest import INSIDE, LiveServer
from tests.e2e.support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP,
    LIVE_MS,
    api_post,
    expect,
    screenshot,
    sign_in,
    skip_without_browser,
    watch_errors,
)

skip_without_browser()

pytestmark = pytest.mark.e2e

CHECKPOINT = "CP-E2E-1"
DEVICE = "PHONE-E2E-OFFICER"
PHONE_360 = {"width": 360, "height": 740}


def api_get(base: str, token: str, path: str) -> Any:
    response = httpx.get(base + path, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def prepare(base: str, token_for: Callable[[str], str], db: Any) -> str:
    """A checkpoint at INSIDE and the officer's registered phone; returns the printed code."""
    api_post(base, token_for("admin"), "/api/v1/checkpoints", {
        "id": CHECKPOINT, "name": "จุดตรวจหน้าตลาด", "lat": INSIDE[0], "lon": INSIDE[1],
    })  # fmt: skip
    officer_id = api_get(base, token_for("officer"), "/api/v1/auth/me")["user_id"]
    api_post(base, token_for("commander"), "/api/v1/patrol/devices", {
        "officer_user_id": officer_id, "device_id": DEVICE, "label": "e2e",
    })  # fmt: skip
    with db.transaction() as session:
        checkpoint = zones_service.get_asset(
            session, kind=zones_service.KINDS["checkpoint"], station_id="MDH", asset_id=CHECKPOINT
        )
        return patrol_service.printed_code(session, checkpoint=checkpoint, actor="test")


def officer_page(
    browser: Any,
    base: str,
    *,
    permissions: tuple[str, ...] | list[str] = (),
    service_workers: str = "allow",
    viewport: dict[str, int] = PHONE_360,
) -> tuple[Any, Any, list[str]]:
    """A phone (360x740 unless told) standing at the checkpoint, signed in to the officer
    app, with its device id saved and the shift started."""
    phone = viewport["width"] < 600
    context = browser.new_context(
        viewport=viewport,
        is_mobile=phone,
        has_touch=phone,
        geolocation={"latitude": INSIDE[0], "longitude": INSIDE[1], "accuracy": 6},
        permissions=["geolocation", *permissions],
        service_workers=service_workers,
    )
    page = context.new_page()
    errors = watch_errors(page)
    sign_in(page, base, "officer", page_path="/officer")
    expect(page.locator("html")).to_have_attribute("lang", "th")
    expect(page.locator("#shift-state")).to_have_attribute("data-state", "off")
    expect(page.locator("#device-state")).to_have_attribute("data-state", "unset")
    page.fill("#device-id", DEVICE)
    page.click("#device-form button[type=submit]")
    expect(page.locator("#device-state")).to_have_attribute("data-state", "registered")
    page.click("#shift-start")
    expect(page.locator("#shift-state")).to_have_attribute("data-state", "on")
    expect(page.locator("#gps-state")).to_have_attribute("data-state", "fix", timeout=LIVE_MS)
    # Nothing sticks out sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    return context, page, errors


def type_code(page: Any, code: str) -> None:
    if page.locator("#manual-box").get_attribute("open") is None:
        page.click("#manual-box summary")
    page.fill("#manual-code", code)
    page.click("#manual-form button[type=submit]")


def test_checkin_reaches_the_dashboard_live_and_a_replay_is_refused(
    live_server: LiveServer, browser: Any, token_for: Callable[[str], str], db: Any
) -> None:
    base = live_server.url
    code = prepare(base, token_for, db)

    control = browser.new_context(viewport=DESKTOP)
    dashboard = control.new_page()
    dash_errors = watch_errors(dashboard)
    sign_in(dashboard, base, "operator")
    expect(dashboard.locator("#conn")).to_have_attribute("data-state", "live", timeout=LIVE_MS)
    expect(dashboard.locator("#checkin-feed-empty")).to_be_visible()

    context, page, errors = officer_page(browser, base)
    type_code(page, code)
    result = page.locator("#scan-result")
    expect(result).to_have_attribute("data-status", "accepted", timeout=LIVE_MS)
    expect(result).to_contain_text("ผ่าน")
    expect(result).to_contain_text(CHECKPOINT)
    expect(page.locator("#checkin-list li[data-status=accepted]")).to_have_count(1)
    result.scroll_into_view_if_needed()
    screenshot(page, "officer-app.png")

    # Live on the operator's dashboard: the list and a marker where the officer stood.
    feed = dashboard.locator("#checkin-feed li[data-status=accepted]")
    expect(feed).to_have_count(1, timeout=LIVE_MS)
    expect(feed).to_contain_text(CHECKPOINT)
    expect(dashboard.locator(".sz-checkin-marker.verdict-accepted")).to_have_count(1)

    # The same code again is a replay: refused, with the reason in Thai, then English.
    type_code(page, code)
    expect(result).to_have_attribute("data-status", "rejected", timeout=LIVE_MS)
    expect(result.locator("li[data-reason=replay]")).to_contain_text("ถูกใช้ไปแล้ว")
    page.click(".lang-toggle [data-lang=en]")
    expect(result.locator("li[data-reason=replay]")).to_contain_text("already used")
    expect(result).to_contain_text("Rejected")
    rejected = dashboard.locator("#checkin-feed li[data-status=rejected]")
    expect(rejected).to_have_count(1, timeout=LIVE_MS)
    expect(rejected.locator("li[data-reason=replay]")).to_have_count(1)
    expect(dashboard.locator(".sz-checkin-marker")).to_have_count(2)

    rows = api_get(base, token_for("operator"), "/api/v1/patrol/checkins")
    assert [(r["status"], r["reasons"]) for r in rows] == [
        ("rejected", ["replay"]),
        ("accepted", []),
    ]
    assert all(r["device_id"] == DEVICE and r["accuracy_m"] == 6 for r in rows)
    assert not errors, errors
    assert not dash_errors, dash_errors
    context.close()
    control.close()


def test_a_scan_taken_offline_is_sent_with_its_own_time_when_back_online(
    live_server: LiveServer, browser: Any, token_for: Callable[[str], str], db: Any
) -> None:
    base = live_server.url
    code = prepare(base, token_for, db)
    officer_id = api_get(base, token_for("officer"), "/api/v1/auth/me")["user_id"]
    context, page, errors = officer_page(browser, base)
    # The service worker keeps the app shell, so the app reopens offline.
    deadline = time.monotonic() + LIVE_MS / 1000
    while not page.evaluate("navigator.serviceWorker.controller !== null"):
        assert time.monotonic() < deadline, "the service worker never took control"
        page.wait_for_timeout(100)
    assert page.evaluate("navigator.serviceWorker.ready.then((r) => r.scope)") == f"{base}/officer"

    context.set_offline(True)
    expect(page.locator("#net-state")).to_have_attribute("data-state", "offline")
    before = datetime.now(UTC)
    type_code(page, code)
    expect(page.locator("#scan-result")).to_have_attribute("data-status", "queued")
    expect(page.locator("#queue-count")).to_have_text("1")
    assert api_get(base, token_for("officer"), "/api/v1/patrol/checkins") == []

    page.reload()
    expect(page.locator("#shift-state")).to_contain_text("ออฟไลน์")
    expect(page.locator("#queue-list li")).to_have_count(1)
    expect(page.locator("#queue-list")).to_contain_text(CHECKPOINT)
    # A scan another officer left queued on this phone is never sent in this session.
    foreign = {**page.evaluate("JSON.parse(localStorage.getItem('sz_officer_queue'))[0]")}
    assert foreign["owner"] == officer_id and foreign["body"]["qr"] == code
    foreign.update(id="f" * 32, owner=officer_id + 1000)
    page.evaluate(
        "(item) => localStorage.setItem('sz_officer_queue', JSON.stringify("
        "JSON.parse(localStorage.getItem('sz_officer_queue')).concat([item])))",
        foreign,
    )
    page.wait_for_timeout(1500)
    back_online = datetime.now(UTC)
    context.set_offline(False)

    expect(page.locator("#queue-section")).to_be_hidden(timeout=LIVE_MS)
    expect(page.locator("#scan-result")).to_have_attribute("data-status", "accepted")
    expect(page.locator("#checkin-list li[data-status=accepted]")).to_have_count(1)
    rows = api_get(base, token_for("officer"), "/api/v1/patrol/checkins")
    assert len(rows) == 1 and rows[0]["status"] == "accepted", rows
    scanned = datetime.fromisoformat(rows[0]["scanned_at"]).replace(tzinfo=UTC)
    received = datetime.fromisoformat(rows[0]["received_at"]).replace(tzinfo=UTC)
    # Judged by when it was scanned, not when it arrived.
    assert before <= scanned < back_online <= received, (before, scanned, back_online, received)
    left = page.evaluate("JSON.parse(localStorage.getItem('sz_officer_queue'))")
    assert [i["owner"] for i in left] == [officer_id + 1000]
    assert not errors, errors
    context.close()


def qr_video(path: Path, text: str) -> Path:
    """A Y4M clip of a white frame with the QR code of `text`: Chromium's fake camera."""
    import numpy as np
    import segno
    from PIL import Image

    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="png", scale=7, border=4)
    code = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    frame = Image.new("RGB", (640, 480), (235, 235, 235))
    frame.paste(code, ((640 - code.width) // 2, (480 - code.height) // 2))
    y, cb, cr = (np.asarray(c, dtype=np.uint8) for c in frame.convert("YCbCr").split())
    planes = [y, cb[::2, ::2], cr[::2, ::2]]
    with path.open("wb") as out:
        out.write(b"YUV4MPEG2 W640 H480 F10:1 Ip A1:1 C420jpeg\n")
        for _ in range(10):
            out.write(b"FRAME\n")
            for plane in planes:
                out.write(np.ascontiguousarray(plane).tobytes())
    return path


def test_the_camera_reads_the_printed_code(
    live_server: LiveServer, token_for: Callable[[str], str], db: Any, tmp_path: Path
) -> None:
    """Chromium's fake camera shows the poster's QR code; the app decodes it in the page
    (jsQR: headless Chromium on Linux has no BarcodeDetector) and checks in."""
    from playwright.sync_api import sync_playwright

    base = live_server.url
    code = prepare(base, token_for, db)
    video = qr_video(tmp_path / "qr.y4m", code)
    args = [
        *CHROMIUM_ARGS,
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    ]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=args)
        try:
            context, page, errors = officer_page(browser, base, permissions=["camera"])
            page.click("#scan-camera")
            result = page.locator("#scan-result")
            expect(result).to_have_attribute("data-status", "accepted", timeout=LIVE_MS)
            expect(result).to_contain_text(CHECKPOINT)
            # The camera is closed once a code is read.
            expect(page.locator("#scan-view")).to_be_hidden()
            assert page.evaluate("SZ.scanner.running()") is False
            assert not errors, errors
            context.close()
        finally:
            browser.close()
    rows = api_get(base, token_for("officer"), "/api/v1/patrol/checkins")
    assert [r["status"] for r in rows] == ["accepted"]


def test_the_officer_reports_location_and_works_an_assignment_from_the_app(
    live_server: LiveServer, browser: Any, token_for: Callable[[str], str], db: Any
) -> None:
    base = live_server.url
    prepare(base, token_for, db)
    officer_id = api_get(base, token_for("officer"), "/api/v1/auth/me")["user_id"]
    api_post(base, token_for("admin"), "/api/v1/units", {
        "id": "UNIT-E2E-1", "callsign": "มุก 21", "kind": "motorbike", "status": "available",
        "officer_user_id": officer_id,
    })  # fmt: skip
    incident = api_post(base, token_for("commander"), "/api/v1/incidents", {
        "category": "theft", "priority": "high", "title": "กระเป๋าถูกขโมยหน้าตลาด",
        "description": "ผู้เสียหายรออยู่หน้าร้านทอง", "lat": INSIDE[0] + 0.001, "lon": INSIDE[1],
    })  # fmt: skip

    # A desktop browser this time: the app works there too.
    context, page, errors = officer_page(browser, base, viewport=DESKTOP)
    expect(page.locator("#unit-state")).to_contain_text("มุก 21")
    # On shift, the unit's position follows the phone.
    deadline = time.monotonic() + LIVE_MS / 1000
    while True:
        units = api_get(base, token_for("operator"), "/api/v1/units")
        unit = next(u for u in units if u["id"] == "UNIT-E2E-1")
        if unit["lat"] is not None:
            break
        assert time.monotonic() < deadline, "the app never reported the unit's location"
        time.sleep(0.2)
    assert (round(unit["lat"], 6), round(unit["lon"], 6), unit["accuracy_m"]) == (*INSIDE, 6)

    expect(page.locator("#assignment-empty")).to_be_visible()
    assignment = api_post(base, token_for("operator"), "/api/v1/dispatch/assignments", {
        "incident_id": incident["id"], "unit_id": "UNIT-E2E-1",
    })  # fmt: skip
    page.reload()
    item = page.locator(f"#assignment-list li[data-assignment-id='{assignment['id']}']")
    expect(item).to_have_attribute("data-status", "assigned")
    expect(item).to_contain_text("กระเป๋าถูกขโมยหน้าตลาด")
    for step in ("acknowledged", "en_route", "on_scene"):
        item.locator(f"button[data-step={step}]").click()
        expect(item).to_have_attribute("data-status", step)
    expect(item.locator("button[data-step=resolved]")).to_be_visible()
    expect(page.locator("#unit-state")).to_contain_text("ถึงที่เกิดเหตุ")

    path = f"/api/v1/dispatch/assignments/{assignment['id']}"
    recorded = api_get(base, token_for("operator"), path)
    assert recorded["status"] == "on_scene"
    assert recorded["acknowledged_by"] and "officer" in recorded["acknowledged_by"]
    assert recorded["acknowledged_at"] and recorded["en_route_at"] and recorded["on_scene_at"]
    assert not errors, errors
    context.close()


def test_a_lost_answer_is_retried_from_the_queue_and_shown_as_the_first_verdict(
    live_server: LiveServer, browser: Any, token_for: Callable[[str], str], db: Any
) -> None:
    base = live_server.url
    code = prepare(base, token_for, db)
    # Block the service worker so that page.route sees the app's own requests.
    context, page, errors = officer_page(browser, base, service_workers="block")
    lost: list[int] = []

    def lose_the_first_answer(route: Any) -> None:
        if route.request.method == "POST" and not lost:
            response = route.fetch()  # the server judges and stores it...
            lost.append(response.status)
            route.abort("connectionreset")  # ...but the phone never hears back
        else:
            route.continue_()

    page.route("**/api/v1/patrol/checkins", lose_the_first_answer)
    type_code(page, code)
    expect(page.locator("#scan-result")).to_have_attribute("data-status", "queued")
    assert lost == [201]
    expect(page.locator("#queue-count")).to_have_text("1")

    page.click("#queue-sync")
    result = page.locator("#scan-result")
    expect(result).to_have_attribute("data-status", "accepted", timeout=LIVE_MS)
    expect(result.locator("[data-duplicate]")).to_be_visible()
    expect(page.locator("#queue-section")).to_be_hidden()
    rows = api_get(base, token_for("officer"), "/api/v1/patrol/checkins")
    verdicts = [(r["status"], r["reasons"]) for r in rows]
    assert verdicts == [("rejected", ["replay"]), ("accepted", [])]
    assert not errors, errors
    context.close()


def test_a_new_assignment_reaches_the_officer_at_once_without_the_poll(
    live_server: LiveServer, browser: Any, token_for: Callable[[str], str], db: Any
) -> None:
    """The officer's event stream brings a new assignment, and its cancellation, within
    seconds; the page's poll is pushed to an hour so that it cannot be what shows them."""
    base = live_server.url
    prepare(base, token_for, db)
    officer_id = api_get(base, token_for("officer"), "/api/v1/auth/me")["user_id"]
    api_post(base, token_for("admin"), "/api/v1/units", {
        "id": "UNIT-E2E-2", "callsign": "มุก 22", "kind": "motorbike", "status": "available",
        "officer_user_id": officer_id,
    })  # fmt: skip
    incident = api_post(base, token_for("commander"), "/api/v1/incidents", {
        "category": "assault", "priority": "critical", "title": "ทะเลาะวิวาทหน้าตลาด",
        "description": "มีผู้บาดเจ็บ", "lat": INSIDE[0] + 0.001, "lon": INSIDE[1],
    })  # fmt: skip

    # The worker is blocked so that page.route sees the page itself.
    context, page, errors = officer_page(browser, base, service_workers="block")

    def slow_poll(route: Any) -> None:
        response = route.fetch()
        body = response.text().replace('data-poll-s="20"', 'data-poll-s="3600"')
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
        route.fulfill(response=response, body=body, headers=headers)

    page.route(base + "/officer", slow_poll)
    page.reload()
    expect(page.locator("#sz-officer")).to_have_attribute("data-poll-s", "3600")
    net = page.locator("#net-state")
    expect(net).to_have_attribute("data-push", "live", timeout=LIVE_MS)
    expect(page.locator("#net-label")).to_have_text("ออนไลน์ · งานใหม่เข้าทันที")
    expect(page.locator("#assignment-empty")).to_be_visible()

    assignment = api_post(base, token_for("operator"), "/api/v1/dispatch/assignments", {
        "incident_id": incident["id"], "unit_id": "UNIT-E2E-2",
    })  # fmt: skip
    item = page.locator(f"#assignment-list li[data-assignment-id='{assignment['id']}']")
    expect(item).to_have_attribute("data-status", "assigned", timeout=5000)
    expect(item).to_contain_text("ทะเลาะวิวาทหน้าตลาด")
    expect(page.locator("#assignment-count")).to_have_text("1")

    api_post(
        base,
        token_for("operator"),
        f"/api/v1/dispatch/assignments/{assignment['id']}/cancel",
        {"note": "หน่วยอื่นใกล้กว่า"},
    )
    expect(item).to_have_count(0, timeout=5000)
    expect(page.locator("#assignment-empty")).to_be_visible()

    # Offline, the stream is closed (no reconnect attempts); back online it opens again.
    context.set_offline(True)
    expect(net).to_have_attribute("data-push", "off")
    expect(net).to_have_attribute("data-state", "offline")
    context.set_offline(False)
    expect(net).to_have_attribute("data-push", "live", timeout=LIVE_MS)
    page.click(".lang-toggle [data-lang=en]")
    expect(page.locator("#net-label")).to_have_text("Online · new jobs arrive at once")
    again = api_post(base, token_for("operator"), "/api/v1/dispatch/assignments", {
        "incident_id": incident["id"], "unit_id": "UNIT-E2E-2",
    })  # fmt: skip
    expect(
        page.locator(f"#assignment-list li[data-assignment-id='{again['id']}']")
    ).to_have_attribute("data-status", "assigned", timeout=5000)
    assert not errors, errors
    context.close()
