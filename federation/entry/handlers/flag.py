"""Flag: a report from another server's moderators or users, queued for our moderators.

About one of our people or their statuses: a community report (`federation.flows.reports.bridge_flag`,
the queue at /admin/reports). About anything else of ours (a course, a run, a group): a federation
`Report`, in the admin's queue at /admin/moderation.
"""

from __future__ import annotations

from sqlalchemy import select

from federation.entry.handlers import Inbound, handles, object_id
from federation.flows.reports import bridge_flag
from federation.models import Report
from federation.protocol.sanitize import sanitize_text
from federation.transport.keys import is_local


@handles("Flag")
def flag(inbound: Inbound) -> str | None:
    """Store a Report when the Flag names at least one local actor or object."""
    objects = inbound.object if isinstance(inbound.object, list) else [inbound.object]
    targets = [ref for ref in (object_id(o) for o in objects) if ref]
    if not any(is_local(ref) for ref in targets):
        return None
    session = inbound.session
    if session.scalar(select(Report.id).where(Report.activity_id == inbound.activity_id)) is not None:
        return "already reported"
    # Mastodon, GoToSocial and Mbin say why in `content`, Lemmy in `summary`.
    content = inbound.activity.get("content") or inbound.activity.get("summary")
    text = sanitize_text(content if isinstance(content, str) else "")
    bridged = bridge_flag(session, inbound.activity_id, inbound.actor, [r for r in targets if is_local(r)], text)
    if isinstance(bridged, str):
        return bridged
    if bridged is not None:
        return f"report {bridged.id} about @{bridged.target_id} queued for the moderators"
    session.add(
        Report(
            activity_id=inbound.activity_id,
            reporter=inbound.actor,
            targets=targets,
            content=text,
        )
    )
    return f"report about {len(targets)} object(s) queued for the admins"
