"""The roof connects the packages: event handlers and jobs are registered here, once per process."""

from __future__ import annotations

import importlib

# Each module has a `register()` that subscribes its handlers and declares its jobs.
REACTION_MODULES = (
    "courses.reactions",
    "mail.reactions",
    "federation.reactions",
    "web.api.reactions",
    "community.reactions",
)
_connected: list[bool] = []


def connect() -> None:
    """Register every package's event handlers and background jobs (idempotent)."""
    if _connected:
        return
    for name in REACTION_MODULES:
        module = importlib.import_module(name)
        module.register()
    _connected.append(True)
