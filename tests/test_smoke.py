def test_openapi_served(client):
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    assert "/api/v1/reports" in r.json()["paths"]


def _assert_security_headers(r, what: str) -> None:
    assert r.headers["x-content-type-options"] == "nosniff", what
    assert r.headers["referrer-policy"] == "same-origin", what
    assert r.headers.get_list("x-frame-options") == ["DENY"], what  # once, not twice


def test_every_response_carries_the_security_headers(client, settings):
    for path in ("/api/v1/health", "/api/v1/openapi.json", "/api/v1/no-such-route"):
        _assert_security_headers(client.get(path), path)
    too_large = client.post(
        "/api/v1/reports",
        content=b"x" * (settings.request_max_bytes + 1),
        headers={"Content-Type": "application/json"},
    )
    assert too_large.status_code == 413
    _assert_security_headers(too_large, "a refused body")
