"""ForgeFed fork notices: a `Create` of a course whose origin (or lineage) is ours lists it in `forks`."""

from __future__ import annotations

from federation.entry.handlers import Inbound, handles
from federation.flows.forks import note_fork


@handles("Create")
def create_fork(inbound: Inbound) -> str | None:
    """Record the announced fork in the `forks` collection of each local ancestor it names."""
    obj = inbound.object
    if not isinstance(obj, dict) or not obj.get("origin"):
        return None
    return f"fork {obj.get('id')} listed" if note_fork(inbound.session, inbound.activity) else None
