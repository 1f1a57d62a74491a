"""The people a status mentions, found before the status is written: local ones by handle, remote
ones (`@user@host`) through federation's WebFinger look-up, with no transaction open. A mention
nobody answers for stays plain text, as on Mastodon."""

from __future__ import annotations

from sqlalchemy.orm import Session

from community import people, text
from community.models import Profile
from server.floor.errors import Invalid, NotFound
from web.social.remote import resolve
from web.social.viewer import local_profile_id

MAX_MENTIONS = 20  # more than this many are left unresolved
MAX_REMOTE_LOOKUPS = 5  # each may wait on another server: a post never waits on more than these


def mention_ids(status_text: str) -> dict[str, int]:
    """acct -> profile id of the people `status_text` mentions (those that could be found)."""
    found: dict[str, int] = {}
    remote_lookups = 0
    for acct in text.render(status_text).mentions[:MAX_MENTIONS]:
        try:
            username, host = people.split_acct(acct)
        except Invalid:
            continue
        try:
            if host is None:
                found[acct] = local_profile_id(username)
            elif remote_lookups < MAX_REMOTE_LOOKUPS:
                remote_lookups += 1
                found[acct] = resolve(f"{username}@{host}")
        except (NotFound, Invalid):
            continue
    return found


def profiles(session: Session, ids: dict[str, int]) -> dict[str, Profile]:
    """The found profiles in `session` (for `statuses.post(resolved_mentions=...)`)."""
    loaded = {acct: session.get(Profile, profile_id) for acct, profile_id in ids.items()}
    return {acct: profile for acct, profile in loaded.items() if profile is not None}
