"""Which databases and brokers the suite runs on, and the CI rule: required in CI, skipped on a laptop."""

from __future__ import annotations

import os
import socket

import pytest

PG_URL = os.environ.get("MECHMOOC_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("MECHMOOC_TEST_REDIS", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Fail in CI, skip with a clear message elsewhere, when a service is not reachable."""
    if _reachable(host, port):
        return
    message = f"{name} is not reachable at {host}:{port}"
    if IN_CI:
        pytest.fail(f"{message}; CI=true requires it (start it as the machine notes say)", pytrace=False)
    pytest.skip(f"{message}: this leg runs in CI (CI=true) or when {name} runs locally")


def require_postgres() -> None:
    """The PostgreSQL leg needs the server on 127.0.0.1:5432."""
    require_service("PostgreSQL", "127.0.0.1", 5432)


def require_redis() -> None:
    """The Redis/Celery leg needs the server on 127.0.0.1:6379."""
    require_service("Redis", "127.0.0.1", 6379)
