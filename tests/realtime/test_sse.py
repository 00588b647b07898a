"""Server-sent events: live delivery, replay after reconnect, station isolation."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.conftest import INSIDE, PASSWORD


def read_events(response: httpx.Response, count: int | None, timeout_s: float = 10.0) -> list[dict]:
    """Read SSE frames until `count` events arrived (comments and keepalives skipped), or
    with `count` None every event until the stream stays quiet for the client's read
    timeout."""
    events: list[dict] = []
    frame: dict[str, str] = {}
    deadline = time.monotonic() + timeout_s
    try:
        for line in response.iter_lines():
            if count is not None and time.monotonic() > deadline:
                break
            if line == "":
                if "data" in frame:
                    events.append(
                        {
                            "id": int(frame["id"]),
                            "event": frame["event"],
                            "data": json.loads(frame["data"]),
                        }
                    )
                    if count is not None and len(events) >= count:
                        return events
                frame = {}
            elif not line.startswith(":"):
                key, _, value = line.partition(":")
                frame[key] = value.lstrip(" ")
    except httpx.ReadTimeout:
        if count is None:
            return events
    if count is None:
        raise AssertionError("the stream ended")
    raise AssertionError(f"only {len(events)} of {count} events arrived: {events}")


def submit(base: str, description: str) -> str:
    r = httpx.post(
        f"{base}/api/v1/reports",
        json={
            "kind": "incident",
            "category": "theft",
            "description": description,
            "lat": INSIDE[0],
            "lon": INSIDE[1],
        },
    )
    assert r.status_code == 201
    return r.json()["tracking_code"]


def open_stream(client: httpx.Client, headers: dict, last_event_id: int | None = None):
    extra = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
    return client.stream("GET", "/api/v1/events/stream", headers={**headers, **extra})


@pytest.fixture
def http(live_server):
    with httpx.Client(base_url=live_server.url, timeout=httpx.Timeout(15.0)) as c:
        yield c


def test_live_event_then_replay_after_reconnect(live_server, http, auth):
    h = auth("operator")
    with open_stream(http, h) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-content-type-options"] == "nosniff"  # streams too
        first_code = submit(live_server.url, "first")
        [event] = read_events(response, 1)
    assert event["event"] == "report.created"
    assert event["data"]["report"]["tracking_code"] == first_code
    last_seen = event["id"]

    # While the operator's screen is disconnected, three more things happen.
    away = [submit(live_server.url, f"while away {i}") for i in range(3)]

    with open_stream(http, h, last_event_id=last_seen) as response:
        replayed = read_events(response, 3)
    assert [e["data"]["report"]["tracking_code"] for e in replayed] == away
    ids = [e["id"] for e in replayed]
    assert ids == sorted(ids) and ids[0] > last_seen  # nothing repeated, in order


def test_incident_changes_are_streamed(live_server, http, auth):
    h = auth("operator")
    with open_stream(http, h) as response:
        created = http.post(
            "/api/v1/incidents",
            headers=h,
            json={
                "category": "assault",
                "priority": "high",
                "description": "fight",
                "lat": INSIDE[0],
                "lon": INSIDE[1],
            },
        ).json()
        http.post(
            f"/api/v1/incidents/{created['id']}/transitions",
            headers=h,
            json={"status": "acknowledged"},
        )
        events = read_events(response, 2)
    assert [e["event"] for e in events] == ["incident.created", "incident.status_changed"]
    assert events[1]["data"]["incident"]["status"] == "acknowledged"
    assert events[1]["data"]["incident"]["id"] == created["id"]


def test_other_station_does_not_receive_events(live_server, http, auth):
    with open_stream(http, auth("operator")) as mine:
        submit(live_server.url, "only for MDH")
        read_events(mine, 1)
    # BKK's operator replays everything it may see from the start: nothing of MDH's.
    with httpx.Client(base_url=live_server.url, timeout=httpx.Timeout(1.5)) as short:
        with open_stream(short, auth("other_operator"), last_event_id=0) as other:
            assert other.status_code == 200
            with pytest.raises(AssertionError, match="only 0 of 1"):
                read_events(other, 1, timeout_s=1.5)


def test_stream_requires_a_control_room_role(http, auth):
    assert http.get("/api/v1/events/stream").status_code == 401
    for role in ("citizen", "officer"):
        assert http.get("/api/v1/events/stream", headers=auth(role)).status_code == 403


@pytest.mark.parametrize("how", ["signed out", "account disabled"])
def test_a_stream_ends_once_its_caller_may_no_longer_read_it(
    live_server, http, auth, monkeypatch, how
):
    """A screen left open must not keep receiving events after its token was revoked or
    its account disabled: the stream checks its caller again every REAUTH_S."""
    from safezone.realtime import service as realtime_service

    monkeypatch.setattr(realtime_service, "REAUTH_S", 0.3)
    token = http.post(
        "/api/v1/auth/token", data={"username": "operator", "password": PASSWORD}
    ).json()["access_token"]
    mine = {"Authorization": f"Bearer {token}"}
    with open_stream(http, mine) as response:
        assert response.status_code == 200
        lines = response.iter_lines()
        submit(live_server.url, "before")
        for line in lines:  # the stream works while the caller may read it
            if line == "event: report.created":
                break
        else:
            raise AssertionError("the first event never came")
        if how == "signed out":
            assert http.post("/api/v1/auth/logout", headers=mine).status_code == 204
        else:
            user_id = http.get("/api/v1/auth/me", headers=mine).json()["user_id"]
            r = http.patch(
                f"/api/v1/users/{user_id}", headers=auth("admin"), json={"active": False}
            )
            assert r.status_code == 200, r.text
        began = time.monotonic()
        list(lines)  # returns when the server ends the stream (else: a read timeout, 15 s)
    assert time.monotonic() - began < 10
