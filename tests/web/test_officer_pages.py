"""The officer app's page, manifest and service worker (/officer), and the dashboard's
check-in list."""

from __future__ import annotations

import hashlib
import re

import pytest

from safezone.patrol.checkins import Reason
from safezone.web import STATIC_DIR
from safezone.web.i18n import catalog
from tests.web.test_pages import THAI, VENDOR

JS_DIR = STATIC_DIR / "js"


def test_officer_app_sends_anonymous_users_to_sign_in(client):
    response = client.get("/officer", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fofficer"


@pytest.mark.parametrize("role", ["citizen", "operator", "commander", "admin"])
def test_officer_app_is_for_officers_only(client, auth, role):
    response = client.get("/officer", headers=auth(role))
    assert response.status_code == 403
    assert 'id="sz-officer"' not in response.text


def test_officer_app_renders_in_thai_with_its_own_manifest(client, auth):
    response = client.get("/officer", headers=auth("officer"))
    assert response.status_code == 200
    html = response.text
    assert '<html lang="th">' in html
    assert 'id="sz-officer"' in html and 'data-username="officer"' in html
    assert catalog()["th"]["off.shift.start"] in html
    assert '<link rel="manifest" href="/officer/manifest.webmanifest">' in html
    assert "/app/manifest.webmanifest" not in html
    for script in ("vendor/jsqr/jsQR.js", "js/officer-queue.js", "js/officer-scan.js"):
        assert f"/static/{script}?v=" in html
    assert "script-src 'self'" in response.headers["content-security-policy"]


def test_officer_app_in_english_with_the_cookie(client, auth):
    client.cookies.set("sz_lang", "en")
    html = client.get("/officer", headers=auth("officer")).text
    assert '<html lang="en">' in html
    assert catalog()["en"]["off.shift.start"] in html


def test_officers_get_a_link_to_their_app_and_others_do_not(client, auth):
    assert 'href="/officer"' in client.get("/dashboard", headers=auth("officer")).text
    assert 'href="/officer"' not in client.get("/dashboard", headers=auth("operator")).text


def test_every_static_file_the_officer_app_uses_exists(client, auth):
    html = client.get("/officer", headers=auth("officer")).text
    references = set(re.findall(r'(?:src|href)="(/(?:static|officer)/[^"]+)"', html))
    assert any("officer.js" in r for r in references)
    for reference in references:
        assert client.get(reference).status_code == 200, reference


def test_officer_manifest_has_its_own_scope(client):
    response = client.get("/officer/manifest.webmanifest")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/manifest+json")
    manifest = response.json()
    assert manifest["scope"] == manifest["start_url"] == manifest["id"] == "/officer"
    assert manifest["lang"] == "th" and THAI.search(manifest["short_name"])
    assert len(manifest["short_name"]) <= 12
    for icon in manifest["icons"]:
        assert client.get(icon["src"]).status_code == 200, icon["src"]


def test_officer_service_worker_is_served_for_its_scope(client):
    from safezone.web.router import asset_version

    response = client.get("/officer/sw.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["service-worker-allowed"] == "/officer"
    assert f'const VERSION = "{asset_version()}";' in response.text
    registration = 'register("/officer/sw.js", { scope: "/officer" })'
    assert registration in (JS_DIR / "officer.js").read_text()
    # Its precached assets all answer (cache.addAll fails the install on one miss).
    block = re.search(r"const ASSETS = \[(.*?)\];", response.text, re.S)
    assert block
    for url in re.findall(r'"([^"]+)"', block.group(1)):
        assert client.get(url).status_code == 200, url


def test_officer_service_worker_never_handles_writes_or_the_api(client):
    source = client.get("/officer/sw.js").text
    handler = source[source.index('addEventListener("fetch"') :]
    assert handler.index('request.method !== "GET"') < handler.index("respondWith")
    assert handler.index('startsWith("/api/")) return;') < handler.index("respondWith")


def test_the_two_service_workers_keep_each_others_caches():
    citizen = (JS_DIR / "sw.js").read_text()
    officer = (JS_DIR / "officer-sw.js").read_text()
    assert 'const SHELL = "sz-shell-"' in citizen
    assert 'k.startsWith("sz-shell-") || k.startsWith("sz-data-")' in citizen
    assert 'const SHELL = "sz-officer-shell-"' in officer
    assert 'k.startsWith("sz-officer-")' in officer


def test_every_checkin_reason_has_a_label_in_both_languages():
    th, en = catalog()["th"], catalog()["en"]
    for reason in Reason.__args__:
        key = "off.reason." + reason
        assert THAI.search(th[key]), key
        assert not THAI.search(en[key]), key


def test_jsqr_is_vendored_with_its_licence():
    source = (VENDOR / "jsqr" / "jsQR.js").read_text()
    assert 'exports["jsQR"]' in source[:400]
    assert "Apache License" in (VENDOR / "jsqr" / "LICENSE").read_text()
    readme = (VENDOR / "README.md").read_text()
    digest = hashlib.sha256((VENDOR / "jsqr" / "jsQR.js").read_bytes()).hexdigest()
    assert f"{digest}  jsqr/jsQR.js" in readme
    assert "jsqr@1.4.0" in readme


def test_dashboard_has_the_live_checkin_list(client, auth):
    html = client.get("/dashboard", headers=auth("operator")).text
    assert 'id="checkin-feed"' in html
    assert html.index("js/dash-patrol.js") < html.index("js/dashboard.js")
