"""The pages' SOS and public-alert controls: the citizen SOS button and its screen, the
alerts list, the dashboard's alarm banner, tabs and alert panel, the service worker's
SOS queue, and the strings they use in both languages."""

from __future__ import annotations

import re
from typing import get_args

import pytest

from safezone.alerts.schemas import CapStatus, Certainty, Severity, Urgency
from safezone.patrol.schemas import UnitKind, UnitStatus
from safezone.web import STATIC_DIR
from safezone.web.i18n import catalog

JS_DIR = STATIC_DIR / "js"
THAI = re.compile(r"[\u0e00-\u0e7f]")
NEW_SCRIPTS = ["sos-queue.js", "sos.js", "alerts.js", "dash-sos.js", "dash-alerts.js"]
KEY_PREFIXES = (
    "sos",
    "sosr",
    "alarm",
    "alerts",
    "pa",
    "dev",
    "box",
    "maint",
    "asset",
    "unit",
    "tab",
    "severity",
    "urgency",
    "certainty",
)
SOS_PHASES = ["countdown", "locating", "sending", "queued", "sent", "ended", "failed"]
# Event topics look like keys; they are not strings shown to anyone.
TOPICS = {"sos.response", "sos.trail", "sos.box_status", "unit.changed", "unit.location"}


def scripts_of(html: str) -> list[str]:
    return re.findall(r'<script src="/static/js/([a-z-]+\.js)\?v=', html)


# --- citizen app -------------------------------------------------------------------------


def test_citizen_app_has_the_sos_button_and_screen(client):
    html = client.get("/app").text
    button = re.search(r'<button type="button" id="sos-button"[^>]*>(.*?)</button>', html, re.S)
    assert button, "no SOS button"
    assert "ขอความช่วยเหลือฉุกเฉิน" in button.group(1)
    assert 'aria-describedby="sos-hint"' in button.group(0)
    # press-and-hold timing, trail interval and alert poll come from the page
    assert 'data-sos-hold-ms="3000"' in html
    assert 'data-sos-trail-ms="5000"' in html
    assert 'data-alert-poll-s="30"' in html
    screen = html[html.index('id="sos-screen"') :]
    screen = screen[: screen.index("</div>\n  </div>")]
    for control in (
        'id="sos-count"',
        'id="sos-countdown-cancel"',
        'id="sos-state"',
        'id="sos-cancel"',
        'id="sos-cancel-yes"',
        'id="sos-cancel-no"',
        'id="sos-code"',
        'id="sos-close"',
    ):
        assert control in screen, control
    # the hotline is always on the SOS screen, whatever its state
    assert re.search(r'<a class="sos-call" href="tel:191">', screen)
    assert 'role="dialog"' in html and 'data-phase="idle"' in html
    assert re.search(r'<section id="alerts-section"[^>]*hidden', html)
    assert 'id="alerts-list"' in html


def test_citizen_app_loads_the_queue_before_the_sos_script(client):
    scripts = scripts_of(client.get("/app").text)
    for name in ("sos-queue.js", "sos.js", "alerts.js"):
        assert name in scripts, name
    assert scripts.index("core.js") < scripts.index("sos-queue.js") < scripts.index("sos.js")


def test_citizen_sos_button_in_english(client):
    client.cookies.set("sz_lang", "en")
    html = client.get("/app").text
    en = catalog()["en"]
    assert f'<span data-i18n="sos.button">{en["sos.button"]}</span>' in html
    assert "SOS" in en["sos.button"]
    assert f'<span data-i18n="sos.call_191">{en["sos.call_191"]}</span>' in html


# --- dashboard ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["operator", "commander", "admin"])
def test_control_room_dashboard_has_alarm_tabs_and_alert_panel(client, auth, role):
    html = client.get("/dashboard", headers=auth(role)).text
    assert re.search(r'<div id="sos-alarm" class="sos-alarm" role="alert"[^>]*hidden>', html)
    assert 'id="sos-alarm-list"' in html and 'id="sos-alarm-unmute"' in html
    assert re.search(r'<button type="button" id="alarm-sound"[^>]*data-state="off"', html)
    for tab in ("incidents", "alerts", "devices"):
        assert f'data-side-tab="{tab}"' in html, tab
        assert f'data-side-pane="{tab}"' in html, tab
    for control in ("alert-new", "alert-list", "alert-form-holder", "maintenance-list", "box-list"):
        assert f'id="{control}"' in html, control
    assert 'href="/api/v1/alerts/feed.atom"' in html


def test_officer_dashboard_has_the_alarm_but_no_alert_panel(client, auth):
    html = client.get("/dashboard", headers=auth("officer")).text
    assert 'id="sos-alarm"' in html
    assert 'data-side-tab="devices"' in html
    assert 'data-side-tab="alerts"' not in html
    assert 'id="alert-new"' not in html


def test_dashboard_plugins_load_before_the_dashboard(client, auth):
    scripts = scripts_of(client.get("/dashboard", headers=auth("operator")).text)
    assert scripts.index("map.js") < scripts.index("dash-sos.js")
    assert scripts.index("dash-sos.js") < scripts.index("dashboard.js")
    assert scripts.index("dash-alerts.js") < scripts.index("dashboard.js")


# --- service worker ----------------------------------------------------------------------


def test_service_worker_sends_the_sos_queue_on_background_sync(client):
    from safezone.web.router import asset_version

    source = client.get("/app/sw.js").text
    assert 'importScripts("/static/js/sos-queue.js?v=" + VERSION);' in source
    assert f'const VERSION = "{asset_version()}";' in source
    assert 'self.addEventListener("sync"' in source
    assert "event.tag === self.SZSosQueue.SYNC_TAG" in source
    queue = (JS_DIR / "sos-queue.js").read_text()
    assert 'const SYNC_TAG = "sz-sos";' in queue
    assert "})(self);" in queue  # works in a page and in the worker
    page = (JS_DIR / "sos.js").read_text()
    assert "registration.sync.register(Q.SYNC_TAG)" in page
    assert 'window.addEventListener("online"' in page


def test_sos_retries_reuse_the_client_ref(client):
    """The queue sends the stored body again, never a new one: same client_ref."""
    queue = (JS_DIR / "sos-queue.js").read_text()
    assert "post(PANIC_URL, record.body, record.csrf)" in queue
    page = (JS_DIR / "sos.js").read_text()
    ref = re.search(r'ref = "sos-" \+ SZ\.randomId\(\);', page)
    assert ref, "the client_ref is made once, when the countdown ends"
    # "sos-" + 32 hex characters fits the API's pattern
    assert re.fullmatch(r"[A-Za-z0-9_-]{8,64}", "sos-" + "a" * 32)


def test_new_scripts_are_precached_for_offline_use(client):
    source = client.get("/app/sw.js").text
    block = re.search(r"const SHELL_URLS = \[(.*?)\];", source, re.S)
    assert block
    for name in ("sos-queue.js", "sos.js", "alerts.js"):
        assert f'"/static/js/{name}"' in block.group(1), name


# --- strings -----------------------------------------------------------------------------


def _new_keys() -> set[str]:
    pattern = re.compile(
        r"""["']((?:""" + "|".join(KEY_PREFIXES) + r""")\.[A-Za-z0-9_.]*[A-Za-z0-9_])["']"""
    )
    keys: set[str] = set()
    for name in NEW_SCRIPTS:
        keys |= set(pattern.findall((JS_DIR / name).read_text()))
    for template in ("citizen.html", "dashboard.html"):
        text = (STATIC_DIR.parent / "templates" / template).read_text()
        keys |= set(pattern.findall(text))
    return keys - TOPICS


def test_every_key_of_the_new_controls_exists_in_both_languages():
    keys = _new_keys()
    assert len(keys) > 80  # the scan itself works
    keys |= {f"sos.state.{phase}" for phase in SOS_PHASES}
    keys |= {f"box.{state}" for state in ("online", "offline", "unknown")}
    keys |= {f"maint.kind.{kind}" for kind in ("offline", "tamper", "power")}
    keys |= {"action.escalated", "action.sos_cancelled", "layer.units", "detail.escalated"}
    th, en = catalog()["th"], catalog()["en"]
    missing = sorted(k for k in keys if k not in th or k not in en)
    assert not missing, missing
    for key in keys:
        assert th[key].strip() and en[key].strip(), key
        assert not THAI.search(en[key]), key


def test_sos_phases_in_the_script_match_the_strings():
    page = (JS_DIR / "sos.js").read_text()
    calls = [line.split("setPhase(", 1)[1] for line in page.splitlines() if "setPhase(" in line]
    used = {word for call in calls for word in re.findall(r'"([a-z]+)"', call)}
    assert used == set(SOS_PHASES), used
    documented = re.search(r"#sos-screen\[data-phase\] is one of ([a-z,\s*]+)\.", page)
    assert documented
    words = {p.strip(" *\n") for p in documented.group(1).split(",")}
    assert words == set(SOS_PHASES), words


@pytest.mark.parametrize(
    ("prefix", "values"),
    [
        ("severity.", get_args(Severity)),
        ("urgency.", get_args(Urgency)),
        ("certainty.", get_args(Certainty)),
        ("alerts.status.", get_args(CapStatus)),
        ("unit.kind.", get_args(UnitKind)),
        ("unit.status.", get_args(UnitStatus)),
    ],
)
def test_every_new_domain_value_has_a_label(prefix, values):
    th, en = catalog()["th"], catalog()["en"]
    for value in values:
        key = prefix + value
        assert key in th and key in en, key
        assert THAI.search(th[key]), key
        assert not THAI.search(en[key]), key


def test_the_sos_button_is_thai_first():
    th, en = catalog()["th"], catalog()["en"]
    assert th["sos.button"] == "ขอความช่วยเหลือฉุกเฉิน"
    assert en["sos.button"].startswith("SOS")
    assert "191" in th["sos.call_191"] and "191" in en["sos.call_191"]
