"""Imports every domain's models so that Base.metadata knows all tables (Alembic, tests)."""

from safezone.alerts import models as alerts_models
from safezone.audit import models as audit_models
from safezone.auth import models as auth_models
from safezone.cameras import models as cameras_models
from safezone.core.bus import outbox
from safezone.core.db import Base
from safezone.core.scheduler import JobLease
from safezone.dispatch import models as dispatch_models
from safezone.faces import models as faces_models
from safezone.housewatch import models as housewatch_models
from safezone.incidents import models as incidents_models
from safezone.patrol import models as patrol_models
from safezone.reports import models as reports_models
from safezone.sos import models as sos_models
from safezone.zones import models as zones_models

__all__ = [
    "Base",
    "JobLease",
    "alerts_models",
    "audit_models",
    "auth_models",
    "cameras_models",
    "dispatch_models",
    "faces_models",
    "housewatch_models",
    "incidents_models",
    "outbox",
    "patrol_models",
    "reports_models",
    "sos_models",
    "zones_models",
]
