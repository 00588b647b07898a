"""Citizen reports: intake, tracking, duplicates, zones, photos, triage."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from sqlalchemy import func, select

from safezone.incidents.models import Incident
from safezone.reports.models import Report, ReportPhoto
from tests.conftest import INSIDE, OUTSIDE


def report_body(**overrides):
    body = {
        "kind": "incident",
        "category": "theft",
        "description": "กระเป๋าถูกขโมย bag stolen",
        "lat": INSIDE[0],
        "lon": INSIDE[1],
    }
    body.update(overrides)
    return body


def count(db, model) -> int:
    with db.reader() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def jpeg_bytes(size=(64, 48), exif_gps: bool = False) -> bytes:
    buf = io.BytesIO()
    image = Image.new("RGB", size, (200, 30, 30))
    if exif_gps:
        exif = Image.Exif()
        exif[0x010F] = "PhoneMaker"  # Make
        exif[0x9286] = "secret comment"
        image.save(buf, format="JPEG", exif=exif)
    else:
        image.save(buf, format="JPEG")
    return buf.getvalue()


def test_anyone_can_report_and_track_it(client, db):
    r = client.post("/api/v1/reports", json=report_body())
    assert r.status_code == 201
    body = r.json()
    assert body["status"] == "received"
    assert body["outside_zone"] is False
    assert body["tracking_code"].startswith("SZ-")

    t = client.get(f"/api/v1/reports/track/{body['tracking_code']}")
    assert t.status_code == 200
    view = t.json()
    assert view["status"] == "received"
    assert view["updates"][0]["status"] == "received"
    # The tracking page shows status, not what was reported or where.
    assert "description" not in view and "lat" not in view


def test_report_outside_every_zone_is_accepted_and_marked(client, db):
    r = client.post("/api/v1/reports", json=report_body(lat=OUTSIDE[0], lon=OUTSIDE[1]))
    assert r.status_code == 201
    assert r.json()["outside_zone"] is True
    with db.reader() as session:
        report = session.scalar(select(Report))
        assert report.zone_id is None
        assert report.station_id == "MDH"  # nearest station


def test_retry_with_same_client_ref_collapses(client, db):
    body = report_body(client_ref="abcd1234efgh")
    first = client.post("/api/v1/reports", json=body)
    second = client.post("/api/v1/reports", json=body)
    assert first.status_code == 201 and second.status_code == 200
    assert first.json()["tracking_code"] == second.json()["tracking_code"]
    assert count(db, Report) == 1


def test_anonymous_tip_keeps_no_account_link(client, db, auth):
    r = client.post(
        "/api/v1/reports", json=report_body(kind="tip", anonymous=True), headers=auth("citizen")
    )
    assert r.status_code == 201
    with db.reader() as session:
        report = session.scalar(select(Report))
        assert report.anonymous is True
        assert report.reporter_user_id is None
    mine = client.get("/api/v1/reports/mine", headers=auth("citizen"))
    assert mine.json() == []


def test_citizen_sees_only_own_reports(client, auth):
    client.post("/api/v1/reports", json=report_body(), headers=auth("citizen"))
    client.post("/api/v1/reports", json=report_body(description="someone else's"))
    mine = client.get("/api/v1/reports/mine", headers=auth("citizen")).json()
    assert [m["description"] for m in mine] == ["กระเป๋าถูกขโมย bag stolen"]
    # and cannot read the operators' list
    assert client.get("/api/v1/reports", headers=auth("citizen")).status_code == 403


def test_emergency_opens_a_critical_incident_at_once(client, db, auth):
    r = client.post("/api/v1/reports", json=report_body(kind="emergency", category="assault"))
    assert r.status_code == 201
    assert r.json()["status"] == "in_progress"
    incidents = client.get("/api/v1/incidents", headers=auth("operator")).json()
    assert len(incidents) == 1
    assert incidents[0]["priority"] == "critical"
    assert incidents[0]["source"] == "emergency"
    track = client.get(f"/api/v1/reports/track/{r.json()['tracking_code']}").json()
    assert track["incident_status"] == "new"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"lat": 91}, "lat"),
        ({"lat": -90.5}, "lat"),
        ({"lon": 181}, "lon"),
        ({"lat": "north"}, "lat"),
        ({"description": "   "}, "description"),
        ({"description": ""}, "description"),
        ({"kind": "complaint"}, "kind"),
        ({"category": "ufo"}, "category"),
        ({"accuracy_m": -1}, "accuracy_m"),
        ({"extra_field": 1}, "extra_field"),
        ({"client_ref": "x"}, "client_ref"),
    ],
)
def test_bad_report_is_refused_with_the_field_named(client, db, overrides, field):
    r = client.post("/api/v1/reports", json=report_body(**overrides))
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["field"] == field
    assert error["message"]
    assert count(db, Report) == 0


def test_missing_field_and_malformed_json(client, db):
    body = report_body()
    del body["lat"]
    r = client.post("/api/v1/reports", json=body)
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "lat"
    assert "required" in r.json()["error"]["message"]
    r = client.post(
        "/api/v1/reports", content=b'{"kind": "tip",', headers={"content-type": "application/json"}
    )
    assert r.status_code == 400
    assert "JSON" in r.json()["error"]["message"]
    assert count(db, Report) == 0


def test_oversized_body_is_refused(client, db, settings):
    big = "x" * (settings.request_max_bytes + 10)
    r = client.post("/api/v1/reports", json=report_body(description=big))
    assert r.status_code == 413
    assert count(db, Report) == 0


def test_unknown_tracking_code_is_404(client):
    r = client.get("/api/v1/reports/track/SZ-00000-00000")
    assert r.status_code == 404
    assert r.json()["error"]["field"] == "tracking_code"


# --- photos ---------------------------------------------------------------------------


def _new_report(client, headers=None, **overrides) -> str:
    r = client.post("/api/v1/reports", json=report_body(**overrides), headers=headers or {})
    return r.json()["tracking_code"]


def test_photo_is_attached_through_the_tracking_code(client, db, settings, auth):
    # A signed-in, non-anonymous report keeps the original file as evidence.
    code = _new_report(client, headers=auth("citizen"))
    data = jpeg_bytes()
    r = client.post(
        f"/api/v1/reports/track/{code}/photos", files={"file": ("p.jpg", data, "image/jpeg")}
    )
    assert r.status_code == 201, r.text
    photo = r.json()
    assert photo["content_type"] == "image/jpeg"
    assert (photo["width"], photo["height"]) == (64, 48)
    assert client.get(f"/api/v1/reports/track/{code}").json()["photos"] == 1
    # operators can fetch it; it is the exact file stored
    report_id = client.get("/api/v1/reports", headers=auth("operator")).json()[0]["id"]
    got = client.get(f"/api/v1/reports/{report_id}/photos/{photo['id']}", headers=auth("operator"))
    assert got.status_code == 200
    assert got.headers["content-type"] == "image/jpeg"
    assert got.content == data
    assert client.get(f"/api/v1/reports/{report_id}/photos/{photo['id']}").status_code == 401
    files = [p for p in settings.media_dir.rglob("*") if p.is_file()]
    assert len(files) == 1 and not files[0].name.endswith(".part")


def test_anonymous_photo_is_stripped_of_metadata(client, db, settings):
    code = _new_report(client, kind="tip", anonymous=True)
    data = jpeg_bytes(exif_gps=True)
    assert b"PhoneMaker" in data
    r = client.post(
        f"/api/v1/reports/track/{code}/photos", files={"file": ("p.jpg", data, "image/jpeg")}
    )
    assert r.status_code == 201
    stored = next(p for p in settings.media_dir.rglob("*.jpg"))
    assert b"PhoneMaker" not in stored.read_bytes()


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        (b"GIF89a" + b"\x00" * 100, 415),
        (b"%PDF-1.4 not an image", 415),
        (b"\xff\xd8\xff\xe0 truncated jpeg", 415),
        (b"", 422),
    ],
)
def test_non_image_photo_is_refused_and_nothing_stored(client, db, settings, payload, status):
    code = _new_report(client)
    r = client.post(
        f"/api/v1/reports/track/{code}/photos", files={"file": ("x.jpg", payload, "image/jpeg")}
    )
    assert r.status_code == status
    assert r.json()["error"]["field"] == "file"
    assert count(db, ReportPhoto) == 0
    assert not [p for p in settings.media_dir.rglob("*") if p.is_file()]


def test_oversized_photo_is_refused(client, db, settings):
    code = _new_report(client)
    big = jpeg_bytes(size=(4000, 3000))
    small_limit = len(big) - 1
    client.app.state.settings = settings.model_copy(update={"photo_max_bytes": small_limit})
    r = client.post(
        f"/api/v1/reports/track/{code}/photos", files={"file": ("x.jpg", big, "image/jpeg")}
    )
    assert r.status_code == 413
    assert count(db, ReportPhoto) == 0


def test_photo_limit_per_report(client, db, settings):
    code = _new_report(client)
    client.app.state.settings = settings.model_copy(update={"photos_per_report": 2})
    for _ in range(2):
        assert (
            client.post(
                f"/api/v1/reports/track/{code}/photos",
                files={"file": ("p.jpg", jpeg_bytes(), "image/jpeg")},
            ).status_code
            == 201
        )
    r = client.post(
        f"/api/v1/reports/track/{code}/photos",
        files={"file": ("p.jpg", jpeg_bytes(), "image/jpeg")},
    )
    assert r.status_code == 409
    assert count(db, ReportPhoto) == 2


# --- triage ---------------------------------------------------------------------------


def _report_id(client, auth) -> int:
    return client.get("/api/v1/reports?status=received", headers=auth("operator")).json()[0]["id"]


def test_operator_triages_report_into_incident(client, db, auth):
    code = _new_report(client)
    report_id = _report_id(client, auth)
    r = client.post(
        f"/api/v1/reports/{report_id}/triage",
        json={"action": "create_incident", "priority": "high", "public_message": "รับเรื่องแล้ว"},
        headers=auth("operator"),
    )
    assert r.status_code == 200
    assert r.json()["status"] == "in_progress"
    incident_id = r.json()["incident_id"]
    detail = client.get(f"/api/v1/incidents/{incident_id}", headers=auth("operator")).json()
    assert detail["priority"] == "high"
    assert [rep["tracking_code"] for rep in detail["reports"]] == [code]
    track = client.get(f"/api/v1/reports/track/{code}").json()
    assert track["updates"][-1]["message"] == "รับเรื่องแล้ว"
    # triaging twice is refused
    again = client.post(
        f"/api/v1/reports/{report_id}/triage",
        json={"action": "create_incident"},
        headers=auth("operator"),
    )
    assert again.status_code == 409


def test_duplicate_report_merges_into_existing_incident(client, db, auth):
    _new_report(client)
    first = _report_id(client, auth)
    incident_id = client.post(
        f"/api/v1/reports/{first}/triage",
        json={"action": "create_incident"},
        headers=auth("operator"),
    ).json()["incident_id"]
    _new_report(client, description="same bag theft, seen by a vendor")
    second = _report_id(client, auth)
    r = client.post(
        f"/api/v1/reports/{second}/triage",
        json={"action": "merge", "incident_id": incident_id},
        headers=auth("operator"),
    )
    assert r.status_code == 200
    assert r.json()["status"] == "merged"
    assert count(db, Incident) == 1
    detail = client.get(f"/api/v1/incidents/{incident_id}", headers=auth("operator")).json()
    assert len(detail["reports"]) == 2
    assert sum(1 for e in detail["timeline"] if e["action"] == "report_linked") == 2


def test_triage_bad_input(client, db, auth):
    _new_report(client)
    report_id = _report_id(client, auth)
    h = auth("operator")
    r = client.post(f"/api/v1/reports/{report_id}/triage", json={"action": "merge"}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["field"] == "incident_id"
    r = client.post(
        f"/api/v1/reports/{report_id}/triage",
        json={"action": "merge", "incident_id": 9999},
        headers=h,
    )
    assert r.status_code == 404
    r = client.post(f"/api/v1/reports/{report_id}/triage", json={"action": "reject"}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["field"] == "note"
    r = client.post(
        "/api/v1/reports/9999/triage", json={"action": "reject", "note": "x"}, headers=h
    )
    assert r.status_code == 404
    assert count(db, Incident) == 0
    # still waiting for triage after all those refusals
    assert client.get(f"/api/v1/reports/{report_id}", headers=h).json()["status"] == "received"


def test_other_station_cannot_see_or_triage(client, auth):
    _new_report(client)
    report_id = _report_id(client, auth)
    h = auth("other_operator")
    assert client.get("/api/v1/reports", headers=h).json() == []
    assert client.get(f"/api/v1/reports/{report_id}", headers=h).status_code == 404
    r = client.post(
        f"/api/v1/reports/{report_id}/triage", json={"action": "create_incident"}, headers=h
    )
    assert r.status_code == 404


def test_reject_is_shown_on_tracking_page(client, auth):
    code = _new_report(client)
    report_id = _report_id(client, auth)
    r = client.post(
        f"/api/v1/reports/{report_id}/triage",
        json={"action": "reject", "note": "prank", "public_message": "ข้อมูลไม่เพียงพอ"},
        headers=auth("operator"),
    )
    assert r.status_code == 200
    track = client.get(f"/api/v1/reports/track/{code}").json()
    assert track["status"] == "rejected"
    assert track["updates"][-1]["message"] == "ข้อมูลไม่เพียงพอ"


def test_stale_credentials_never_block_a_report(client, db):
    """An expired or forged token on an open route is treated as anonymous."""
    r = client.post(
        "/api/v1/reports",
        json=report_body(kind="emergency", category="assault"),
        headers={"Authorization": "Bearer not-a-real-token"},
    )
    assert r.status_code == 201
    with db.reader() as session:
        assert session.scalar(select(Report)).reporter_user_id is None


def test_a_new_report_is_known_whole_without_another_read(db):
    """A report goes in through Core and is handed to the session as the stored row: every
    column must be set, or reading one (for its event, or an emergency's link) would ask
    the database again while the write lock is held. A column added to Report without
    being written at intake fails here."""
    from sqlalchemy import event

    from safezone.reports import service as reports_service
    from safezone.reports.schemas import ReportCreate

    statements: list[str] = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        for kind in ("tip", "emergency"):
            data = ReportCreate(
                kind=kind, category="assault", description="x", lat=INSIDE[0], lon=INSIDE[1]
            )
            submitted = reports_service.receive(db, data=data, principal=None)
            assert submitted.created
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    reads = [
        s for s in statements if s.lstrip().upper().startswith("SELECT") and "FROM reports" in s
    ]
    assert reads == []
    with db.reader() as session:
        stored = session.get(Report, submitted.report.id)
        assert stored.tracking_code == submitted.report.tracking_code
        assert stored.status == "in_progress" and stored.incident_id is not None
