"""The review page (/faces): for the control room only, with its strings in both languages."""

from __future__ import annotations

from typing import Any

from safezone.web.i18n import catalog


def test_review_page_is_for_the_control_room(client: Any, auth: Any) -> None:
    response = client.get("/faces", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?next=%2Ffaces"
    for role in ("citizen", "officer"):
        response = client.get("/faces", headers=auth(role))
        assert response.status_code == 403, role
        assert 'id="sz-faces"' not in response.text
    for role in ("operator", "commander", "admin"):
        response = client.get("/faces", headers=auth(role))
        assert response.status_code == 200, role
        assert 'id="sz-faces"' in response.text and "js/faces.js" in response.text
        assert 'href="/faces"' in response.text
    assert 'href="/faces"' not in client.get("/dashboard", headers=auth("officer")).text


def test_review_strings_exist_in_thai_and_english() -> None:
    keys = {k for k in catalog()["en"] if k.startswith("faces.") or k == "nav.faces"}
    assert len(keys) >= 20
    assert keys <= set(catalog()["th"])
