from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from safezone.core.permissions import Role

USERNAME_PATTERN = r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{1,63}$"


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(pattern=USERNAME_PATTERN, description="2-64 letters, digits, _ . -")
    password: str = Field(min_length=10, max_length=256)
    role: Role
    station_id: str | None = Field(None, description="Defaults to the caller's station.")
    display_name: str = Field("", max_length=128)


class CitizenRegister(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(pattern=USERNAME_PATTERN)
    password: str = Field(min_length=10, max_length=256)
    display_name: str = Field("", max_length=128)


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    active: bool | None = None
    display_name: str | None = Field(None, max_length=128)
    password: str | None = Field(None, min_length=10, max_length=256)


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    display_name: str
    role: Role
    station_id: str
    active: bool
    created_at: datetime


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    role: Role
    station_id: str
