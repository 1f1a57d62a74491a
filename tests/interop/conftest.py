"""Interop tests start real processes; `instance_factory` comes from tests/support/instances.py."""

from tests.support.instances import instance_factory  # noqa: F401 - a fixture made available here
