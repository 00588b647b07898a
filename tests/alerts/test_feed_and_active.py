"""What partners and citizens get: the Atom feed of current messages and the active
alerts for a point, with expired, cancelled and superseded alerts left out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lxml import etree

from tests.alerts.conftest import NS, expire
from tests.conftest import INSIDE, OUTSIDE

FEED = "/api/v1/alerts/feed.atom"
ATOM_TIME = "%Y-%m-%dT%H:%M:%SZ"


def feed_entries(client, url: str = FEED) -> dict[str, etree._Element]:
    r = client.get(url)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/atom+xml")
    root = etree.fromstring(r.content)
    assert root.tag == "{http://www.w3.org/2005/Atom}feed"
    # The elements RFC 4287 requires of a feed and of each entry.
    assert root.findtext("atom:id", namespaces=NS)
    assert root.findtext("atom:title", namespaces=NS)
    datetime.strptime(root.findtext("atom:updated", namespaces=NS), ATOM_TIME)
    assert root.findtext("atom:author/atom:name", namespaces=NS)
    entries = {}
    for entry in root.findall("atom:entry", NS):
        assert entry.findtext("atom:id", namespaces=NS).startswith("urn:")
        assert entry.findtext("atom:title", namespaces=NS)
        datetime.strptime(entry.findtext("atom:updated", namespaces=NS), ATOM_TIME)
        links = entry.findall("atom:link[@rel='alternate']", NS)
        assert len(links) == 1
        entries[links[0].get("href")] = entry
    return entries


def cap_url(alert: dict) -> str:
    return f"http://testserver/api/v1/alerts/{alert['id']}.cap"


def test_feed_lists_current_alerts_with_links_to_their_cap(client, issue, valid_cap):
    alert = issue()
    entries = feed_entries(client)
    assert list(entries) == [cap_url(alert)]
    entry = entries[cap_url(alert)]
    assert entry.findtext("atom:id", namespaces=NS) == f"urn:safezone:alert:{alert['identifier']}"
    assert entry.findtext("atom:title", namespaces=NS) == (
        "คนร้ายหลบหนีไปทางตลาดอินโดจีน / Suspect fled toward the Indochina Market"
    )
    assert "ผู้ต้องสงสัย" in entry.findtext("atom:summary", namespaces=NS)
    link = entry.find("atom:link", NS)
    assert link.get("type") == "application/cap+xml"
    # The link works and leads to valid CAP.
    valid_cap(client.get(link.get("href")).content)


def test_feed_leaves_out_expired_cancelled_and_superseded_alerts(client, auth, db, issue):
    live = issue(headline_th="ยังมีผล")
    expired = issue(headline_th="หมดอายุ")
    cancelled = issue(headline_th="ถูกยกเลิก")
    superseded = issue(headline_th="ก่อนปรับปรุง")
    expire(db, expired["id"])
    cancel = client.post(
        f"/api/v1/alerts/{cancelled['id']}/cancel", json={}, headers=auth("operator")
    ).json()
    newer = client.post(
        f"/api/v1/alerts/{superseded['id']}/update",
        json={"headline_th": "หลังปรับปรุง"},
        headers=auth("operator"),
    ).json()

    entries = feed_entries(client)
    assert set(entries) == {cap_url(live), cap_url(newer), cap_url(cancel)}
    # A cancelled alert's thread shows its Cancel message, so partners learn of it.
    title = entries[cap_url(cancel)].findtext("atom:title", namespaces=NS)
    assert title.startswith("ยกเลิก / Cancelled: ถูกยกเลิก")

    # Once the cancelled alert would have expired, its Cancel message leaves too.
    expire(db, cancel["id"])
    assert set(feed_entries(client)) == {cap_url(live), cap_url(newer)}


def test_feed_can_be_filtered_by_station(client, auth, issue):
    alert = issue()
    assert list(feed_entries(client, f"{FEED}?station=MDH")) == [cap_url(alert)]
    assert feed_entries(client, f"{FEED}?station=BKK") == {}
    r = client.get(f"{FEED}?station=NOPE")
    assert r.status_code == 404
    assert r.json()["error"]["field"] == "station_id"


def test_empty_feed_is_still_valid_atom(client):
    assert feed_entries(client) == {}


def test_feed_and_active_are_not_taken_for_alert_ids(client, auth, issue):
    issue()
    assert client.get(FEED).headers["content-type"].startswith("application/atom+xml")
    assert client.get("/api/v1/alerts/active").status_code == 200
    # Staff-only /{alert_id} is not reached by these public paths, even signed in.
    assert client.get("/api/v1/alerts/active", headers=auth("citizen")).status_code == 200


def test_active_for_a_point_inside_the_zone_includes_the_alert(client, issue):
    alert = issue()
    r = client.get("/api/v1/alerts/active", params={"lat": INSIDE[0], "lon": INSIDE[1]})
    assert r.status_code == 200, r.text
    [shown] = r.json()
    assert shown["id"] == alert["id"]
    assert shown["identifier"] == alert["identifier"]
    assert shown["headline_th"] == "คนร้ายหลบหนีไปทางตลาดอินโดจีน"
    assert shown["headline_en"] == "Suspect fled toward the Indochina Market"
    assert shown["instruction_th"] == "อย่าเข้าใกล้ โทร 191"
    assert shown["severity"] == "Severe" and shown["urgency"] == "Immediate"
    assert shown["areas"][0]["zone_id"] == "ZONE-MARKET"
    assert shown["areas"][0]["geometry"]["type"] == "Polygon"
    assert shown["cap_url"] == cap_url(alert)
    # The public view carries no staff details.
    assert "created_by" not in shown and "note" not in shown


def test_active_for_a_point_outside_every_zone_excludes_it(client, issue):
    issue()
    r = client.get("/api/v1/alerts/active", params={"lat": OUTSIDE[0], "lon": OUTSIDE[1]})
    assert r.status_code == 200
    assert r.json() == []


def test_active_without_a_point_lists_every_active_public_alert(client, auth, db, issue):
    severe = issue(severity="Severe")
    extreme = issue(severity="Extreme")
    expired = issue()
    expire(db, expired["id"])
    cancelled = issue()
    client.post(f"/api/v1/alerts/{cancelled['id']}/cancel", headers=auth("operator"))
    issue(status="Test")
    issue(status="Exercise")
    issue(effective=(datetime.now(UTC) + timedelta(hours=1)).isoformat())  # not yet
    shown = client.get("/api/v1/alerts/active").json()
    # Most severe first; tests, exercises, pending, expired and cancelled left out.
    assert [a["id"] for a in shown] == [extreme["id"], severe["id"]]


def test_updated_alert_shows_only_its_latest_message(client, auth, issue):
    first = issue()
    newer = client.post(
        f"/api/v1/alerts/{first['id']}/update",
        json={"headline_th": "ข้อมูลใหม่"},
        headers=auth("operator"),
    ).json()
    shown = client.get("/api/v1/alerts/active", params={"lat": INSIDE[0], "lon": INSIDE[1]})
    assert [a["id"] for a in shown.json()] == [newer["id"]]
    assert shown.json()[0]["headline_th"] == "ข้อมูลใหม่"


def test_active_needs_both_coordinates_and_sane_ones(client):
    r = client.get("/api/v1/alerts/active", params={"lat": INSIDE[0]})
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "lon"
    r = client.get("/api/v1/alerts/active", params={"lon": INSIDE[1]})
    assert r.json()["error"]["field"] == "lat"
    r = client.get("/api/v1/alerts/active", params={"lat": 91, "lon": 100})
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "lat"
    r = client.get("/api/v1/alerts/active", params={"lat": "nan", "lon": 100})
    assert r.status_code == 422
