"""Users, passwords, login throttling and tokens."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

from fastapi import Request
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from safezone.audit import service as audit_service
from safezone.auth.models import RevokedToken, User
from safezone.auth.schemas import UserCreate, UserUpdate
from safezone.config import Settings
from safezone.core import security
from safezone.core.db import utcnow
from safezone.core.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    TooManyRequests,
    Unauthorized,
)
from safezone.core.permissions import ROLES, Principal, Role

SESSION_COOKIE = "sz_session"
CSRF_COOKIE = "sz_csrf"
CSRF_HEADER = "x-csrf-token"
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def principal_of(user: User) -> Principal:
    return Principal(
        user_id=user.id,
        username=user.username,
        role=cast(Role, user.role),
        station_id=user.station_id,
    )


def get_user(session: Session, *, user_id: int, station_id: str) -> User:
    user = session.get(User, user_id)
    if user is None or user.station_id != station_id:
        raise NotFound(f"User {user_id} does not exist at your station.", field="user_id")
    return user


def find_user(session: Session, *, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def list_users(session: Session, *, station_id: str) -> list[User]:
    return list(
        session.scalars(
            select(User).where(User.station_id == station_id).order_by(User.username)
        ).all()
    )


def create_user(session: Session, *, data: UserCreate, station_id: str, actor: str) -> User:
    """Create an account bound to a station; the password is stored as an argon2 hash."""
    if data.role not in ROLES:
        raise InvalidInput(f"Unknown role '{data.role}'.", field="role")
    if find_user(session, username=data.username) is not None:
        raise Conflict(f"The username '{data.username}' is taken.", field="username")
    user = User(
        username=data.username,
        display_name=data.display_name or data.username,
        password_hash=security.hash_password(data.password),
        role=data.role,
        station_id=station_id,
        active=True,
        created_at=utcnow(),
    )
    session.add(user)
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="user.created",
        object_type="user",
        object_id=user.id,
        station_id=station_id,
        payload={"username": user.username, "role": user.role},
    )
    return user


def update_user(session: Session, *, user_id: int, data: UserUpdate, principal: Principal) -> User:
    user = get_user(session, user_id=user_id, station_id=principal.station_id)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if user.id == principal.user_id and ("role" in changes or changes.get("active") is False):
        raise Forbidden("You cannot change your own role or deactivate yourself.")
    if "password" in changes:
        user.password_hash = security.hash_password(changes.pop("password"))
        user.token_version += 1
        changes["password"] = "changed"
    if "role" in changes:
        user.role = changes["role"]
        user.token_version += 1
    if "active" in changes:
        user.active = changes["active"]
        user.token_version += 1
    if "display_name" in changes:
        user.display_name = changes["display_name"]
    audit_service.record(
        session,
        actor=principal.actor,
        action="user.updated",
        object_type="user",
        object_id=user.id,
        station_id=user.station_id,
        payload=changes,
    )
    if changes.get("active") is False:
        reason = "account disabled"
    elif "role" in changes and user.role != "officer":
        reason = f"role changed to {user.role}"
    else:
        reason = ""
    if reason:
        # Patrol builds on auth (its units are crewed by users), so it is imported here.
        from safezone.patrol import service as patrol_service

        patrol_service.stand_down_officer(
            session, user_id=user.id, actor=principal.actor, reason=reason
        )
    return user


def set_password(session: Session, *, user: User, password: str, actor: str) -> None:
    """Replace a password; every token issued before stops working."""
    if len(password) < 10:
        raise InvalidInput("The password must be at least 10 characters.", field="password")
    user.password_hash = security.hash_password(password)
    user.token_version += 1
    user.failed_logins = 0
    user.locked_until = None
    audit_service.record(
        session,
        actor=actor,
        action="user.password_set",
        object_type="user",
        object_id=user.id,
        station_id=user.station_id,
        payload={},
    )


class IpThrottle:
    """Counts failed logins per client address in memory (per process)."""

    def __init__(self, *, max_failures: int, window_s: float) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._fails: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, ip: str) -> int:
        now = time.monotonic()
        with self._lock:
            recent = [t for t in self._fails.get(ip, []) if now - t < self.window_s]
            self._fails[ip] = recent
            if len(recent) < self.max_failures:
                return 0
            return int(self.window_s - (now - recent[0])) + 1

    def failed(self, ip: str) -> None:
        with self._lock:
            self._fails.setdefault(ip, []).append(time.monotonic())

    def clear(self, ip: str) -> None:
        with self._lock:
            self._fails.pop(ip, None)


@dataclass
class LoginContext:
    settings: Settings
    throttle: IpThrottle
    client_ip: str


def login(session: Session, *, username: str, password: str, ctx: LoginContext) -> User:
    """Check a username and password, with throttling.

    After ``login_max_failures`` consecutive failures an account is locked for
    ``login_lockout_s``, doubling with each further failure (capped at one hour); a client
    address that keeps failing (any usernames) is throttled too. Failures are committed
    here, before the error is raised, so that a rollback cannot erase them.
    """
    wait = ctx.throttle.retry_after(ctx.client_ip)
    if wait:
        raise TooManyRequests(
            f"Too many failed sign-ins from your address. Try again in {wait} seconds.",
            headers={"Retry-After": str(wait)},
        )
    user = find_user(session, username=username)
    now = utcnow()
    if user is not None and user.locked_until is not None and user.locked_until > now:
        wait = int((user.locked_until - now).total_seconds()) + 1
        raise TooManyRequests(
            f"This account is locked after repeated failed sign-ins. Try again in {wait} seconds.",
            headers={"Retry-After": str(wait)},
        )
    if user is None:
        security.dummy_verify()
        ok, new_hash = False, None
    else:
        ok, new_hash = security.verify_password(password, user.password_hash)
    if not ok or user is None or not user.active:
        ctx.throttle.failed(ctx.client_ip)
        if user is not None:
            user.failed_logins += 1
            excess = user.failed_logins - ctx.settings.login_max_failures
            if excess >= 0:
                seconds = min(ctx.settings.login_lockout_s * (2**excess), 3600)
                user.locked_until = now + timedelta(seconds=seconds)
                audit_service.record(
                    session,
                    actor=f"ip:{ctx.client_ip}",
                    action="user.locked",
                    object_type="user",
                    object_id=user.id,
                    station_id=user.station_id,
                    payload={"failed_logins": user.failed_logins, "locked_s": seconds},
                )
            session.commit()
        raise Unauthorized("Wrong username or password.", field="password")
    if new_hash is not None:
        user.password_hash = new_hash
    user.failed_logins = 0
    user.locked_until = None
    ctx.throttle.clear(ctx.client_ip)
    audit_service.record(
        session,
        actor=f"user:{user.username}",
        action="user.login",
        object_type="user",
        object_id=user.id,
        station_id=user.station_id,
        payload={"ip": ctx.client_ip},
    )
    return user


def access_token(settings: Settings, user: User) -> str:
    token, _ = security.issue_token(
        secret=settings.require_secret_key(),
        subject=str(user.id),
        kind="access",
        ttl_s=settings.token_ttl_s,
        claims={"ver": user.token_version},
    )
    return token


def web_session(settings: Settings, user: User) -> tuple[str, str]:
    """A session cookie value and the CSRF token bound to it."""
    csrf = security.random_secret(24)
    token, _ = security.issue_token(
        secret=settings.require_secret_key(),
        subject=str(user.id),
        kind="session",
        ttl_s=settings.session_ttl_s,
        claims={"ver": user.token_version, "csrf": csrf},
    )
    return token, csrf


def _principal_from_claims(request: Request, claims: dict[str, object]) -> Principal | None:
    try:
        user_id = int(str(claims["sub"]))
    except (KeyError, ValueError):
        return None
    db = request.app.state.db
    with db.reader() as session:
        user = session.get(User, user_id)
        if user is None or not user.active or user.token_version != claims.get("ver"):
            return None
        if session.get(RevokedToken, str(claims.get("jti", ""))) is not None:
            return None
        request.state.token_claims = claims
        return principal_of(user)


def revoke_current(session: Session, *, request: Request, principal: Principal) -> None:
    """Sign out: the token or session cookie of this request stops working at once."""
    claims = getattr(request.state, "token_claims", None)
    if not claims or not claims.get("jti"):
        return
    now = utcnow()
    # Expired revocations are useless; clear them while we are here.
    session.execute(delete(RevokedToken).where(RevokedToken.expires_at < now))
    if session.get(RevokedToken, str(claims["jti"])) is None:
        session.add(
            RevokedToken(
                jti=str(claims["jti"]),
                expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
            )
        )
    audit_service.record(
        session,
        actor=principal.actor,
        action="user.logout",
        object_type="user",
        object_id=principal.user_id,
        station_id=principal.station_id,
        payload={},
    )


def authenticate_request(request: Request) -> Principal | None:
    """Who sent this request: a bearer token, or a session cookie plus its CSRF token."""
    settings: Settings = request.app.state.settings
    secret = settings.require_secret_key()
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("The Authorization header must be 'Bearer <token>'.")
        claims = security.read_token(token.strip(), secret=secret, kind="access")
        principal = _principal_from_claims(request, claims) if claims else None
        if principal is None:
            raise Unauthorized(
                "The bearer token is invalid or expired; get a new one from /api/v1/auth/token.",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return principal
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    claims = security.read_token(cookie, secret=secret, kind="session")
    if claims is None:
        return None
    if request.method in _UNSAFE:
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or not security.constant_time_equal(sent, str(claims.get("csrf", ""))):
            raise Forbidden(
                "Missing or wrong CSRF token: send the sz_csrf cookie's value in the "
                "X-CSRF-Token header.",
                field="X-CSRF-Token",
            )
    return _principal_from_claims(request, claims)
