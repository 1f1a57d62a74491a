"""FEP-1b12: a member's post addressed to one of our study groups is stored and announced."""

from __future__ import annotations

from courses.closing import is_closed_by_organizer
from federation.entry.handlers import Inbound, activity_type, handles
from federation.flows.cohorts import addressed, group_for, receive_group_post


@handles("Create")
def post_to_group(inbound: Inbound) -> str | None:
    """Store a Note addressed to a local study group and have the group Announce it to members."""
    if activity_type(inbound.object) not in {"Note", "Article", "Page"}:
        return None
    group = group_for(inbound.session, addressed(inbound.activity, inbound.recipient))
    if group is None:
        return None
    if is_closed_by_organizer(group):
        return f"group {group.handle} is closed: not posted"
    post = receive_group_post(inbound.session, inbound.activity, group, inbound.actor)
    return f"post {post.id} in group {group.handle}" if post else f"not a member of {group.handle}: not posted"
