"""Patrol units: registry, throttled live locations, and who may change what."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from tests.conftest import INSIDE


def make_unit(client, auth, unit_id="CAR-9", kind="car", **extra):
    r = client.post(
        "/api/v1/units",
        headers=auth("admin"),
        json={"id": unit_id, "callsign": unit_id, "kind": kind, **extra},
    )
    assert r.status_code == 201, r.text
    return r.json()


def test_admin_registers_units_and_staff_list_them(client, auth):
    make_unit(client, auth)
    listed = client.get("/api/v1/units", headers=auth("officer")).json()
    assert [u["id"] for u in listed] == ["CAR-9"]
    assert listed[0]["status"] == "off_duty"
    assert client.get("/api/v1/units", headers=auth("other_operator")).json() == []
    assert client.get("/api/v1/units", headers=auth("citizen")).status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"id": "U 1", "callsign": "x", "kind": "car"}, "id"),
        ({"id": "U1", "callsign": "x", "kind": "boat"}, "kind"),
        ({"id": "U1", "callsign": "", "kind": "car"}, "callsign"),
        ({"id": "U1", "callsign": "x", "kind": "car", "status": "asleep"}, "status"),
    ],
)
def test_bad_unit_input(client, auth, body, field):
    r = client.post("/api/v1/units", headers=auth("admin"), json=body)
    assert r.status_code == 422 and r.json()["error"]["field"] == field
    assert client.get("/api/v1/units", headers=auth("admin")).json() == []


def test_locations_are_throttled_and_ranked(client, auth):
    make_unit(client, auth, status="available")
    h = auth("operator")
    url = "/api/v1/units/CAR-9/location"
    assert client.post(url, headers=h, json={"lat": INSIDE[0], "lon": INSIDE[1]}).status_code == 204
    # A second fix a moment later is accepted but not stored (phones send every few s).
    assert client.post(url, headers=h, json={"lat": 16.6, "lon": 104.8}).status_code == 204
    [unit] = client.get("/api/v1/units", headers=h).json()
    assert (unit["lat"], unit["lon"]) == INSIDE
    nearest = client.get(
        "/api/v1/units/nearest", headers=h, params={"lat": INSIDE[0] + 0.001, "lon": INSIDE[1]}
    ).json()
    assert nearest[0]["unit_id"] == "CAR-9"
    assert 100 < nearest[0]["distance_m"] < 120
    assert client.post(url, headers=h, json={"lat": 95, "lon": 1}).status_code == 422


def test_a_throttled_fix_does_not_wait_for_the_write_lock(client, auth, db):
    """Phones report every few seconds; a fix that will not be stored must not queue for
    the database's write lock behind an SOS (or anything else) being written."""
    if not db.is_sqlite:
        pytest.skip("the write lock is SQLite's")
    make_unit(client, auth, status="available")
    h = auth("operator")
    url = "/api/v1/units/CAR-9/location"
    assert client.post(url, headers=h, json={"lat": INSIDE[0], "lon": INSIDE[1]}).status_code == 204
    writer = sqlite3.connect(db.engine.url.database, timeout=1)
    writer.execute("BEGIN IMMEDIATE")  # another process is writing
    answers: list[int] = []
    try:
        sender = threading.Thread(
            target=lambda: answers.append(
                client.post(url, headers=h, json={"lat": 16.6, "lon": 104.8}).status_code
            )
        )
        sender.start()
        sender.join(5)
        assert answers == [204], "the throttled fix waited for the write lock"
    finally:
        writer.rollback()
        writer.close()
    sender.join(40)


def test_off_duty_and_stale_units_are_not_suggested(client, auth):
    make_unit(client, auth, status="off_duty")
    client.post(
        "/api/v1/units/CAR-9/location",
        headers=auth("operator"),
        json={"lat": INSIDE[0], "lon": INSIDE[1]},
    )
    assert (
        client.get(
            "/api/v1/units/nearest",
            headers=auth("operator"),
            params={"lat": INSIDE[0], "lon": INSIDE[1]},
        ).json()
        == []
    )


def test_officers_change_only_their_own_unit_status(client, auth, token_for):
    me = client.get("/api/v1/auth/me", headers=auth("officer")).json()
    make_unit(client, auth, unit_id="MINE", officer_user_id=me["user_id"])
    make_unit(client, auth, unit_id="THEIRS")
    h = auth("officer")
    assert (
        client.patch("/api/v1/units/MINE", headers=h, json={"status": "available"}).status_code
        == 200
    )
    assert (
        client.patch("/api/v1/units/MINE", headers=h, json={"callsign": "renamed"}).status_code
        == 403
    )
    assert (
        client.patch("/api/v1/units/THEIRS", headers=h, json={"status": "available"}).status_code
        == 403
    )
    assert (
        client.post(
            "/api/v1/units/THEIRS/location", headers=h, json={"lat": INSIDE[0], "lon": INSIDE[1]}
        ).status_code
        == 403
    )
    assert (
        client.patch(
            "/api/v1/units/NOPE", headers=auth("operator"), json={"status": "busy"}
        ).status_code
        == 404
    )


def test_a_unit_is_crewed_only_by_an_officer_of_its_station(client, auth, db):
    from safezone.auth import service as auth_service

    with db.reader() as session:
        ids = {
            name: auth_service.find_user(session, username=name).id
            for name in ("officer", "citizen", "other_operator")
        }
    for name in ("citizen", "other_operator"):
        r = client.post(
            "/api/v1/units",
            headers=auth("admin"),
            json={"id": "CAR-9", "callsign": "x", "kind": "car", "officer_user_id": ids[name]},
        )
        assert r.status_code == 422 and r.json()["error"]["field"] == "officer_user_id", name
    make_unit(client, auth)
    r = client.patch(
        "/api/v1/units/CAR-9", headers=auth("admin"), json={"officer_user_id": ids["citizen"]}
    )
    assert r.status_code == 422 and r.json()["error"]["field"] == "officer_user_id"
    r = client.patch(
        "/api/v1/units/CAR-9", headers=auth("admin"), json={"officer_user_id": ids["officer"]}
    )
    assert r.status_code == 200 and r.json()["officer_user_id"] == ids["officer"]
