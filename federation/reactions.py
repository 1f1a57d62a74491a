"""Event handlers and background jobs of the federation package."""


def register() -> None:
    """Subscribe this package's handlers and declare its jobs."""
    # The inbox and delivery jobs are declared (@job) when their modules are imported.
    from federation import delivery, handlers, inbox  # noqa: F401

    handlers.load()
    from federation import flows

    flows.register()
