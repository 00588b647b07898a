"""The officer's event stream: only the dispatch events of the officer's own assignments,
live and on replay; officers only."""

from __future__ import annotations

import httpx
import pytest

from safezone.realtime import service as realtime_service
from tests.conftest import INSIDE, add_user
from tests.realtime.test_sse import read_events

V1 = "/api/v1"
STREAM = f"{V1}/officer/events/stream"


@pytest.fixture
def http(live_server):
    with httpx.Client(base_url=live_server.url, timeout=httpx.Timeout(15.0)) as c:
        yield c


@pytest.fixture
def scene(http, auth, db) -> dict[str, int]:
    """Two officers of the station, each crewing a motorbike, and three open incidents."""
    add_user(db, "officer2", "officer")
    ids = {
        name: http.get(f"{V1}/auth/me", headers=auth(name)).json()["user_id"]
        for name in ("officer", "officer2")
    }
    for unit_id, officer in (("MC-1", ids["officer"]), ("MC-2", ids["officer2"])):
        r = http.post(
            f"{V1}/units",
            headers=auth("admin"),
            json={
                "id": unit_id,
                "callsign": unit_id,
                "kind": "motorbike",
                "status": "available",
                "officer_user_id": officer,
            },
        )
        assert r.status_code == 201, r.text
    for n in range(3):
        r = http.post(
            f"{V1}/incidents",
            headers=auth("operator"),
            json={
                "category": "theft",
                "description": f"bag snatched {n}",
                "lat": INSIDE[0],
                "lon": INSIDE[1],
            },
        )
        assert r.status_code == 201, r.text
        ids[f"incident{n}"] = r.json()["id"]
    return ids


def assign(http, auth, incident: int, unit_id: str) -> dict:
    r = http.post(
        f"{V1}/dispatch/assignments",
        headers=auth("operator"),
        json={"incident_id": incident, "unit_id": unit_id},
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def cancel(http, auth, assignment_id: int) -> None:
    r = http.post(
        f"{V1}/dispatch/assignments/{assignment_id}/cancel",
        headers=auth("operator"),
        json={"note": "another unit is closer"},
    )
    assert r.status_code == 200, r.text


def open_stream(client: httpx.Client, headers: dict, last_event_id: int | None = None):
    extra = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
    return client.stream("GET", STREAM, headers={**headers, **extra})


def walk(http, auth, scene) -> list[int]:
    """The other unit is sent first and works its job; mine is sent, cancelled and sent
    again (a reassignment). Returns my two assignment ids."""
    other = assign(http, auth, scene["incident0"], "MC-2")
    r = http.post(f"{V1}/dispatch/assignments/{other['id']}/acknowledge", headers=auth("officer2"))
    assert r.status_code == 200, r.text
    first = assign(http, auth, scene["incident1"], "MC-1")
    cancel(http, auth, first["id"])
    cancel(http, auth, other["id"])
    second = assign(http, auth, scene["incident2"], "MC-1")
    r = http.post(f"{V1}/dispatch/assignments/{second['id']}/acknowledge", headers=auth("officer"))
    assert r.status_code == 200, r.text
    return [first["id"], second["id"]]


MY_TOPICS = ["dispatch.assigned", "dispatch.cancelled", "dispatch.assigned", "dispatch.step"]


def test_the_officer_gets_only_their_own_assignments_events(live_server, http, auth, scene):
    with open_stream(http, auth("officer")) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        first, second = walk(http, auth, scene)
        events = read_events(response, 4)
    # The other unit's assignment, its acknowledgement and its cancellation, and every
    # incident and unit change on the way, never reached this phone.
    assert [e["event"] for e in events] == MY_TOPICS
    assert [e["data"]["assignment"]["id"] for e in events] == [first, first, second, second]
    assert {e["data"]["assignment"]["officer_user_id"] for e in events} == {scene["officer"]}
    assert events[1]["data"]["assignment"]["status"] == "cancelled"
    assert events[3]["data"]["to"] == "acknowledged"


def test_replay_after_last_event_id_is_filtered_the_same_way(
    live_server, http, auth, scene, monkeypatch
):
    # Small read batches: the replay has to move past whole batches of other rows.
    monkeypatch.setattr(realtime_service, "READ_BATCH", 2)
    first, second = walk(http, auth, scene)
    with httpx.Client(base_url=live_server.url, timeout=httpx.Timeout(1.5)) as short:
        with open_stream(short, auth("officer"), last_event_id=0) as response:
            assert response.status_code == 200
            events = read_events(response, None)
    assert [e["event"] for e in events] == MY_TOPICS
    assert [e["data"]["assignment"]["id"] for e in events] == [first, first, second, second]

    # From a position in the middle (as ?after= for a new EventSource): the rest only.
    middle = events[1]["id"]
    with http.stream("GET", STREAM, params={"after": middle}, headers=auth("officer")) as r:
        rest = read_events(r, 2)
    assert [e["id"] for e in rest] == [e["id"] for e in events[2:]]
    assert [e["data"]["assignment"]["id"] for e in rest] == [second, second]

    # The other officer's replay holds only theirs.
    with httpx.Client(base_url=live_server.url, timeout=httpx.Timeout(1.5)) as short:
        with open_stream(short, auth("officer2"), last_event_id=0) as response:
            theirs = read_events(response, None)
    assert [e["event"] for e in theirs] == [
        "dispatch.assigned",
        "dispatch.step",
        "dispatch.cancelled",
    ]
    assert {e["data"]["assignment"]["unit_id"] for e in theirs} == {"MC-2"}
    assert first not in {e["data"]["assignment"]["id"] for e in theirs}


def test_only_officers_may_open_it(client, auth):
    r = client.get(STREAM)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"
    for role in ("citizen", "operator", "commander", "admin"):
        r = client.get(STREAM, headers=auth(role))
        assert r.status_code == 403, role
        assert r.json()["error"]["code"] == "forbidden"


def test_a_bad_replay_position_is_refused_naming_the_field(client, auth):
    r = client.get(STREAM, params={"after": -1}, headers=auth("officer"))
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "after"


def test_a_crew_change_moves_the_events_to_the_new_officer(live_server, http, auth, scene):
    """MC-1 changes hands while its assignment is open: the new officer's stream carries
    the hand-over and what follows; the old one's only the hand-over, to drop the job."""
    mine = assign(http, auth, scene["incident0"], "MC-1")
    r = http.patch(
        f"{V1}/units/MC-1", headers=auth("operator"), json={"officer_user_id": scene["officer2"]}
    )
    assert r.status_code == 200, r.text
    r = http.post(f"{V1}/dispatch/assignments/{mine['id']}/acknowledge", headers=auth("officer2"))
    assert r.status_code == 200, r.text
    with httpx.Client(base_url=live_server.url, timeout=httpx.Timeout(1.5)) as short:
        with open_stream(short, auth("officer2"), last_event_id=0) as response:
            theirs = read_events(response, None)
        with open_stream(short, auth("officer"), last_event_id=0) as response:
            old = read_events(response, None)
    assert [e["event"] for e in theirs] == ["dispatch.crew_changed", "dispatch.step"]
    assert {e["data"]["assignment"]["officer_user_id"] for e in theirs} == {scene["officer2"]}
    assert theirs[0]["data"]["previous_officer_user_id"] == scene["officer"]
    assert [e["event"] for e in old] == ["dispatch.assigned", "dispatch.crew_changed"]
    assert old[1]["data"]["assignment"]["officer_user_id"] == scene["officer2"]
