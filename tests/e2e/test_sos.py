"""Browser tests of the citizen SOS: press and hold in the PWA, the alarm on the operator's
already-open dashboard (with the cameras, evidence, suggested units and live trail of the
SOS), cancelling in time, and an SOS raised offline that is delivered once.

Uses the ``sos_site`` fixture of tests/sos (imported by tests/e2e/conftest.py): box
BOX-T1, cameras CAM-W and CAM-N that see the test point and CAM-E that does not, units
FOOT-1, BIKE-1 and CAR-1 nearby. With SAFEZONE_SCREENSHOTS=1 it writes
docs/screenshots/sos-dashboard.png and sos-citizen.png.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from safezone.core.db import Database
from safezone.sos import service as sos_service
from tests.conftest import INSIDE, LiveServer
from tests.e2e.support import (
    DESKTOP,
    LIVE_MS,
    PHONE,
    NetworkGate,
    api_post,
    expect,
    screenshot,
    sign_in,
    skip_without_browser,
    watch_errors,
)
from tests.sos.conftest import BOX_ID, box_message

skip_without_browser()

pytestmark = pytest.mark.e2e

CODE = re.compile(r"^SZ-[0-9A-Z]{5}-[0-9A-Z]{5}$")
HOLD_S = 3.0
TH_ACKNOWLEDGED = "รับเรื่องแล้ว"


def citizen_context(browser: Any, **extra: Any) -> Any:
    return browser.new_context(
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        geolocation={"latitude": INSIDE[0], "longitude": INSIDE[1], "accuracy": 8},
        permissions=["geolocation"],
        **extra,
    )


def press_sos(page: Any) -> None:
    """Put a finger (the mouse) on the SOS button and keep it there."""
    box = page.locator("#sos-button").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()


def get_json(base: str, token: str, path: str) -> Any:
    response = httpx.get(base + path, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def sos_incidents(base: str, token_for: Callable[[str], str]) -> list[dict[str, Any]]:
    incidents = get_json(base, token_for("operator"), "/api/v1/incidents?limit=1000")
    return [i for i in incidents if i["category"] == "sos"]


def send_box(base: str, type_: str, seq: int, **extra: Any) -> dict[str, Any]:
    """A signed message from the test box, over HTTP; it must be accepted."""
    sent = httpx.post(
        f"{base}/api/v1/sos/boxes/{BOX_ID}/events",
        json=box_message(type_, seq, **extra),
        timeout=10,
    )
    assert sent.status_code == 201, sent.text
    result: dict[str, Any] = sent.json()
    return result


def wait_for_service_worker(page: Any) -> None:
    # (page.evaluate, not wait_for_function: the page's CSP forbids eval)
    deadline = time.monotonic() + LIVE_MS / 1000
    while not page.evaluate("navigator.serviceWorker.controller !== null"):
        assert time.monotonic() < deadline, "the service worker never took control"
        page.wait_for_timeout(100)


def open_app(browser: Any, base: str) -> tuple[Any, Any, list[str]]:
    """A phone with the citizen app open and its service worker in control."""
    citizen = citizen_context(browser)
    app = citizen.new_page()
    errors = watch_errors(app)
    app.goto(f"{base}/app")
    wait_for_service_worker(app)
    return citizen, app, errors


def lose_signal(citizen: Any, network: NetworkGate) -> None:
    citizen.set_offline(True)
    network.shut()


def regain_signal(citizen: Any, network: NetworkGate) -> None:
    network.reopen()
    citizen.set_offline(False)


def live(page: Any) -> None:
    expect(page.locator("#conn")).to_have_attribute("data-state", "live", timeout=LIVE_MS)


def test_sos_reaches_the_open_dashboard_with_cameras_units_and_trail(
    live_server: LiveServer, browser: Any, token_for: Callable[[str], str], sos_site: Any
) -> None:
    base = live_server.url
    # CAM-W's "live picture" is an image this server serves: the SOS keeps it as evidence.
    patched = httpx.patch(
        f"{base}/api/v1/cameras/CAM-W",
        headers={"Authorization": f"Bearer {token_for('admin')}"},
        json={"snapshot_url": f"{base}/static/icons/icon-192.png"},
        timeout=10,
    )
    assert patched.status_code == 200, patched.text

    operator = browser.new_context(viewport=DESKTOP)
    dashboard = operator.new_page()
    dashboard_errors = watch_errors(dashboard)
    sign_in(dashboard, base, "operator")
    live(dashboard)
    dashboard.evaluate("window.__szSamePage = true")
    expect(dashboard.locator('.sz-unit-marker[data-unit-id="FOOT-1"]')).to_be_visible()
    expect(dashboard.locator('.sz-sos-marker[data-sos-box-id="BOX-T1"]')).to_have_attribute(
        "data-online", "unknown"
    )
    expect(dashboard.locator("#sos-alarm")).to_be_hidden()
    expect(dashboard.locator("#alarm-sound")).to_have_attribute("data-state", "off")

    citizen = citizen_context(browser)
    app = citizen.new_page()
    app_errors = watch_errors(app)
    app.goto(f"{base}/app")
    expect(app.locator("#sos-button")).to_contain_text("ขอความช่วยเหลือฉุกเฉิน")
    press_sos(app)
    screen = app.locator("#sos-screen")
    expect(screen).to_have_attribute("data-phase", "countdown")
    expect(app.locator("#sos-count")).to_have_text(re.compile(r"^[123]$"))
    expect(screen.locator('a[href="tel:191"]')).to_be_visible()
    expect(screen).to_have_attribute("data-phase", "sent", timeout=LIVE_MS)
    app.mouse.up()
    expect(app.locator("#sos-state")).to_contain_text("เจ้าหน้าที่กำลังไปช่วย")
    expect(screen.locator('a[href="tel:191"]')).to_be_visible()
    code = app.locator("#sos-code").inner_text()
    assert CODE.match(code), code
    state = httpx.get(f"{base}/api/v1/sos/panic/{code}", timeout=10).json()
    incident_id = state["incident_id"]
    assert state["active"] is True
    assert [i["id"] for i in sos_incidents(base, token_for)] == [incident_id]

    # The operator's page, without a reload: the incident and the alarm.
    row = dashboard.locator(f'#incident-list [data-incident-id="{incident_id}"]')
    expect(row).to_be_visible(timeout=LIVE_MS)
    alarm = dashboard.locator(f'#sos-alarm [data-incident-id="{incident_id}"]')
    expect(alarm).to_be_visible(timeout=LIVE_MS)
    expect(dashboard.locator("#sos-alarm")).to_contain_text("ปุ่ม SOS ในแอปประชาชน")
    # Sound was never enabled here: the banner says so and offers to switch it on.
    expect(dashboard.locator("#sos-alarm")).to_have_attribute("data-sound", "off")
    expect(dashboard.locator("#sos-alarm-unmute")).to_be_visible()
    # Reports of an emergency never wait in the triage queue.
    expect(dashboard.locator("#report-list li")).to_have_count(0)

    # Its detail: the cameras that see the spot (nearest first), their cones, the units.
    alarm.locator("[data-alarm-open]").click()
    response = dashboard.locator(f'#detail .sos-response[data-sos-response="{incident_id}"]')
    cameras = response.locator(".sos-cameras [data-camera-id]")
    expect(cameras).to_have_count(2, timeout=LIVE_MS)
    expect(cameras.nth(0)).to_have_attribute("data-camera-id", "CAM-W")
    expect(cameras.nth(1)).to_have_attribute("data-camera-id", "CAM-N")
    expect(response).not_to_contain_text("CAM-E")
    expect(dashboard.locator("#map path.sz-camera-cone")).to_have_count(2)
    # Fastest first: the motorbike 220 m away beats the officer on foot 55 m away.
    units = response.locator(".sos-units [data-unit-id]")
    expect(units.first).to_have_attribute("data-unit-id", "BIKE-1")
    expect(units.nth(1)).to_have_attribute("data-unit-id", "FOOT-1")
    expect(units.first).to_contain_text("222 ม.")
    expect(dashboard.locator('#map .sz-unit-suggest[data-unit-id="BIKE-1"]')).to_be_visible()
    # The evidence snapshot from CAM-W, fetched by the server after the alarm.
    snapshot = response.locator('[data-camera-id="CAM-W"] img.snapshot')
    expect(snapshot).to_have_attribute("src", re.compile(r"^blob:"), timeout=LIVE_MS)
    assert snapshot.evaluate("img => img.complete && img.naturalWidth") == 192
    expect(response.locator("[data-sos-trail]")).to_contain_text("1 จุด")

    # The caller moves: the trail on the dashboard follows.
    citizen.set_geolocation({"latitude": INSIDE[0] + 0.0004, "longitude": INSIDE[1], "accuracy": 6})
    expect(response.locator("[data-sos-trail]")).to_contain_text("2 จุด", timeout=LIVE_MS)
    expect(dashboard.locator("#map path.sz-trail")).to_have_count(1)
    expect(app.locator("#sos-trail")).to_contain_text("2", timeout=LIVE_MS)
    screenshot(dashboard, "sos-dashboard.png")
    screenshot(app, "sos-citizen.png")

    # Enabling sound is remembered on this browser.
    dashboard.locator("#sos-alarm-unmute").click()
    expect(dashboard.locator("#alarm-sound")).not_to_have_attribute("data-state", "off")
    assert dashboard.evaluate("localStorage.getItem('sz_alarm_sound')") == "on"

    # Acknowledging stops the alarm; the list and the detail follow.
    alarm.locator("[data-alarm-ack]").click()
    expect(dashboard.locator("#sos-alarm")).to_be_hidden(timeout=LIVE_MS)
    expect(dashboard.locator("#sos-alarm")).to_have_attribute("data-sound", "idle")
    expect(row.locator(".chip").first).to_have_text(TH_ACKNOWLEDGED)
    assert get_json(base, token_for("operator"), f"/api/v1/incidents/{incident_id}")["status"] == (
        "acknowledged"
    )

    # The caller cancels (after confirming); the dashboard learns of it.
    app.locator("#sos-cancel").click()
    expect(app.locator("#sos-confirm")).to_be_visible()
    app.locator("#sos-cancel-yes").click()
    expect(screen).to_have_attribute("data-phase", "ended", timeout=LIVE_MS)
    expect(app.locator("#sos-detail")).to_contain_text("คุณยกเลิก SOS แล้ว")
    expect(response).to_contain_text("ผู้แจ้งยกเลิก SOS", timeout=LIVE_MS)
    assert httpx.get(f"{base}/api/v1/sos/panic/{code}", timeout=10).json()["active"] is False
    app.locator("#sos-close").click()
    expect(screen).to_be_hidden()
    # The tracking code is kept with the other reports of this phone.
    expect(app.locator("#recent-codes")).to_contain_text(code)

    assert dashboard.evaluate("window.__szSamePage === true")
    assert not dashboard_errors, dashboard_errors
    assert not app_errors, app_errors
    citizen.close()
    operator.close()


def test_box_press_escalation_device_health_and_units_follow_events(
    live_server: LiveServer,
    browser: Any,
    token_for: Callable[[str], str],
    sos_site: Any,
    db: Database,
) -> None:
    base = live_server.url

    def box(type_: str, seq: int, **extra: Any) -> dict[str, Any]:
        return send_box(base, type_, seq, **extra)

    operator = browser.new_context(viewport=DESKTOP)
    page = operator.new_page()
    errors = watch_errors(page)
    sign_in(page, base, "operator")
    live(page)
    page.evaluate("window.__szSamePage = true")
    marker = page.locator(f'.sz-sos-marker[data-sos-box-id="{BOX_ID}"]')
    expect(marker).to_have_attribute("data-online", "unknown")

    # A heartbeat brings the box online, on the map and on the Devices tab.
    box("heartbeat", 1)
    expect(marker).to_have_attribute("data-online", "online", timeout=LIVE_MS)
    page.locator("#tab-devices").click()
    expect(page.locator(f'#box-list [data-box-id="{BOX_ID}"]')).to_have_attribute(
        "data-online", "online"
    )
    expect(page.locator("#maintenance-empty")).to_be_visible()
    expect(page.locator("#device-count")).to_be_hidden()

    # Someone opens the box: a maintenance alert.
    box("tamper", 2, data={"door": "open"})
    item = page.locator(f'#maintenance-list [data-asset-id="{BOX_ID}"]')
    expect(item).to_contain_text("ถูกงัดแงะ", timeout=LIVE_MS)
    expect(item).to_contain_text(f"ตู้ SOS {BOX_ID}")
    expect(page.locator("#device-count")).to_have_text("1")

    # A unit changes status: its marker follows.
    patched = httpx.patch(
        f"{base}/api/v1/units/BIKE-1",
        headers={"Authorization": f"Bearer {token_for('operator')}"},
        json={"status": "busy"},
        timeout=10,
    )
    assert patched.status_code == 200, patched.text
    expect(page.locator('.sz-unit-marker[data-unit-id="BIKE-1"]')).to_have_class(
        re.compile(r"\bustatus-busy\b"), timeout=LIVE_MS
    )

    # The box is pressed: the alarm names it.
    incident_id = box("press", 3)["incident_id"]
    alarm = page.locator(f'#sos-alarm [data-incident-id="{incident_id}"]')
    expect(alarm).to_contain_text(f"ตู้ SOS {BOX_ID}", timeout=LIVE_MS)
    page.locator("#tab-incidents").click()
    row = page.locator(f'#incident-list [data-incident-id="{incident_id}"]')
    expect(row).to_be_visible()

    # Sound, once enabled by a click, plays while the alarm is on.
    page.locator("#alarm-sound").click()
    expect(page.locator("#alarm-sound")).to_have_attribute("data-state", "on")
    expect(page.locator("#sos-alarm")).to_have_attribute("data-sound", "playing")

    # Nobody acknowledged in time: the monitor escalates it, and the dashboard shows it.
    with db.transaction() as session:
        assert sos_service.escalate_unacknowledged(session, timeout_s=0) == [incident_id]
    expect(alarm).to_have_class(re.compile(r"\bescalated\b"), timeout=LIVE_MS)
    expect(row).to_have_class(re.compile(r"\bescalated\b"))
    expect(row).to_contain_text("ยกระดับแล้ว")

    # Acknowledged from the detail panel: the alarm stops, the escalation mark goes.
    row.click()
    expect(page.locator("#detail")).to_contain_text(f"ตู้ SOS {BOX_ID}", timeout=LIVE_MS)
    expect(page.locator("#detail .escalated-note")).to_be_visible()
    page.locator('#detail button[data-status="acknowledged"]').click()
    expect(page.locator("#sos-alarm")).to_be_hidden(timeout=LIVE_MS)
    expect(page.locator("#sos-alarm")).to_have_attribute("data-sound", "idle")
    expect(row).not_to_have_class(re.compile(r"\bescalated\b"))
    expect(row.locator(".chip.escalated")).to_be_visible()  # kept as a record

    # The box's connection drops (its MQTT last will): offline on the map and the tab.
    with db.transaction() as session:
        assert sos_service.handle_box_status(session, box_id=BOX_ID, payload=b"offline")
    expect(marker).to_have_attribute("data-online", "offline", timeout=LIVE_MS)
    page.keyboard.press("Escape")  # close the detail, which covers the tabs
    page.locator("#tab-devices").click()
    expect(page.locator("#maintenance-list li")).to_have_count(2)
    expect(page.locator("#device-count")).to_have_text("1")  # one box, two problems
    assert page.evaluate("window.__szSamePage === true")
    assert not errors, errors
    operator.close()


def test_letting_go_or_cancelling_during_the_countdown_sends_nothing(
    live_server: LiveServer, browser: Any, token_for: Callable[[str], str], sos_site: Any
) -> None:
    base = live_server.url
    citizen = citizen_context(browser)
    app = citizen.new_page()
    errors = watch_errors(app)
    app.goto(f"{base}/app")
    screen = app.locator("#sos-screen")

    # Let go after a moment.
    press_sos(app)
    expect(screen).to_have_attribute("data-phase", "countdown")
    app.wait_for_timeout(700)
    app.mouse.up()
    expect(screen).to_be_hidden()

    # The keyboard cannot hold: Enter starts the countdown, the Cancel button stops it.
    app.locator("#sos-button").focus()
    app.keyboard.press("Enter")
    expect(screen).to_have_attribute("data-phase", "countdown")
    expect(app.locator("#sos-countdown-cancel")).to_be_focused()
    app.locator("#sos-countdown-cancel").click()
    expect(screen).to_be_hidden()

    # Well past the countdown: nothing was sent, nothing is waiting.
    app.wait_for_timeout(HOLD_S * 1000 + 500)
    expect(screen).to_be_hidden()
    assert sos_incidents(base, token_for) == []
    assert app.evaluate("localStorage.getItem('sz_sos_current')") is None
    assert not errors, errors
    citizen.close()


def test_an_sos_raised_offline_is_delivered_once_when_back_online(
    live_server: LiveServer,
    network: NetworkGate,
    browser: Any,
    token_for: Callable[[str], str],
    sos_site: Any,
) -> None:
    server, base = live_server.url, network.url  # the phone's link can be cut
    citizen, app, errors = open_app(browser, base)

    lose_signal(citizen, network)
    press_sos(app)
    screen = app.locator("#sos-screen")
    expect(screen).to_have_attribute("data-phase", "queued", timeout=LIVE_MS)
    app.mouse.up()
    expect(app.locator("#sos-state")).to_contain_text("ไม่มีสัญญาณ")
    expect(screen.locator('a[href="tel:191"]')).to_be_visible()
    # The phone moves while offline: the new position waits in the queue too.
    citizen.set_geolocation({"latitude": INSIDE[0] + 0.0003, "longitude": INSIDE[1], "accuracy": 9})
    ref = app.evaluate("JSON.parse(localStorage.getItem('sz_sos_current')).ref")
    deadline = time.monotonic() + LIVE_MS / 1000
    while app.evaluate(f"SZSosQueue.pendingPoints({ref!r})") < 1:
        assert time.monotonic() < deadline, "the offline trail point was never queued"
        app.wait_for_timeout(200)
    assert sos_incidents(server, token_for) == []

    regain_signal(citizen, network)
    expect(screen).to_have_attribute("data-phase", "sent", timeout=LIVE_MS)
    code = app.locator("#sos-code").inner_text()
    assert CODE.match(code), code
    deadline = time.monotonic() + LIVE_MS / 1000
    while httpx.get(f"{server}/api/v1/sos/panic/{code}", timeout=10).json()["trail_points"] < 2:
        assert time.monotonic() < deadline, "the queued trail point never arrived"
        time.sleep(0.2)
    # A reload resumes the same SOS.
    app.reload()
    expect(screen).to_have_attribute("data-phase", "sent", timeout=LIVE_MS)
    expect(app.locator("#sos-code")).to_have_text(code)
    # Exactly one SOS reached the server, though the page and the worker both retried.
    incidents = sos_incidents(server, token_for)
    assert len(incidents) == 1, incidents
    assert incidents[0]["priority"] == "critical" and incidents[0]["source"] == "emergency"
    reports = get_json(server, token_for("operator"), "/api/v1/reports?limit=1000")
    assert len([r for r in reports if r["category"] == "sos"]) == 1
    assert not errors, errors
    citizen.close()


def test_the_service_worker_sends_a_queued_sos_after_the_app_is_closed(
    live_server: LiveServer,
    network: NetworkGate,
    browser: Any,
    token_for: Callable[[str], str],
    sos_site: Any,
) -> None:
    """Background Sync: the worker flushes the IndexedDB queue with no page open."""
    server, base = live_server.url, network.url  # the phone's link can be cut
    citizen, app, errors = open_app(browser, base)
    lose_signal(citizen, network)
    press_sos(app)
    expect(app.locator("#sos-screen")).to_have_attribute("data-phase", "queued", timeout=LIVE_MS)
    app.mouse.up()
    assert not errors, errors
    app.close()  # the person closes the app: only the service worker is left

    # Chromium fires "sync" when its own network comes back; DevTools does it here.
    blank = citizen.new_page()
    cdp = citizen.new_cdp_session(blank)
    registrations: list[dict[str, Any]] = []
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda e: registrations.extend(e["registrations"]),
    )
    cdp.send("ServiceWorker.enable")
    deadline = time.monotonic() + LIVE_MS / 1000
    scope = f"{base}/app"
    while not [r for r in registrations if r["scopeURL"] == scope and not r["isDeleted"]]:
        assert time.monotonic() < deadline, "no service worker registration for /app"
        blank.wait_for_timeout(100)
    registration = next(r for r in registrations if r["scopeURL"] == scope)
    # Nothing can have left the phone while it is offline.
    assert sos_incidents(server, token_for) == []
    # Back online, Chromium may fire "sync" on its own at once; dispatching it again
    # must not make a second SOS (the queue entry carries the SOS's reference).
    regain_signal(citizen, network)
    cdp.send(
        "ServiceWorker.dispatchSyncEvent",
        {
            "origin": base,
            "registrationId": registration["registrationId"],
            "tag": "sz-sos",
            "lastChance": False,
        },
    )
    deadline = time.monotonic() + LIVE_MS / 1000
    while not sos_incidents(server, token_for):
        assert time.monotonic() < deadline, "the service worker did not send the SOS"
        time.sleep(0.2)
    assert len(sos_incidents(server, token_for)) == 1

    # Opening the app again shows the SOS the worker sent, with its tracking code.
    app = citizen.new_page()
    errors = watch_errors(app)
    app.goto(f"{base}/app")
    expect(app.locator("#sos-screen")).to_have_attribute("data-phase", "sent", timeout=LIVE_MS)
    expect(app.locator("#sos-code")).to_have_text(CODE)
    assert len(sos_incidents(server, token_for)) == 1
    assert not errors, errors
    citizen.close()


def test_a_dashboard_opened_later_lists_open_maintenance_alerts(
    live_server: LiveServer, browser: Any, sos_site: Any
) -> None:
    base = live_server.url
    sent = httpx.post(
        f"{base}/api/v1/sos/boxes/{BOX_ID}/events",
        json=box_message("tamper", 1, data={"door": "open"}),
        timeout=10,
    )
    assert sent.status_code == 201, sent.text
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    sign_in(page, base, "operator")
    page.locator("#tab-devices").click()
    expect(page.locator(f'#maintenance-list [data-asset-id="{BOX_ID}"]')).to_contain_text(
        "ถูกงัดแงะ", timeout=3000
    )
    context.close()


def test_a_dashboard_opened_later_highlights_escalated_incidents(
    live_server: LiveServer, browser: Any, sos_site: Any, db: Database
) -> None:
    base = live_server.url
    incident_id = send_box(base, "press", 1)["incident_id"]
    with db.transaction() as session:
        assert sos_service.escalate_unacknowledged(session, timeout_s=0) == [incident_id]
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    sign_in(page, base, "officer")  # officers poll the list: no event stream
    row = page.locator(f'#incident-list [data-incident-id="{incident_id}"]')
    expect(row).to_be_visible()
    expect(row).to_have_class(re.compile(r"\bescalated\b"), timeout=3000)
    context.close()


def test_without_a_position_the_caller_marks_the_place_on_a_map(
    live_server: LiveServer, browser: Any, token_for: Callable[[str], str], sos_site: Any
) -> None:
    """Location refused (or none to be had): the SOS screen offers a map instead of
    waiting for ever; the SOS goes out from the marked place and the operator is told."""
    base = live_server.url
    citizen = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)  # no grant
    app = citizen.new_page()
    errors = watch_errors(app)
    app.goto(f"{base}/app")
    press_sos(app)
    screen = app.locator("#sos-screen")
    expect(screen).to_have_attribute("data-phase", "locating", timeout=LIVE_MS)
    app.mouse.up()
    pick = app.locator("#sos-pick")
    # Refused at once in this browser; the page offers the map after 15 s at the latest.
    expect(pick).to_be_visible(timeout=20_000)
    expect(pick).to_contain_text("แตะแผนที่ตรงที่คุณอยู่")
    expect(screen.locator('a[href="tel:191"]')).to_be_visible()
    send = app.locator("#sos-pick-send")
    expect(send).to_be_disabled()
    assert sos_incidents(base, token_for) == []
    # The map is centred on the city's zones (the market square): tap its middle.
    app.wait_for_timeout(500)  # (let the zones load and the map settle)
    # Without a pointer: Enter on the focused map marks its centre.
    app.locator("#sos-pick-map").focus()
    app.keyboard.press("Enter")
    expect(send).to_be_enabled()
    app.locator("#sos-pick-map").click()  # a tap moves the mark
    expect(send).to_be_enabled()
    screenshot(app, "sos-no-location.png")
    send.click()
    expect(screen).to_have_attribute("data-phase", "sent", timeout=LIVE_MS)
    expect(pick).to_be_hidden()
    [listed] = sos_incidents(base, token_for)
    incident = get_json(base, token_for("operator"), f"/api/v1/incidents/{listed['id']}")
    assert "marked the place on the map" in incident["description"]
    assert abs(incident["lat"] - INSIDE[0]) < 0.002 and abs(incident["lon"] - INSIDE[1]) < 0.002
    assert not errors, errors
    citizen.close()


def test_the_commander_page_shows_an_escalated_sos_until_it_is_acknowledged(
    live_server: LiveServer,
    browser: Any,
    token_for: Callable[[str], str],
    sos_site: Any,
    db: Database,
) -> None:
    """Escalation reaches the commander where they are: on their own page (at once, and
    for one still waiting when the page opens), gone once someone acknowledges it."""
    base = live_server.url

    def press(seq: int) -> int:
        return int(send_box(base, "press", seq)["incident_id"])

    waiting = press(1)
    with db.transaction() as session:
        assert sos_service.escalate_unacknowledged(session, timeout_s=0) == [waiting]
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    errors = watch_errors(page)
    sign_in(page, base, "commander")
    page.goto(f"{base}/commander")
    banner = page.locator("#cmd-escalations")
    expect(banner).to_be_visible(timeout=LIVE_MS)
    expect(banner.locator(f'[data-incident-id="{waiting}"]')).to_be_visible()

    # Another one escalates while the page is open: it appears without a reload.
    fresh = press(2)
    page.wait_for_timeout(1000)  # (the page's event stream is open by now)
    with db.transaction() as session:
        assert sos_service.escalate_unacknowledged(session, timeout_s=0) == [fresh]
    expect(banner.locator("li")).to_have_count(2, timeout=LIVE_MS)

    # Acknowledged (by the control room): it leaves the commander's banner.
    operator = token_for("operator")
    for incident_id in (waiting, fresh):
        url = f"/api/v1/incidents/{incident_id}/transitions"
        api_post(base, operator, url, {"status": "acknowledged"})
    expect(banner).to_be_hidden(timeout=LIVE_MS)
    assert not errors, errors
    context.close()
