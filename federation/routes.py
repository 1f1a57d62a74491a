"""HTTP endpoints of the federation package (machine-facing)."""

from starlette.routing import BaseRoute


def routes() -> list[BaseRoute]:
    """The routes this package serves."""
    return []
