"""Event handlers and background jobs of the federation package."""


def register() -> None:
    """Subscribe this package's handlers and declare its jobs."""
