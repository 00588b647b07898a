"""GET /api/v1/cameras: the registry, and "who sees this point" (nearest first)."""

from __future__ import annotations

from tests.cameras.conftest import LAT, LON

V1 = "/api/v1"
NORTH_30M = (LAT + 0.00027, LON)


def test_list_gives_every_camera_with_its_view(client, auth, add_camera):
    add_camera("CAM-A", bearing_deg=10.0, fov_deg=60.0, range_m=40.0)
    add_camera("CAM-B", active=False, owner="private", sharing_agreement="Shop CCTV MOU 12")
    r = client.get(f"{V1}/cameras", headers=auth("officer"))
    assert r.status_code == 200, r.text
    cameras = {c["id"]: c for c in r.json()}
    assert set(cameras) == {"CAM-A", "CAM-B"}
    a = cameras["CAM-A"]
    assert (a["lat"], a["lon"], a["bearing"], a["fov_deg"], a["range_m"]) == (
        LAT,
        LON,
        10.0,
        60.0,
        40.0,
    )
    assert a["owner"] == "police" and a["pole_id"] == "POLE-1"
    assert cameras["CAM-B"]["sharing_agreement"] == "Shop CCTV MOU 12"
    assert a["distance_m"] is None


def test_who_sees_a_point_nearest_first(client, auth, add_camera):
    add_camera("CAM-FAR", lat=LAT - 0.0002, bearing_deg=0.0, range_m=80.0)  # ~52 m south
    add_camera("CAM-NEAR", bearing_deg=350.0, fov_deg=30.0)  # wraps across north
    add_camera("CAM-AWAY", bearing_deg=180.0)  # right place, wrong way
    add_camera("CAM-SHORT", range_m=20.0)  # right way, too short
    add_camera("CAM-OFF", active=False)
    r = client.get(
        f"{V1}/cameras", params={"lat": NORTH_30M[0], "lon": NORTH_30M[1]}, headers=auth("operator")
    )
    assert r.status_code == 200, r.text
    seen = r.json()
    assert [c["id"] for c in seen] == ["CAM-NEAR", "CAM-FAR"]
    assert 29 < seen[0]["distance_m"] < 31 and 51 < seen[1]["distance_m"] < 54
    assert seen[0]["bearing_to_point_deg"] == 0.0
    # radius_m keeps the cameras close to the point
    r = client.get(
        f"{V1}/cameras",
        params={"lat": NORTH_30M[0], "lon": NORTH_30M[1], "radius_m": 40},
        headers=auth("operator"),
    )
    assert [c["id"] for c in r.json()] == ["CAM-NEAR"]


def test_only_the_callers_station(client, auth, add_camera):
    add_camera("CAM-HERE")
    add_camera("CAM-THERE", station="BKK")
    point = {"lat": NORTH_30M[0], "lon": NORTH_30M[1]}
    ids = [
        c["id"] for c in client.get(f"{V1}/cameras", params=point, headers=auth("operator")).json()
    ]
    assert ids == ["CAM-HERE"]
    other = client.get(f"{V1}/cameras", params=point, headers=auth("other_operator")).json()
    assert [c["id"] for c in other] == ["CAM-THERE"]


def test_bad_points_name_the_field(client, auth):
    headers = auth("operator")
    for params, field in [
        ({"lat": LAT}, "lon"),
        ({"lon": LON}, "lat"),
        ({"radius_m": 50}, "lat"),
    ]:
        r = client.get(f"{V1}/cameras", params=params, headers=headers)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["field"] == field
    for params, field in [
        ({"lat": 91, "lon": LON}, "lat"),
        ({"lat": LAT, "lon": LON, "radius_m": 0}, "radius_m"),
    ]:
        r = client.get(f"{V1}/cameras", params=params, headers=headers)
        assert r.status_code == 422, r.text
        assert field in r.text


def _camera(**extra):
    body = {
        "id": "CAM-NEW",
        "pole_id": "POLE-9",
        "lat": LAT,
        "lon": LON,
        "bearing_deg": 90,
        "fov_deg": 70,
        "range_m": 60,
    }
    body.update(extra)
    return body


def test_private_and_municipal_cameras_need_a_sharing_agreement(client, auth):
    admin = auth("admin")
    for owner in ("private", "municipality"):
        r = client.post(f"{V1}/cameras", json=_camera(owner=owner), headers=admin)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["field"] == "sharing_agreement"
    r = client.post(
        f"{V1}/cameras",
        json=_camera(owner="private", sharing_agreement="Hotel Riverside MOU 2568/3"),
        headers=admin,
    )
    assert r.status_code == 201, r.text
    # Taking the agreement away later is refused too, and nothing changes.
    r = client.patch(f"{V1}/cameras/CAM-NEW", json={"sharing_agreement": " "}, headers=admin)
    assert r.status_code == 422 and r.json()["error"]["field"] == "sharing_agreement"
    r = client.get(f"{V1}/cameras/CAM-NEW", headers=admin)
    assert r.json()["sharing_agreement"] == "Hotel Riverside MOU 2568/3"
    r = client.post(f"{V1}/cameras", json=_camera(id="CAM-P", owner="police"), headers=admin)
    assert r.status_code == 201, r.text
    r = client.patch(f"{V1}/cameras/CAM-P", json={"owner": "private"}, headers=admin)
    assert r.status_code == 422 and r.json()["error"]["field"] == "sharing_agreement"


def test_owner_bearing_and_urls_are_checked(client, auth):
    admin = auth("admin")
    for extra, field in [
        ({"owner": "shop"}, "owner"),
        ({"bearing_deg": 360}, "bearing_deg"),
        ({"fov_deg": 0}, "fov_deg"),
        ({"range_m": -1}, "range_m"),
    ]:
        r = client.post(f"{V1}/cameras", json=_camera(**extra), headers=admin)
        assert r.status_code == 422, r.text
        assert field in r.text
    for extra, field in [
        ({"stream_url": "ftp://cam/1"}, "stream_url"),
        ({"snapshot_url": "rtsp://cam/1"}, "snapshot_url"),
    ]:
        r = client.post(f"{V1}/cameras", json=_camera(**extra), headers=admin)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["field"] == field
    r = client.post(
        f"{V1}/cameras", json=_camera(stream_url="rtsp://10.0.0.5/stream1"), headers=admin
    )
    assert r.status_code == 201, r.text


def test_only_admins_see_the_cameras_own_urls(client, auth, add_camera):
    """Camera URLs often carry the camera's password; everyone else looks through the
    audited snapshot route."""
    secret = "http://viewer:pa55@10.0.0.7/snapshot.jpg"
    add_camera("CAM-A", snapshot_url=secret, stream_url="rtsp://viewer:pa55@10.0.0.7/1")
    for role in ("officer", "operator", "commander"):
        for params in ({}, {"lat": LAT, "lon": LON}):
            [camera] = client.get(f"{V1}/cameras", params=params, headers=auth(role)).json()
            assert (camera["snapshot_url"], camera["stream_url"]) == ("", ""), (role, params)
    [camera] = client.get(f"{V1}/cameras", headers=auth("admin")).json()
    assert camera["snapshot_url"] == secret
