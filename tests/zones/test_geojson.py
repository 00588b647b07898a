"""GeoJSON export and import of the registry, through the API and the `safezone` CLI."""

from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import func, select

from safezone import cli
from safezone.audit.models import AuditEntry
from safezone.auth import schemas as auth_schemas
from safezone.auth import service as auth_service
from safezone.zones.models import Camera, Checkpoint, SosBox, Zone
from tests.conftest import PASSWORD, ZONE_RING

API = "/api/v1"
EXPORT = f"{API}/registry/export.geojson"
IMPORT = f"{API}/registry/import"
SOS_SECRET = "box-secret-" + "k" * 24


RIVER_ZONE = {
    "id": "ZONE-RIVER",
    "name": "ริมโขง",
    "name_en": "Riverside",
    "description": "ท่าเรือ and the promenade",
    "geometry": {
        "type": "Polygon",
        "coordinates": [
            [
                [104.7260, 16.5410],
                [104.7275, 16.5410],
                [104.7275, 16.5425],
                [104.7260, 16.5425],
                [104.7260, 16.5410],
            ]
        ],
    },
}
ASSETS = {
    "zones": [RIVER_ZONE],
    "cameras": [
        {
            "id": "CAM-P01-1",
            "pole_id": "P01",
            "name": "ประตูตลาด",
            "lat": 16.5441,
            "lon": 104.7282,
            "bearing_deg": 90.5,
            "fov_deg": 62.0,
            "range_m": 45.0,
            "owner": "municipality",
            "sharing_agreement": "MOU 2024/7",
            "stream_url": "rtsp://10.0.0.5/stream1",
        },
        {
            "id": "CAM-P01-2",
            "pole_id": "P01",
            "lat": 16.5441,
            "lon": 104.7282,
            "bearing_deg": 270.0,
            "fov_deg": 90.0,
            "range_m": 30.0,
            "active": False,
        },
    ],
    "sos-boxes": [
        {
            "id": "SOS-01",
            "name": "ตู้แจ้งเหตุ 1",
            "lat": 16.5445,
            "lon": 104.7290,
            "secret": SOS_SECRET,
            "heartbeat_interval_s": 30,
        },
    ],
    "checkpoints": [
        {"id": "CP-01", "name": "ตู้แดง 1", "lat": 16.5450, "lon": 104.7270, "radius_m": 25.0},
        {"id": "CP-HOUSE-7", "name": "ฝากบ้าน 7", "lat": 16.5460, "lon": 104.7300},
    ],
}


@pytest.fixture
def registry(client, auth):
    """The seeded market zone plus one or more assets of every kind."""
    for plural, bodies in ASSETS.items():
        for body in bodies:
            r = client.post(f"{API}/{plural}", json=body, headers=auth("admin"))
            assert r.status_code == 201, r.text
    return client


def api_export(client, auth):
    r = client.get(EXPORT, headers=auth("admin"))
    assert r.status_code == 200, r.text
    return r.json()


def by_id(collection):
    return sorted(collection["features"], key=lambda f: f["id"])


def snapshot(db):
    with db.reader() as session:
        rows = {
            model.__tablename__: sorted(
                (r.id, r.station_id, r.name, r.updated_at.isoformat())
                for r in session.scalars(select(model)).all()
            )
            for model in (Zone, Camera, SosBox, Checkpoint)
        }
        rows["audit"] = session.scalar(select(func.count()).select_from(AuditEntry))
    return rows


def delete_everything(client, auth, collection):
    plural = {
        "zone": "zones",
        "camera": "cameras",
        "sos_box": "sos-boxes",
        "checkpoint": "checkpoints",
    }
    for feature in collection["features"]:
        kind, asset_id = feature["id"].split(":", 1)
        r = client.delete(f"{API}/{plural[kind]}/{asset_id}", headers=auth("admin"))
        assert r.status_code == 204, r.text


# --- the export format ----------------------------------------------------------------


def test_export_is_a_feature_collection_of_the_whole_registry(registry, auth):
    collection = api_export(registry, auth)
    assert collection["type"] == "FeatureCollection"
    assert collection["name"] == "safezone-registry-MDH"
    ids = [f["id"] for f in collection["features"]]
    assert sorted(ids) == sorted(
        [
            "zone:ZONE-MARKET",
            "zone:ZONE-RIVER",
            "camera:CAM-P01-1",
            "camera:CAM-P01-2",
            "sos_box:SOS-01",
            "checkpoint:CP-01",
            "checkpoint:CP-HOUSE-7",
        ]
    )
    features = {f["id"]: f for f in collection["features"]}
    camera = features["camera:CAM-P01-1"]
    assert camera["type"] == "Feature"
    # GeoJSON order is longitude, latitude.
    assert camera["geometry"] == {"type": "Point", "coordinates": [104.7282, 16.5441]}
    assert camera["properties"]["kind"] == "camera"
    assert camera["properties"]["bearing_deg"] == 90.5
    assert camera["properties"]["owner"] == "municipality"
    assert camera["properties"]["name"] == "ประตูตลาด"
    assert features["camera:CAM-P01-2"]["properties"]["active"] is False
    assert features["zone:ZONE-RIVER"]["geometry"] == RIVER_ZONE["geometry"]
    assert features["checkpoint:CP-HOUSE-7"]["properties"]["radius_m"] == 30.0


def test_api_export_never_contains_sos_secrets(registry, auth):
    collection = api_export(registry, auth)
    [box] = [f for f in collection["features"] if f["id"] == "sos_box:SOS-01"]
    assert "secret" not in box["properties"]
    assert SOS_SECRET not in json.dumps(collection)


# --- round trip through the API -------------------------------------------------------


def test_export_delete_import_export_gives_the_same_registry(registry, auth, db):
    first = api_export(registry, auth)
    delete_everything(registry, auth, first)
    assert api_export(registry, auth)["features"] == []

    r = registry.post(IMPORT, json=first, headers=auth("admin"))
    assert r.status_code == 200, r.text
    assert r.json() == {
        "created": {"zone": 2, "camera": 2, "sos_box": 1, "checkpoint": 2},
        "updated": {"zone": 0, "camera": 0, "sos_box": 0, "checkpoint": 0},
    }
    second = api_export(registry, auth)
    assert by_id(second) == by_id(first)
    assert second["name"] == first["name"]

    # The imported assets are usable through the API as before, at the admin's station.
    got = registry.get(f"{API}/cameras/CAM-P01-1", headers=auth("operator")).json()
    assert got["station_id"] == "MDH"
    assert got["lat"] == 16.5441 and got["lon"] == 104.7282
    # And each creation is audited.
    r = registry.get(
        f"{API}/audit", params={"action": "camera.created", "limit": 1000}, headers=auth("admin")
    )
    assert [e["object_id"] for e in r.json()["items"]].count("CAM-P01-1") == 2


def test_importing_the_same_export_again_updates_and_changes_nothing(registry, auth):
    first = api_export(registry, auth)
    r = registry.post(IMPORT, json=first, headers=auth("admin"))
    assert r.status_code == 200, r.text
    assert r.json()["created"] == {"zone": 0, "camera": 0, "sos_box": 0, "checkpoint": 0}
    assert r.json()["updated"] == {"zone": 2, "camera": 2, "sos_box": 1, "checkpoint": 2}
    assert by_id(api_export(registry, auth)) == by_id(first)


def test_import_updates_existing_assets_from_the_file(registry, auth):
    collection = api_export(registry, auth)
    for feature in collection["features"]:
        if feature["id"] == "checkpoint:CP-01":
            feature["properties"]["radius_m"] = 80.0
            feature["geometry"]["coordinates"] = [104.7275, 16.5455]
    r = registry.post(IMPORT, json=collection, headers=auth("admin"))
    assert r.status_code == 200, r.text
    got = registry.get(f"{API}/checkpoints/CP-01", headers=auth("admin")).json()
    assert got["radius_m"] == 80.0
    assert (got["lat"], got["lon"]) == (16.5455, 104.7275)


# --- all or nothing -------------------------------------------------------------------


def _three_features(third):
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [104.728, 16.544]},
                "properties": {"kind": "checkpoint", "id": "CP-NEW-1", "name": "new"},
            },
            {
                "type": "Feature",
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [
                        [
                            [104.7250, 16.5400],
                            [104.7310, 16.5400],
                            [104.7310, 16.5480],
                            [104.7250, 16.5480],
                            [104.7250, 16.5400],
                        ]
                    ],
                },
                "properties": {"kind": "zone", "id": "ZONE-MARKET", "name": "renamed by import"},
            },
            third,
        ],
    }


GOOD_POINT = {"type": "Point", "coordinates": [104.729, 16.545]}
BAD_THIRD = [
    pytest.param(
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [104.729, 91.0]},
            "properties": {"kind": "sos_box", "id": "SOS-NEW"},
        },
        "features[2].properties.lat",
        id="lat-91",
    ),
    pytest.param(
        {
            "type": "Feature",
            "geometry": GOOD_POINT,
            "properties": {
                "kind": "camera",
                "id": "CAM-NEW",
                "pole_id": "P9",
                "bearing_deg": 360,
                "fov_deg": 60,
                "range_m": 30,
            },
        },
        "features[2].properties.bearing_deg",
        id="bearing-360",
    ),
    pytest.param(
        {
            "type": "Feature",
            "geometry": GOOD_POINT,
            "properties": {"kind": "checkpoint", "id": "CP NEW"},
        },
        "features[2].properties.id",
        id="id-with-space",
    ),
    pytest.param(
        {
            "type": "Feature",
            "geometry": GOOD_POINT,
            "properties": {"kind": "checkpoint", "id": "CP-NEW-3", "colour": "red"},
        },
        "features[2].properties.colour",
        id="unknown-property",
    ),
    pytest.param(
        {"type": "Feature", "geometry": GOOD_POINT, "properties": {"kind": "lamp", "id": "L-1"}},
        "features[2].properties.kind",
        id="unknown-kind",
    ),
    pytest.param(
        {
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": [[1, 2], [3, 4]]},
            "properties": {"kind": "checkpoint", "id": "CP-NEW-4"},
        },
        "features[2].geometry",
        id="checkpoint-not-a-point",
    ),
    pytest.param(
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [104.7, 16.5]},
            "properties": {"kind": "zone", "id": "ZONE-NEW", "name": "a point zone"},
        },
        "features[2].properties.geometry",
        id="zone-is-a-point",
    ),
    pytest.param({"type": "Point", "coordinates": [1, 2]}, "features[2]", id="not-a-feature"),
    pytest.param({"type": "Feature", "geometry": GOOD_POINT}, "features[2]", id="no-properties"),
]


@pytest.mark.parametrize(("third", "field"), BAD_THIRD)
def test_api_import_with_a_bad_third_feature_writes_nothing(client, auth, db, third, field):
    before = snapshot(db)
    r = client.post(IMPORT, json=_three_features(third), headers=auth("admin"))
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_input"
    assert error["field"] == field
    assert "features[2]" in error["message"]
    assert snapshot(db) == before
    assert client.get(f"{API}/checkpoints/CP-NEW-1", headers=auth("admin")).status_code == 404
    zone = client.get(f"{API}/zones/ZONE-MARKET", headers=auth("admin")).json()
    assert zone["name"] != "renamed by import"


def test_api_import_of_another_stations_id_is_409_and_writes_nothing(client, auth, db, token_for):
    with db.transaction() as session:
        auth_service.create_user(
            session,
            data=auth_schemas.UserCreate(username="bkk_admin", password=PASSWORD, role="admin"),
            station_id="BKK",
            actor="test",
        )
    # Two new assets for BKK, then a zone whose id the MDH station already uses.
    taken = {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [ZONE_RING]},
        "properties": {"kind": "zone", "id": "ZONE-MARKET", "name": "not yours"},
    }
    collection = _three_features(taken)
    collection["features"][0]["properties"]["id"] = "CP-BKK-1"
    collection["features"][1]["properties"]["id"] = "ZONE-BKK"
    before = snapshot(db)
    r = client.post(
        IMPORT, json=collection, headers={"Authorization": f"Bearer {token_for('bkk_admin')}"}
    )
    assert r.status_code == 409, r.text
    assert r.json()["error"]["field"] == "features[2].properties.id"
    assert snapshot(db) == before


@pytest.mark.parametrize("bad_id", [["CP", "1"], {"x": 1}], ids=["list", "object"])
def test_api_import_with_a_non_string_id_is_422(client, auth, db, bad_id):
    third = {
        "type": "Feature",
        "geometry": GOOD_POINT,
        "properties": {"kind": "checkpoint", "id": bad_id},
    }
    before = snapshot(db)
    r = client.post(IMPORT, json=_three_features(third), headers=auth("admin"))
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == "features[2].properties.id"
    assert snapshot(db) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "Feature", "features": []}, "type"),
        ({"type": "FeatureCollection", "features": {"a": 1}}, "features"),
        ({"type": "FeatureCollection"}, "features"),
    ],
)
def test_api_import_needs_a_feature_collection(client, auth, db, body, field):
    before = snapshot(db)
    r = client.post(IMPORT, json=body, headers=auth("admin"))
    assert r.status_code == 422
    assert r.json()["error"]["field"] == field
    assert snapshot(db) == before


def test_empty_feature_collection_imports_nothing(client, auth, db):
    before = snapshot(db)
    r = client.post(
        IMPORT, json={"type": "FeatureCollection", "features": []}, headers=auth("admin")
    )
    assert r.status_code == 200
    assert sum(r.json()["created"].values()) == 0
    assert snapshot(db) == before


# --- the CLI --------------------------------------------------------------------------


@pytest.fixture
def run_cli(settings, db, monkeypatch, capsys):
    """`safezone ARGS...` against the test database, or another data dir with fresh=..."""

    def run(*args, data_dir=None, stdin=""):
        if data_dir is None:
            monkeypatch.setenv("SAFEZONE_DATABASE_URL", settings.resolved_database_url)
            data_dir = settings.data_dir
        else:  # a fresh SQLite database in its own data directory
            monkeypatch.delenv("SAFEZONE_DATABASE_URL", raising=False)
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        capsys.readouterr()
        try:
            code = cli.main(["--data-dir", str(data_dir), *args])
        except SystemExit as exc:
            code = exc.code
        out, err = capsys.readouterr()
        return code, out, err

    return run


def read_json(path):
    return json.loads(path.read_text(encoding="utf-8"))


def test_cli_export_matches_the_api_export(registry, auth, run_cli, tmp_path):
    target = tmp_path / "registry.geojson"
    code, out, err = run_cli("export", str(target), "--station", "MDH")
    assert code == 0, err
    assert "7 features" in out
    assert by_id(read_json(target)) == by_id(api_export(registry, auth))


def test_cli_round_trip_into_a_fresh_database(registry, auth, run_cli, tmp_path):
    exported = tmp_path / "registry.geojson"
    code, _out, err = run_cli("export", str(exported), "--station", "MDH", "--with-secrets")
    assert code == 0, err

    fresh = tmp_path / "fresh"
    code, _out, err = run_cli(
        "station",
        "create",
        "--id",
        "MDH",
        "--name-th",
        "สภ.เมืองมุกดาหาร",
        "--name-en",
        "Mukdahan",
        "--lat",
        "16.5453",
        "--lon",
        "104.7236",
        data_dir=fresh,
    )
    assert code == 0, err
    code, out, err = run_cli("import", str(exported), data_dir=fresh)
    assert code == 0, err
    counts = json.loads(out)
    assert counts["created"] == {"zone": 2, "camera": 2, "sos_box": 1, "checkpoint": 2}
    assert sum(counts["updated"].values()) == 0

    again = tmp_path / "again.geojson"
    code, _out, err = run_cli("export", str(again), "--with-secrets", data_dir=fresh)
    assert code == 0, err
    assert by_id(read_json(again)) == by_id(read_json(exported))


def test_cli_export_includes_secrets_only_when_asked(registry, run_cli, tmp_path):
    plain, secret = tmp_path / "plain.geojson", tmp_path / "secret.geojson"
    assert run_cli("export", str(plain), "--station", "MDH")[0] == 0
    assert run_cli("export", str(secret), "--station", "MDH", "--with-secrets")[0] == 0

    def box(path):
        return next(f for f in read_json(path)["features"] if f["id"] == "sos_box:SOS-01")

    assert "secret" not in box(plain)["properties"]
    assert SOS_SECRET not in plain.read_text(encoding="utf-8")
    assert box(secret)["properties"]["secret"] == SOS_SECRET


def test_cli_export_to_stdout(registry, run_cli):
    code, out, err = run_cli("export", "-", "--station", "MDH")
    assert code == 0, err
    assert json.loads(out)["type"] == "FeatureCollection"


def test_cli_import_prints_counts(client, auth, run_cli, tmp_path):
    source = tmp_path / "in.geojson"
    source.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "geometry": {"type": "Point", "coordinates": [104.728, 16.544]},
                        "properties": {"kind": "checkpoint", "id": "CP-CLI", "name": "cli"},
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    code, out, err = run_cli("import", "registry", str(source), "--station", "MDH")
    assert code == 0, err
    assert json.loads(out)["created"]["checkpoint"] == 1
    got = client.get(f"{API}/checkpoints/CP-CLI", headers=auth("admin"))
    assert got.status_code == 200
    assert got.json()["station_id"] == "MDH"


@pytest.mark.parametrize(("third", "field"), BAD_THIRD[:3])
def test_cli_import_with_a_bad_third_feature_writes_nothing(db, run_cli, tmp_path, third, field):
    source = tmp_path / "bad.geojson"
    source.write_text(json.dumps(_three_features(third)), encoding="utf-8")
    before = snapshot(db)
    code, out, err = run_cli("import", str(source), "--station", "MDH")
    assert code == 2
    assert field in err
    assert "Traceback" not in err
    assert out == ""
    assert snapshot(db) == before


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(None, "no such file", id="missing-file"),
        pytest.param(
            '{"type": "FeatureCollection", "features": [', "not valid JSON", id="bad-json"
        ),
        pytest.param("", "not valid JSON", id="empty-file"),
        pytest.param('{"type": "Feature"}', "FeatureCollection", id="not-a-collection"),
    ],
)
def test_cli_import_of_a_bad_file_exits_2_with_a_clear_message(
    db, run_cli, tmp_path, content, expected
):
    source = tmp_path / "input.geojson"
    if content is not None:
        source.write_text(content, encoding="utf-8")
    before = snapshot(db)
    code, out, err = run_cli("import", str(source), "--station", "MDH")
    assert code == 2
    assert expected in err
    assert str(source) in err or expected == "FeatureCollection"
    assert "Traceback" not in err
    assert snapshot(db) == before


def test_cli_import_of_an_unknown_kind_exits_2(db, run_cli, tmp_path):
    code, _out, err = run_cli("import", "people", str(tmp_path / "x.json"))
    assert code == 2
    assert "unknown kind 'people'" in err
