"""HTML pages. Python only renders the page shells and redirects; the pages' JavaScript
(static/js/) talks to the JSON API with the session cookie and CSRF token.

Every page declares ``public()`` and checks the role itself, so that a browser without a
session is sent to the sign-in page instead of getting a JSON 401.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import date
from functools import lru_cache
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from safezone.config import Settings
from safezone.core.errors import InvalidInput, NotFound
from safezone.core.permissions import CONTROL_ROOM, STAFF, Principal, Role, public
from safezone.web import STATIC_DIR, TEMPLATE_DIR
from safezone.web.i18n import LANG_COOKIE, LANGS, catalog, lang_of, translate

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(TEMPLATE_DIR))


def script_json(value: Any) -> Markup:
    """JSON safe inside <script> and attributes, keeping Thai as UTF-8 (a third the size of
    Jinja's ``tojson``, which writes every Thai letter as a \\u escape)."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027")):
        text = text.replace(char, escaped)
    return Markup(text)


templates.env.filters["script_json"] = script_json

Anyone = Annotated[Principal | None, public()]
ADMIN_ONLY: tuple[Role, ...] = ("admin",)
COMMAND_ONLY: tuple[Role, ...] = ("commander", "admin")
CONTROL_ROOM_ONLY: tuple[Role, ...] = ("operator", "commander", "admin")
SW_SCOPE = "/app"
ONE_YEAR_S = 365 * 24 * 3600


# --- helpers -------------------------------------------------------------------------


def home_of(principal: Principal | None) -> str:
    """Where a user lands: staff on the command centre, everyone else on the citizen app."""
    return "/dashboard" if principal is not None and principal.role in STAFF else "/app"


def safe_next(value: str | None, default: str) -> str:
    """A redirect target only if it is a path on this site (never //host or a URL)."""
    if (
        value
        and value.startswith("/")
        and not value.startswith("//")
        and "\\" not in value
        and value.isprintable()
    ):
        return value
    return default


@lru_cache(maxsize=1)
def asset_version() -> str:
    """A short hash of every static file: busts browser and service-worker caches."""
    digest = hashlib.sha256()
    for path in sorted(p for p in STATIC_DIR.rglob("*") if p.is_file()):
        digest.update(path.relative_to(STATIC_DIR).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def static_url(path: str) -> str:
    return f"/static/{path}?v={asset_version()}"


def tile_origin(tile_url: str) -> str | None:
    """The CSP source for the tile server (``{s}`` subdomains become a wildcard)."""
    parts = urlsplit(tile_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    host = parts.netloc.replace("{s}", "*")
    if "{" in host or "}" in host:
        return f"{parts.scheme}:"
    return f"{parts.scheme}://{host}"


def content_security_policy(settings: Settings) -> str:
    images = ["'self'", "data:", "blob:"]
    origin = tile_origin(settings.tile_url) if settings.tile_url else None
    if origin:
        images.append(origin)
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'",
            "img-src " + " ".join(images),
            "connect-src 'self'",
            "worker-src 'self'",
            "manifest-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def render(
    request: Request,
    principal: Principal | None,
    template: str,
    *,
    status_code: int = 200,
    **context: Any,
) -> Response:
    lang = lang_of(request)
    settings: Settings = request.app.state.settings

    def t(key: str, **params: object) -> str:
        return translate(lang, key, **params)

    def tr(key: str, **params: object) -> Markup:
        """Translated text in a span the page's JS re-translates when the language changes."""
        return Markup('<span data-i18n="{}">{}</span>').format(key, escape(t(key, **params)))

    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    response = templates.TemplateResponse(
        request,
        template,
        {
            "lang": lang,
            "t": t,
            "tr": tr,
            "i18n": catalog(),
            "principal": principal,
            "home": home_of(principal),
            "here": here,
            "static": static_url,
            **context,
        },
        status_code=status_code,
    )
    response.headers["Content-Security-Policy"] = content_security_policy(settings)
    response.headers["Cache-Control"] = "no-cache, private"
    response.headers["Vary"] = "Cookie"
    return response


def gate(request: Request, principal: Principal | None, roles: tuple[Role, ...]) -> Response | None:
    """None if the caller may see the page; otherwise the sign-in redirect or a 403 page."""
    if principal is None:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse("/login?" + urlencode({"next": here}), status_code=303)
    if principal.role not in roles:
        return render(request, principal, "forbidden.html", status_code=403)
    return None


# --- pages ---------------------------------------------------------------------------


@router.get("/")
def index(principal: Anyone) -> RedirectResponse:
    return RedirectResponse(home_of(principal), status_code=303)


@router.get("/login")
def login_page(
    request: Request,
    principal: Anyone,
    next: Annotated[str | None, Query(max_length=2000)] = None,
) -> Response:
    return render(request, principal, "login.html", next_url=safe_next(next, ""))


@router.get("/lang/{code}")
def choose_language(
    code: str,
    principal: Anyone,
    next: Annotated[str | None, Query(max_length=2000)] = None,
) -> RedirectResponse:
    """Works without JavaScript; the pages' toggle sets the same cookie in place."""
    if code not in LANGS:
        raise NotFound(f"Unknown language '{code}'; use one of: {', '.join(LANGS)}.")
    response = RedirectResponse(safe_next(next, "/"), status_code=303)
    response.set_cookie(LANG_COOKIE, code, max_age=ONE_YEAR_S, path="/", samesite="lax")
    return response


def _map_page(request: Request, principal: Principal | None, roles: Any, template: str) -> Response:
    """A signed-in page with the map: the configured tiles and their attribution."""
    denied = gate(request, principal, roles)
    if denied is not None:
        return denied
    settings: Settings = request.app.state.settings
    return render(
        request,
        principal,
        template,
        tile_url=settings.tile_url,
        tile_attribution=settings.tile_attribution,
    )


@router.get("/dashboard")
def dashboard(request: Request, principal: Anyone) -> Response:
    return _map_page(request, principal, STAFF, "dashboard.html")


@router.get("/faces")
def faces_review(request: Request, principal: Anyone) -> Response:
    """The face-match review queue, for the control room."""
    denied = gate(request, principal, CONTROL_ROOM)
    if denied is not None:
        return denied
    return render(request, principal, "faces.html")


@router.get("/admin")
def admin(request: Request, principal: Anyone) -> Response:
    return _map_page(request, principal, ADMIN_ONLY, "admin.html")


@router.get("/command/patrol")
def patrol_compliance_page(request: Request, principal: Anyone) -> Response:
    """The commander's map: a plan's checkpoints visited and missed in a shift."""
    return _map_page(request, principal, COMMAND_ONLY, "patrol.html")


@router.get("/housewatch")
def housewatch_desk(request: Request, principal: Anyone) -> Response:
    """The station's house-watch desk: requests on a map, approve or decline."""
    return _map_page(request, principal, CONTROL_ROOM_ONLY, "housewatch.html")


@router.get("/commander")
def commander(request: Request, principal: Anyone) -> Response:
    """The commander's KPI page (charts drawn by static/js/commander.js)."""
    return _map_page(request, principal, COMMAND_ONLY, "commander.html")


@router.get("/commander/brief")
def commander_brief(
    request: Request,
    principal: Anyone,
    day: Annotated[str | None, Query(alias="date", max_length=10)] = None,
) -> Response:
    """The daily brief as a page (the PDF is GET /api/v1/commander/brief.pdf)."""
    denied = gate(request, principal, COMMAND_ONLY)
    if denied is not None:
        return denied
    assert principal is not None  # gate() lets only signed-in callers through
    from safezone.commander import brief as brief_render
    from safezone.commander import service as commander_service

    settings: Settings = request.app.state.settings
    zone = settings.local_timezone
    try:
        on = date.fromisoformat(day) if day else commander_service.local_today(zone)
    except ValueError:
        raise InvalidInput(f"'{day}' is not a date (YYYY-MM-DD).", field="date") from None
    database = request.app.state.db
    with database.reader() as session:
        data = commander_service.brief(
            session, station_id=principal.station_id, day=on, timezone=zone
        )
    image = base64.b64encode(brief_render.map_png(data, width_px=900)).decode()
    return render(request, principal, "brief.html", brief=data, map_png=image)


@router.get("/app")
@router.get("/app/")
def citizen_app(request: Request, principal: Anyone) -> Response:
    settings: Settings = request.app.state.settings
    return render(
        request,
        principal,
        "citizen.html",
        tile_url=settings.tile_url,
        tile_attribution=settings.tile_attribution,
    )


@router.get("/app/track")
def track_form(request: Request, principal: Anyone) -> Response:
    return render(request, principal, "track.html", code="")


@router.get("/app/track/{code}")
def track_page(
    request: Request,
    principal: Anyone,
    code: Annotated[str, Path(max_length=64)],
) -> Response:
    return render(request, principal, "track.html", code=code.strip().upper())


def _manifest(name: str) -> Response:
    return Response(
        (STATIC_DIR / name).read_bytes(),
        media_type="application/manifest+json",
        headers={"Cache-Control": "no-cache"},
    )


def _service_worker(name: str, scope: str) -> Response:
    """A PWA's service worker, served under its scope so that it may control it, with the
    asset version that names its cache."""
    source = (STATIC_DIR / "js" / name).read_text(encoding="utf-8")
    return Response(
        source.replace("__SZ_VERSION__", asset_version()),
        media_type="text/javascript",
        headers={"Service-Worker-Allowed": scope, "Cache-Control": "no-cache"},
    )


@router.get("/app/manifest.webmanifest")
def manifest(principal: Anyone) -> Response:
    return _manifest("app.webmanifest")


@router.get("/app/sw.js")
def service_worker(principal: Anyone) -> Response:
    """The citizen app's service worker, scope /app."""
    return _service_worker("sw.js", SW_SCOPE)


# --- the officer app (issue 4): its own PWA scope, /officer ----------------------------

OFFICER_SCOPE = "/officer"
OFFICER_ONLY: tuple[Role, ...] = ("officer",)


@router.get("/officer")
@router.get("/officer/")
def officer_app(request: Request, principal: Anyone) -> Response:
    """Patrol on a phone: shift, checkpoint scans (with an offline queue), assignments."""
    denied = gate(request, principal, OFFICER_ONLY)
    if denied is not None:
        return denied
    return render(request, principal, "officer.html")


@router.get("/officer/manifest.webmanifest")
def officer_manifest(principal: Anyone) -> Response:
    return _manifest("officer.webmanifest")


@router.get("/officer/sw.js")
def officer_service_worker(principal: Anyone) -> Response:
    """The officer app's own service worker, scope /officer (the citizen one keeps /app)."""
    return _service_worker("officer-sw.js", OFFICER_SCOPE)
