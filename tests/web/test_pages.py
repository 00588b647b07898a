"""HTML pages: language, access rules, PWA files, vendored assets and the i18n catalogue."""

from __future__ import annotations

import hashlib
import io
import json
import re
from pathlib import Path
from typing import Any, get_args

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from safezone.app import create_app
from safezone.core.permissions import ROLES
from safezone.incidents.schemas import Category, Priority, Source, Status
from safezone.reports.schemas import ReportKind, ReportStatus
from safezone.web import STATIC_DIR, TEMPLATE_DIR
from safezone.web.i18n import catalog, translate
from safezone.web.router import safe_next, tile_origin
from tests.conftest import PASSWORD

JS_DIR = STATIC_DIR / "js"
VENDOR = STATIC_DIR / "vendor"
THAI = re.compile(r"[\u0e00-\u0e7f]")
PUBLIC_PAGES = ["/login", "/app", "/app/track", "/app/track/SZ-AAAAA-BBBBB"]
STAFF_ROLES = ["officer", "operator", "commander", "admin"]


def title_of(html: str) -> str:
    match = re.search(r"<title[^>]*>(.*?)</title>", html, re.S)
    assert match, "page has no <title>"
    return match.group(1).strip()


def html_lang(html: str) -> str:
    match = re.search(r'<html lang="([a-z]+)">', html)
    assert match, "page has no <html lang>"
    return match.group(1)


def sign_in(client: TestClient, username: str) -> dict[str, Any]:
    response = client.post(
        "/api/v1/auth/session", data={"username": username, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# --- language --------------------------------------------------------------------------


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_pages_render_in_thai_by_default(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert html_lang(html) == "th"
    assert THAI.search(title_of(html)), title_of(html)
    # the toggle offers both languages and marks Thai as current
    assert re.search(r'data-lang="th" lang="th" aria-current="true"', html)
    assert 'data-lang="en"' in html


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_pages_render_in_english_with_the_cookie(client, path):
    client.cookies.set("sz_lang", "en")
    html = client.get(path).text
    assert html_lang(html) == "en"
    title = title_of(html)
    assert not THAI.search(title), title
    assert re.search(r'data-lang="en" lang="en" aria-current="true"', html)


def test_english_strings_come_from_the_catalogue(client):
    client.cookies.set("sz_lang", "en")
    html = client.get("/app").text
    en = catalog()["en"]
    assert title_of(html) == f"{en['app.title']} · SafeZone"
    assert f'<span data-i18n="form.submit">{en["form.submit"]}</span>' in html
    client.cookies.set("sz_lang", "th")
    html = client.get("/app").text
    assert f'<span data-i18n="form.submit">{catalog()["th"]["form.submit"]}</span>' in html


def test_unknown_language_cookie_falls_back_to_thai(client):
    client.cookies.set("sz_lang", "fr")
    assert html_lang(client.get("/app").text) == "th"


def test_language_link_sets_cookie_and_returns_to_the_page(client):
    response = client.get("/lang/en?next=/app/track", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/app/track"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("sz_lang=en;")
    assert "Path=/" in cookie
    assert html_lang(client.get("/app/track").text) == "en"
    client.get("/lang/th?next=/app", follow_redirects=False)
    assert html_lang(client.get("/app").text) == "th"


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:x"]
)
def test_language_link_never_redirects_off_site(client, target):
    response = client.get("/lang/en", params={"next": target}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/"


def test_unknown_language_is_404(client):
    response = client.get("/lang/fr", follow_redirects=False)
    assert response.status_code == 404
    assert "th" in response.json()["error"]["message"]


def test_translate_fills_placeholders_and_falls_back():
    assert translate("en", "detail.title", id=7) == "Incident #7"
    assert translate("th", "detail.title", id=7) == "เหตุ #7"
    assert translate("en", "no.such.key") == "no.such.key"


def test_safe_next_only_accepts_local_paths():
    assert safe_next("/dashboard?x=1", "") == "/dashboard?x=1"
    for bad in (None, "", "dashboard", "//evil", "https://evil", "/\\evil", "/a\nb"):
        assert safe_next(bad, "/home") == "/home"


# --- who sees what ---------------------------------------------------------------------


def test_root_sends_each_user_home(client, auth):
    assert client.get("/", follow_redirects=False).headers["location"] == "/app"
    for role in STAFF_ROLES:
        response = client.get("/", headers=auth(role), follow_redirects=False)
        assert response.headers["location"] == "/dashboard", role
    response = client.get("/", headers=auth("citizen"), follow_redirects=False)
    assert response.headers["location"] == "/app"


@pytest.mark.parametrize("path", ["/dashboard", "/admin"])
def test_staff_pages_send_anonymous_users_to_sign_in(client, path):
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next=%2F{path[1:]}"


def test_dashboard_is_for_staff_only(client, auth):
    response = client.get("/dashboard", headers=auth("citizen"))
    assert response.status_code == 403
    assert catalog()["th"]["error.forbidden_title"] in response.text
    assert 'id="sz-dashboard"' not in response.text
    for role in STAFF_ROLES:
        response = client.get("/dashboard", headers=auth(role))
        assert response.status_code == 200, role
        assert f'data-role="{role}"' in response.text


def test_admin_page_is_for_admins_only(client, auth):
    for role in ("citizen", "officer", "operator", "commander"):
        response = client.get("/admin", headers=auth(role))
        assert response.status_code == 403, role
        assert 'id="sz-admin"' not in response.text
    response = client.get("/admin", headers=auth("admin"))
    assert response.status_code == 200
    assert 'id="sz-admin"' in response.text


def test_admin_link_only_shown_to_admins(client, auth):
    assert 'href="/admin"' in client.get("/dashboard", headers=auth("admin")).text
    assert 'href="/admin"' not in client.get("/dashboard", headers=auth("operator")).text


def test_pages_work_with_the_browser_session_cookie(client):
    sign_in(client, "operator")
    response = client.get("/dashboard")
    assert response.status_code == 200
    assert 'data-username="operator"' in response.text
    assert client.get("/admin").status_code == 403


def test_login_page_keeps_only_a_local_next(client):
    assert 'data-next="/admin"' in client.get("/login?next=/admin").text
    assert 'data-next=""' in client.get("/login?next=//evil.example").text


def test_tracking_code_in_the_path_is_escaped(client):
    response = client.get("/app/track/%3Cscript%3Ex")
    assert response.status_code == 200
    assert "<SCRIPT>" not in response.text
    assert 'data-code="&lt;SCRIPT&gt;X"' in response.text


# --- dashboard settings ----------------------------------------------------------------


def test_dashboard_gets_no_tiles_when_tile_url_is_empty(client, auth):
    html = client.get("/dashboard", headers=auth("operator")).text
    assert 'data-tile-url=""' in html
    csp = client.get("/dashboard", headers=auth("operator")).headers["content-security-policy"]
    assert "img-src 'self' data: blob:;" in csp


def test_dashboard_passes_the_tile_server_and_allows_it_in_csp(settings, db, token_for):
    tiled = settings.model_copy(
        update={
            "tile_url": "https://{s}.tiles.example.org/{z}/{x}/{y}.png",
            "tile_attribution": "© Example & Co",
        }
    )
    with TestClient(create_app(tiled, database=db)) as client:
        headers = {"Authorization": f"Bearer {token_for('operator')}"}
        response = client.get("/dashboard", headers=headers)
    assert response.status_code == 200
    assert 'data-tile-url="https://{s}.tiles.example.org/{z}/{x}/{y}.png"' in response.text
    assert 'data-tile-attribution="© Example &amp; Co"' in response.text
    assert (
        "img-src 'self' data: blob: https://*.tiles.example.org"
        in (response.headers["content-security-policy"])
    )


def test_tile_origin():
    assert tile_origin("https://tile.openstreetmap.org/{z}/{x}/{y}.png") == (
        "https://tile.openstreetmap.org"
    )
    assert tile_origin("http://{s}.example.org/{z}/{x}/{y}.png") == "http://*.example.org"
    assert tile_origin("/tiles/{z}/{x}/{y}.png") is None


@pytest.mark.parametrize("path", ["/app", "/login", "/dashboard", "/admin"])
def test_pages_forbid_inline_and_foreign_scripts(client, auth, path):
    response = client.get(path, headers=auth("admin"))
    csp = response.headers["content-security-policy"]
    script_src = re.search(r"script-src ([^;]*)", csp)
    assert script_src and script_src.group(1) == "'self'"
    assert "frame-ancestors 'none'" in csp
    assert response.headers["cache-control"] == "no-cache, private"
    # every <script> is either a file from /static or a JSON data block
    for tag in re.findall(r"<script\b[^>]*>", response.text):
        assert 'src="/static/' in tag or 'type="application/json"' in tag, tag


# --- citizen app and PWA ---------------------------------------------------------------


@pytest.mark.parametrize("path", ["/app", "/app/track", "/app/track/SZ-AAAAA-BBBBB"])
def test_citizen_pages_show_the_191_hotline(client, path):
    html = client.get(path).text
    assert re.search(r'<a class="hotline" href="tel:191"', html)
    assert '<link rel="manifest" href="/app/manifest.webmanifest">' in html


def test_manifest(client):
    response = client.get("/app/manifest.webmanifest")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/manifest+json")
    manifest = response.json()
    assert manifest["start_url"] == "/app"
    assert manifest["start_url"].startswith(manifest["scope"])
    assert manifest["display"] == "standalone"
    assert manifest["lang"] == "th"
    assert THAI.search(manifest["short_name"])
    assert len(manifest["short_name"]) <= 12
    sizes = set()
    for icon in manifest["icons"]:
        fetched = client.get(icon["src"])
        assert fetched.status_code == 200, icon["src"]
        assert fetched.headers["content-type"].startswith(icon["type"])
        if icon["type"] == "image/png":
            image = Image.open(io.BytesIO(fetched.content))
            assert f"{image.width}x{image.height}" == icon["sizes"]
            sizes.add(icon["sizes"])
    assert {"192x192", "512x512"} <= sizes
    assert any(icon.get("purpose") == "maskable" for icon in manifest["icons"])


def test_service_worker_is_served_for_the_app_scope(client):
    response = client.get("/app/sw.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["service-worker-allowed"] == "/app"
    assert response.headers["cache-control"] == "no-cache"
    assert "__SZ_VERSION__" not in response.text
    # pages register it with the scope the header allows
    pwa = (JS_DIR / "pwa.js").read_text()
    assert 'register("/app/sw.js", { scope: "/app" })' in pwa


def test_service_worker_shell_can_be_precached(client):
    """cache.addAll() fails the whole install if one URL does not answer 200."""
    source = client.get("/app/sw.js").text
    block = re.search(r"const SHELL_URLS = \[(.*?)\];", source, re.S)
    assert block
    urls = re.findall(r'"([^"]+)"', block.group(1))
    assert "/app" in urls and "/static/js/citizen.js" in urls
    for url in urls:
        assert client.get(url).status_code == 200, url


def test_service_worker_never_handles_writes(client):
    source = client.get("/app/sw.js").text
    handler = source[source.index('addEventListener("fetch"') :]
    assert 'if (request.method !== "GET") return;' in handler
    assert handler.index('request.method !== "GET"') < handler.index("respondWith")


def test_service_worker_version_follows_the_static_files(client):
    from safezone.web.router import asset_version

    assert f'const VERSION = "{asset_version()}";' in client.get("/app/sw.js").text
    assert f"/static/css/app.css?v={asset_version()}" in client.get("/app").text


# --- static files ----------------------------------------------------------------------


def test_vendored_libraries_are_present_with_licences():
    for path in (
        "leaflet/leaflet.js",
        "leaflet/leaflet.css",
        "leaflet/images/marker-icon.png",
        "leaflet/images/layers.png",
        "htmx/htmx.min.js",
    ):
        assert (VENDOR / path).stat().st_size > 0, path
    assert "BSD 2-Clause" in (VENDOR / "leaflet" / "LICENSE").read_text()
    assert "Zero-Clause BSD" in (VENDOR / "htmx" / "LICENSE").read_text()
    assert "Leaflet 1.9.4" in (VENDOR / "leaflet" / "leaflet.js").read_text()[:200]
    assert 'version:"2.0.11"' in (VENDOR / "htmx" / "htmx.min.js").read_text()


def test_vendor_readme_matches_the_files():
    readme = (VENDOR / "README.md").read_text()
    assert "1.9.4" in readme and "2.0.11" in readme
    listed = re.findall(r"^([0-9a-f]{64})  (\S+)$", readme, re.M)
    assert len(listed) >= 3
    for digest, path in listed:
        assert hashlib.sha256((VENDOR / path).read_bytes()).hexdigest() == digest, path


def test_no_template_loads_anything_from_another_site():
    for template in TEMPLATE_DIR.glob("*.html"):
        text = template.read_text()
        for tag in re.findall(r"<(?:script|link|img|iframe)\b[^>]*>", text):
            assert not re.search(r'(?:src|href)="(?:https?:)?//', tag), (template.name, tag)
        assert "@import" not in text


def test_own_scripts_and_styles_reference_no_other_site():
    for path in [*JS_DIR.glob("*.js"), *(STATIC_DIR / "css").glob("*.css")]:
        text = path.read_text()
        assert not re.search(r"https?://", text), path.name
        assert not re.search(r"""["'(]//[a-z0-9]""", text), path.name


@pytest.mark.parametrize("path", ["/app", "/app/track", "/login", "/dashboard", "/admin"])
def test_every_static_file_a_page_uses_exists(client, auth, path):
    html = client.get(path, headers=auth("admin")).text
    references = set(re.findall(r'(?:src|href)="(/static/[^"]+)"', html))
    assert any(r.startswith("/static/js/") for r in references)
    for reference in references:
        assert client.get(reference).status_code == 200, reference


# --- translations ----------------------------------------------------------------------


def test_catalogue_has_the_same_keys_in_both_languages():
    strings = catalog()
    assert set(strings["th"]) == set(strings["en"])
    for lang in ("th", "en"):
        empty = [k for k, v in strings[lang].items() if not v.strip()]
        assert not empty, (lang, empty)
    # placeholders match between the languages
    for key, text in strings["th"].items():
        assert set(re.findall(r"\{(\w+)\}", text)) == set(
            re.findall(r"\{(\w+)\}", strings["en"][key])
        ), key


@pytest.mark.parametrize(
    ("prefix", "values"),
    [
        ("cat.", get_args(Category)),
        ("status.", get_args(Status)),
        ("priority.", get_args(Priority)),
        ("source.", get_args(Source)),
        ("kind.", get_args(ReportKind)),
        ("rstatus.", get_args(ReportStatus)),
        ("role.", ROLES),
    ],
)
def test_every_domain_value_has_a_label(prefix, values):
    th, en = catalog()["th"], catalog()["en"]
    for value in values:
        key = prefix + value
        assert key in th and key in en, key
        assert THAI.search(th[key]), key
        assert not THAI.search(en[key]), key


def _keys_used() -> set[str]:
    keys: set[str] = set()
    for template in TEMPLATE_DIR.glob("*.html"):
        text = template.read_text()
        keys |= set(re.findall(r"""\btr?\(\s*'([a-z0-9_.]+)'\s*[,)]""", text))
        keys |= set(re.findall(r'data-i18n(?:-[a-z-]+)?="([a-z0-9_.]+)"', text))
    for script in JS_DIR.glob("*.js"):
        text = script.read_text()
        key = r'"([a-z0-9_]+\.[a-z0-9_.]*[a-z0-9_])"'
        keys |= set(re.findall(r"\b(?:t|tr|has)\(\s*" + key + r"\s*[,)]", text))
        keys |= set(re.findall(r"\b(?:i18n|label|hint)\s*:\s*" + key + r"[,\s}]", text))
        keys |= set(re.findall(r"""["']data-i18n(?:-[a-z-]+)?["']\s*[:,]\s*""" + key, text))
        keys |= set(re.findall(r"\[\s*\"[a-z]+\",\s*" + key + r",\s*(?:true|false)\s*\]", text))
    return keys


def test_every_key_the_pages_use_exists():
    used = _keys_used()
    assert len(used) > 100  # the scan itself works
    missing = sorted(k for k in used if k not in catalog()["th"])
    assert not missing, missing


def test_page_embeds_the_catalogue_for_its_scripts(client):
    html = client.get("/app").text
    match = re.search(r'<script type="application/json" id="sz-i18n">(.*?)</script>', html, re.S)
    assert match
    embedded = json.loads(match.group(1))
    assert embedded == catalog()
    assert "ภาษา" in match.group(1)  # Thai kept as UTF-8, not \\u escapes


def test_static_dir_has_no_stray_files():
    allowed = {".js", ".css", ".json", ".png", ".svg", ".webmanifest", ".md", ""}
    for path in STATIC_DIR.rglob("*"):
        if path.is_file():
            assert path.suffix in allowed, path
    assert Path(STATIC_DIR / "i18n.json").is_file()
