"""The acknowledgement timer: a scheduled job alerts the control room about assignments
nobody acknowledged in time."""

from __future__ import annotations

from safezone.config import Settings
from safezone.core.scheduler import Scheduler
from safezone.dispatch import service as dispatch_service


def schedule(scheduler: Scheduler, settings: Settings) -> None:
    # Checked at most every 5 s (and at the monitor interval if that is shorter), so an
    # alert comes at most a few seconds after the deadline.
    scheduler.add(
        "dispatch.ack_timer",
        min(settings.monitor_interval_s, 5.0),
        lambda session: dispatch_service.overdue_acknowledgements(session),
        due=lambda session: dispatch_service.any_acknowledgement_overdue(session),
    )
