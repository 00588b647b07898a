"""Who may call what: the role x route matrix of the whole /api/v1 surface.

EXPECTED is the one table of access rules. Every API route must appear in it (a new route
without an entry fails ``test_expected_table_covers_exactly_the_app_routes``), and every
(route, caller) pair is exercised as its own test.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from safezone.app import check_policies, create_app
from safezone.auth import service as auth_service
from safezone.config import Settings
from safezone.core.db import Database
from safezone.core.permissions import allow, policy_of, public
from safezone.zones import schemas as zone_schemas
from safezone.zones import service as zones_service
from tests.conftest import SECRET

PUBLIC = "public"
# Open to anyone at the HTTP level, but the caller proves itself another way (an SOS box
# by its HMAC signature): a user's role neither admits nor refuses it.
DEVICE = "device"
ALL = frozenset({"citizen", "officer", "operator", "commander", "admin"})
STAFF = frozenset({"officer", "operator", "commander", "admin"})
CONTROL_ROOM = frozenset({"operator", "commander", "admin"})
COMMAND = frozenset({"commander", "admin"})
ADMIN = frozenset({"admin"})
CITIZEN = frozenset({"citizen"})
OFFICER = frozenset({"officer"})
CALLERS = ("anonymous", "citizen", "officer", "operator", "commander", "admin")

V1 = "/api/v1"
EXPECTED: dict[tuple[str, str], str | frozenset[str]] = {
    ("GET", f"{V1}/health"): PUBLIC,
    # analytics
    ("GET", f"{V1}/analytics/hotspots"): CONTROL_ROOM,
    ("GET", f"{V1}/analytics/forecast"): CONTROL_ROOM,
    ("GET", f"{V1}/analytics/recommendations"): COMMAND,
    # commander's KPIs and daily brief
    ("GET", f"{V1}/commander/kpis"): COMMAND,
    ("GET", f"{V1}/commander/brief"): COMMAND,
    ("GET", f"{V1}/commander/brief.pdf"): COMMAND,
    # auth and accounts
    ("POST", f"{V1}/auth/token"): PUBLIC,
    ("POST", f"{V1}/auth/session"): PUBLIC,
    ("POST", f"{V1}/auth/register"): PUBLIC,
    ("POST", f"{V1}/auth/logout"): ALL,
    ("GET", f"{V1}/auth/me"): ALL,
    ("GET", f"{V1}/users"): ADMIN,
    ("POST", f"{V1}/users"): ADMIN,
    ("PATCH", f"{V1}/users/{{user_id}}"): ADMIN,
    # registry
    ("GET", f"{V1}/stations/current"): STAFF,
    ("GET", f"{V1}/zones"): PUBLIC,
    ("GET", f"{V1}/registry/export.geojson"): ADMIN,
    ("POST", f"{V1}/registry/import"): ADMIN,
    ("GET", f"{V1}/maintenance-alerts"): STAFF,
    # citizen reports
    ("POST", f"{V1}/reports"): PUBLIC,
    ("GET", f"{V1}/reports/track/{{tracking_code}}"): PUBLIC,
    ("POST", f"{V1}/reports/track/{{tracking_code}}/photos"): PUBLIC,
    ("GET", f"{V1}/reports/mine"): CITIZEN,
    ("GET", f"{V1}/reports"): CONTROL_ROOM,
    ("GET", f"{V1}/reports/{{report_id}}"): CONTROL_ROOM,
    ("GET", f"{V1}/reports/{{report_id}}/photos/{{photo_id}}"): CONTROL_ROOM,
    ("POST", f"{V1}/reports/{{report_id}}/triage"): CONTROL_ROOM,
    # incidents
    ("GET", f"{V1}/incidents"): STAFF,
    ("POST", f"{V1}/incidents"): CONTROL_ROOM,
    ("GET", f"{V1}/incidents/{{incident_id}}"): STAFF,
    ("PATCH", f"{V1}/incidents/{{incident_id}}"): CONTROL_ROOM,
    ("POST", f"{V1}/incidents/{{incident_id}}/transitions"): STAFF,
    ("POST", f"{V1}/incidents/{{incident_id}}/notes"): STAFF,
    # audit trail
    ("GET", f"{V1}/audit"): COMMAND,
    ("GET", f"{V1}/audit/verify"): COMMAND,
    # live events
    ("GET", f"{V1}/events/stream"): CONTROL_ROOM,
    ("GET", f"{V1}/officer/events/stream"): OFFICER,
    # SOS: boxes authenticate by signature, citizens' panic SOS needs no account
    ("POST", f"{V1}/sos/boxes/{{box_id}}/events"): DEVICE,
    ("GET", f"{V1}/sos/boxes/status"): STAFF,
    ("GET", f"{V1}/sos/rejections"): CONTROL_ROOM,
    ("GET", f"{V1}/sos/responses/{{incident_id}}"): STAFF,
    ("POST", f"{V1}/sos/panic"): PUBLIC,
    ("GET", f"{V1}/sos/panic/{{tracking_code}}"): PUBLIC,
    ("POST", f"{V1}/sos/panic/{{tracking_code}}/trail"): PUBLIC,
    ("POST", f"{V1}/sos/panic/{{tracking_code}}/cancel"): PUBLIC,
    ("GET", f"{V1}/cameras/snapshots/{{snapshot_id}}"): CONTROL_ROOM,
    ("GET", f"{V1}/cameras/{{camera_id}}/snapshot"): CONTROL_ROOM,
    ("GET", f"{V1}/camera-health"): STAFF,
    ("GET", f"{V1}/evidence-exports"): CONTROL_ROOM,
    # public alerts (CAP 1.2, Atom)
    ("GET", f"{V1}/alerts/active"): PUBLIC,
    ("GET", f"{V1}/alerts/feed.atom"): PUBLIC,
    ("GET", f"{V1}/alerts/{{alert_id}}.cap"): PUBLIC,
    ("GET", f"{V1}/alerts"): CONTROL_ROOM,
    ("POST", f"{V1}/alerts"): CONTROL_ROOM,
    ("GET", f"{V1}/alerts/{{alert_id}}"): CONTROL_ROOM,
    ("POST", f"{V1}/alerts/{{alert_id}}/update"): CONTROL_ROOM,
    ("POST", f"{V1}/alerts/{{alert_id}}/cancel"): CONTROL_ROOM,
    # patrol units
    ("GET", f"{V1}/units"): STAFF,
    ("GET", f"{V1}/units/nearest"): CONTROL_ROOM,
    ("POST", f"{V1}/units"): ADMIN,
    ("PATCH", f"{V1}/units/{{unit_id}}"): STAFF,
    ("POST", f"{V1}/units/{{unit_id}}/location"): STAFF,
    # patrol: checkpoint codes, officers' phones, shifts, check-ins
    ("GET", f"{V1}/patrol/checkpoints/{{checkpoint_id}}/qr.svg"): COMMAND,
    ("GET", f"{V1}/patrol/checkpoints/{{checkpoint_id}}/qr.png"): COMMAND,
    ("GET", f"{V1}/patrol/checkpoints/{{checkpoint_id}}/display-key"): ADMIN,
    ("POST", f"{V1}/patrol/checkpoints/{{checkpoint_id}}/rotate-key"): ADMIN,
    ("GET", f"{V1}/patrol/devices"): STAFF,
    ("POST", f"{V1}/patrol/devices"): COMMAND,
    ("POST", f"{V1}/patrol/devices/{{registration_id}}/revoke"): COMMAND,
    ("GET", f"{V1}/patrol/shifts"): STAFF,
    ("POST", f"{V1}/patrol/shifts/start"): OFFICER,
    ("POST", f"{V1}/patrol/shifts/end"): OFFICER,
    ("POST", f"{V1}/patrol/checkins"): OFFICER,
    ("GET", f"{V1}/patrol/checkins"): STAFF,
    # patrol plans and compliance
    ("GET", f"{V1}/patrol/plans"): STAFF,
    ("POST", f"{V1}/patrol/plans"): COMMAND,
    ("GET", f"{V1}/patrol/plans/{{plan_id}}"): STAFF,
    ("PATCH", f"{V1}/patrol/plans/{{plan_id}}"): COMMAND,
    ("GET", f"{V1}/patrol/plans/{{plan_id}}/compliance"): COMMAND,
    ("GET", f"{V1}/patrol/plans/{{plan_id}}/compliance.csv"): COMMAND,
    ("GET", f"{V1}/patrol/plans/{{plan_id}}/compliance.pdf"): COMMAND,
    # house-watch: citizens ask and see their own; the station decides
    ("POST", f"{V1}/housewatch/requests"): CITIZEN,
    ("GET", f"{V1}/housewatch/requests"): CITIZEN | STAFF,
    ("GET", f"{V1}/housewatch/active"): STAFF,
    ("GET", f"{V1}/housewatch/requests/{{request_id}}"): CITIZEN | STAFF,
    ("POST", f"{V1}/housewatch/requests/{{request_id}}/approve"): CONTROL_ROOM,
    ("POST", f"{V1}/housewatch/requests/{{request_id}}/decline"): CONTROL_ROOM,
    ("POST", f"{V1}/housewatch/requests/{{request_id}}/cancel"): CITIZEN,
    ("GET", f"{V1}/housewatch/requests/{{request_id}}/qr.svg"): CITIZEN | CONTROL_ROOM,
    # dispatch: assignments, acknowledgement, response times
    ("GET", f"{V1}/dispatch/incidents/{{incident_id}}/suggestions"): CONTROL_ROOM,
    ("POST", f"{V1}/dispatch/assignments"): CONTROL_ROOM,
    ("GET", f"{V1}/dispatch/assignments"): STAFF,
    ("GET", f"{V1}/dispatch/assignments/{{assignment_id}}"): STAFF,
    ("POST", f"{V1}/dispatch/assignments/{{assignment_id}}/acknowledge"): STAFF,
    ("POST", f"{V1}/dispatch/assignments/{{assignment_id}}/steps"): STAFF,
    ("POST", f"{V1}/dispatch/assignments/{{assignment_id}}/cancel"): CONTROL_ROOM,
    ("GET", f"{V1}/dispatch/response-times"): CONTROL_ROOM,
    # face identification: commanders enrol and search, the control room reviews
    ("POST", f"{V1}/faces/watchlist"): COMMAND,
    ("GET", f"{V1}/faces/watchlist"): CONTROL_ROOM,
    ("GET", f"{V1}/faces/watchlist/{{entry_id}}"): CONTROL_ROOM,
    ("DELETE", f"{V1}/faces/watchlist/{{entry_id}}"): COMMAND,
    ("GET", f"{V1}/faces/watchlist/{{entry_id}}/photos/{{photo_id}}"): CONTROL_ROOM,
    ("POST", f"{V1}/faces/search"): COMMAND,
    ("GET", f"{V1}/faces/matches"): CONTROL_ROOM,
    ("GET", f"{V1}/faces/matches/{{match_id}}/{{which}}.jpg"): CONTROL_ROOM,
    ("POST", f"{V1}/faces/matches/{{match_id}}/decision"): CONTROL_ROOM,
    ("GET", f"{V1}/faces/false-matches"): CONTROL_ROOM,
}
for _plural in ("zones", "cameras", "sos-boxes", "checkpoints"):
    if _plural != "zones":  # the zone list is public (see above)
        EXPECTED[("GET", f"{V1}/{_plural}")] = STAFF
    EXPECTED[("GET", f"{V1}/{_plural}/{{asset_id}}")] = STAFF
    EXPECTED[("POST", f"{V1}/{_plural}")] = ADMIN
    EXPECTED[("PATCH", f"{V1}/{_plural}/{{asset_id}}")] = ADMIN
    EXPECTED[("DELETE", f"{V1}/{_plural}/{{asset_id}}")] = ADMIN

NOT_API = (f"{V1}/openapi.json", f"{V1}/docs")


# --- enumerating the app's routes -----------------------------------------------------


def api_routes(app: FastAPI) -> Iterator[tuple[str, str, Any]]:
    """(method, path, route) of every APIRoute under /api/v1, however it was included.

    FastAPI >= 0.137 keeps an included router as one opaque entry of ``app.routes``;
    ``iter_route_contexts`` walks into it (older versions list the APIRoutes directly).
    """
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # pragma: no cover - FastAPI before included-router contexts
        contexts: Any = app.routes
    else:
        contexts = iter_route_contexts(app.routes)
    for ctx in contexts:
        original = getattr(ctx, "original_route", ctx)
        if not isinstance(original, APIRoute):
            continue
        path = ctx.path
        if not path.startswith(V1 + "/") or path in NOT_API:
            continue
        for method in sorted(ctx.methods or ()):
            yield method, path, ctx


def dependant_of(route: Any) -> Any:
    return getattr(route, "dependant", None) or route.original_route.dependant


def declared_policies(dependant: Any) -> list[str]:
    return [p for d in dependant.dependencies if d.call and (p := policy_of(d.call))]


def test_expected_table_covers_exactly_the_app_routes(app):
    actual = {(method, path) for method, path, _ in api_routes(app)}
    missing = sorted(actual - set(EXPECTED))
    stale = sorted(set(EXPECTED) - actual)
    assert not missing, f"routes without an entry in EXPECTED: {missing}"
    assert not stale, f"EXPECTED lists routes the app does not have: {stale}"


def test_route_enumeration_agrees_with_the_openapi_schema(app):
    # Guards the enumeration itself: if it went quiet, the coverage test would be vacuous.
    documented = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        if path.startswith(V1 + "/")
        for method in operations
    }
    enumerated = {
        (method, path)
        for method, path, route in api_routes(app)
        if getattr(route, "include_in_schema", True)
    }
    assert len(enumerated) >= 40
    assert enumerated == documented


def test_each_route_declares_exactly_the_expected_policy(app):
    wrong = {}
    for method, path, route in api_routes(app):
        policies = declared_policies(dependant_of(route))
        expected = EXPECTED.get((method, path))
        if expected in (PUBLIC, DEVICE):
            ok = policies == ["public"]
        else:
            ok = (
                len(policies) == 1
                and policies[0].startswith("roles:")
                and frozenset(policies[0].removeprefix("roles:").split(",")) == expected
            )
        if not ok:
            wrong[f"{method} {path}"] = policies
    assert not wrong, f"declared policy differs from EXPECTED: {wrong}"


# --- the matrix -----------------------------------------------------------------------


def _cases() -> Iterator[Any]:
    for (method, path), allowed in sorted(EXPECTED.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        for caller in CALLERS:
            yield pytest.param(method, path, allowed, caller, id=f"{method} {path} [{caller}]")


class Fixtures:
    """Ids for path parameters, made only when a route needs them."""

    def __init__(self, client, auth, db) -> None:
        self.client, self.auth, self.db = client, auth, db
        self._report: dict[str, Any] | None = None
        self._incident: int | None = None

    def report(self) -> dict[str, Any]:
        if self._report is None:
            r = self.client.post(
                f"{V1}/reports",
                json={
                    "kind": "incident",
                    "category": "theft",
                    "description": "bag snatched near the market gate",
                    "lat": 16.5440,
                    "lon": 104.7280,
                },
            )
            assert r.status_code == 201, r.text
            self._report = r.json()
        return self._report

    def incident(self) -> int:
        if self._incident is None:
            r = self.client.post(
                f"{V1}/incidents",
                json={
                    "category": "disturbance",
                    "description": "crowd at the riverside",
                    "lat": 16.5440,
                    "lon": 104.7280,
                },
                headers=self.auth("operator"),
            )
            assert r.status_code == 201, r.text
            self._incident = r.json()["id"]
        return self._incident

    def asset(self, plural: str) -> str:
        if plural == "zones":
            return "ZONE-MARKET"
        kind = {"cameras": "camera", "sos-boxes": "sos_box", "checkpoints": "checkpoint"}[plural]
        data = {
            "camera": zone_schemas.CameraCreate(
                id="CAM-1",
                pole_id="P1",
                lat=16.544,
                lon=104.728,
                bearing_deg=0,
                fov_deg=90,
                range_m=30,
            ),
            "sos_box": zone_schemas.SosBoxCreate(id="SOS-1", lat=16.544, lon=104.728),
            "checkpoint": zone_schemas.CheckpointCreate(id="CP-1", lat=16.544, lon=104.728),
        }[kind]
        with self.db.transaction() as session:
            zones_service.create_asset(
                session, kind=zones_service.KINDS[kind], station_id="MDH", data=data, actor="test"
            )
        return data.id  # type: ignore[attr-defined]

    def user_id(self) -> int:
        with self.db.reader() as session:
            user = auth_service.find_user(session, username="officer")
            assert user is not None
            return user.id

    def url(self, path: str) -> str:
        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            if name == "asset_id":
                return self.asset(path.split("/")[3])
            if name == "user_id":
                return str(self.user_id())
            if name == "report_id":
                return str(self.report()["id"])
            if name == "tracking_code":
                return self.report()["tracking_code"]
            if name == "incident_id":
                return str(self.incident())
            if name == "photo_id":
                return "1"
            if name == "alert_id":
                return "1"
            if name == "snapshot_id":
                return "1"
            if name == "camera_id":
                return "CAM-UNKNOWN"
            if name == "box_id":
                return "BOX-UNKNOWN"
            if name == "unit_id":
                return "UNIT-UNKNOWN"
            if name == "checkpoint_id":
                return "CP-UNKNOWN"
            if name in ("registration_id", "assignment_id", "plan_id", "request_id"):
                return "999"
            if name == "entry_id":
                return "WL-UNKNOWN"
            if name == "match_id":
                return "1"
            if name == "which":
                return "crop"
            raise AssertionError(f"no value for path parameter {name!r} in {path}")

        return re.sub(r"\{(\w+)\}", value, path)


@pytest.fixture(scope="module")
def shared_app(tmp_path_factory):
    """One app for the whole matrix: FastAPI builds its route table lazily, once per app
    (~50 ms), which would dominate 300 one-request tests. Each test points it at its own
    freshly seeded database (see ``matrix_client``)."""
    data_dir = tmp_path_factory.mktemp("matrix")
    settings = Settings(env="test", data_dir=data_dir, secret_key=SECRET, tile_url="")
    app = create_app(settings, database=Database(f"sqlite:///{data_dir / 'unused.db'}"))
    app.state.stream_hub = None  # no lifespan here; the stream itself is replaced below
    return app


@pytest.fixture
def matrix_client(shared_app, settings, db):
    shared_app.state.settings = settings
    shared_app.state.db = db
    return TestClient(shared_app, raise_server_exceptions=True)


@pytest.fixture
def finite_event_stream(monkeypatch):
    """An allowed SSE caller would stream forever; serve one comment frame instead."""

    async def one_frame(**_kwargs: Any) -> Any:
        yield ": hello\n\n"

    monkeypatch.setattr("safezone.realtime.service.stream", one_frame)


@pytest.mark.parametrize(("method", "path", "allowed", "caller"), list(_cases()))
def test_route_admits_exactly_the_expected_callers(
    matrix_client, auth, db, finite_event_stream, method, path, allowed, caller
):
    client = matrix_client
    url = Fixtures(client, auth, db).url(path)
    headers = {} if caller == "anonymous" else auth(caller)
    kwargs: dict[str, Any] = {"json": {}} if method in ("POST", "PATCH", "PUT") else {}
    r = client.request(method, url, headers=headers, **kwargs)

    if allowed == DEVICE:
        # Every caller is treated alike: an unknown box is refused for every role (with
        # the answer a wrong signature gets).
        assert r.status_code == 401, r.text
        assert r.json()["error"]["code"] == "bad_signature"
        return
    if allowed == PUBLIC or (caller != "anonymous" and caller in allowed):
        assert r.status_code not in (401, 403), r.text
        assert r.status_code < 500, r.text
    elif caller == "anonymous":
        assert r.status_code == 401, r.text
        assert r.json()["error"]["code"] == "unauthorized"
        assert r.headers.get("www-authenticate") == "Bearer"
    else:
        assert r.status_code == 403, r.text
        assert r.json()["error"]["code"] == "forbidden"
        assert f"'{caller}'" in r.json()["error"]["message"]


def test_allowed_sse_caller_gets_the_event_stream(client, auth, finite_event_stream):
    r = client.get(f"{V1}/events/stream", headers=auth("operator"))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")


# --- deny by default ------------------------------------------------------------------


def _undeclared_router() -> APIRouter:
    router = APIRouter(prefix=f"{V1}/forgotten")

    @router.get("/items")
    def items() -> list[str]:
        return []

    @router.post("/items", dependencies=[allow("admin")])
    def declared() -> None:
        return None

    return router


def test_check_policies_refuses_an_app_route_without_a_policy():
    app = FastAPI()

    @app.get(f"{V1}/naked")
    def naked() -> dict[str, str]:
        return {}

    with pytest.raises(RuntimeError, match=re.escape(f"GET {V1}/naked")):
        check_policies(app)


def test_check_policies_accepts_routes_that_declare_a_policy():
    app = FastAPI()

    @app.get(f"{V1}/open", dependencies=[public()])
    def open_route() -> None:
        return None

    @app.get(f"{V1}/closed", dependencies=[allow("admin")])
    def closed_route() -> None:
        return None

    check_policies(app)


def test_check_policies_refuses_an_included_router_route_without_a_policy():
    app = FastAPI()
    app.include_router(_undeclared_router())
    with pytest.raises(RuntimeError) as excinfo:
        check_policies(app)
    assert f"GET {V1}/forgotten/items" in str(excinfo.value)
    assert f"POST {V1}/forgotten/items" not in str(excinfo.value)


def test_create_app_refuses_to_start_with_an_undeclared_route(settings, monkeypatch):
    import safezone.app as app_module

    monkeypatch.setattr(app_module, "ROUTERS", (*app_module.ROUTERS, _undeclared_router()))
    with pytest.raises(RuntimeError, match=re.escape(f"GET {V1}/forgotten/items")):
        app_module.create_app(settings)
