"""The citizen app's panic SOS: no account needed, retries collapse, a live trail."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from safezone.reports.models import Report
from safezone.sos import service as sos_service
from tests.conftest import INSIDE


def start(client, ref="panic-ref-0001", **extra):
    body = {"lat": INSIDE[0], "lon": INSIDE[1], "accuracy_m": 8, "client_ref": ref, **extra}
    return client.post("/api/v1/sos/panic", json=body)


def test_panic_opens_a_critical_incident_with_its_response(client, auth, sos_site):
    r = start(client)
    assert r.status_code == 201, r.text
    state = r.json()
    assert state["active"] is True and state["incident_status"] == "new"
    detail = client.get(
        f"/api/v1/incidents/{state['incident_id']}", headers=auth("operator")
    ).json()
    assert (detail["priority"], detail["source"], detail["category"]) == (
        "critical",
        "emergency",
        "sos",
    )
    response = client.get(
        f"/api/v1/sos/responses/{state['incident_id']}", headers=auth("operator")
    ).json()
    assert response["trigger"] == "panic"
    assert [c["camera_id"] for c in response["cameras"]] == ["CAM-W", "CAM-N"]
    assert response["units"]
    assert len(response["trail"]) == 1


def test_offline_retry_returns_the_same_sos(client, auth, sos_site):
    first = start(client).json()
    second = start(client).json()
    assert first["incident_id"] == second["incident_id"]
    assert len(client.get("/api/v1/incidents", headers=auth("operator")).json()) == 1


def test_trail_points_then_cancel_closes_the_trail(client, auth, sos_site):
    code = start(client).json()["tracking_code"]
    now = datetime.now(UTC)
    points = [
        {
            "lat": INSIDE[0] + i * 0.0001,
            "lon": INSIDE[1],
            "accuracy_m": 10,
            "at": (now + timedelta(seconds=5 * i)).isoformat(),
        }
        for i in range(3)
    ]
    r = client.post(f"/api/v1/sos/panic/{code}/trail", json={"points": points})
    assert r.status_code == 200
    assert r.json()["trail_points"] == 4
    r = client.post(f"/api/v1/sos/panic/{code}/cancel")
    assert r.status_code == 200 and r.json()["active"] is False
    r = client.post(f"/api/v1/sos/panic/{code}/trail", json={"points": points[:1]})
    assert r.status_code == 409
    state = client.get(f"/api/v1/sos/panic/{code}").json()
    incident = client.get(
        f"/api/v1/incidents/{state['incident_id']}", headers=auth("operator")
    ).json()
    assert incident["timeline"][-1]["action"] == "sos_cancelled"


def test_a_place_marked_on_the_map_is_sent_and_the_operator_is_told(client, auth, db, sos_site):
    """A phone that cannot give a position: the caller marked the place on the map."""
    r = start(client, accuracy_m=30, location_source="map")
    assert r.status_code == 201, r.text
    incident_id = r.json()["incident_id"]
    incident = client.get(f"/api/v1/incidents/{incident_id}", headers=auth("operator")).json()
    assert "marked the place on the map" in incident["description"]
    assert (incident["lat"], incident["lon"]) == pytest.approx(INSIDE)
    # Not a measured position: no accuracy, and not the first point of the live trail.
    response = client.get(f"/api/v1/sos/responses/{incident_id}", headers=auth("operator"))
    assert response.json()["trail"] == []
    with db.reader() as session:
        [accuracy] = session.scalars(
            select(Report.accuracy_m).where(Report.incident_id == incident_id)
        )
    assert accuracy is None


def test_many_sos_from_one_address_are_all_taken_and_the_operator_is_told(client, auth, sos_site):
    """Never refused (a carrier's NAT, a crowd at one fire); from the third the incident
    points it out. A retry of the same SOS does not count twice."""
    states = [start(client, ref=f"crowd-ref-000{i}").json() for i in range(1, 4)]
    assert start(client, ref="crowd-ref-0001").json() == states[0]  # a retry, not a 4th
    descriptions = [
        client.get(f"/api/v1/incidents/{s['incident_id']}", headers=auth("operator")).json()[
            "description"
        ]
        for s in states
    ]
    assert "same network address" not in descriptions[0] + descriptions[1]
    assert "SOS no. 3 from the same network address in 10 minutes" in descriptions[2]
    fourth = start(client, ref="crowd-ref-0004")
    assert fourth.status_code == 201
    detail = client.get(
        f"/api/v1/incidents/{fourth.json()['incident_id']}", headers=auth("operator")
    )
    assert "SOS no. 4 from" in detail.json()["description"]


def test_sos_sources_are_forgotten_after_the_window_and_capped():
    sources = sos_service.PanicSources(window_s=0.05, sweep_s=0)
    assert [sources.note("10.0.0.1", ref) for ref in ("r1", "r2", "r1")] == [1, 2, 2]
    time.sleep(0.08)
    assert sources.note("10.0.0.2", "r9") == 1  # the sweep forgets the quiet address
    assert len(sources) == 1
    assert sources.note("10.0.0.1", "r3") == 1  # its old SOS no longer count
    flood = sos_service.PanicSources()
    counts = [flood.note("10.0.0.3", f"ref-{i}") for i in range(sos_service.SAME_SOURCE_KEPT + 5)]
    assert counts[-1] == sos_service.SAME_SOURCE_KEPT == max(counts)


def test_the_trail_closes_when_an_operator_resolves_the_sos(client, auth, sos_site):
    state = start(client).json()
    url = f"/api/v1/incidents/{state['incident_id']}/transitions"
    for status in ("acknowledged", "dispatched", "on_scene", "resolved"):
        r = client.post(url, json={"status": status}, headers=auth("operator"))
        assert r.status_code == 200, r.text
    code = state["tracking_code"]
    after = client.get(f"/api/v1/sos/panic/{code}").json()
    assert after["active"] is False and after["incident_status"] == "resolved"
    point = {"lat": INSIDE[0], "lon": INSIDE[1], "at": datetime.now(UTC).isoformat()}
    r = client.post(f"/api/v1/sos/panic/{code}/trail", json={"points": [point]})
    assert r.status_code == 409 and r.json()["error"]["field"] == "tracking_code"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"lat": 95, "lon": 104.7, "client_ref": "abcdefgh1"}, "lat"),
        ({"lat": 16.5, "lon": 104.7}, "client_ref"),
        ({"lat": 16.5, "lon": 104.7, "client_ref": "x"}, "client_ref"),
        ({"lat": 16.5, "lon": 104.7, "client_ref": "abcdefgh1", "who": "me"}, "who"),
        (
            {"lat": 16.5, "lon": 104.7, "client_ref": "abcdefgh1", "location_source": "guess"},
            "location_source",
        ),
    ],
)
def test_bad_panic_input(client, auth, sos_site, body, field):
    r = client.post("/api/v1/sos/panic", json=body)
    assert r.status_code == 422
    assert r.json()["error"]["field"] == field
    assert client.get("/api/v1/incidents", headers=auth("operator")).json() == []


def test_bad_trail_input(client, sos_site):
    code = start(client).json()["tracking_code"]
    r = client.post(f"/api/v1/sos/panic/{code}/trail", json={"points": []})
    assert r.status_code == 422
    future = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    r = client.post(
        f"/api/v1/sos/panic/{code}/trail",
        json={"points": [{"lat": 16.5, "lon": 104.7, "at": future}]},
    )
    assert r.status_code == 409
    assert (
        client.post(
            "/api/v1/sos/panic/SZ-00000-00000/trail",
            json={"points": [{"lat": 16.5, "lon": 104.7, "at": datetime.now(UTC).isoformat()}]},
        ).status_code
        == 404
    )


def test_a_normal_report_code_is_not_a_panic(client, sos_site):
    code = client.post(
        "/api/v1/reports",
        json={
            "kind": "incident",
            "category": "theft",
            "description": "x",
            "lat": INSIDE[0],
            "lon": INSIDE[1],
        },
    ).json()["tracking_code"]
    assert client.get(f"/api/v1/sos/panic/{code}").status_code == 404
