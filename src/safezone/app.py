"""create_app(settings): the one place where the web application is assembled."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from safezone import __version__
from safezone.alerts.router import router as alerts_router
from safezone.analytics.router import router as analytics_router
from safezone.audit.router import router as audit_router
from safezone.auth import service as auth_service
from safezone.auth.router import router as auth_router
from safezone.cameras.health import CameraMonitor
from safezone.cameras.router import evidence_router
from safezone.cameras.router import health_router as camera_health_router
from safezone.cameras.router import router as cameras_router
from safezone.commander.router import router as commander_router
from safezone.config import Settings
from safezone.core.bus import Event, make_bus
from safezone.core.bus.outbox import OutboxRelay
from safezone.core.db import Database
from safezone.core.errors import AppError, PayloadTooLarge
from safezone.core.permissions import Principal, policy_of, public
from safezone.core.scheduler import Scheduler
from safezone.dispatch import jobs as dispatch_jobs
from safezone.dispatch.router import router as dispatch_router
from safezone.faces import service as faces_service
from safezone.faces.router import router as faces_router
from safezone.housewatch import jobs as housewatch_jobs
from safezone.housewatch.router import router as housewatch_router
from safezone.incidents.router import router as incidents_router
from safezone.patrol import service as patrol_service
from safezone.patrol.router import patrol_router as patrol_checkins_router
from safezone.patrol.router import router as patrol_router
from safezone.realtime.router import officer_router as officer_events_router
from safezone.realtime.router import router as realtime_router
from safezone.realtime.service import StreamHub
from safezone.reports.router import router as reports_router
from safezone.sos import jobs as sos_jobs
from safezone.sos import service as sos_service
from safezone.sos.gateway import MqttGateway
from safezone.sos.gateway_process import GatewayProcess
from safezone.sos.router import router as sos_router
from safezone.web import STATIC_DIR
from safezone.web.router import router as web_router
from safezone.zones.router import router as zones_router

log = logging.getLogger(__name__)

system_router = APIRouter(prefix="/api/v1", tags=["system"])


@system_router.get("/health")
def health(request: Request, principal: Annotated[Principal | None, public()]) -> JSONResponse:
    """For load balancers and operators: the database answers, and the MQTT gateway (when
    configured) is connected. 503 when something is down."""
    checks: dict[str, str] = {}
    try:
        with request.app.state.db.reader() as session:
            session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any driver error means "down" here
        checks["database"] = f"down: {exc.__class__.__name__}"
    gateway = request.app.state.gateway
    if gateway is not None:
        checks["mqtt"] = "ok" if gateway.connected.is_set() else "down: not connected"
    healthy = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ok" if healthy else "degraded", "checks": checks},
        status_code=200 if healthy else 503,
    )


ROUTERS = (
    system_router,
    auth_router,
    zones_router,
    reports_router,
    incidents_router,
    alerts_router,
    sos_router,
    cameras_router,
    camera_health_router,
    evidence_router,
    faces_router,
    patrol_router,
    patrol_checkins_router,
    dispatch_router,
    housewatch_router,
    audit_router,
    analytics_router,
    commander_router,
    realtime_router,
    officer_events_router,
    web_router,
)


def _error_response(exc: AppError) -> JSONResponse:
    return JSONResponse(exc.to_dict(), status_code=exc.status_code, headers=exc.headers)


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "form")]
    return ".".join(parts) or str(loc[0] if loc else "body")


def _validation_response(exc: RequestValidationError) -> JSONResponse:
    details = []
    for error in exc.errors():
        loc = error.get("loc", ())
        if error.get("type") == "json_invalid":
            details.append({"field": "body", "message": "The request body is not valid JSON."})
            continue
        message = str(error.get("msg", "is invalid"))
        if error.get("type") == "extra_forbidden":
            message = "is not a known field"
        elif error.get("type") == "missing":
            message = "is required"
        details.append({"field": _field_path(loc), "message": message})
    first = details[0] if details else {"field": "body", "message": "is invalid"}
    body = {
        "error": {
            "code": "invalid_input",
            "message": first["message"]
            if first["field"] == "body"
            else f"{first['field']}: {first['message']}",
            "field": first["field"],
            "details": details,
        }
    }
    malformed = any(e.get("type") == "json_invalid" for e in exc.errors())
    return JSONResponse(body, status_code=400 if malformed else 422)


class SecurityHeaders:
    """Adds the security headers every response carries, unless the route set its own.

    A plain ASGI middleware: one written with ``@app.middleware("http")`` runs every
    request in a task group of its own and relays a streamed response (the control
    room's event stream) chunk by chunk through a memory channel, which costs each SOS
    event on its way to the screen a few task switches.
    """

    HEADERS = (
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
        (b"x-frame-options", b"DENY"),
    )

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(n, v) for n, v in self.HEADERS if n not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


class BodyLimit:
    """Refuses request bodies larger than the configured limit, before they are read."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        too_large = PayloadTooLarge(
            f"The request body is larger than the limit of {self.max_bytes} bytes.",
            field="body",
        )
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _error_response(too_large)(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise too_large
            return message

        await self.app(scope, limited, send)


def _api_routes(app: FastAPI) -> Iterator[APIRoute]:
    """Every API route of the app, including those of included routers.

    Newer FastAPI keeps included routers as one opaque entry in ``app.routes`` and
    offers ``iter_route_contexts`` to walk them; older versions list the routes directly.
    """
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # pragma: no cover - older FastAPI
        routes: list[Any] = list(app.routes)
    else:
        routes = [ctx.original_route for ctx in iter_route_contexts(app.routes)]
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif not isinstance(route, BaseRoute) or not isinstance(route, (Mount, Route)):
            raise RuntimeError(f"cannot check the access policy of route {route!r}")


def check_policies(app: FastAPI) -> None:
    """Deny by default: refuse to start if any route forgot to declare who may call it."""
    missing = []
    for route in _api_routes(app):
        declared = [policy_of(d.call) for d in route.dependant.dependencies if d.call]
        if not any(declared):
            missing.append(f"{','.join(sorted(route.methods or ()))} {route.path}")
    if missing:
        raise RuntimeError("routes without an access policy: " + "; ".join(missing))


def create_app(settings: Settings, *, database: Database | None = None) -> FastAPI:
    settings.require_secret_key()
    if settings.env != "demo":
        # Settings checks this in production; here also for development and test servers,
        # and for settings made with model_copy, which skips validation.
        try:
            settings.require_signed_webhooks()
        except ValueError as exc:
            raise RuntimeError(str(exc)) from None
    db = database or Database(settings.resolved_database_url)
    settings.media_dir.mkdir(parents=True, exist_ok=True)
    bus = make_bus(settings.bus_url)
    relay = OutboxRelay(db, bus, interval_s=settings.relay_interval_s)
    db.commit_listeners.append(relay.nudge)

    if settings.road_graph is not None:
        # A broken road file fails at start, not at the first dispatch.
        patrol_service.road_graph(settings)
    scheduler = Scheduler(db)
    sos_jobs.schedule(scheduler, settings)
    dispatch_jobs.schedule(scheduler, settings)
    scheduler.add(
        "faces.purge_expired",
        faces_service.PURGE_INTERVAL_S,
        faces_service.purge_job(settings.media_dir),
    )
    housewatch_jobs.schedule(scheduler, settings)
    gateway: MqttGateway | GatewayProcess | None = None
    if settings.mqtt_url and settings.mqtt_gateway_process:
        gateway = GatewayProcess(settings)
    elif settings.mqtt_url:
        gateway = MqttGateway(
            db,
            url=settings.mqtt_url,
            client_id=settings.mqtt_client_id,
            tolerance_s=settings.sos_clock_tolerance_s,
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.stream_hub = StreamHub(bus)
        db.commit_listeners.append(app.state.stream_hub.nudge)
        workers = sos_jobs.SosWorkers(db, settings, bus)
        camera_monitor = CameraMonitor(db, settings)
        housewatch_workers = housewatch_jobs.HouseWatchWorkers(db, settings, bus)
        db.start_checkpoints()
        relay.start()
        scheduler.start()
        camera_monitor.start()
        if isinstance(gateway, GatewayProcess):
            hub = app.state.stream_hub

            def committed_there(events: list[Event]) -> None:
                hub.nudge(events)
                relay.nudge(events)

            gateway.start(committed_there)
        elif gateway is not None:
            gateway.start()
        try:
            yield
        finally:
            if gateway is not None:
                gateway.stop()
            await scheduler.stop()
            await camera_monitor.stop()
            await relay.stop()
            await workers.stop()
            await housewatch_workers.stop()
            app.state.stream_hub.close()
            db.commit_listeners.remove(app.state.stream_hub.nudge)
            await bus.close()
            db.stop_checkpoints()
            if relay.nudge in db.commit_listeners:
                db.commit_listeners.remove(relay.nudge)

    app = FastAPI(
        title="SafeZone",
        version=__version__,
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.bus = bus
    app.state.relay = relay
    app.state.scheduler = scheduler
    app.state.gateway = gateway
    app.state.authenticator = auth_service.authenticate_request
    app.state.panic_sources = sos_service.PanicSources()
    app.state.login_throttle = auth_service.IpThrottle(
        max_failures=settings.login_max_failures * 4, window_s=15 * 60
    )

    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> JSONResponse:
        return _error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_response(exc)

    app.add_middleware(BodyLimit, max_bytes=settings.request_max_bytes)
    app.add_middleware(SecurityHeaders)  # outside BodyLimit: its 413s carry them too
    # Pages carry their string catalogue; phones on slow links feel every kilobyte.
    app.add_middleware(GZipMiddleware, minimum_size=1024)

    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    check_policies(app)
    return app
