"""Imports every module that defines tables, so Base.metadata is complete (Alembic, tests)."""

import importlib

MODEL_MODULES = (
    "server.floor.accounts",
    "server.floor.instance",
    "server.floor.events",
    "server.floor.heartbeat",
    "server.floor.ratelimit",
    "web.models",
    "web.api.models",
    "community.models",
    "community.moderation_models",
    "courses.models",
    "courses.facilitators",
    "mail.models",
    "federation.models",
)


def load_all() -> None:
    """Import each table-defining module of every package."""
    for name in MODEL_MODULES:
        importlib.import_module(name)
