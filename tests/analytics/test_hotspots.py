"""Hotspot layers: Getis-Ord Gi* on hand-made grids, and the hotspots API."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from safezone.analytics.hotspots import (
    Window,
    gi_star,
    gi_star_sets,
    hotspot_map,
    neighbourhood,
)
from tests.conftest import INSIDE

URL = "/api/v1/analytics/hotspots"


def test_gi_star_by_hand_on_a_three_by_three_grid() -> None:
    # One cell with 9 events in the middle of a 3 x 3 grid, queen neighbours + self.
    # n = 9, mean = 1, S = sqrt(81/9 - 1) = sqrt(8).
    image = np.zeros((3, 3))
    image[1, 1] = 9.0
    z = gi_star(image, radius_cells=1.5)
    # Centre: all 9 cells are its neighbours: (9 - 1 x 9) / ... = 0.
    assert z[1, 1] == pytest.approx(0.0)
    # Corner: 4 neighbours, sum 9: (9 - 4) / (sqrt(8) sqrt((9 x 4 - 16) / 8)) = 5 / sqrt(20).
    assert z[0, 0] == pytest.approx(5 / math.sqrt(20))
    # Edge middle: 6 neighbours, sum 9: (9 - 6) / (sqrt(8) sqrt((54 - 36) / 8)) = 3 / sqrt(18).
    assert z[0, 1] == pytest.approx(3 / math.sqrt(18))


def brute_force(image: np.ndarray, radius: float) -> np.ndarray:
    values = image.ravel()
    n = len(values)
    rows, cols = np.divmod(np.arange(n), image.shape[1])
    mean = values.mean()
    s = math.sqrt((values**2).mean() - mean**2)
    out = np.zeros(n)
    for i in range(n):
        w = (np.hypot(rows - rows[i], cols - cols[i]) <= radius + 1e-9).astype(float)
        num = (w * values).sum() - mean * w.sum()
        out[i] = num / (s * math.sqrt((n * (w**2).sum() - w.sum() ** 2) / (n - 1)))
    return out.reshape(image.shape)


def test_gi_star_matches_the_textbook_formula_and_finds_the_cluster() -> None:
    rng = np.random.default_rng(4)
    image = rng.poisson(1.0, size=(12, 15)).astype(float)
    image[3:6, 4:7] += 8  # a hot cluster
    z = gi_star(image, radius_cells=2.0)
    np.testing.assert_allclose(z, brute_force(image, 2.0), atol=1e-9)
    assert z[4, 5] > 1.96
    assert z[4, 5] == z.max()
    assert (z[10:, 12:] < 1.96).all()
    assert gi_star(np.ones((4, 4))).tolist() == np.zeros((4, 4)).tolist()
    assert neighbourhood(1.0).sum() == 5 and neighbourhood(1.5).sum() == 9


def test_gi_star_on_cell_sets_agrees_with_the_grid_version() -> None:
    rng = np.random.default_rng(9)
    image = rng.poisson(2.0, size=(6, 7)).astype(float)
    rows, cols = np.divmod(np.arange(image.size), image.shape[1])
    sets = [
        np.flatnonzero(np.hypot(rows - rows[i], cols - cols[i]) <= 1.5) for i in range(image.size)
    ]
    np.testing.assert_allclose(
        gi_star_sets(image.ravel(), sets), gi_star(image, 1.5).ravel(), atol=1e-12
    )
    assert gi_star_sets(np.ones(5), [np.arange(5)] * 5).tolist() == [0.0] * 5


def report_incident(client, headers, lat: float, lon: float, category: str = "theft") -> None:
    body = {"category": category, "description": "test", "lat": lat, "lon": lon}
    r = client.post("/api/v1/incidents", json=body, headers=headers)
    assert r.status_code == 201, r.text


def test_hotspots_api_counts_kde_gi_and_risk(client, auth) -> None:
    h = auth("operator")
    for _ in range(5):
        report_incident(client, h, *INSIDE)
    report_incident(client, h, INSIDE[0] + 0.01, INSIDE[1] + 0.01, "assault")
    r = client.get(URL, headers=auth("commander"), params={"cell_m": 100})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["type"] == "FeatureCollection"
    assert body["properties"]["events"] == 6
    features = body["features"]
    counts = sorted(f["properties"]["count"] for f in features if f["properties"]["count"])
    assert counts == [1, 5]
    top = max(features, key=lambda f: f["properties"]["count"])
    assert top["properties"]["hot"] is True
    assert top["properties"]["risk"] == max(f["properties"]["risk"] for f in features)
    ring = top["geometry"]["coordinates"][0]
    lons = [p[0] for p in ring]
    lats = [p[1] for p in ring]
    assert min(lats) <= INSIDE[0] <= max(lats) and min(lons) <= INSIDE[1] <= max(lons)
    # One category only.
    r = client.get(URL, headers=auth("commander"), params={"category": "assault"})
    assert r.json()["properties"]["events"] == 1
    # Another station sees none of these.
    r = client.get(URL, headers=auth("other_operator"))
    assert r.status_code == 200 and r.json()["features"] == []


def test_hotspots_window_excludes_other_times(client, auth) -> None:
    report_incident(client, auth("operator"), *INSIDE)
    until = datetime.now(UTC) - timedelta(days=1)
    r = client.get(
        URL,
        headers=auth("operator"),
        params={"until": until.isoformat(), "since": (until - timedelta(days=30)).isoformat()},
    )
    assert r.status_code == 200 and r.json()["properties"]["events"] == 0


def test_hotspots_on_h3_cells(client, auth) -> None:
    h = auth("operator")
    for _ in range(5):
        report_incident(client, h, *INSIDE)
    report_incident(client, h, INSIDE[0] + 0.01, INSIDE[1] + 0.01)
    r = client.get(URL, headers=auth("admin"), params={"h3_resolution": 9})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["properties"]["grid"] == "h3" and body["properties"]["gi_rings"] == 1
    counted = [f for f in body["features"] if f["properties"]["count"]]
    assert sorted(f["properties"]["count"] for f in counted) == [1, 5]
    top = max(counted, key=lambda f: f["properties"]["count"])
    assert top["properties"]["hot"] is True and top["properties"]["risk"] is None
    assert len(top["geometry"]["coordinates"][0]) == 7  # a closed hexagon
    # The KDE spreads the 6 events' mass; the cells drawn (KDE >= 1 % of the peak) hold
    # nearly all of it, and never more.
    total_kde = sum(f["properties"]["kde"] for f in body["features"])
    assert 5.8 < total_kde <= 6.0001


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "since"),
        ({"since": "2000-01-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "since"),
        ({"category": "arson"}, "category"),
        ({"cell_m": 1}, "cell_m"),
        ({"cell_m": 500, "gi_radius_m": 200}, "gi_radius_m"),
        ({"h3_resolution": 20}, "h3_resolution"),
    ],
)
def test_hotspots_bad_input_names_the_field(client, auth, params, field) -> None:
    r = client.get(URL, headers=auth("admin"), params=params)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    fields = [error.get("field")] + [d.get("field") for d in error.get("details", [])]
    assert any(f and f.endswith(field) for f in fields), error


def test_hotspots_too_fine_a_grid_is_refused(client, auth) -> None:
    h = auth("operator")
    report_incident(client, h, *INSIDE)
    report_incident(client, h, INSIDE[0] + 0.3, INSIDE[1] + 0.3)
    r = client.get(URL, headers=auth("admin"), params={"cell_m": 25})
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "cell_m"
    assert "larger cells" in r.json()["error"]["message"]


def test_next_day_risk_is_for_the_next_local_day(client, auth) -> None:
    """At 01:00 in Bangkok (18:00 UTC the day before) "the next day" is the day after
    the Bangkok date, not after the UTC one; the layer says which day it is for."""
    report_incident(client, auth("operator"), *INSIDE)
    until = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)  # 2026-11-21 01:00 in Bangkok
    window = Window(until - timedelta(days=30), until)
    point = [(until - timedelta(hours=2), "theft", INSIDE[0], INSIDE[1])]  # 23:00 local
    options = {"window": window, "cell_m": 200.0, "bandwidth_m": 200.0, "gi_radius_m": 300.0}
    local = hotspot_map(point, timezone="Asia/Bangkok", **options)
    utc = hotspot_map(point, timezone="UTC", **options)
    assert local["properties"]["risk_day"] == "2026-11-22"
    assert utc["properties"]["risk_day"] == "2026-11-21"
    # The API uses the station's zone (SAFEZONE_LOCAL_TIMEZONE, Bangkok in the tests).
    r = client.get(URL, headers=auth("commander"), params={"until": until.isoformat()})
    assert r.status_code == 200, r.text
    assert r.json()["properties"]["risk_day"] == "2026-11-22"
    assert r.json()["properties"]["timezone"] == "Asia/Bangkok"
