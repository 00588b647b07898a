from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response

from safezone.auth import schemas
from safezone.auth import service as auth_service
from safezone.core.deps import SessionDep, SettingsDep
from safezone.core.errors import InvalidInput
from safezone.core.permissions import ROLES, Principal, allow, public
from safezone.zones import service as zones_service

router = APIRouter(prefix="/api/v1", tags=["auth"])

Anyone = Annotated[Principal | None, public()]
SignedIn = Annotated[Principal, allow(*ROLES)]
Admin = Annotated[Principal, allow("admin")]


def _context(request: Request, settings: SettingsDep) -> auth_service.LoginContext:
    client = request.client.host if request.client else "unknown"
    return auth_service.LoginContext(
        settings=settings, throttle=request.app.state.login_throttle, client_ip=client
    )


@router.post("/auth/token", response_model=schemas.TokenResponse)
def token(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    session: SessionDep,
    settings: SettingsDep,
    principal: Anyone,
) -> Any:
    """OAuth2 password grant for the apps: returns a short-lived bearer token."""
    user = auth_service.login(
        session, username=username, password=password, ctx=_context(request, settings)
    )
    return schemas.TokenResponse(
        access_token=auth_service.access_token(settings, user),
        expires_in=settings.token_ttl_s,
        role=user.role,
        station_id=user.station_id,
    )


@router.post("/auth/session")
def open_session(
    request: Request,
    response: Response,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    session: SessionDep,
    settings: SettingsDep,
    principal: Anyone,
) -> dict[str, Any]:
    """Web sign-in: sets the HttpOnly session cookie and the CSRF cookie."""
    user = auth_service.login(
        session, username=username, password=password, ctx=_context(request, settings)
    )
    cookie, csrf = auth_service.web_session(settings, user)
    common: dict[str, Any] = {
        "max_age": settings.session_ttl_s,
        "secure": settings.cookie_secure,
        "samesite": "lax",
        "path": "/",
    }
    response.set_cookie(auth_service.SESSION_COOKIE, cookie, httponly=True, **common)
    response.set_cookie(auth_service.CSRF_COOKIE, csrf, httponly=False, **common)
    return {
        "username": user.username,
        "role": user.role,
        "station_id": user.station_id,
        "csrf_token": csrf,
    }


@router.post("/auth/logout", status_code=204)
def logout(request: Request, session: SessionDep, principal: SignedIn) -> Response:
    """Sign out: this session cookie or bearer token stops working at once."""
    auth_service.revoke_current(session, request=request, principal=principal)
    response = Response(status_code=204)
    response.delete_cookie(auth_service.SESSION_COOKIE, path="/")
    response.delete_cookie(auth_service.CSRF_COOKIE, path="/")
    return response


@router.get("/auth/me")
def me(principal: SignedIn) -> dict[str, Any]:
    return {
        "user_id": principal.user_id,
        "username": principal.username,
        "role": principal.role,
        "station_id": principal.station_id,
    }


@router.post("/auth/register", response_model=schemas.UserRead, status_code=201)
def register_citizen(data: schemas.CitizenRegister, session: SessionDep, principal: Anyone) -> Any:
    """Citizens may open their own account (role citizen only)."""
    stations = zones_service.list_stations(session)
    if not stations:
        raise InvalidInput("No station is set up yet.")
    return auth_service.create_user(
        session,
        data=schemas.UserCreate(
            username=data.username,
            password=data.password,
            role="citizen",
            display_name=data.display_name,
        ),
        station_id=stations[0].id,
        actor=f"citizen:{data.username}",
    )


@router.get("/users", response_model=list[schemas.UserRead])
def list_users(session: SessionDep, principal: Admin) -> Any:
    return auth_service.list_users(session, station_id=principal.station_id)


@router.post("/users", response_model=schemas.UserRead, status_code=201)
def create_user(data: schemas.UserCreate, session: SessionDep, principal: Admin) -> Any:
    if data.station_id not in (None, principal.station_id):
        raise InvalidInput("Admins create users at their own station only.", field="station_id")
    return auth_service.create_user(
        session, data=data, station_id=principal.station_id, actor=principal.actor
    )


@router.patch("/users/{user_id}", response_model=schemas.UserRead)
def update_user(
    user_id: int, data: schemas.UserUpdate, session: SessionDep, principal: Admin
) -> Any:
    return auth_service.update_user(session, user_id=user_id, data=data, principal=principal)
