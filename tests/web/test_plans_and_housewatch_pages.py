"""The commander's patrol map page and the house-watch section of the citizen app."""

from __future__ import annotations

import pytest

from safezone.web.i18n import catalog


def test_patrol_map_page_is_for_commanders_and_admins(client, auth):
    r = client.get("/command/patrol", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    for role in ("citizen", "officer", "operator"):
        assert client.get("/command/patrol", headers=auth(role)).status_code == 403
    for role in ("commander", "admin"):
        html = client.get("/command/patrol", headers=auth(role)).text
        assert 'id="plan-map"' in html and "js/patrol-plans.js" in html
        assert catalog()["th"]["plan.title"] in html
        assert 'href="/command/patrol"' in html


def test_patrol_link_only_for_command(client, auth):
    assert 'href="/command/patrol"' in client.get("/dashboard", headers=auth("commander")).text
    assert 'href="/command/patrol"' not in client.get("/dashboard", headers=auth("operator")).text


def test_citizen_app_offers_house_watch_to_signed_in_citizens(client, auth):
    anonymous = client.get("/app").text
    assert 'id="housewatch-section"' in anonymous
    assert 'id="hw-form"' not in anonymous and "/login?next=/app" in anonymous
    signed_in = client.get("/app", headers=auth("citizen")).text
    assert 'id="hw-form"' in signed_in and "js/housewatch.js" in signed_in
    for name in ("address", "lat", "lon", "starts_on", "ends_on", "contact", "contact_value"):
        assert f'name="{name}"' in signed_in, name


@pytest.mark.parametrize("prefix", ["plan.", "hw."])
def test_new_strings_exist_in_thai_and_english(prefix):
    th, en = catalog()["th"], catalog()["en"]
    keys = {k for k in th if k.startswith(prefix)}
    assert len(keys) > 10
    assert keys == {k for k in en if k.startswith(prefix)}


def test_house_watch_desk_is_for_the_control_room(client, auth):
    r = client.get("/housewatch", follow_redirects=False)
    assert r.status_code == 303
    for role in ("citizen", "officer"):
        assert client.get("/housewatch", headers=auth(role)).status_code == 403
    for role in ("operator", "commander", "admin"):
        html = client.get("/housewatch", headers=auth(role)).text
        assert 'id="hwdesk-map"' in html and "js/housewatch-desk.js" in html
        assert 'href="/housewatch"' in html
    assert 'href="/housewatch"' not in client.get("/dashboard", headers=auth("officer")).text
