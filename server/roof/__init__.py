"""The roof of the server: the Starlette app, the Celery app, `mechmooc serve`, the CLI and the wiring that assemble every package."""
