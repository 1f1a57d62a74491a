"""Profiles: a local person's (made on first use from their account), a remote actor's (kept as
federation fetched it), and the local course, run and study group actors'.

Counts on profiles (`followers_count`, `following_count`, `statuses_count`) change only through
`bump`, one atomic UPDATE each, so concurrent follows and posts never lose an increment.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from community.models import Preferences, Profile
from server.floor import urls
from server.floor.accounts import Account
from server.floor.clock import now
from server.floor.config import get_settings
from server.floor.errors import Invalid
from server.floor.untrusted import check_http_url, http_url

MAX_FIELDS = 4
MAX_FIELD_NAME = 255
MAX_FIELD_VALUE = 2000
MAX_NOTE = 20_000  # HTML of a remote bio; a longer one is dropped rather than cut mid-tag
MAX_DISPLAY_NAME = 200
MAX_USERNAME = 200
MAX_DOMAIN = 255
ACTOR_KINDS = ("course", "run", "group", "service", "instance")


def profile_url(username: str) -> str:
    """The HTML page of a local profile (`/@handle`)."""
    return urls.absolute(f"/@{username}")


def local_profile(session: Session, account: Account) -> Profile:
    """The profile of a local `account`, made (with its Preferences) the first time it is asked for."""
    profile = session.scalar(select(Profile).where(Profile.account_id == account.id))
    if profile is not None:
        return profile
    profile = Profile(
        account_id=account.id,
        uri=urls.person(account.handle),
        url=profile_url(account.handle),
        username=account.handle,
        domain=None,
        kind="person",
        display_name=(account.display_name or "")[:MAX_DISPLAY_NAME],
        created_at=now(),
    )
    try:
        with session.begin_nested():
            session.add(profile)
            session.flush()
            session.add(Preferences(profile_id=profile.id))
            session.flush()
    except IntegrityError:  # made at the same moment by another request
        existing = session.scalar(select(Profile).where(Profile.account_id == account.id))
        if existing is None:
            raise Invalid(f"handle {account.handle!r} is taken by another profile") from None
        return existing
    return profile


def profile_of_account(session: Session, account_id: int) -> Profile | None:
    """The profile of a local account if it has one (none is made)."""
    return session.scalar(select(Profile).where(Profile.account_id == account_id))


def preferences(session: Session, profile: Profile) -> Preferences:
    """A local profile's preferences (made with defaults when missing)."""
    prefs = session.get(Preferences, profile.id)
    if prefs is None:
        prefs = Preferences(profile_id=profile.id)
        session.add(prefs)
        session.flush()
    return prefs


def split_acct(acct: str) -> tuple[str, str | None]:
    """`user`, `@user`, `user@host`, `@user@host` as (username, host or None for ours)."""
    value = acct.strip()
    if value.startswith("@"):
        value = value[1:]
    username, _, host = value.partition("@")
    if not username or "@" in host or len(username) > MAX_USERNAME or len(host) > MAX_DOMAIN:
        raise Invalid(f"account {acct[:100]!r} must be user or user@host")
    host = host.lower()
    if host and host == get_settings().host.lower():
        host = ""
    return username, host or None


def find_by_acct(session: Session, acct: str) -> Profile | None:
    """The profile `user` (ours) or `user@host` (remote, if known here), case-insensitively; None otherwise."""
    try:
        username, host = split_acct(acct)
    except Invalid:
        return None
    domain_match = Profile.domain.is_(None) if host is None else func.lower(Profile.domain) == host
    query = select(Profile).where(func.lower(Profile.username) == username.lower(), domain_match)
    return session.scalars(query.order_by(Profile.id).limit(1)).first()


def find_by_uri(session: Session, uri: str) -> Profile | None:
    """The profile whose ActivityPub id is `uri`."""
    return session.scalar(select(Profile).where(Profile.uri == uri))


def _clean_fields(fields: object) -> list[dict[str, Any]]:
    """At most MAX_FIELDS {name, value} pairs of strings (value is HTML the caller sanitized)."""
    if not isinstance(fields, list | tuple):
        return []
    cleaned: list[dict[str, Any]] = []
    for item in fields:
        if len(cleaned) >= MAX_FIELDS:
            break
        if not isinstance(item, Mapping):
            continue
        name, value = item.get("name"), item.get("value")
        if not isinstance(name, str) or not isinstance(value, str) or not name.strip():
            continue
        if len(value) > MAX_FIELD_VALUE:
            continue
        entry: dict[str, Any] = {"name": name[:MAX_FIELD_NAME], "value": value}
        if isinstance(item.get("verified_at"), str):
            entry["verified_at"] = item["verified_at"][:40]
        cleaned.append(entry)
    return cleaned


def _clean_aliases(values: object) -> list[str]:
    if not isinstance(values, list | tuple):
        return []
    return [url for url in (http_url(value) for value in values[:20]) if url]


def upsert_remote(
    session: Session,
    *,
    uri: str,
    username: str,
    domain: str,
    display_name: str = "",
    note: str = "",
    url: str | None = None,
    avatar_url: str | None = None,
    avatar_description: str = "",
    header_url: str | None = None,
    header_description: str = "",
    fields: object = (),
    locked: bool = False,
    bot: bool = False,
    group: bool = False,
    discoverable: bool = True,
    indexable: bool = False,
    inbox_url: str | None = None,
    shared_inbox_url: str | None = None,
    followers_url: str | None = None,
    also_known_as: object = (),
    kind: str = "person",
) -> Profile:
    """The profile of the remote actor `uri` made or refreshed from what federation fetched.

    `note` and field values are HTML already sanitized by the caller. Every value is checked:
    `uri` must be an http(s) URL on `domain`; other URLs that are not http(s) are dropped, a
    display name is cut to 200 characters, a bio longer than 20,000 characters is dropped, at
    most 4 fields are kept. A remote actor may not take a local profile's place."""
    uri = check_http_url(uri, "uri")
    domain = (domain or "").strip().lower()
    if not domain or len(domain) > MAX_DOMAIN or domain == get_settings().host.lower():
        raise Invalid(f"domain {domain[:100]!r} must be another server's host")
    if not username or len(username) > MAX_USERNAME or any(c in username for c in "@/ \t\r\n"):
        raise Invalid(f"username {username[:100]!r} must be 1-200 characters without @, / or spaces")
    if kind not in ("person", "service", "group", "instance"):
        kind = "person"
    profile = find_by_uri(session, uri)
    if profile is None:
        profile = session.scalar(select(Profile).where(Profile.username == username, Profile.domain == domain))
    if profile is None:
        profile = Profile(uri=uri, username=username, domain=domain, created_at=now())
        session.add(profile)
    elif profile.domain is None:
        raise Invalid(f"uri {uri[:100]!r} names a local profile")
    profile.uri, profile.username, profile.domain, profile.kind = uri, username, domain, kind
    profile.display_name = (display_name or "")[:MAX_DISPLAY_NAME]
    profile.note = note if isinstance(note, str) and len(note) <= MAX_NOTE else ""
    profile.url = http_url(url)
    profile.avatar_url, profile.header_url = http_url(avatar_url), http_url(header_url)
    profile.avatar_description = (avatar_description or "")[:1500]
    profile.header_description = (header_description or "")[:1500]
    profile.fields = _clean_fields(fields)
    profile.locked, profile.bot, profile.group = bool(locked), bool(bot), bool(group)
    profile.discoverable, profile.indexable = bool(discoverable), bool(indexable)
    profile.inbox_url, profile.shared_inbox_url = http_url(inbox_url), http_url(shared_inbox_url)
    profile.followers_url = http_url(followers_url)
    profile.also_known_as = _clean_aliases(also_known_as)
    profile.fetched_at = now()
    session.flush()
    return profile


def actor_profile(
    session: Session,
    *,
    uri: str,
    kind: str,
    username: str,
    display_name: str = "",
    note: str = "",
    url: str | None = None,
) -> Profile:
    """The profile of a local course, run or study group actor (made or refreshed): a course is a
    bot, a run and a group are groups (Mastodon's `bot` and `group` flags)."""
    if kind not in ACTOR_KINDS:
        raise Invalid(f"kind {kind!r} must be one of {', '.join(ACTOR_KINDS)}")
    profile = find_by_uri(session, uri)
    if profile is None:
        profile = Profile(uri=uri, username=username, domain=None, created_at=now())
        session.add(profile)
    elif profile.domain is not None or profile.account_id is not None:
        raise Invalid(f"uri {uri[:100]!r} belongs to another kind of profile")
    profile.kind, profile.username = kind, username
    profile.display_name = display_name[:MAX_DISPLAY_NAME]
    profile.note = note
    profile.url = url or uri
    profile.bot = kind == "course"
    profile.group = kind in ("run", "group")
    session.flush()
    return profile


def bump(session: Session, profile_id: int | None, **deltas: int) -> None:
    """Add `deltas` to a profile's counts in one atomic UPDATE (never below zero)."""
    if profile_id is None or not deltas:
        return
    values = {
        name: func.max(getattr(Profile, name) + delta, 0)
        if session.get_bind().dialect.name == "sqlite"
        else func.greatest(getattr(Profile, name) + delta, 0)
        for name, delta in deltas.items()
    }
    session.execute(
        update(Profile).where(Profile.id == profile_id).values(**values).execution_options(synchronize_session=False)
    )
    cached = session.identity_map.get(identity_key(Profile, profile_id))
    if cached is not None:
        session.expire(cached, list(deltas))


def by_ids(session: Session, ids: Iterable[int | None]) -> dict[int, Profile]:
    """Profiles by id (for a page of statuses or notifications: one query)."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {p.id: p for p in session.scalars(select(Profile).where(Profile.id.in_(wanted)))}


def visible(profile: Profile | None) -> bool:
    """A profile whose statuses may be shown: not suspended, not deleted."""
    return profile is not None and profile.suspended_at is None and profile.deleted_at is None
