"""Imports every domain's models so that Base.metadata knows all tables (Alembic, tests)."""

from safezone.audit import models as audit_models
from safezone.auth import models as auth_models
from safezone.core.bus import outbox
from safezone.core.db import Base
from safezone.incidents import models as incidents_models
from safezone.reports import models as reports_models
from safezone.zones import models as zones_models

__all__ = [
    "Base",
    "audit_models",
    "auth_models",
    "incidents_models",
    "outbox",
    "reports_models",
    "zones_models",
]
