"""Event handlers and background jobs of the mail package."""


def register() -> None:
    """Subscribe this package's handlers and declare its jobs."""
