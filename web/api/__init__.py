"""The Mastodon client API (issue 14): OAuth 2, REST v1/v2 and streaming, for Mastodon apps.

`routes()` gathers every module's routes; the web shell mounts them before its pages.
"""

from __future__ import annotations

import importlib

from starlette.routing import BaseRoute

API_MODULES = (
    "web.api.oauth",
    "web.api.apps",
    "web.api.instance",
    "web.api.accounts",
    "web.api.relations",
    "web.api.statuses",
    "web.api.status_actions",
    "web.api.timelines",
    "web.api.notifications",
    "web.api.media",
    "web.api.search",
    "web.api.conversations",
    "web.api.misc",
    "web.api.streaming",
    "web.api.settings_page",
)


def routes() -> list[BaseRoute]:
    """Every route of the client API (each module's `routes()`, in order)."""
    collected: list[BaseRoute] = []
    for name in API_MODULES:
        collected.extend(importlib.import_module(name).routes())
    return collected
