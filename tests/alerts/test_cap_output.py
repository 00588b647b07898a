"""SafeZone's CAP 1.2 documents: valid against the OASIS schema, bilingual, with the
zones as closed polygons, and Update/Cancel messages that reference the thread."""

from __future__ import annotations

import re

from safezone.zones import schemas as zone_schemas
from safezone.zones import service as zones_service
from tests.alerts.conftest import NS
from tests.conftest import STATION, ZONE_RING

CAP_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[-+]\d\d:\d\d$")


def cap_of(client, alert: dict) -> bytes:
    r = client.get(f"/api/v1/alerts/{alert['id']}.cap")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/cap+xml")
    return r.content


def texts(root, path: str) -> list[str]:
    return [e.text for e in root.findall(path, NS)]


def points(polygon: str) -> list[tuple[float, float]]:
    return [tuple(float(v) for v in pair.split(",")) for pair in polygon.split()]


def test_issued_alert_is_valid_cap_in_thai_and_english(client, issue, valid_cap):
    alert = issue()
    root = valid_cap(cap_of(client, alert))
    assert root.tag == "{urn:oasis:names:tc:emergency:cap:1.2}alert"
    assert texts(root, "cap:identifier") == [alert["identifier"]]
    assert alert["identifier"].startswith(f"safezone-{STATION}-{alert['id']}-")
    assert texts(root, "cap:sender") == ["safezone@mdh.police.local"]
    assert texts(root, "cap:status") == ["Actual"]
    assert texts(root, "cap:msgType") == ["Alert"]
    assert texts(root, "cap:scope") == ["Public"]
    assert root.find("cap:references", NS) is None
    sent = root.findtext("cap:sent", namespaces=NS)
    assert CAP_TIME.match(sent) and sent.endswith("-00:00")

    infos = root.findall("cap:info", NS)
    assert [i.findtext("cap:language", namespaces=NS) for i in infos] == ["th-TH", "en-US"]
    thai, english = infos
    assert thai.findtext("cap:headline", namespaces=NS) == "คนร้ายหลบหนีไปทางตลาดอินโดจีน"
    assert english.findtext("cap:headline", namespaces=NS) == (
        "Suspect fled toward the Indochina Market"
    )
    assert thai.findtext("cap:instruction", namespaces=NS) == "อย่าเข้าใกล้ โทร 191"
    assert thai.findtext("cap:senderName", namespaces=NS) == "สภ.เมืองมุกดาหาร"
    assert english.findtext("cap:senderName", namespaces=NS) == "Mukdahan"
    for info in infos:
        assert info.findtext("cap:category", namespaces=NS) == "Security"
        assert info.findtext("cap:responseType", namespaces=NS) == "Avoid"
        assert info.findtext("cap:urgency", namespaces=NS) == "Immediate"
        assert info.findtext("cap:severity", namespaces=NS) == "Severe"
        assert info.findtext("cap:certainty", namespaces=NS) == "Observed"
        assert CAP_TIME.match(info.findtext("cap:effective", namespaces=NS))
        assert CAP_TIME.match(info.findtext("cap:expires", namespaces=NS))
    assert texts(thai, "cap:area/cap:areaDesc") == ["ตลาดอินโดจีน"]
    assert texts(english, "cap:area/cap:areaDesc") == ["Indochina Market"]


def test_zone_polygon_is_lat_lon_and_closed(client, issue, valid_cap):
    root = valid_cap(cap_of(client, issue()))
    polygons = texts(root, "cap:info[1]/cap:area/cap:polygon")
    assert len(polygons) == 1
    ring = points(polygons[0])
    assert len(ring) >= 4
    assert ring[0] == ring[-1]
    # GeoJSON is lon,lat; CAP is lat,lon.
    assert ring == [(lat, lon) for lon, lat in ZONE_RING]


def test_only_thai_when_no_english_text(client, issue, valid_cap):
    alert = issue(headline_en=..., description_en=..., instruction_en=..., instruction_th=...)
    root = valid_cap(cap_of(client, alert))
    infos = root.findall("cap:info", NS)
    assert [i.findtext("cap:language", namespaces=NS) for i in infos] == ["th-TH"]
    assert infos[0].find("cap:instruction", NS) is None


def test_multipolygon_zone_gives_one_polygon_per_part(client, db, issue, valid_cap):
    second = [[104.7400, 16.5500], [104.7420, 16.5500], [104.7420, 16.5520], [104.7400, 16.5500]]
    with db.transaction() as session:
        zones_service.create_asset(
            session,
            kind=zones_service.KINDS["zone"],
            station_id=STATION,
            data=zone_schemas.ZoneCreate(
                id="ZONE-TWO-PARTS",
                name="ชุมชนศรีสุมังค์",
                geometry={"type": "MultiPolygon", "coordinates": [[ZONE_RING], [second]]},
            ),
            actor="test",
        )
    root = valid_cap(cap_of(client, issue(zone_ids=["ZONE-MARKET", "ZONE-TWO-PARTS"])))
    areas = root.findall("cap:info[1]/cap:area", NS)
    assert [a.findtext("cap:areaDesc", namespaces=NS) for a in areas] == [
        "ตลาดอินโดจีน",
        "ชุมชนศรีสุมังค์",
    ]
    parts = texts(areas[1], "cap:polygon")
    assert len(parts) == 2
    assert all(points(p)[0] == points(p)[-1] for p in parts)
    assert points(parts[1]) == [(lat, lon) for lon, lat in second]
    # No English name: the English areaDesc falls back to the Thai one.
    assert texts(root, "cap:info[2]/cap:area/cap:areaDesc")[1] == "ชุมชนศรีสุมังค์"


def test_markup_characters_and_thai_are_escaped_not_interpreted(client, issue, valid_cap):
    nasty = 'ระวัง <script>alert("x")</script> & "โจร" </headline><evil/>'
    alert = issue(
        headline_th=nasty[:150],
        description_th="A & B < C > D ]]> ' \" ทดสอบ",
        headline_en="Tom & Jerry <b>",
    )
    body = cap_of(client, alert)
    assert b"<script>" not in body and b"<evil/>" not in body and b"<b>" not in body
    assert b"&lt;script&gt;" in body and b"&amp;" in body
    root = valid_cap(body)
    thai, english = root.findall("cap:info", NS)
    assert thai.findtext("cap:headline", namespaces=NS) == nasty[:150]
    assert thai.findtext("cap:description", namespaces=NS) == "A & B < C > D ]]> ' \" ทดสอบ"
    assert english.findtext("cap:headline", namespaces=NS) == "Tom & Jerry <b>"
    # Thai is sent as UTF-8 text, not mangled.
    assert "ทดสอบ".encode() in body


def test_update_message_references_the_alert_and_is_valid(client, auth, issue, valid_cap):
    first = issue()
    first_document = cap_of(client, first)
    r = client.post(
        f"/api/v1/alerts/{first['id']}/update",
        json={"severity": "Moderate", "headline_th": "คนร้ายถูกจับแล้วบางส่วน"},
        headers=auth("operator"),
    )
    assert r.status_code == 201, r.text
    update = r.json()
    assert update["msg_type"] == "Update"
    assert update["previous_id"] == first["id"]
    assert update["identifier"] != first["identifier"]
    # Carried over what was not changed.
    assert update["headline_en"] == first["headline_en"]
    assert update["zone_ids"] == ["ZONE-MARKET"]

    first_root = valid_cap(first_document)
    root = valid_cap(cap_of(client, update))
    assert root.findtext("cap:msgType", namespaces=NS) == "Update"
    reference = ",".join(
        [
            first_root.findtext("cap:sender", namespaces=NS),
            first_root.findtext("cap:identifier", namespaces=NS),
            first_root.findtext("cap:sent", namespaces=NS),
        ]
    )
    assert root.findtext("cap:references", namespaces=NS) == reference
    assert root.findtext("cap:info/cap:severity", namespaces=NS) == "Moderate"
    assert root.findtext("cap:info/cap:headline", namespaces=NS) == "คนร้ายถูกจับแล้วบางส่วน"

    # The first message is unchanged: a CAP message never changes once sent.
    assert cap_of(client, first) == first_document


def test_cancel_message_references_the_whole_thread_and_is_valid(client, auth, issue, valid_cap):
    first = issue()
    update = client.post(
        f"/api/v1/alerts/{first['id']}/update",
        json={"expires": first["expires"], "urgency": "Expected"},
        headers=auth("operator"),
    ).json()
    r = client.post(
        f"/api/v1/alerts/{update['id']}/cancel",
        json={"note": "จับกุมผู้ต้องสงสัยได้แล้ว / suspect arrested"},
        headers=auth("commander"),
    )
    assert r.status_code == 201, r.text
    cancel = r.json()
    assert cancel["msg_type"] == "Cancel"
    assert cancel["state"] == "cancellation"
    root = valid_cap(cap_of(client, cancel))
    assert root.findtext("cap:msgType", namespaces=NS) == "Cancel"
    assert root.findtext("cap:note", namespaces=NS) == "จับกุมผู้ต้องสงสัยได้แล้ว / suspect arrested"
    references = root.findtext("cap:references", namespaces=NS).split(" ")
    assert [ref.split(",")[1] for ref in references] == [first["identifier"], update["identifier"]]
    for ref in references:
        sender, _identifier, sent = ref.split(",")
        assert sender == "safezone@mdh.police.local" and CAP_TIME.match(sent)

    staff = client.get(f"/api/v1/alerts/{update['id']}", headers=auth("operator")).json()
    assert staff["state"] == "cancelled"
    assert staff["cancelled_by"] == "user:commander"
    assert staff["replaced_by_id"] == cancel["id"]
    assert (
        client.get(f"/api/v1/alerts/{first['id']}", headers=auth("operator")).json()["state"]
        == "superseded"
    )


def test_cancel_needs_no_body(client, auth, issue, valid_cap):
    alert = issue()
    r = client.post(f"/api/v1/alerts/{alert['id']}/cancel", headers=auth("operator"))
    assert r.status_code == 201, r.text
    root = valid_cap(cap_of(client, r.json()))
    assert root.find("cap:note", NS) is None


def test_exercise_and_test_status_reach_the_cap_document(client, issue, valid_cap):
    for status in ("Exercise", "Test"):
        root = valid_cap(cap_of(client, issue(status=status)))
        assert root.findtext("cap:status", namespaces=NS) == status


def test_unknown_cap_id_is_404(client):
    assert client.get("/api/v1/alerts/999999.cap").status_code == 404
    assert client.get("/api/v1/alerts/abc.cap").status_code == 422
