def test_openapi_served(client):
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    assert "/api/v1/reports" in r.json()["paths"]


def test_every_response_carries_the_security_headers(client):
    for path in ("/api/v1/health", "/api/v1/openapi.json", "/api/v1/no-such-route"):
        r = client.get(path)
        assert r.headers["x-content-type-options"] == "nosniff", path
        assert r.headers["referrer-policy"] == "same-origin", path
        assert r.headers["x-frame-options"] == "DENY", path
        assert r.headers.get_list("x-frame-options") == ["DENY"], path  # once, not twice
