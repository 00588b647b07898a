"""Who is calling, and what their role lets them do.

Deny by default: every route must declare its policy with ``allow(...)`` or ``public()``;
``create_app`` refuses to start when a route declares neither.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, get_args

from fastapi import Depends, Request

from safezone.core.errors import AppError, Forbidden, Unauthorized

Role = Literal["citizen", "officer", "operator", "commander", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
STAFF: tuple[Role, ...] = ("officer", "operator", "commander", "admin")
CONTROL_ROOM: tuple[Role, ...] = ("operator", "commander", "admin")
COMMAND: tuple[Role, ...] = ("commander", "admin")

POLICY_MARK = "__safezone_policy__"


@dataclass(frozen=True)
class Principal:
    """An authenticated user, as seen by services (never an ORM row)."""

    user_id: int
    username: str
    role: Role
    station_id: str

    @property
    def actor(self) -> str:
        return f"user:{self.username}"


def current_principal(request: Request) -> Principal | None:
    """The caller, authenticated once per request; None for an anonymous caller.

    The authenticator (``auth.service.authenticate_request``) is installed by create_app,
    so that core does not depend on the auth domain.
    """
    if not hasattr(request.state, "principal"):
        authenticate: Callable[[Request], Principal | None] = request.app.state.authenticator
        request.state.principal = authenticate(request)
    principal: Principal | None = request.state.principal
    return principal


def still_signed_in(request: Request, principal: Principal) -> Callable[[], bool]:
    """For a long-lived response (an event stream): a check that authenticates the
    request again (its token or session cookie, the account) and says whether it still
    names the same user, role and station. Runs database reads: call it off the loop."""
    authenticate: Callable[[Request], Principal | None] = request.app.state.authenticator

    def check() -> bool:
        try:
            return authenticate(request) == principal
        except AppError:  # an expired or revoked bearer token
            return False

    return check


def allow(*roles: Role) -> Any:
    """A dependency that admits only the given roles (401 anonymous, 403 other roles)."""
    unknown = set(roles) - set(ROLES)
    if unknown or not roles:
        raise ValueError(f"allow() needs known roles, got {roles!r}")

    def _check(request: Request) -> Principal:
        principal = current_principal(request)
        if principal is None:
            raise Unauthorized(
                "Sign in first: send a bearer token or a session cookie.",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if principal.role not in roles:
            raise Forbidden(
                f"Your role '{principal.role}' may not do this; it needs one of: "
                + ", ".join(roles)
                + "."
            )
        return principal

    setattr(_check, POLICY_MARK, "roles:" + ",".join(roles))
    return Depends(_check)


def public() -> Any:
    """A dependency that marks a route as open to anyone; gives the principal if any."""

    def _public(request: Request) -> Principal | None:
        # Open routes never turn a caller away for stale or incomplete credentials (an
        # expired token, a missing CSRF header): the request goes on as anonymous, so a
        # citizen's emergency report is accepted whatever state their login is in.
        try:
            return current_principal(request)
        except (Unauthorized, Forbidden):
            request.state.principal = None
            return None

    setattr(_public, POLICY_MARK, "public")
    return Depends(_public)


def policy_of(call: Callable[..., Any]) -> str | None:
    value = getattr(call, POLICY_MARK, None)
    return value if isinstance(value, str) else None
