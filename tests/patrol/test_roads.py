"""Ranking by road: a river between a unit and the incident makes the closer unit slower."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from safezone.app import create_app
from safezone.patrol import roads

WEST, EAST = 104.7280, 104.7300  # two riverbanks' roads, about 213 m apart
SOUTH, NORTH = 16.5400, 16.5480
INCIDENT = (16.5440, WEST)
ACROSS = (16.5440, EAST)  # straight line about 213 m, by road about 1.1 km
DOWN_THE_ROAD = (16.5410, WEST)  # straight line and road about 334 m


def network(bridge_oneway: bool = False) -> dict:
    def line(coords, **props):
        return {
            "type": "Feature",
            "properties": props,
            "geometry": {"type": "LineString", "coordinates": coords},
        }

    return {
        "type": "FeatureCollection",
        "features": [
            line([[WEST, SOUTH], [WEST, 16.5410], [WEST, 16.5440], [WEST, NORTH]]),
            line([[EAST, SOUTH], [EAST, 16.5440], [EAST, NORTH]]),
            # the only bridge, at the north end, drawn west to east
            line([[WEST, NORTH], [EAST, NORTH]], oneway="yes" if bridge_oneway else None),
            {
                "type": "Feature",
                "properties": {},
                "geometry": {"type": "Point", "coordinates": [WEST, SOUTH]},
            },
        ],
    }


def test_road_distance_goes_round_by_the_bridge():
    graph = roads.parse(network())
    table = graph.distances_to(*INCIDENT)
    across = graph.route_m(table, *ACROSS)
    down = graph.route_m(table, *DOWN_THE_ROAD)
    assert across is not None and 1080 < across < 1130
    assert down is not None and 325 < down < 340
    assert graph.node_count == 7


def test_a_one_way_bridge_the_wrong_way_leaves_no_road():
    graph = roads.parse(network(bridge_oneway=True))
    # from the east bank the bridge cannot be driven west: no road to the incident
    assert graph.route_m(graph.distances_to(*INCIDENT), *ACROSS) is None
    # the other way round it can
    assert graph.route_m(graph.distances_to(*ACROSS), *INCIDENT) is not None


def test_nearest_node_searches_neighbouring_cells():
    graph = roads.parse(network())
    # a point just across a cell edge from the nearest vertex
    node, distance = graph.nearest(16.5399, WEST)
    assert node == (SOUTH, WEST) and distance < 15


@pytest.mark.parametrize(
    ("collection", "message"),
    [
        ([], "FeatureCollection"),
        ({"type": "FeatureCollection", "features": []}, "no usable line"),
        (
            {
                "type": "FeatureCollection",
                "features": [
                    {"geometry": {"type": "LineString", "coordinates": [[1, "x"], [2, 2]]}}
                ],
            },
            "malformed position",
        ),
        (
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "geometry": {
                            "type": "LineString",
                            "coordinates": [[16.5, 104.7], [16.6, 104.7]],
                        }
                    }
                ],
            },
            "lon, lat",
        ),
    ],
)
def test_bad_road_files_are_refused(collection, message):
    with pytest.raises(roads.RoadGraphError, match=message):
        roads.parse(collection)


def test_road_file_errors_name_the_file(tmp_path):
    with pytest.raises(roads.RoadGraphError, match="cannot read"):
        roads.load(tmp_path / "none.geojson")
    bad = tmp_path / "bad.geojson"
    bad.write_text("{", encoding="utf-8")
    with pytest.raises(roads.RoadGraphError, match="not valid JSON"):
        roads.load(bad)


def test_app_refuses_to_start_with_a_broken_road_file(settings, db, tmp_path):
    bad = tmp_path / "roads.geojson"
    bad.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    with pytest.raises(roads.RoadGraphError, match="no usable line"):
        create_app(settings.model_copy(update={"road_graph": bad}), database=db)


def _place_units(client, auth):
    for unit_id, at in (("ACROSS", ACROSS), ("DOWN", DOWN_THE_ROAD)):
        body = {"id": unit_id, "callsign": unit_id, "kind": "car", "status": "available"}
        assert client.post("/api/v1/units", headers=auth("admin"), json=body).status_code == 201
        r = client.post(
            f"/api/v1/units/{unit_id}/location",
            headers=auth("operator"),
            json={"lat": at[0], "lon": at[1]},
        )
        assert r.status_code == 204


def _nearest(client, auth):
    r = client.get(
        "/api/v1/units/nearest",
        headers=auth("operator"),
        params={"lat": INCIDENT[0], "lon": INCIDENT[1]},
    )
    assert r.status_code == 200, r.text
    return [(u["unit_id"], u["route"]) for u in r.json()]


def test_ranking_uses_roads_when_configured(settings, db, auth, tmp_path):
    path = tmp_path / "roads.geojson"
    path.write_text(json.dumps(network()), encoding="utf-8")
    with TestClient(create_app(settings, database=db)) as plain:
        _place_units(plain, auth)
        assert _nearest(plain, auth) == [("ACROSS", "straight"), ("DOWN", "straight")]
    with TestClient(create_app(settings.model_copy(update={"road_graph": path}), database=db)) as c:
        assert _nearest(c, auth) == [("DOWN", "road"), ("ACROSS", "road")]
    path.write_text(json.dumps(network(bridge_oneway=True)), encoding="utf-8")
    with TestClient(create_app(settings.model_copy(update={"road_graph": path}), database=db)) as c:
        # no road from across the river: that unit is measured in a straight line
        assert _nearest(c, auth) == [("ACROSS", "straight"), ("DOWN", "road")]
