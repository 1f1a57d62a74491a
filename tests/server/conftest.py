"""Fixtures of the server tests."""

from tests.support.wakes import sent  # noqa: F401  (fixture)
