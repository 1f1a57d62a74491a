"""Notes addressed to local people (units from runs elsewhere, replies) are kept as their posts."""

from __future__ import annotations

from federation.cohorts import addressed, group_for
from federation.handlers import Inbound, activity_type, handles
from federation.posting import local_people, receive_personal


@handles("Create")
def note_to_person(inbound: Inbound) -> str | None:
    """Store a Note addressed to a local person (not to a study group: group_posts handles those)."""
    if activity_type(inbound.object) not in {"Note", "Article", "Page"}:
        return None
    recipients = addressed(inbound.activity, inbound.recipient)
    if group_for(inbound.session, recipients) is not None:
        return None
    people = local_people(inbound.session, recipients)
    if not people:
        return None
    post = receive_personal(inbound.session, inbound.activity, inbound.actor)
    return f"post {post.id} for {', '.join(people)}" if post else "already stored"
