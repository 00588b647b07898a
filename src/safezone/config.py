"""Settings: every knob comes from SAFEZONE_* environment variables or a .env file.

The Settings object is built once (by the CLI or a test) and passed in; nothing reads the
environment at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from safezone.faces.settings import FaceSettings

Environment = Literal["production", "demo", "development", "test"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SAFEZONE_", env_file=".env", extra="forbid", env_file_encoding="utf-8"
    )

    env: Environment = Field(
        "production",
        description="production refuses to start without real secrets; demo/development/test "
        "may generate them.",
    )
    data_dir: Path = Field(
        Path("./safezone-data"),
        description="Where the SQLite database, uploaded photos and the demo device file live.",
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL. Default: sqlite:///<data_dir>/safezone.db. "
        "PostgreSQL: postgresql+psycopg://user@host/db",
    )
    secret_key: str | None = Field(
        None,
        description="Signs session cookies and bearer tokens. Required in production "
        "(at least 32 characters).",
        min_length=32,
    )
    bus_url: str = Field(
        "memory://",
        description="Event bus: memory:// (in-process), or NATS JetStream for several "
        "processes: nats://[user:pass@]host:4222[,host2:4222][?stream=NAME&prefix=a.b].",
    )
    tile_url: str = Field(
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        description="Map tile URL template. Leave empty to draw the map without tiles.",
    )
    tile_attribution: str = Field(
        "© OpenStreetMap contributors", description="Attribution shown for the tiles."
    )
    token_ttl_s: int = Field(3600, ge=60, le=86400, description="Bearer token lifetime.")
    session_ttl_s: int = Field(12 * 3600, ge=300, le=7 * 86400, description="Web session life.")
    cookie_secure: bool = Field(
        False, description="Mark cookies Secure (set true behind HTTPS in production)."
    )
    login_max_failures: int = Field(
        5, ge=1, description="Consecutive failed logins before an account is throttled."
    )
    login_lockout_s: int = Field(
        60, ge=1, description="First lock-out after too many failures; doubles each time."
    )
    photo_max_bytes: int = Field(
        5 * 1024 * 1024, ge=1024, description="Largest photo a citizen may upload."
    )
    photos_per_report: int = Field(5, ge=1, le=50, description="Photos allowed per report.")
    request_max_bytes: int = Field(
        8 * 1024 * 1024, ge=1024, description="Largest request body the API accepts."
    )
    sse_poll_s: float = Field(
        1.0, gt=0, le=30, description="How often an SSE stream re-reads the outbox when idle."
    )
    relay_interval_s: float = Field(
        0.5, gt=0, le=30, description="How often the outbox relay looks for unpublished events."
    )
    mqtt_url: str | None = Field(
        None,
        description="MQTT broker for SOS boxes, e.g. mqtt://127.0.0.1:1883. Unset = MQTT off "
        "(boxes can still use the HTTP fallback).",
    )
    mqtt_client_id: str = Field(
        "safezone-gateway",
        description="The gateway's MQTT client id. It keeps a persistent session, so the "
        "broker holds presses for it while it is down; give each node its own id.",
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
    )
    mqtt_gateway_process: bool = Field(
        True,
        description="Run the MQTT gateway in a process of its own, so that web traffic "
        "never delays an SOS; false = a thread in the web process.",
    )
    sos_clock_tolerance_s: int = Field(
        300, ge=5, le=86400, description="How far a box's timestamp may be from ours."
    )
    sos_ack_timeout_s: int = Field(
        60,
        ge=5,
        le=3600,
        description="An SOS incident nobody acknowledges in this time is escalated.",
    )
    escalation_webhook_url: str | None = Field(
        None,
        description="Escalations are also POSTed here as signed JSON (optional; needs "
        "SAFEZONE_WEBHOOK_SECRET except in the demo).",
    )
    webhook_secret: str | None = Field(
        None,
        min_length=16,
        description="Signs outgoing webhooks (X-SafeZone-Signature: HMAC-SHA256 hex). "
        "Required with either webhook URL except in the demo.",
    )
    monitor_interval_s: float = Field(
        5.0, gt=0, le=300, description="How often box heartbeats and escalations are checked."
    )
    snapshot_timeout_s: float = Field(
        3.0, gt=0, le=30, description="How long to wait for one camera snapshot."
    )
    camera_check_interval_s: float = Field(
        15.0,
        ge=0,
        le=3600,
        description="How often the camera health monitor looks at every camera (0: never).",
    )
    camera_offline_after_s: float = Field(
        60.0,
        gt=0,
        le=86400,
        description="A camera with no frame for this long is offline (maintenance alert).",
    )
    forwarded_allow_ips: str = Field(
        "",
        description="Addresses of trusted reverse proxies (comma-separated) whose "
        "X-Forwarded-For is believed; empty = use the peer address.",
    )
    checkin_max_speed_kmh: float = Field(
        120.0,
        gt=0,
        le=1000,
        description="A patrol check-in that needs a faster trip than this from the officer's "
        "previous or next check-in is flagged (impossible_speed).",
    )
    checkin_clock_skew_s: float = Field(
        30.0,
        ge=0,
        le=3600,
        description="How far a phone's or a checkpoint screen's clock may be from ours: "
        "added to every time comparison in check-in verification.",
    )
    checkin_replay_window_s: int = Field(
        600,
        ge=0,
        le=86400,
        description="The same officer scanning the same printed checkpoint code again within "
        "this time is a replay (rejected).",
    )
    checkin_max_sync_delay_s: int = Field(
        12 * 3600,
        ge=60,
        le=7 * 86400,
        description="A check-in delivered this long after its scan (an offline queue) is "
        "flagged late_sync.",
    )
    road_graph: Path | None = Field(
        None,
        description="GeoJSON FeatureCollection of road lines (LineString/MultiLineString, "
        "optional oneway property). When set, units are ranked by road distance; "
        "otherwise by straight line.",
    )
    dispatch_ack_timeout_s: int = Field(
        60,
        ge=5,
        le=3600,
        description="A unit's officer must acknowledge an assignment in this time, or the "
        "control room is alerted (dispatch.ack_overdue).",
    )
    local_timezone: str = Field(
        "Asia/Bangkok",
        description="The stations' local time zone: house-watch dates begin and end at "
        "local midnight.",
    )
    housewatch_webhook_url: str | None = Field(
        None,
        description="House-watch notices (approved, visit, summary) are also POSTed here as "
        "JSON, signed like the escalation webhook (optional; e.g. a LINE or SMS bridge). "
        "Needs SAFEZONE_WEBHOOK_SECRET except in the demo.",
    )
    housewatch_summary_interval_s: float = Field(
        300.0,
        gt=0,
        le=86400,
        description="How often the house-watch summary job looks for watches whose dates ended.",
    )
    demo_password: str | None = Field(
        None, description="Password of the demo accounts; random if unset."
    )
    faces: FaceSettings = Field(
        default_factory=FaceSettings,
        description='Face pipeline thresholds, as JSON (SAFEZONE_FACES=\'{"match_threshold":'
        " 0.5}'); see docs/operations.md, Face identification.",
    )

    @field_validator("local_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}; use e.g. Asia/Bangkok") from exc
        return value

    @model_validator(mode="after")
    def _production_needs_secrets(self) -> Settings:
        if self.env == "production" and not self.secret_key:
            raise ValueError(
                "SAFEZONE_SECRET_KEY must be set (32+ random characters) when "
                "SAFEZONE_ENV=production; generate one with: "
                'python -c "import secrets; print(secrets.token_urlsafe(48))"'
            )
        if self.env == "production":
            self.require_signed_webhooks()
        return self

    def require_signed_webhooks(self) -> None:
        """Refuse an outgoing webhook without a signing secret: house-watch notices carry
        the owner's contact and an empty house's address, escalations an SOS's place, so
        the receiver must be able to tell our POSTs from anyone's. Settings validation
        applies this in production; the app applies it at start everywhere but the demo.
        ValueError names the settings."""
        hooks = (
            ("SAFEZONE_HOUSEWATCH_WEBHOOK_URL", self.housewatch_webhook_url),
            ("SAFEZONE_ESCALATION_WEBHOOK_URL", self.escalation_webhook_url),
        )
        for name, url in hooks:
            if url and not self.webhook_secret:
                raise ValueError(
                    f"SAFEZONE_WEBHOOK_SECRET must be set (16+ random characters) when "
                    f"{name} is set: the notices sent there are signed with it "
                    f"(X-SafeZone-Signature). Set the secret, or unset {name}."
                )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'safezone.db').resolve()}"

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    def require_secret_key(self) -> str:
        if not self.secret_key:
            raise RuntimeError("secret_key is not set")
        return self.secret_key
