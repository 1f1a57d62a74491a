"""Remote people: found by `@user@host` or URL, kept as community profiles, refreshed, read.

The network functions (`resolve`, `resolve_accts`, `refresh`, `recent_posts`) take no session:
call them with no transaction open (the web and API layers do, before their write transaction),
then read the profiles with `profile_by_uri` or `profiles_for` inside it. They fetch through
`federation.transport.fetch` (WebFinger, then the signed GET of the actor, cached in
`RemoteActor`) and store the profile in their own short write transaction.

`profile_from_cache(session, actor_id)` is the no-network form the inbox handlers use: the worker
fetched the actor before their transaction (`@needs`), so the cached document becomes (or
refreshes) the profile. The mapping is Mastodon's `ActivityPub::ProcessAccountService`
(`app/services/activitypub/process_account_service.rb`): `#set_immediate_attributes!` (name,
summary as sanitized HTML, manuallyApprovesFollowers as locked, discoverable, indexable, the
`PropertyValue` attachments as fields, alsoKnownAs, inbox, sharedInbox, followers) and
`#set_fetchable_attributes!` (icon as avatar, image as header); the type makes a bot (`Service`,
`Application`) or a group (`Group`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from community import people as community_people
from community import statuses as community_statuses
from community.models import Profile, Status
from federation.flows.actors import local_actor
from federation.models import RemoteActor
from federation.protocol.sanitize import sanitize_html, sanitize_text
from federation.protocol.statuses import ReadNote, listed, read_note, ref
from federation.transport import fetch
from federation.transport.keys import instance_signing_key, is_local
from server.floor.clock import now
from server.floor.db import session_scope, write_scope
from server.floor.errors import Invalid, MechMoocError
from server.floor.events import publish

PROFILE_MAX_AGE = timedelta(days=1)
RECENT_POSTS = 20
KINDS = {"Person": "person", "Service": "service", "Application": "service", "Group": "group", "Organization": "person"}


def _url(value: Any) -> str | None:
    found = ref(listed(value)[0]) if listed(value) else None
    return found if isinstance(found, str) and found.startswith(("https://", "http://")) else None


def _image(value: Any) -> tuple[str | None, str]:
    image = listed(value)[0] if listed(value) else None
    if isinstance(image, dict):
        name = image.get("name")
        return _url(image.get("url")), sanitize_text(name)[:1500] if isinstance(name, str) else ""
    return _url(image), ""


def profile_fields(document: dict[str, Any]) -> dict[str, Any]:
    """The `upsert_remote` arguments for an actor document (ProcessAccountService's reading)."""
    actor_id = document.get("id")
    if not isinstance(actor_id, str):
        raise Invalid("id: the actor document has no id")
    parts = urlsplit(actor_id)
    username = document.get("preferredUsername")
    if not isinstance(username, str) or not username.strip():
        username = parts.path.rstrip("/").rsplit("/", 1)[-1] or parts.netloc
    raw_endpoints = document.get("endpoints")
    endpoints: dict[str, Any] = raw_endpoints if isinstance(raw_endpoints, dict) else {}
    kind = str(document.get("type") or "Person")
    avatar, avatar_alt = _image(document.get("icon"))
    header, header_alt = _image(document.get("image"))
    fields = [
        {"name": sanitize_text(item["name"])[:255], "value": sanitize_html(item["value"])[:2000]}
        for item in listed(document.get("attachment"))[:16]
        if isinstance(item, dict) and item.get("type") == "PropertyValue"
        and isinstance(item.get("name"), str) and isinstance(item.get("value"), str)
    ]  # fmt: skip
    name, summary = document.get("name"), document.get("summary")
    return {
        "uri": actor_id,
        "username": username.strip()[:200].replace("@", "").replace("/", "").replace(" ", "") or parts.netloc,
        "domain": parts.netloc.lower(),
        "display_name": sanitize_text(name)[:200] if isinstance(name, str) else "",
        "note": sanitize_html(summary)[:20_000] if isinstance(summary, str) else "",
        "url": _url(document.get("url")),
        "avatar_url": avatar,
        "avatar_description": avatar_alt,
        "header_url": header,
        "header_description": header_alt,
        "fields": fields[:4],
        "locked": document.get("manuallyApprovesFollowers") is True,
        "bot": kind in {"Service", "Application"},
        "group": kind == "Group",
        "discoverable": document.get("discoverable") is True,
        "indexable": document.get("indexable") is True,
        "inbox_url": document.get("inbox") if isinstance(document.get("inbox"), str) else None,
        "shared_inbox_url": endpoints.get("sharedInbox") if isinstance(endpoints.get("sharedInbox"), str) else None,
        "followers_url": document.get("followers") if isinstance(document.get("followers"), str) else None,
        "also_known_as": [a for a in listed(document.get("alsoKnownAs"))[:20] if isinstance(a, str)],
        "kind": KINDS.get(kind, "person"),
    }


def upsert_document(session: Session, document: dict[str, Any]) -> Profile:
    """Make or refresh the community profile of a fetched actor document (no network)."""
    profile = community_people.upsert_remote(session, **profile_fields(document))
    moved = document.get("movedTo")
    if isinstance(moved, str):
        target = community_people.find_by_uri(session, moved)
        profile.moved_to_id = target.id if target is not None and target.id != profile.id else profile.moved_to_id
    return profile


def profile_from_cache(session: Session, actor_id: str) -> Profile:
    """The profile of a remote actor the worker fetched before the transaction (NotCached if not)."""
    if is_local(actor_id):
        raise Invalid(f"{actor_id} is on this instance, not a remote actor")
    profile = community_people.find_by_uri(session, actor_id)
    cached = fetch.cached_actor(session, actor_id)
    if profile is None or profile.fetched_at is None or profile.fetched_at < cached.fetched_at:
        profile = upsert_document(session, dict(cached.document))
    return profile


def known_profile(session: Session, actor_id: str) -> Profile | None:
    """The profile of `actor_id` when we know it (as a profile, or in the actor cache); no network."""
    profile = community_people.find_by_uri(session, actor_id)
    if profile is None and is_local(actor_id) and "/@" in actor_id:
        # A local person named by their page (/@handle), as some servers write a Mention's href.
        username = actor_id.rsplit("/@", 1)[1]
        found = community_people.find_by_acct(session, username) if username and "/" not in username else None
        return found if found is not None and found.domain is None else None
    if profile is not None or is_local(actor_id):
        return profile
    try:
        return profile_from_cache(session, actor_id)
    except (fetch.NotCached, Invalid):
        return None


def resolve(id_or_handle: str, refresh: bool = False) -> Profile:
    """Network, with no transaction open: the profile of the remote person named by `@user@host`
    or actor URL (WebFinger, then the actor document), made or refreshed here. The profile is
    detached (its session closed): read its columns, or `session.get(Profile, profile.id)` later."""
    value = id_or_handle.strip()
    if not value.startswith(("http://", "https://")):
        user, host = fetch.parse_handle(value)
        with session_scope() as session:
            known = community_people.find_by_acct(session, f"{user}@{host}")
            if known is not None and (known.domain is None or (not refresh and _fresh(known))):
                return known
    else:
        with session_scope() as session:
            known = community_people.find_by_uri(session, value)
            if known is not None and (known.domain is None or (not refresh and _fresh(known))):
                return known
    document = fetch.fetch_actor(value, refresh=refresh)
    with write_scope() as session:
        return upsert_document(session, document)


def _fresh(profile: Profile) -> bool:
    return profile.fetched_at is not None and now() - profile.fetched_at < PROFILE_MAX_AGE


def refresh(profile_id: int) -> Profile | None:
    """Network: fetch a remote profile again when it is older than a day (cached otherwise)."""
    with session_scope() as session:
        profile = session.get(Profile, profile_id)
        if profile is None or profile.domain is None or _fresh(profile):
            return profile
        uri = profile.uri
    return resolve(uri, refresh=True)


def resolve_accts(accts: Iterable[str]) -> dict[str, int]:
    """Network: `{acct: profile id}` for the remote `user@host` mentions of a text (the ones that
    could be found; local ones are left to the community layer). For `statuses.post`'s
    `resolved_mentions`, read back inside the write transaction with `profiles_for`."""
    found: dict[str, int] = {}
    for acct in list(dict.fromkeys(accts))[:50]:
        if "@" not in acct.strip("@"):
            continue
        try:
            found[acct] = resolve(acct).id
        except (MechMoocError, ValueError):
            continue
    return found


def profiles_for(session: Session, resolved: dict[str, int]) -> dict[str, Profile]:
    """`resolve_accts`' answer as profiles of `session`."""
    return {acct: p for acct, pid in resolved.items() if (p := session.get(Profile, pid)) is not None}


def recent_posts(profile_id: int, limit: int = RECENT_POSTS) -> list[int]:
    """Network: a remote person's recent public posts from their outbox's first page (at most `limit`),
    kept here as statuses (someone asked for them: a profile page); the ids kept, newest first."""
    with session_scope() as session:
        profile = session.get(Profile, profile_id)
        if profile is None or profile.domain is None:
            return []
        cached = session.scalar(select(RemoteActor).where(RemoteActor.ap_id == profile.uri))
        outbox = cached.document.get("outbox") if cached is not None else None
        key = instance_signing_key(session)
    if not isinstance(outbox, str) or not fetch.same_origin(outbox, profile.uri):
        return []
    notes = _outbox_notes(outbox, key, profile.uri, limit)
    kept: list[int] = []
    with write_scope() as session:
        profile = session.get(Profile, profile_id)
        assert profile is not None
        for note in notes:
            status = store_note(session, profile, note, force=True)
            if status is not None:
                kept.append(status.id)
    return kept


def _outbox_notes(outbox: str, key: Any, author: str, limit: int) -> list[ReadNote]:
    try:
        collection = fetch.get_json(outbox, key)
        first = collection.get("first")
        page = (
            first if isinstance(first, dict) else fetch.get_json(first, key) if isinstance(first, str) else collection
        )
        if isinstance(first, str) and not fetch.same_origin(first, author):
            return []
    except fetch.FetchError:
        return []
    items = page.get("orderedItems") or page.get("items") or []
    notes: list[ReadNote] = []
    for item in listed(items)[: limit * 2]:
        inner = item.get("object") if isinstance(item, dict) and item.get("type") == "Create" else None
        try:
            note = read_note(inner)
        except Invalid:
            continue
        if note.author == author and fetch.same_origin(note.id, author) and note.visibility == "public":
            notes.append(note)
        if len(notes) == limit:
            break
    return notes


def _local_person(session: Session, uri: str) -> Profile | None:
    """The profile of the local person `uri` names, made on first use (a learner who has not posted yet)."""
    if not is_local(uri):
        return None
    actor = local_actor(session, uri)
    if actor is None or actor.kind != "person":
        return None
    return community_people.local_profile(session, actor.row)


def _instant(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        found = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return found if found.tzinfo else None


def store_note(
    session: Session, author: Profile, note: ReadNote, *, force: bool = False, group_id: int | None = None
) -> Status | None:
    """Keep a remote status (community's `receive`: stored only when it matters here, or `force`)."""
    parent = session.scalar(select(Status).where(Status.ap_id == note.in_reply_to)) if note.in_reply_to else None
    mentioned = [p for href in note.mentions if (p := known_profile(session, href) or _local_person(session, href))]
    # Addressed people of ours who are not tagged are silent mentions (Create#process_audience).
    mentioned += [p for uri in note.addressed if is_local(uri) and (p := _local_person(session, uri))]
    published = _instant(note.published)
    return community_statuses.receive(
        session,
        author,
        ap_id=note.id,
        html=note.html,
        text=note.text,
        url=note.url,
        visibility=note.visibility,
        spoiler_text=note.summary,
        sensitive=note.sensitive,
        language=note.language,
        in_reply_to=parent,
        in_reply_to_ref=note.in_reply_to,
        mentions=[p for p in mentioned if p.kind == "person"],
        tag_names=note.tags,
        published=published,
        media=[
            {
                "url": i.url,
                "content_type": i.media_type,
                "description": i.description,
                "width": i.width,
                "height": i.height,
                "blurhash": i.blurhash,
            }
            for i in note.images
        ],  # fmt: skip
        force=force,
        group_id=group_id,
    )


def add_alias(profile_id: int, acct_or_url: str) -> Profile:
    """Network first: a local person names another account of theirs (`alsoKnownAs`), as the
    account they move to must before a `Move` (Mastodon's aliases, `AccountAlias`)."""
    other = resolve(acct_or_url)
    with write_scope() as session:
        profile = session.get(Profile, profile_id)
        if profile is None or profile.domain is not None:
            raise Invalid(f"profile {profile_id}: only a local person sets aliases")
        if other.uri not in (profile.also_known_as or []):
            profile.also_known_as = [*(profile.also_known_as or []), other.uri][-20:]
        publish(session, "profile.updated", {"profile_id": profile.id})
        return profile


def move(profile_id: int, acct_or_url: str) -> Profile:
    """Network first: a local person moves to another account, which must name them in its
    `alsoKnownAs` (looked up afresh; Mastodon's `MoveService` asks the same). The profile points at
    the target and `profile.moved` is published: their followers are sent a `Move`."""
    target = resolve(acct_or_url, refresh=True)
    with write_scope() as session:
        profile = session.get(Profile, profile_id)
        fresh_target = session.get(Profile, target.id)
        if profile is None or profile.domain is not None or profile.kind != "person":
            raise Invalid(f"profile {profile_id}: only a local person moves")
        if fresh_target is None or fresh_target.id == profile.id:
            raise Invalid(f"target {acct_or_url!r} is not another account")
        if profile.uri not in (fresh_target.also_known_as or []):
            raise Invalid(f"target {fresh_target.acct} must first name {profile.uri} among its aliases (alsoKnownAs)")
        profile.moved_to_id = fresh_target.id
        publish(session, "profile.moved", {"profile_id": profile.id, "target_id": fresh_target.id})
        return profile
