"""Process-wide settings for the long-running server processes."""

from __future__ import annotations

import gc


def freeze_startup_objects() -> None:
    """Keep the garbage collector's full collections short once a server has started.

    After start-up a server holds hundreds of thousands of long-lived objects (modules,
    the ORM's mappings, compiled statements, the app's routes) that will never be
    garbage. Every full collection walked all of them: 30 to 120 ms during which the
    process ran nothing else, and an SOS that arrived then waited for it. Frozen, they
    are left out of every later collection; objects made afterwards are collected as
    before.
    """
    gc.collect()
    gc.freeze()
