"""HTTP endpoints of the mail package (machine-facing)."""

from starlette.routing import BaseRoute


def routes() -> list[BaseRoute]:
    """The routes this package serves."""
    return []
