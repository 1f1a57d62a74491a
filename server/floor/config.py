"""Access to the process's one Settings object, read once."""

from __future__ import annotations

from functools import lru_cache

from server.floor.settings import Settings, load_settings

_override: list[Settings] = []


@lru_cache(maxsize=1)
def _loaded() -> Settings:
    return load_settings()


def get_settings() -> Settings:
    """The settings in force: those installed with `use_settings`, else read from the environment."""
    return _override[-1] if _override else _loaded()


def use_settings(settings: Settings) -> None:
    """Install `settings` for this process (the CLI and `serve` call it once at start)."""
    _override.clear()
    _override.append(settings)
