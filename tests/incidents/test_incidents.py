"""The incident lifecycle, listing filters, bad input and station isolation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from safezone.incidents.models import Incident, IncidentEvent
from tests.conftest import INSIDE

LIFECYCLE = ["acknowledged", "dispatched", "on_scene", "resolved", "closed"]


def new_incident(client, headers, **overrides) -> dict:
    body = {
        "category": "theft",
        "priority": "high",
        "description": "ล้วงกระเป๋าในตลาด pickpocket",
        "lat": INSIDE[0],
        "lon": INSIDE[1],
    }
    body.update(overrides)
    r = client.post("/api/v1/incidents", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def test_full_lifecycle_records_time_actor_and_note(client, auth):
    h = auth("operator")
    incident = new_incident(client, h)
    assert incident["status"] == "new"
    assert incident["zone_id"] == "ZONE-MARKET"
    assert incident["allowed_next"] == ["acknowledged"]
    for step in LIFECYCLE:
        r = client.post(
            f"/api/v1/incidents/{incident['id']}/transitions",
            json={"status": step, "note": f"note for {step}"},
            headers=h if step != "on_scene" else auth("officer"),
        )
        assert r.status_code == 200, r.text
        assert r.json()["status"] == step
    detail = client.get(f"/api/v1/incidents/{incident['id']}", headers=h).json()
    steps = [e for e in detail["timeline"] if e["action"] == "status"]
    assert [e["to_status"] for e in steps] == LIFECYCLE
    assert [e["from_status"] for e in steps] == ["new", *LIFECYCLE[:-1]]
    assert steps[2]["actor"] == "user:officer"
    assert all(e["note"] == f"note for {e['to_status']}" for e in steps)
    times = [detail[f"{s}_at"] for s in LIFECYCLE]
    assert all(times) and times == sorted(times)
    assert detail["allowed_next"] == []


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ([], "dispatched"),
        ([], "closed"),
        (["acknowledged"], "on_scene"),
        (["acknowledged", "dispatched", "on_scene", "resolved"], "new"),
    ],
)
def test_illegal_transition_is_refused_and_changes_nothing(client, db, auth, path, target):
    h = auth("operator")
    incident = new_incident(client, h)
    for step in path:
        client.post(
            f"/api/v1/incidents/{incident['id']}/transitions",
            json={"status": step, "note": "x"},
            headers=h,
        )
    before = client.get(f"/api/v1/incidents/{incident['id']}", headers=h).json()
    r = client.post(
        f"/api/v1/incidents/{incident['id']}/transitions", json={"status": target}, headers=h
    )
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "invalid_transition"
    assert "Allowed next" in r.json()["error"]["message"]
    after = client.get(f"/api/v1/incidents/{incident['id']}", headers=h).json()
    assert after["status"] == before["status"]
    assert len(after["timeline"]) == len(before["timeline"])


def test_resolving_without_a_visit_needs_a_note(client, auth):
    h = auth("operator")
    incident = new_incident(client, h)
    client.post(
        f"/api/v1/incidents/{incident['id']}/transitions",
        json={"status": "acknowledged"},
        headers=h,
    )
    r = client.post(
        f"/api/v1/incidents/{incident['id']}/transitions", json={"status": "resolved"}, headers=h
    )
    assert r.status_code == 422 and r.json()["error"]["field"] == "note"
    r = client.post(
        f"/api/v1/incidents/{incident['id']}/transitions",
        json={"status": "resolved", "note": "false alarm, caller confirmed"},
        headers=h,
    )
    assert r.status_code == 200


def test_officer_cannot_close(client, auth):
    h = auth("operator")
    incident = new_incident(client, h)
    for step in LIFECYCLE[:-1]:
        client.post(
            f"/api/v1/incidents/{incident['id']}/transitions",
            json={"status": step, "note": "x"},
            headers=h,
        )
    r = client.post(
        f"/api/v1/incidents/{incident['id']}/transitions",
        json={"status": "closed"},
        headers=auth("officer"),
    )
    assert r.status_code == 403


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"description": ""}, "description"),
        ({"lat": 100}, "lat"),
        ({"lon": -200}, "lon"),
        ({"priority": "urgent"}, "priority"),
        ({"category": "alien"}, "category"),
        ({"status": "new"}, "status"),
    ],
)
def test_bad_incident_input_writes_nothing(client, db, auth, overrides, field):
    body = {"category": "theft", "description": "x", "lat": INSIDE[0], "lon": INSIDE[1]}
    body.update(overrides)
    r = client.post("/api/v1/incidents", json=body, headers=auth("operator"))
    assert r.status_code == 422
    assert r.json()["error"]["field"] == field
    with db.reader() as session:
        assert session.scalar(select(func.count()).select_from(Incident)) == 0
        assert session.scalar(select(func.count()).select_from(IncidentEvent)) == 0


def test_unknown_incident_is_404(client, auth):
    h = auth("operator")
    assert client.get("/api/v1/incidents/424242", headers=h).status_code == 404
    r = client.post(
        "/api/v1/incidents/424242/transitions", json={"status": "acknowledged"}, headers=h
    )
    assert r.status_code == 404
    assert client.get("/api/v1/incidents/abc", headers=h).status_code == 422


def test_list_is_newest_first_and_filters(client, auth):
    h = auth("operator")
    ids = [new_incident(client, h, description=f"n{i}")["id"] for i in range(4)]
    client.post(
        f"/api/v1/incidents/{ids[1]}/transitions", json={"status": "acknowledged"}, headers=h
    )
    listed = client.get("/api/v1/incidents", headers=h).json()
    assert [i["id"] for i in listed] == list(reversed(ids))
    assert set(listed[0]) >= {
        "id",
        "status",
        "priority",
        "category",
        "source",
        "lat",
        "lon",
        "created_at",
    }
    assert [i["id"] for i in client.get("/api/v1/incidents?limit=2", headers=h).json()] == [
        ids[3],
        ids[2],
    ]
    acked = client.get("/api/v1/incidents?status=acknowledged", headers=h).json()
    assert [i["id"] for i in acked] == [ids[1]]
    both = client.get("/api/v1/incidents?status=acknowledged,new", headers=h).json()
    assert len(both) == 4
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert client.get("/api/v1/incidents", params={"since": future}, headers=h).json() == []
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert len(client.get("/api/v1/incidents", params={"since": past}, headers=h).json()) == 4


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("since=yesterday", "since"),
        ("status=lost", "status"),
    ],
)
def test_list_bad_filters(client, auth, query, field):
    r = client.get(f"/api/v1/incidents?{query}", headers=auth("operator"))
    assert r.status_code == 422
    assert r.json()["error"]["field"] == field


def test_other_station_sees_nothing(client, auth):
    incident = new_incident(client, auth("operator"))
    h = auth("other_operator")
    assert client.get("/api/v1/incidents", headers=h).json() == []
    assert client.get(f"/api/v1/incidents/{incident['id']}", headers=h).status_code == 404
    r = client.post(
        f"/api/v1/incidents/{incident['id']}/transitions",
        json={"status": "acknowledged"},
        headers=h,
    )
    assert r.status_code == 404


def test_notes_and_updates(client, auth):
    h = auth("operator")
    incident = new_incident(client, h)
    r = client.post(
        f"/api/v1/incidents/{incident['id']}/notes",
        json={"note": "CCTV checked"},
        headers=auth("officer"),
    )
    assert r.status_code == 200
    assert r.json()["timeline"][-1]["note"] == "CCTV checked"
    assert (
        client.post(
            f"/api/v1/incidents/{incident['id']}/notes", json={"note": ""}, headers=h
        ).status_code
        == 422
    )
    r = client.patch(
        f"/api/v1/incidents/{incident['id']}", json={"priority": "critical"}, headers=h
    )
    assert r.status_code == 200 and r.json()["priority"] == "critical"
    assert (
        client.patch(
            f"/api/v1/incidents/{incident['id']}",
            json={"priority": "critical"},
            headers=auth("officer"),
        ).status_code
        == 403
    )
