"""The asset registry: zones, cameras, SOS boxes and checkpoints of a station."""

from __future__ import annotations

import copy
import json

import pytest
from sqlalchemy import func, select

from safezone.audit.models import AuditEntry
from safezone.auth import schemas as auth_schemas
from safezone.auth import service as auth_service
from safezone.zones.models import Camera, Checkpoint, SosBox, Zone
from tests.conftest import PASSWORD, ZONE_RING

API = "/api/v1"
STAFF = ("officer", "operator", "commander", "admin")
NEAR_MARKET = {"lat": 16.5441, "lon": 104.7282}
BOW_TIE = {
    "type": "Polygon",
    "coordinates": [
        [
            [104.725, 16.540],
            [104.731, 16.548],
            [104.731, 16.540],
            [104.725, 16.548],
            [104.725, 16.540],
        ]
    ],
}
SMALL_SQUARE = {
    "type": "Polygon",
    "coordinates": [
        [
            [104.726, 16.541],
            [104.727, 16.541],
            [104.727, 16.542],
            [104.726, 16.542],
            [104.726, 16.541],
        ]
    ],
}

# plural URL segment -> (model, a valid create body, a PATCH body, the field it changes)
KINDS = {
    "zones": (
        Zone,
        {"id": "ZONE-RIVER", "name": "ริมโขง", "name_en": "Riverside", "geometry": SMALL_SQUARE},
        {"name_en": "Mekong riverside"},
        "name_en",
    ),
    "cameras": (
        Camera,
        {
            "id": "CAM-P01-1",
            "pole_id": "P01",
            "name": "Market gate",
            **NEAR_MARKET,
            "bearing_deg": 90.0,
            "fov_deg": 60.0,
            "range_m": 40.0,
        },
        {"bearing_deg": 270.0},
        "bearing_deg",
    ),
    "sos-boxes": (
        SosBox,
        {"id": "SOS-01", "name": "Market SOS", **NEAR_MARKET},
        {"heartbeat_interval_s": 120},
        "heartbeat_interval_s",
    ),
    "checkpoints": (
        Checkpoint,
        {"id": "CP-01", "name": "Red box 1", **NEAR_MARKET, "radius_m": 25.0},
        {"radius_m": 50.0},
        "radius_m",
    ),
}
AUDIT_NAME = {
    "zones": "zone",
    "cameras": "camera",
    "sos-boxes": "sos_box",
    "checkpoints": "checkpoint",
}


def body_for(plural, **changes):
    body = copy.deepcopy(KINDS[plural][1])
    body.update(changes)
    return body


def create(client, auth, plural, **changes):
    r = client.post(f"{API}/{plural}", json=body_for(plural, **changes), headers=auth("admin"))
    assert r.status_code == 201, r.text
    return r.json()


def ids_listed(client, auth, plural, who="admin"):
    r = client.get(f"{API}/{plural}", headers=auth(who))
    assert r.status_code == 200, r.text
    return [item["id"] for item in r.json()]


def snapshot(db):
    """Every registry row and the audit chain length: what a refused request must not touch."""
    with db.reader() as session:
        rows = {
            model.__tablename__: sorted(
                (r.id, r.station_id, r.updated_at.isoformat())
                for r in session.scalars(select(model)).all()
            )
            for model in (Zone, Camera, SosBox, Checkpoint)
        }
        rows["audit"] = session.scalar(select(func.count()).select_from(AuditEntry))
    return rows


def audit(client, auth, action):
    r = client.get(f"{API}/audit", params={"action": action, "limit": 1000}, headers=auth("admin"))
    assert r.status_code == 200, r.text
    return r.json()["items"]


@pytest.fixture
def other_admin(db, token_for):
    """An administrator of the other station (BKK)."""
    with db.transaction() as session:
        auth_service.create_user(
            session,
            data=auth_schemas.UserCreate(username="bkk_admin", password=PASSWORD, role="admin"),
            station_id="BKK",
            actor="test",
        )
    return {"Authorization": f"Bearer {token_for('bkk_admin')}"}


# --- the life of an asset -------------------------------------------------------------


@pytest.mark.parametrize("plural", list(KINDS))
def test_create_read_update_delete(client, auth, plural):
    _model, body, patch, field = KINDS[plural]
    created = create(client, auth, plural)
    assert created["id"] == body["id"]
    assert created["station_id"] == "MDH"
    for key, value in body.items():
        if key != "secret":
            assert created[key] == value, key
    assert created["active"] is True

    for role in STAFF:
        r = client.get(f"{API}/{plural}/{body['id']}", headers=auth(role))
        assert r.status_code == 200, (role, r.text)
        assert r.json()[field] == created[field]
        assert body["id"] in ids_listed(client, auth, plural, role)

    r = client.patch(f"{API}/{plural}/{body['id']}", json=patch, headers=auth("admin"))
    assert r.status_code == 200, r.text
    assert r.json()[field] == patch[field]
    assert r.json()["name"] == body["name"]  # untouched fields stay
    got = client.get(f"{API}/{plural}/{body['id']}", headers=auth("operator")).json()
    assert got[field] == patch[field]
    assert got["updated_at"] >= created["updated_at"]

    r = client.delete(f"{API}/{plural}/{body['id']}", headers=auth("admin"))
    assert r.status_code == 204
    assert r.content == b""
    assert client.get(f"{API}/{plural}/{body['id']}", headers=auth("admin")).status_code == 404
    assert body["id"] not in ids_listed(client, auth, plural)
    assert client.delete(f"{API}/{plural}/{body['id']}", headers=auth("admin")).status_code == 404


def test_seeded_zone_is_listed_for_staff_and_the_public(client, auth):
    assert ids_listed(client, auth, "zones", "officer") == ["ZONE-MARKET"]
    public = client.get(f"{API}/zones")
    assert public.status_code == 200
    [zone] = public.json()
    assert zone["id"] == "ZONE-MARKET"
    assert zone["geometry"] == {"type": "Polygon", "coordinates": [ZONE_RING]}


def test_inactive_zone_is_hidden_from_the_public_map_but_not_from_staff(client, auth):
    r = client.patch(f"{API}/zones/ZONE-MARKET", json={"active": False}, headers=auth("admin"))
    assert r.status_code == 200, r.text
    assert client.get(f"{API}/zones").json() == []
    assert ids_listed(client, auth, "zones", "operator") == ["ZONE-MARKET"]


def test_inactive_zone_is_hidden_from_signed_in_citizens_too(client, auth):
    r = client.patch(f"{API}/zones/ZONE-MARKET", json={"active": False}, headers=auth("admin"))
    assert r.status_code == 200, r.text
    assert client.get(f"{API}/zones", headers=auth("citizen")).json() == []


@pytest.mark.parametrize("plural", list(KINDS))
def test_every_change_is_in_the_audit_trail(client, auth, plural):
    _model, body, patch, field = KINDS[plural]
    name = AUDIT_NAME[plural]
    create(client, auth, plural)
    client.patch(f"{API}/{plural}/{body['id']}", json=patch, headers=auth("admin"))
    client.delete(f"{API}/{plural}/{body['id']}", headers=auth("admin"))

    for action in ("created", "updated", "deleted"):
        entries = [
            e for e in audit(client, auth, f"{name}.{action}") if e["object_id"] == body["id"]
        ]
        assert len(entries) == 1, action
        entry = entries[0]
        assert entry["actor"] == "user:admin"
        assert entry["object_type"] == name
        assert entry["station_id"] == "MDH"
    [updated] = [e for e in audit(client, auth, f"{name}.updated") if e["object_id"] == body["id"]]
    assert updated["payload"]["changes"] == patch
    [deleted] = [e for e in audit(client, auth, f"{name}.deleted") if e["object_id"] == body["id"]]
    assert deleted["payload"]["id"] == body["id"]  # what was removed stays on record

    verified = client.get(f"{API}/audit/verify", headers=auth("admin"))
    assert verified.status_code == 200
    assert verified.json()["ok"] is True


# --- SOS box secrets ------------------------------------------------------------------


def test_sos_box_secret_is_generated_and_shown_once(client, auth):
    created = create(client, auth, "sos-boxes")
    secret = created["secret"]
    assert isinstance(secret, str) and len(secret) >= 16

    got = client.get(f"{API}/sos-boxes/SOS-01", headers=auth("admin"))
    assert got.status_code == 200
    assert "secret" not in got.json()
    assert secret not in got.text
    listed = client.get(f"{API}/sos-boxes", headers=auth("admin"))
    assert all("secret" not in box for box in listed.json())
    assert secret not in listed.text
    # Nor does it leak through the audit trail or the export.
    assert secret not in client.get(f"{API}/audit?limit=1000", headers=auth("admin")).text
    exported = client.get(f"{API}/registry/export.geojson", headers=auth("admin"))
    assert exported.status_code == 200
    assert secret not in exported.text


def test_sos_box_secret_given_on_create_is_kept(client, auth, db):
    created = create(client, auth, "sos-boxes", secret="s" * 20 + "-chosen")
    assert created["secret"] == "s" * 20 + "-chosen"
    with db.reader() as session:
        assert session.get(SosBox, "SOS-01").secret == "s" * 20 + "-chosen"


def test_sos_box_secrets_differ_per_box(client, auth):
    first = create(client, auth, "sos-boxes")["secret"]
    second = create(client, auth, "sos-boxes", id="SOS-02")["secret"]
    assert first != second


def test_patch_that_sets_the_secret_returns_it_and_audits_no_value(client, auth, db):
    create(client, auth, "sos-boxes")
    new_secret = "rotated-secret-" + "r" * 16
    r = client.patch(f"{API}/sos-boxes/SOS-01", json={"secret": new_secret}, headers=auth("admin"))
    assert r.status_code == 200, r.text
    assert r.json()["secret"] == new_secret
    with db.reader() as session:
        assert session.get(SosBox, "SOS-01").secret == new_secret
    [entry] = [e for e in audit(client, auth, "sos_box.updated") if e["object_id"] == "SOS-01"]
    assert entry["payload"]["changes"] == {"secret": "(changed)"}
    assert new_secret not in json.dumps(audit(client, auth, "sos_box.updated"))
    assert "secret" not in client.get(f"{API}/sos-boxes/SOS-01", headers=auth("admin")).json()


def test_patch_that_does_not_set_the_secret_does_not_return_it(client, auth):
    secret = create(client, auth, "sos-boxes")["secret"]
    r = client.patch(f"{API}/sos-boxes/SOS-01", json={"name": "renamed"}, headers=auth("admin"))
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "renamed"
    assert "secret" not in r.json()
    assert secret not in r.text


# --- refusals -------------------------------------------------------------------------


@pytest.mark.parametrize("plural", list(KINDS))
def test_duplicate_id_is_409_and_keeps_the_first(client, auth, db, plural):
    first = create(client, auth, plural)
    before = snapshot(db)
    r = client.post(f"{API}/{plural}", json=body_for(plural, name="second"), headers=auth("admin"))
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "conflict"
    assert r.json()["error"]["field"] == "id"
    assert snapshot(db) == before
    got = client.get(f"{API}/{plural}/{first['id']}", headers=auth("admin")).json()
    assert got["name"] == first["name"]


def test_id_taken_at_another_station_is_409(client, other_admin, db):
    before = snapshot(db)
    r = client.post(f"{API}/zones", json=body_for("zones", id="ZONE-MARKET"), headers=other_admin)
    assert r.status_code == 409
    assert snapshot(db) == before


# (plural, how to break the body, field the error must name)
BAD_CREATE = [
    pytest.param("cameras", {"lat": 91}, "lat", id="lat-91"),
    pytest.param("checkpoints", {"lat": -90.5}, "lat", id="lat-below-90"),
    pytest.param("cameras", {"lon": -181}, "lon", id="lon-minus-181"),
    pytest.param("sos-boxes", {"lon": 180.01}, "lon", id="lon-over-180"),
    pytest.param("cameras", {"bearing_deg": 360}, "bearing_deg", id="bearing-360"),
    pytest.param("cameras", {"bearing_deg": -1}, "bearing_deg", id="bearing-negative"),
    pytest.param("cameras", {"fov_deg": 0}, "fov_deg", id="fov-0"),
    pytest.param("cameras", {"range_m": 0}, "range_m", id="range-0"),
    pytest.param("cameras", {"owner": "someone"}, "owner", id="camera-owner"),
    pytest.param("cameras", {"colour": "red"}, "colour", id="camera-unknown-field"),
    pytest.param("sos-boxes", {"pin": "1234"}, "pin", id="sos-unknown-field"),
    pytest.param("sos-boxes", {"secret": "short"}, "secret", id="sos-short-secret"),
    pytest.param("sos-boxes", {"heartbeat_interval_s": 1}, "heartbeat_interval_s", id="heartbeat"),
    pytest.param("checkpoints", {"radius_m": 1}, "radius_m", id="radius-too-small"),
    pytest.param("checkpoints", {"station_id": "BKK"}, "station_id", id="station-id-field"),
    pytest.param("zones", {"geometry": BOW_TIE}, "geometry", id="zone-bow-tie"),
    pytest.param(
        "zones",
        {"geometry": {"type": "Point", "coordinates": [104.728, 16.544]}},
        "geometry",
        id="zone-point",
    ),
    pytest.param(
        "zones",
        {"geometry": {"type": "Polygon", "coordinates": [[[p[1], p[0]] for p in ZONE_RING]]}},
        "geometry",
        id="zone-lat-lon-swapped-out-of-range",
    ),
    pytest.param(
        "zones",
        {"geometry": {"type": "Polygon", "coordinates": [[[104.7, 16.5], [104.8, 16.5]]]}},
        "geometry",
        id="zone-too-few-points",
    ),
    pytest.param("zones", {"geometry": "POLYGON((0 0,1 0,1 1,0 0))"}, "geometry", id="zone-wkt"),
    pytest.param("zones", {"name": ""}, "name", id="zone-empty-name"),
    pytest.param("zones", {"id": "ZONE MARKET 2"}, "id", id="zone-id-with-space"),
    pytest.param("cameras", {"id": "CAM 1"}, "id", id="camera-id-with-space"),
    pytest.param("checkpoints", {"id": "../etc"}, "id", id="checkpoint-id-path"),
    pytest.param("sos-boxes", {"id": ""}, "id", id="sos-empty-id"),
]


@pytest.mark.parametrize(("plural", "changes", "field"), BAD_CREATE)
def test_bad_create_is_422_naming_the_field_and_writes_nothing(
    client, auth, db, plural, changes, field
):
    before = snapshot(db)
    r = client.post(f"{API}/{plural}", json=body_for(plural, **changes), headers=auth("admin"))
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_input"
    assert error["field"] == field
    assert error["message"]
    assert snapshot(db) == before


@pytest.mark.parametrize("plural", list(KINDS))
def test_missing_required_field_is_422(client, auth, db, plural):
    before = snapshot(db)
    body = body_for(plural)
    del body["id"]
    r = client.post(f"{API}/{plural}", json=body, headers=auth("admin"))
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "id"
    assert r.json()["error"]["message"] == "id: is required"
    assert snapshot(db) == before


@pytest.mark.parametrize(
    ("plural", "raw", "field"),
    [
        pytest.param("checkpoints", '"lat": NaN', "lat", id="lat-NaN"),
        pytest.param("cameras", '"lon": Infinity', "lon", id="lon-Infinity"),
        pytest.param("cameras", '"bearing_deg": NaN', "bearing_deg", id="bearing-NaN"),
        pytest.param("cameras", '"range_m": NaN', "range_m", id="range-NaN"),
        pytest.param("checkpoints", '"radius_m": NaN', "radius_m", id="radius-NaN"),
    ],
)
def test_non_finite_numbers_are_refused(client, auth, db, plural, raw, field):
    key = raw.split(":")[0].strip('"')
    body = body_for(plural)
    body.pop(key, None)
    text = json.dumps(body)[:-1] + ", " + raw + "}"
    before = snapshot(db)
    r = client.post(
        f"{API}/{plural}",
        content=text.encode(),
        headers={**auth("admin"), "Content-Type": "application/json"},
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == field
    assert snapshot(db) == before


def test_malformed_json_is_400_and_writes_nothing(client, auth, db):
    before = snapshot(db)
    r = client.post(
        f"{API}/checkpoints",
        content=b'{"id": "CP-9", "lat": 16.5,',
        headers={**auth("admin"), "Content-Type": "application/json"},
    )
    assert r.status_code == 400
    assert r.json()["error"]["field"] == "body"
    assert snapshot(db) == before


BAD_PATCH = [
    pytest.param("cameras", {"lat": 91}, "lat", id="lat-91"),
    pytest.param("checkpoints", {"lon": -181}, "lon", id="lon-minus-181"),
    pytest.param("cameras", {"bearing_deg": 360}, "bearing_deg", id="bearing-360"),
    pytest.param("cameras", {"fov_deg": 0}, "fov_deg", id="fov-0"),
    pytest.param("sos-boxes", {"colour": "red"}, "colour", id="unknown-field"),
    pytest.param("cameras", {"id": "CAM-OTHER"}, "id", id="id-cannot-change"),
    pytest.param("checkpoints", {"station_id": "BKK"}, "station_id", id="station-cannot-change"),
    pytest.param("zones", {"geometry": BOW_TIE}, "geometry", id="zone-bow-tie"),
    pytest.param(
        "zones",
        {"geometry": {"type": "Point", "coordinates": [104.728, 16.544]}},
        "geometry",
        id="zone-point",
    ),
    pytest.param("cameras", {"name": None}, "name", id="null-name"),
    pytest.param("checkpoints", {"lat": None}, "lat", id="null-lat"),
    pytest.param("zones", {"geometry": None}, "geometry", id="null-geometry"),
]


@pytest.mark.parametrize(("plural", "changes", "field"), BAD_PATCH)
def test_bad_patch_is_422_naming_the_field_and_changes_nothing(
    client, auth, db, plural, changes, field
):
    asset_id = "ZONE-MARKET" if plural == "zones" else create(client, auth, plural)["id"]
    before_get = client.get(f"{API}/{plural}/{asset_id}", headers=auth("admin")).json()
    before = snapshot(db)
    r = client.patch(f"{API}/{plural}/{asset_id}", json=changes, headers=auth("admin"))
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == field
    assert snapshot(db) == before
    assert client.get(f"{API}/{plural}/{asset_id}", headers=auth("admin")).json() == before_get


@pytest.mark.parametrize("plural", list(KINDS))
@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_unknown_id_is_404(client, auth, db, plural, method):
    before = snapshot(db)
    kwargs = {"json": KINDS[plural][2]} if method == "PATCH" else {}
    r = client.request(method, f"{API}/{plural}/NO-SUCH-ASSET", headers=auth("admin"), **kwargs)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"
    assert "NO-SUCH-ASSET" in r.json()["error"]["message"]
    assert snapshot(db) == before


# --- stations are separate ------------------------------------------------------------


@pytest.mark.parametrize("plural", list(KINDS))
def test_other_station_staff_cannot_see_this_stations_assets(client, auth, plural):
    asset_id = "ZONE-MARKET" if plural == "zones" else create(client, auth, plural)["id"]
    assert ids_listed(client, auth, plural, "admin") != []
    assert ids_listed(client, auth, plural, "other_operator") == []
    r = client.get(f"{API}/{plural}/{asset_id}", headers=auth("other_operator"))
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("plural", list(KINDS))
def test_other_station_admin_cannot_change_or_delete_this_stations_assets(
    client, auth, db, other_admin, plural
):
    asset_id = "ZONE-MARKET" if plural == "zones" else create(client, auth, plural)["id"]
    original = client.get(f"{API}/{plural}/{asset_id}", headers=auth("admin")).json()
    before = snapshot(db)

    assert client.get(f"{API}/{plural}/{asset_id}", headers=other_admin).status_code == 404
    patch = KINDS[plural][2]
    r = client.patch(f"{API}/{plural}/{asset_id}", json=patch, headers=other_admin)
    assert r.status_code == 404
    r = client.delete(f"{API}/{plural}/{asset_id}", headers=other_admin)
    assert r.status_code == 404
    assert ids_listed(client, auth, plural, "admin") != []

    assert snapshot(db) == before
    assert client.get(f"{API}/{plural}/{asset_id}", headers=auth("admin")).json() == original


def test_other_station_admin_creates_assets_at_their_own_station(client, auth, other_admin):
    r = client.post(f"{API}/checkpoints", json=body_for("checkpoints"), headers=other_admin)
    assert r.status_code == 201, r.text
    assert r.json()["station_id"] == "BKK"
    assert "CP-01" in ids_listed(client, auth, "checkpoints", "other_operator")
    assert "CP-01" not in ids_listed(client, auth, "checkpoints", "admin")


def test_other_station_export_does_not_contain_this_stations_assets(client, auth, other_admin):
    create(client, auth, "cameras")
    r = client.get(f"{API}/registry/export.geojson", headers=other_admin)
    assert r.status_code == 200
    assert r.json()["features"] == []
    assert "ZONE-MARKET" not in r.text and "CAM-P01-1" not in r.text
