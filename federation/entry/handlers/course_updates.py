"""Upstream notices: an `Update` of a course we forked from, at a newer version, is recorded."""

from __future__ import annotations

from federation.entry.handlers import Inbound, handles
from federation.flows.forks import note_upstream_version


@handles("Update")
def update_upstream(inbound: Inbound) -> str | None:
    """Note the origin's new version on every local fork of it (pulled only when someone asks)."""
    heard = note_upstream_version(inbound.session, inbound.activity)
    return f"upstream version noted on {heard} fork(s)" if heard else None
