"""Signing in: bearer tokens, web sessions with CSRF, throttling, token revocation, accounts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from sqlalchemy import func, select, text

from safezone.auth.models import User
from safezone.core import security
from tests.conftest import PASSWORD, SECRET

TOKEN_URL = "/api/v1/auth/token"
SESSION_URL = "/api/v1/auth/session"
ME_URL = "/api/v1/auth/me"


def login(client, username, password=PASSWORD):
    return client.post(TOKEN_URL, data={"username": username, "password": password})


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def user_id(db, username):
    with db.reader() as session:
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None, username
        return user.id


def audit_actions(client, auth, action):
    r = client.get("/api/v1/audit", params={"action": action, "limit": 1000}, headers=auth("admin"))
    assert r.status_code == 200, r.text
    return r.json()["items"]


# --- bearer tokens --------------------------------------------------------------------


def test_token_login_returns_a_working_bearer_token(client):
    r = login(client, "operator")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "bearer"
    assert body["role"] == "operator"
    assert body["station_id"] == "MDH"
    assert body["expires_in"] > 0

    me = client.get(ME_URL, headers=bearer(body["access_token"]))
    assert me.status_code == 200, me.text
    assert me.json()["username"] == "operator"
    assert me.json()["role"] == "operator"
    assert me.json()["station_id"] == "MDH"


def test_me_without_credentials_is_401(client):
    r = client.get(ME_URL)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"


def test_wrong_password_is_401_naming_the_password_field(client):
    r = login(client, "operator", "not-the-password")
    assert r.status_code == 401
    error = r.json()["error"]
    assert error["code"] == "unauthorized"
    assert error["field"] == "password"
    assert "access_token" not in r.json()


def test_unknown_user_gets_the_same_answer_as_a_wrong_password(client):
    wrong = login(client, "operator", "not-the-password")
    unknown = login(client, "nobody-here", "not-the-password")
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()


def test_missing_form_field_is_422_naming_it(client):
    r = client.post(TOKEN_URL, data={"username": "operator"})
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "password"


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(
            lambda uid: security.issue_token(
                secret="another-secret-" + "y" * 32, subject=str(uid), kind="access", ttl_s=600
            )[0],
            id="wrong-secret",
        ),
        pytest.param(
            lambda uid: security.issue_token(
                secret=SECRET, subject=str(uid), kind="access", ttl_s=-10, claims={"ver": 0}
            )[0],
            id="expired",
        ),
        pytest.param(
            lambda uid: security.issue_token(
                secret=SECRET, subject=str(uid), kind="session", ttl_s=600, claims={"ver": 0}
            )[0],
            id="session-token-as-bearer",
        ),
        pytest.param(
            lambda uid: jwt.encode(
                {"sub": str(uid), "typ": "access", "exp": 4102444800, "ver": 0},
                key=None,
                algorithm="none",
            ),
            id="alg-none",
        ),
        pytest.param(lambda uid: "not.a.jwt", id="garbage"),
    ],
)
def test_forged_or_expired_bearer_token_is_401(client, db, token):
    uid = user_id(db, "admin")
    r = client.get(ME_URL, headers=bearer(token(uid)))
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"
    assert r.headers.get("www-authenticate") == "Bearer"


def test_tampered_token_payload_is_401(client, token_for, db):
    # A citizen's real token with its subject swapped for the admin's id, signature kept.
    token = token_for("citizen")
    header, _payload, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    claims["sub"] = str(user_id(db, "admin"))
    forged_payload = jwt.encode(claims, "whatever-key-" + "z" * 32, algorithm="HS256").split(".")[1]
    assert client.get(ME_URL, headers=bearer(token)).status_code == 200
    r = client.get(ME_URL, headers=bearer(f"{header}.{forged_payload}.{signature}"))
    assert r.status_code == 401


def test_non_bearer_authorization_scheme_is_401(client):
    r = client.get(ME_URL, headers={"Authorization": "Basic b3BlcmF0b3I6eA=="})
    assert r.status_code == 401


# --- throttling -----------------------------------------------------------------------


def test_account_locks_after_max_failures_even_for_the_right_password(client, auth, db, settings):
    assert settings.login_max_failures == 5
    for attempt in range(settings.login_max_failures):
        r = login(client, "officer", f"wrong-password-{attempt}")
        assert r.status_code == 401, (attempt, r.text)
        if attempt == settings.login_max_failures - 2:
            # One short of the limit: counted, but not locked yet.
            with db.reader() as session:
                user = session.scalar(select(User).where(User.username == "officer"))
                assert user.failed_logins == settings.login_max_failures - 1
                assert user.locked_until is None

    r = login(client, "officer", PASSWORD)
    assert r.status_code == 429, r.text
    assert r.json()["error"]["code"] == "too_many_requests"
    retry_after = int(r.headers["Retry-After"])
    assert 0 < retry_after <= settings.login_lockout_s + 1

    # The web sign-in is throttled the same way.
    r = client.post(SESSION_URL, data={"username": "officer", "password": PASSWORD})
    assert r.status_code == 429
    assert "sz_session" not in r.cookies

    # Other accounts are not affected.
    assert login(client, "operator").status_code == 200

    locked = audit_actions(client, auth, "user.locked")
    assert len(locked) == 1
    assert locked[0]["object_type"] == "user"
    assert locked[0]["object_id"] == str(user_id(db, "officer"))
    assert locked[0]["payload"]["failed_logins"] == settings.login_max_failures


def set_failed_logins(db, username, count):
    with db.transaction() as session:
        user = session.scalar(select(User).where(User.username == username))
        user.failed_logins = count


def test_a_successful_login_resets_the_failure_counter(client, auth, db, settings):
    # As if the officer had just failed one time short of the limit.
    set_failed_logins(db, "officer", settings.login_max_failures - 1)
    assert login(client, "officer").status_code == 200
    # Without the reset, this failure would be the one that locks the account.
    assert login(client, "officer", "wrong-password").status_code == 401
    assert login(client, "officer").status_code == 200
    assert audit_actions(client, auth, "user.locked") == []


def test_each_further_failure_after_a_lock_doubles_the_lockout(client, auth, db, settings):
    # The first lock (after max failures) has run out.
    with db.transaction() as session:
        user = session.scalar(select(User).where(User.username == "officer"))
        user.failed_logins = settings.login_max_failures
        user.locked_until = datetime.now(UTC) - timedelta(seconds=1)
    assert login(client, "officer", "wrong-again").status_code == 401
    r = login(client, "officer")
    assert r.status_code == 429
    doubled = 2 * settings.login_lockout_s
    assert settings.login_lockout_s < int(r.headers["Retry-After"]) <= doubled + 1
    [entry] = audit_actions(client, auth, "user.locked")
    assert entry["payload"]["locked_s"] == doubled


def test_failed_logins_are_counted_in_the_database(client, db):
    login(client, "officer", "wrong-password")
    login(client, "officer", "wrong-password")
    with db.reader() as session:
        user = session.scalar(select(User).where(User.username == "officer"))
        assert user.failed_logins == 2
        assert user.locked_until is None


# --- web sessions and CSRF ------------------------------------------------------------


def _set_cookie_headers(response):
    return {h.split("=", 1)[0]: h for h in response.headers.get_list("set-cookie")}


def test_session_login_sets_httponly_session_cookie_and_readable_csrf_cookie(client):
    r = client.post(SESSION_URL, data={"username": "admin", "password": PASSWORD})
    assert r.status_code == 200, r.text
    cookies = _set_cookie_headers(r)
    assert set(cookies) >= {"sz_session", "sz_csrf"}
    assert "httponly" in cookies["sz_session"].lower()
    assert "httponly" not in cookies["sz_csrf"].lower()
    for header in cookies.values():
        assert "samesite=lax" in header.lower()
        assert "path=/" in header.lower()
    assert r.json()["csrf_token"] == r.cookies["sz_csrf"]
    assert r.json()["role"] == "admin"


def test_session_login_with_wrong_password_sets_no_cookie(client):
    r = client.post(SESSION_URL, data={"username": "admin", "password": "wrong-password"})
    assert r.status_code == 401
    assert r.json()["error"]["field"] == "password"
    assert not r.headers.get_list("set-cookie")


def test_session_cookie_authenticates_reads(client):
    client.post(SESSION_URL, data={"username": "commander", "password": PASSWORD})
    r = client.get(ME_URL)
    assert r.status_code == 200, r.text
    assert r.json()["username"] == "commander"


CHECKPOINT = {"id": "CP-CSRF", "name": "csrf test", "lat": 16.544, "lon": 104.728}


def test_session_post_without_csrf_header_is_403_and_changes_nothing(client):
    client.post(SESSION_URL, data={"username": "admin", "password": PASSWORD})
    r = client.post("/api/v1/checkpoints", json=CHECKPOINT)
    assert r.status_code == 403, r.text
    assert r.json()["error"]["field"] == "X-CSRF-Token"
    assert "X-CSRF-Token" in r.json()["error"]["message"]
    assert client.get("/api/v1/checkpoints/CP-CSRF").status_code == 404


def test_session_post_with_wrong_csrf_header_is_403(client):
    client.post(SESSION_URL, data={"username": "admin", "password": PASSWORD})
    r = client.post("/api/v1/checkpoints", json=CHECKPOINT, headers={"X-CSRF-Token": "forged"})
    assert r.status_code == 403
    assert r.json()["error"]["field"] == "X-CSRF-Token"
    assert client.get("/api/v1/checkpoints/CP-CSRF").status_code == 404


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_session_unsafe_methods_need_csrf(client, method):
    client.post(SESSION_URL, data={"username": "admin", "password": PASSWORD})
    kwargs = {"json": {"name": "renamed"}} if method == "PATCH" else {}
    r = client.request(method, "/api/v1/zones/ZONE-MARKET", **kwargs)
    assert r.status_code == 403
    assert r.json()["error"]["field"] == "X-CSRF-Token"
    zone = client.get("/api/v1/zones/ZONE-MARKET")
    assert zone.status_code == 200
    assert zone.json()["name"] != "renamed"


def test_session_post_with_csrf_header_succeeds(client):
    r = client.post(SESSION_URL, data={"username": "admin", "password": PASSWORD})
    csrf = r.cookies["sz_csrf"]
    r = client.post("/api/v1/checkpoints", json=CHECKPOINT, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201, r.text
    assert client.get("/api/v1/checkpoints/CP-CSRF").status_code == 200


def test_csrf_token_of_another_session_is_refused(client):
    other = client.post(SESSION_URL, data={"username": "operator", "password": PASSWORD})
    other_csrf = other.cookies["sz_csrf"]
    client.cookies.clear()
    client.post(SESSION_URL, data={"username": "admin", "password": PASSWORD})
    r = client.post("/api/v1/checkpoints", json=CHECKPOINT, headers={"X-CSRF-Token": other_csrf})
    assert r.status_code == 403


def test_logout_clears_the_cookies(client):
    r = client.post(SESSION_URL, data={"username": "admin", "password": PASSWORD})
    r = client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": r.cookies["sz_csrf"]})
    assert r.status_code == 204
    cleared = _set_cookie_headers(r)
    assert set(cleared) >= {"sz_session", "sz_csrf"}
    assert client.get(ME_URL).status_code == 401


# --- revocation -----------------------------------------------------------------------


def test_password_change_voids_existing_tokens(client, auth, db, token_for):
    old = token_for("officer")
    assert client.get(ME_URL, headers=bearer(old)).status_code == 200

    r = client.patch(
        f"/api/v1/users/{user_id(db, 'officer')}",
        json={"password": "a-brand-new-password"},
        headers=auth("admin"),
    )
    assert r.status_code == 200, r.text

    assert client.get(ME_URL, headers=bearer(old)).status_code == 401
    assert login(client, "officer").status_code == 401
    fresh = login(client, "officer", "a-brand-new-password")
    assert fresh.status_code == 200
    assert client.get(ME_URL, headers=bearer(fresh.json()["access_token"])).status_code == 200


def test_password_change_voids_existing_web_sessions(client, auth, db):
    session_client_login = client.post(
        SESSION_URL, data={"username": "officer", "password": PASSWORD}
    )
    assert session_client_login.status_code == 200
    assert client.get(ME_URL).status_code == 200
    admin_headers = auth("admin")
    r = client.patch(
        f"/api/v1/users/{user_id(db, 'officer')}",
        json={"password": "a-brand-new-password"},
        headers=admin_headers,
    )
    assert r.status_code == 200, r.text
    assert client.get(ME_URL).status_code == 401


def test_deactivation_voids_tokens_and_blocks_login(client, auth, db, token_for):
    old = token_for("operator")
    r = client.patch(
        f"/api/v1/users/{user_id(db, 'operator')}",
        json={"active": False},
        headers=auth("admin"),
    )
    assert r.status_code == 200, r.text
    assert r.json()["active"] is False

    assert client.get(ME_URL, headers=bearer(old)).status_code == 401
    assert client.get("/api/v1/incidents", headers=bearer(old)).status_code == 401
    r = login(client, "operator")
    assert r.status_code == 401
    assert "access_token" not in r.json()


def test_role_change_voids_tokens_carrying_the_old_role(client, auth, db, token_for):
    old = token_for("commander")
    r = client.patch(
        f"/api/v1/users/{user_id(db, 'commander')}",
        json={"role": "officer"},
        headers=auth("admin"),
    )
    assert r.status_code == 200, r.text
    assert client.get("/api/v1/audit", headers=bearer(old)).status_code == 401
    new = token_for("commander")
    assert client.get(ME_URL, headers=bearer(new)).json()["role"] == "officer"
    assert client.get("/api/v1/audit", headers=bearer(new)).status_code == 403


def test_display_name_change_keeps_tokens_valid(client, auth, db, token_for):
    old = token_for("officer")
    r = client.patch(
        f"/api/v1/users/{user_id(db, 'officer')}",
        json={"display_name": "Sgt. Somchai"},
        headers=auth("admin"),
    )
    assert r.status_code == 200
    assert r.json()["display_name"] == "Sgt. Somchai"
    assert client.get(ME_URL, headers=bearer(old)).status_code == 200


# --- storage --------------------------------------------------------------------------


def test_passwords_are_stored_as_argon2_hashes(client, db):
    r = client.post(
        "/api/v1/auth/register", json={"username": "somsri", "password": "somsri-password-1"}
    )
    assert r.status_code == 201, r.text
    with db.reader() as session:
        rows = session.execute(text("SELECT username, password_hash FROM users")).all()
    assert rows
    for username, password_hash in rows:
        assert password_hash.startswith("$argon2"), username
        assert PASSWORD not in password_hash
        assert "somsri-password-1" not in password_hash


# --- accounts -------------------------------------------------------------------------


def test_citizen_registration_creates_a_citizen_who_can_sign_in(client, auth):
    r = client.post(
        "/api/v1/auth/register",
        json={"username": "nok.citizen", "password": "nok-password-1", "display_name": "Nok"},
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["role"] == "citizen"
    assert body["username"] == "nok.citizen"
    assert body["active"] is True
    assert "password" not in body and "password_hash" not in body

    token = login(client, "nok.citizen", "nok-password-1")
    assert token.status_code == 200
    assert token.json()["role"] == "citizen"
    me = client.get(ME_URL, headers=bearer(token.json()["access_token"]))
    assert me.json()["role"] == "citizen"


def test_citizen_registration_refuses_a_role_field(client, db):
    with db.reader() as session:
        before = session.scalar(select(func.count()).select_from(User))
    r = client.post(
        "/api/v1/auth/register",
        json={"username": "sneaky", "password": "sneaky-password-1", "role": "admin"},
    )
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "role"
    assert r.json()["error"]["message"] == "role: is not a known field"
    with db.reader() as session:
        assert session.scalar(select(func.count()).select_from(User)) == before
    assert login(client, "sneaky", "sneaky-password-1").status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "shorty", "password": "short"}, "password"),
        ({"username": "bad name", "password": "long-enough-pw"}, "username"),
        ({"password": "long-enough-pw"}, "username"),
    ],
)
def test_citizen_registration_rejects_bad_input(client, body, field):
    r = client.post("/api/v1/auth/register", json=body)
    assert r.status_code == 422
    assert r.json()["error"]["field"] == field


def test_citizen_registration_with_a_taken_username_is_409(client):
    r = client.post(
        "/api/v1/auth/register", json={"username": "admin", "password": "takeover-password"}
    )
    assert r.status_code == 409
    assert r.json()["error"]["field"] == "username"
    assert login(client, "admin", "takeover-password").status_code == 401
    assert login(client, "admin").status_code == 200


def test_registered_citizen_sees_the_public_safety_zones(client):
    anonymous = client.get("/api/v1/zones")
    assert [z["id"] for z in anonymous.json()] == ["ZONE-MARKET"]
    client.post("/api/v1/auth/register", json={"username": "mali", "password": "mali-password-1"})
    token = login(client, "mali", "mali-password-1").json()["access_token"]
    signed_in = client.get("/api/v1/zones", headers=bearer(token))
    assert signed_in.status_code == 200
    assert [z["id"] for z in signed_in.json()] == ["ZONE-MARKET"]


def test_admin_creates_a_user_at_their_station(client, auth):
    r = client.post(
        "/api/v1/users",
        json={"username": "new.officer", "password": "officer-password", "role": "officer"},
        headers=auth("admin"),
    )
    assert r.status_code == 201, r.text
    assert r.json()["station_id"] == "MDH"
    assert r.json()["role"] == "officer"
    assert login(client, "new.officer", "officer-password").status_code == 200
    created = audit_actions(client, auth, "user.created")
    assert any(e["payload"]["username"] == "new.officer" for e in created)


def test_admin_cannot_create_a_user_at_another_station(client, auth, db):
    with db.reader() as session:
        before = session.scalar(select(func.count()).select_from(User))
    r = client.post(
        "/api/v1/users",
        json={
            "username": "bkk.officer",
            "password": "officer-password",
            "role": "officer",
            "station_id": "BKK",
        },
        headers=auth("admin"),
    )
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "station_id"
    with db.reader() as session:
        assert session.scalar(select(func.count()).select_from(User)) == before
        assert session.scalar(select(User).where(User.username == "bkk.officer")) is None


def test_admin_cannot_change_own_role_or_deactivate_self(client, auth, db):
    admin_id = user_id(db, "admin")
    for change in ({"role": "officer"}, {"role": "admin"}, {"active": False}):
        r = client.patch(f"/api/v1/users/{admin_id}", json=change, headers=auth("admin"))
        assert r.status_code == 403, change
    me = client.get(ME_URL, headers=auth("admin"))
    assert me.status_code == 200
    assert me.json()["role"] == "admin"


def test_admin_cannot_see_or_change_users_of_another_station(client, auth, db):
    other_id = user_id(db, "other_operator")
    r = client.patch(f"/api/v1/users/{other_id}", json={"active": False}, headers=auth("admin"))
    assert r.status_code == 404
    assert login(client, "other_operator").status_code == 200
    listed = client.get("/api/v1/users", headers=auth("admin")).json()
    assert "other_operator" not in {u["username"] for u in listed}
    assert {"citizen", "officer", "operator", "commander", "admin"} <= {
        u["username"] for u in listed
    }


def test_user_listing_never_exposes_password_hashes(client, auth):
    r = client.get("/api/v1/users", headers=auth("admin"))
    assert r.status_code == 200
    assert "$argon2" not in r.text
    assert all("password_hash" not in u for u in r.json())
