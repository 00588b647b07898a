"""Dispatch: ranking, assignment, the acknowledgement timer, response times, and open
assignments following the unit's crew (ADR 0018), also when its officer may no longer
crew it (ADR 0019)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from safezone.audit.models import AuditEntry
from safezone.core.bus.outbox import OutboxEvent
from safezone.core.db import utcnow
from safezone.dispatch import service as dispatch_service
from safezone.dispatch.models import Assignment
from tests.conftest import INSIDE, add_user

V1 = "/api/v1"


def make_unit(client, auth, unit_id, kind, at, officer=None):
    body = {"id": unit_id, "callsign": unit_id, "kind": kind, "status": "available"}
    if officer is not None:
        body["officer_user_id"] = officer
    assert client.post(f"{V1}/units", headers=auth("admin"), json=body).status_code == 201
    r = client.post(
        f"{V1}/units/{unit_id}/location",
        headers=auth("operator"),
        json={"lat": at[0], "lon": at[1]},
    )
    assert r.status_code == 204


@pytest.fixture
def incident(client, auth) -> int:
    r = client.post(
        f"{V1}/incidents",
        headers=auth("operator"),
        json={
            "category": "theft",
            "description": "bag snatched",
            "lat": INSIDE[0],
            "lon": INSIDE[1],
        },
    )
    assert r.status_code == 201
    return int(r.json()["id"])


@pytest.fixture
def units(client, auth):
    officer = client.get(f"{V1}/auth/me", headers=auth("officer")).json()["user_id"]
    # A car 1.1 km away (about 130 s), a motorbike 400 m away (about 58 s), feet 200 m away
    # (about 143 s).
    make_unit(client, auth, "CAR-1", "car", (INSIDE[0] + 0.0100, INSIDE[1]))
    make_unit(client, auth, "MC-1", "motorbike", (INSIDE[0] + 0.0036, INSIDE[1]), officer)
    make_unit(client, auth, "FOOT-1", "foot", (INSIDE[0] - 0.0018, INSIDE[1]))


def assign(client, auth, incident, unit_id="MC-1", who="operator"):
    return client.post(
        f"{V1}/dispatch/assignments",
        headers=auth(who),
        json={"incident_id": incident, "unit_id": unit_id, "note": "go"},
    )


def test_nearest_available_unit_is_ranked_first(client, auth, incident, units):
    ranked = client.get(
        f"{V1}/dispatch/incidents/{incident}/suggestions", headers=auth("operator")
    ).json()
    assert [u["unit_id"] for u in ranked] == ["MC-1", "CAR-1", "FOOT-1"]
    assert ranked[0]["eta_s"] < ranked[1]["eta_s"] < ranked[2]["eta_s"]
    # once assigned, a unit is no longer suggested
    assert assign(client, auth, incident).status_code == 201
    ranked = client.get(
        f"{V1}/dispatch/incidents/{incident}/suggestions", headers=auth("operator")
    ).json()
    assert [u["unit_id"] for u in ranked] == ["CAR-1", "FOOT-1"]


def test_assignment_marks_unit_busy_and_dispatches_the_incident(client, auth, incident, units):
    r = assign(client, auth, incident)
    assert r.status_code == 201, r.text
    a = r.json()
    assert a["status"] == "assigned" and a["unit_id"] == "MC-1"
    assert 55 < a["eta_s"] < 62 and a["officer_user_id"] is not None
    due = a["ack_due_at"]
    assert due > a["assigned_at"]
    unit = {u["id"]: u for u in client.get(f"{V1}/units", headers=auth("operator")).json()}
    assert unit["MC-1"]["status"] == "busy"
    inc = client.get(f"{V1}/incidents/{incident}", headers=auth("operator")).json()
    assert inc["status"] == "dispatched"
    again = assign(client, auth, incident)
    assert again.status_code == 409 and again.json()["error"]["field"] == "unit_id"


def test_officer_walks_the_assignment_and_times_are_recorded(client, auth, incident, units, db):
    a = assign(client, auth, incident).json()
    url = f"{V1}/dispatch/assignments/{a['id']}"
    officer = auth("officer")
    mine = client.get(f"{V1}/dispatch/assignments", headers=officer, params={"active": True})
    assert [x["id"] for x in mine.json()] == [a["id"]]
    ack = client.post(f"{url}/acknowledge", headers=officer).json()
    assert ack["status"] == "acknowledged" and ack["acknowledged_by"] == "user:officer"
    assert ack["times"]["to_acknowledge_s"] >= 0
    for step in ("en_route", "on_scene", "resolved"):
        r = client.post(f"{url}/steps", headers=officer, json={"status": step})
        assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "resolved"
    assert all(done[f"{s}_at"] for s in ("acknowledged", "en_route", "on_scene", "resolved"))
    times = done["times"]
    assert None not in times.values() and times["total_s"] >= times["to_arrive_s"] >= 0
    units = {u["id"]: u for u in client.get(f"{V1}/units", headers=auth("operator")).json()}
    assert units["MC-1"]["status"] == "available"
    inc = client.get(f"{V1}/incidents/{incident}", headers=auth("operator")).json()
    assert inc["status"] == "on_scene"
    back = client.post(f"{url}/steps", headers=officer, json={"status": "on_scene"})
    assert back.status_code == 409
    summary = client.get(f"{V1}/dispatch/response-times", headers=auth("commander")).json()
    assert summary["assignments"] == 1 and summary["to_arrive"]["count"] == 1
    with db.reader() as session:
        steps = session.scalars(
            select(AuditEntry.action).where(AuditEntry.action.startswith("dispatch."))
        ).all()
    assert steps == ["dispatch.assigned"] + ["dispatch.step"] * 4


def test_steps_go_forward_and_acting_acknowledges(client, auth, incident, units):
    a = assign(client, auth, incident).json()
    url = f"{V1}/dispatch/assignments/{a['id']}"
    r = client.post(f"{url}/steps", headers=auth("officer"), json={"status": "on_scene"})
    body = r.json()
    assert body["status"] == "on_scene" and body["acknowledged_at"] and body["en_route_at"] is None
    r = client.post(f"{url}/steps", headers=auth("officer"), json={"status": "en_route"})
    assert r.status_code == 409 and "resolved" in r.json()["error"]["message"]
    r = client.post(f"{url}/steps", headers=auth("officer"), json={"status": "flying"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "status"


def test_only_the_units_officer_or_the_control_room_acts(client, auth, incident, units):
    a = assign(client, auth, incident, unit_id="CAR-1").json()  # CAR-1 has no officer
    r = client.post(f"{V1}/dispatch/assignments/{a['id']}/acknowledge", headers=auth("officer"))
    assert r.status_code == 403
    assert client.get(f"{V1}/dispatch/assignments", headers=auth("officer")).json() == []
    r = client.post(f"{V1}/dispatch/assignments/{a['id']}/acknowledge", headers=auth("operator"))
    assert r.status_code == 200 and r.json()["acknowledged_by"] == "user:operator"
    r = client.post(
        f"{V1}/dispatch/assignments/{a['id']}/acknowledge", headers=auth("other_operator")
    )
    assert r.status_code == 404


def test_unacknowledged_assignment_raises_the_operator_alert(client, auth, incident, units, db):
    a = assign(client, auth, incident).json()
    with db.transaction() as session:
        # before the deadline: nothing
        assert dispatch_service.overdue_acknowledgements(session) == []
    later = utcnow() + timedelta(seconds=61)
    with db.reader() as session:  # the job's read-only check agrees
        assert not dispatch_service.any_acknowledgement_overdue(session)
        assert dispatch_service.any_acknowledgement_overdue(session, now=later)
    with db.transaction() as session:
        assert dispatch_service.overdue_acknowledgements(session, now=later) == [a["id"]]
    with db.transaction() as session:
        # once per assignment
        assert dispatch_service.overdue_acknowledgements(session, now=later) == []
    with db.reader() as session:
        [alert] = session.scalars(
            select(OutboxEvent).where(OutboxEvent.topic == "dispatch.ack_overdue")
        ).all()
        payload = alert.payload
    assert payload["unit_id"] == "MC-1" and payload["incident_id"] == incident
    assert payload["late_by_s"] >= 1
    shown = client.get(f"{V1}/dispatch/assignments/{a['id']}", headers=auth("operator")).json()
    assert shown["ack_overdue_at"] is not None
    summary = client.get(f"{V1}/dispatch/response-times", headers=auth("operator")).json()
    assert summary["acknowledged_late"] == 1


def test_an_acknowledged_assignment_raises_no_alert(client, auth, incident, units, db):
    a = assign(client, auth, incident).json()
    client.post(f"{V1}/dispatch/assignments/{a['id']}/acknowledge", headers=auth("officer"))
    with db.transaction() as session:
        assert (
            dispatch_service.overdue_acknowledgements(session, now=utcnow() + timedelta(hours=1))
            == []
        )


def test_the_scheduled_timer_alerts_within_seconds(settings, db, client, auth, incident, units):
    """The app's own scheduler raises the alert after the configured timeout."""
    import time

    from fastapi.testclient import TestClient

    from safezone.app import create_app

    quick = settings.model_copy(update={"dispatch_ack_timeout_s": 5, "monitor_interval_s": 0.2})
    app = create_app(quick, database=db)
    with TestClient(app) as live:
        a = assign(live, auth, incident).json()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            got = live.get(f"{V1}/dispatch/assignments/{a['id']}", headers=auth("operator")).json()
            if got["ack_overdue_at"]:
                break
            time.sleep(0.2)
    assert got["ack_overdue_at"] is not None
    with db.reader() as session:
        row = session.get(Assignment, a["id"])
        assert row is not None and row.ack_overdue_at >= row.ack_due_at


def test_cancel_frees_the_unit(client, auth, incident, units):
    a = assign(client, auth, incident).json()
    url = f"{V1}/dispatch/assignments/{a['id']}/cancel"
    r = client.post(url, headers=auth("operator"), json={})
    assert r.status_code == 422 and r.json()["error"]["field"] == "note"
    r = client.post(url, headers=auth("operator"), json={"note": "another unit is closer"})
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert client.post(url, headers=auth("operator"), json={"note": "x"}).status_code == 409
    units = {u["id"]: u for u in client.get(f"{V1}/units", headers=auth("operator")).json()}
    assert units["MC-1"]["status"] == "available"
    assert assign(client, auth, incident).status_code == 201


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"incident_id": 999, "unit_id": "MC-1"}, 404, "id"),
        ({"incident_id": 0, "unit_id": "MC-1"}, 422, "incident_id"),
        ({"unit_id": "MC-1"}, 422, "incident_id"),
        ({"incident_id": 1, "unit_id": "NOPE"}, 404, "id"),
        ({"incident_id": 1, "unit_id": "bad id"}, 422, "unit_id"),
    ],
)
def test_bad_assignments(client, auth, incident, units, body, status, field):
    r = client.post(f"{V1}/dispatch/assignments", headers=auth("operator"), json=body)
    assert r.status_code == status and r.json()["error"]["field"] == field


def test_no_units_to_closed_incidents(client, auth, incident, units):
    h = auth("operator")
    for step, note in (("acknowledged", ""), ("resolved", "false alarm, settled by phone")):
        r = client.post(
            f"{V1}/incidents/{incident}/transitions", headers=h, json={"status": step, "note": note}
        )
        assert r.status_code == 200, r.text
    r = assign(client, auth, incident)
    assert r.status_code == 409 and r.json()["error"]["field"] == "incident_id"


# --- a new crew takes the unit over (ADR 0018) -------------------------------------------


def user_id(client, auth, username) -> int:
    return int(client.get(f"{V1}/auth/me", headers=auth(username)).json()["user_id"])


def crew(client, auth, unit_id, officer):
    r = client.patch(
        f"{V1}/units/{unit_id}", headers=auth("operator"), json={"officer_user_id": officer}
    )
    assert r.status_code == 200, r.text
    assert r.json()["officer_user_id"] == officer


def listed(client, auth, username) -> list[int]:
    r = client.get(f"{V1}/dispatch/assignments", headers=auth(username), params={"active": True})
    assert r.status_code == 200, r.text
    return [a["id"] for a in r.json()]


def crew_changes(db) -> list[dict]:
    """The audit entries of crew changes: actor, object_id and payload."""
    with db.reader() as session:
        rows = session.execute(
            select(AuditEntry.actor, AuditEntry.object_id, AuditEntry.payload)
            .where(AuditEntry.action == "dispatch.crew_changed")
            .order_by(AuditEntry.seq)
        )
        return [dict(row._mapping) for row in rows]


def crew_change_events(db) -> list[dict]:
    with db.reader() as session:
        return [
            dict(e.payload)
            for e in session.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.topic == "dispatch.crew_changed")
                .order_by(OutboxEvent.id)
            )
        ]


@pytest.fixture
def officer2(client, auth, db) -> int:
    add_user(db, "officer2", "officer")
    return user_id(client, auth, "officer2")


def test_the_new_crew_takes_over_an_open_assignment(client, auth, incident, units, db, officer2):
    officer = user_id(client, auth, "officer")
    a = assign(client, auth, incident).json()
    url = f"{V1}/dispatch/assignments/{a['id']}"
    # Only a real change of officer moves anything.
    crew(client, auth, "MC-1", officer)
    assert crew_changes(db) == []

    crew(client, auth, "MC-1", officer2)
    assert listed(client, auth, "officer2") == [a["id"]]
    assert listed(client, auth, "officer") == []
    assert client.get(url, headers=auth("officer")).status_code == 403
    assert client.post(f"{url}/acknowledge", headers=auth("officer")).status_code == 403
    shown = client.get(url, headers=auth("officer2"))
    assert shown.status_code == 200 and shown.json()["officer_user_id"] == officer2
    ack = client.post(f"{url}/acknowledge", headers=auth("officer2"))
    assert ack.status_code == 200, ack.text
    assert ack.json()["acknowledged_by"] == "user:officer2"

    [entry] = crew_changes(db)
    assert entry["actor"] == "user:operator" and entry["object_id"] == str(a["id"])
    assert entry["payload"]["previous_officer_user_id"] == officer
    assert entry["payload"]["assignment"]["officer_user_id"] == officer2
    [event] = crew_change_events(db)
    assert event["assignment"]["id"] == a["id"]
    assert event["assignment"]["officer_user_id"] == officer2
    assert event["previous_officer_user_id"] == officer
    # Both phones hear of it (the old one to drop it); nobody else's does.
    assert dispatch_service.event_is_for_officer(event, user_id=officer2)
    assert dispatch_service.event_is_for_officer(event, user_id=officer)
    assert not dispatch_service.event_is_for_officer(event, user_id=officer2 + 100)


def test_an_unacknowledged_assignment_gives_the_new_officer_a_fresh_window(
    client, auth, incident, units, db, officer2
):
    a = assign(client, auth, incident).json()
    # Sent ten minutes ago; the first officer never answered and the alarm went off.
    with db.transaction() as session:
        row = session.get(Assignment, a["id"])
        assert row is not None
        window = row.ack_due_at - row.assigned_at
        row.assigned_at -= timedelta(minutes=10)
        row.ack_due_at -= timedelta(minutes=10)
        first_due = row.ack_due_at
    with db.transaction() as session:
        assert dispatch_service.overdue_acknowledgements(session) == [a["id"]]

    before = utcnow()
    crew(client, auth, "MC-1", officer2)
    after = utcnow()
    with db.reader() as session:
        row = session.get(Assignment, a["id"])
        assert row is not None
        assert before + window <= row.ack_due_at <= after + window
        assert row.ack_overdue_at is None
    [entry] = crew_changes(db)
    assert entry["payload"]["previous_ack_due_at"] == first_due.isoformat()
    assert entry["payload"]["previous_ack_overdue_at"] is not None
    with db.transaction() as session:
        # The new officer's deadline is watched like the first one: once, when it passes.
        assert dispatch_service.overdue_acknowledgements(session) == []
        late = after + window + timedelta(seconds=1)
        assert dispatch_service.overdue_acknowledgements(session, now=late) == [a["id"]]


def test_only_open_assignments_move_and_steps_already_taken_stand(
    client, auth, incident, units, db, officer2
):
    officer = auth("officer")
    done = assign(client, auth, incident).json()
    for step in ("acknowledged", "resolved"):
        r = client.post(
            f"{V1}/dispatch/assignments/{done['id']}/steps", headers=officer, json={"status": step}
        )
        assert r.status_code == 200, r.text
    a = assign(client, auth, incident).json()
    url = f"{V1}/dispatch/assignments/{a['id']}"
    acked = client.post(f"{url}/acknowledge", headers=officer).json()

    crew(client, auth, "MC-1", officer2)
    # The finished one stays in the first officer's history.
    finished = client.get(f"{V1}/dispatch/assignments", headers=officer).json()
    assert [x["id"] for x in finished] == [done["id"]]
    assert [e["object_id"] for e in crew_changes(db)] == [str(a["id"])]
    moved = client.get(url, headers=auth("officer2")).json()
    assert moved["status"] == "acknowledged" and moved["acknowledged_by"] == "user:officer"
    assert moved["ack_due_at"] == acked["ack_due_at"]
    r = client.post(f"{url}/steps", headers=auth("officer2"), json={"status": "en_route"})
    assert r.status_code == 200 and r.json()["status"] == "en_route"
    r = client.post(f"{url}/steps", headers=officer, json={"status": "on_scene"})
    assert r.status_code == 403


def test_a_unit_left_without_officer_keeps_its_assignment_for_the_control_room(
    client, auth, incident, units, db
):
    officer = user_id(client, auth, "officer")
    a = assign(client, auth, incident).json()
    url = f"{V1}/dispatch/assignments/{a['id']}"
    crew(client, auth, "MC-1", None)

    assert listed(client, auth, "officer") == []
    assert client.get(url, headers=auth("officer")).status_code == 403
    shown = client.get(url, headers=auth("operator")).json()
    assert shown["status"] == "assigned" and shown["officer_user_id"] is None
    # Nobody new has to see it first: the deadline stands and the alarm comes on time.
    assert shown["ack_due_at"] == a["ack_due_at"]
    with db.transaction() as session:
        late = utcnow() + timedelta(seconds=61)
        assert dispatch_service.overdue_acknowledgements(session, now=late) == [a["id"]]
    [event] = crew_change_events(db)
    assert event["assignment"]["officer_user_id"] is None
    assert event["previous_officer_user_id"] == officer
    assert dispatch_service.event_is_for_officer(event, user_id=officer)
    # The control room records the radio reply for whoever is in the car.
    r = client.post(f"{url}/acknowledge", headers=auth("operator"))
    assert r.status_code == 200 and r.json()["acknowledged_by"] == "user:operator"
    # A crew again: the unit's open assignment is theirs.
    crew(client, auth, "MC-1", officer)
    assert listed(client, auth, "officer") == [a["id"]]


# --- an officer who may no longer crew a unit leaves it (ADR 0019) ----------------------


def unit_changes(db, unit_id) -> list[dict]:
    with db.reader() as session:
        rows = session.execute(
            select(AuditEntry.actor, AuditEntry.payload)
            .where(AuditEntry.action == "unit.updated", AuditEntry.object_id == unit_id)
            .order_by(AuditEntry.seq)
        )
        return [dict(row._mapping) for row in rows]


@pytest.mark.parametrize(
    "change, reason",
    [({"active": False}, "account disabled"), ({"role": "operator"}, "role changed to operator")],
)
def test_an_officer_who_may_no_longer_crew_leaves_the_unit(
    client, auth, incident, units, db, change, reason
):
    """A disabled account (or one that is no longer an officer's) cannot answer a job: the
    unit is left with no officer and its open assignment stays with the control room,
    its deadline standing, as when the control room takes the officer out of the car."""
    officer = user_id(client, auth, "officer")
    a = assign(client, auth, incident).json()
    r = client.patch(f"{V1}/users/{officer}", headers=auth("admin"), json=change)
    assert r.status_code == 200, r.text

    [unit] = [
        u for u in client.get(f"{V1}/units", headers=auth("operator")).json() if u["id"] == "MC-1"
    ]
    assert unit["officer_user_id"] is None
    shown = client.get(f"{V1}/dispatch/assignments/{a['id']}", headers=auth("operator")).json()
    assert shown["status"] == "assigned" and shown["officer_user_id"] is None
    assert shown["ack_due_at"] == a["ack_due_at"]
    [event] = crew_change_events(db)
    assert event["previous_officer_user_id"] == officer
    assert event["assignment"]["officer_user_id"] is None
    assert unit_changes(db, "MC-1")[-1] == {
        "actor": "user:admin",
        "payload": {"changes": {"officer_user_id": None}, "reason": reason},
    }
    # The other units and their crews are untouched.
    assert [e["object_id"] for e in crew_changes(db)] == [str(a["id"])]


def test_renaming_an_officer_leaves_the_crew_as_it_is(client, auth, units, db):
    officer = user_id(client, auth, "officer")
    r = client.patch(
        f"{V1}/users/{officer}", headers=auth("admin"), json={"display_name": "Sgt. Somchai"}
    )
    assert r.status_code == 200, r.text
    [unit] = [
        u for u in client.get(f"{V1}/units", headers=auth("operator")).json() if u["id"] == "MC-1"
    ]
    assert unit["officer_user_id"] == officer


def test_a_disabled_officer_cannot_crew_a_unit(client, auth, units, db, officer2):
    r = client.patch(f"{V1}/users/{officer2}", headers=auth("admin"), json={"active": False})
    assert r.status_code == 200, r.text
    r = client.patch(
        f"{V1}/units/CAR-1", headers=auth("operator"), json={"officer_user_id": officer2}
    )
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["field"] == "officer_user_id" and "disabled" in error["message"]
