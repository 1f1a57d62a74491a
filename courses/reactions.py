"""Event handlers and background jobs of the courses package."""


def register() -> None:
    """Subscribe this package's handlers and declare its jobs."""
