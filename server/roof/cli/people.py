"""`mechmooc people ...`: a local person's acts from the command line (post, follow, boost, like,
edit, delete), and remote people looked up. Remote accounts and statuses are looked up (network)
before the transaction that writes; the community services do the rest, and federation sends
what they publish. Statuses are named by id, by ActivityPub id or by URL."""

from __future__ import annotations

from typing import Any

import click

from server.roof.cli.base import emit, instance, json_option

people_group = click.Group(
    name="people", help="People: post, follow, boost, like, edit, delete; look up remote people."
)


def _me(session: Any, handle: str) -> Any:
    from sqlalchemy import select

    from community.people import local_profile
    from server.floor.accounts import Account
    from server.floor.errors import NotFound

    account = session.scalar(select(Account).where(Account.handle == handle.lstrip("@").lower()))
    if account is None:
        raise NotFound(f"no local person with handle {handle!r}")
    return local_profile(session, account)


def _status(session: Any, ref: str) -> Any:
    from sqlalchemy import or_, select

    from community.models import Status
    from server.floor.errors import NotFound

    query = select(Status).where(or_(Status.ap_id == ref, Status.url == ref))
    if ref.isdigit() and len(ref) < 20:
        query = select(Status).where(or_(Status.id == int(ref), Status.ap_id == ref))
    found = session.scalars(query.limit(1)).first()
    if found is None:
        raise NotFound(f"no status {ref!r} here")
    return found


def _resolved(acct_or_url: str) -> int:
    from federation.flows.people import resolve

    return resolve(acct_or_url).id


@people_group.command("resolve")
@click.argument("acct_or_url")
@click.option("--posts", is_flag=True, help="Fetch their recent public posts too.")
def resolve_command(acct_or_url: str, posts: bool) -> None:
    """Look up a remote person (WebFinger, then their actor); prints their actor id."""
    instance()
    from community.models import Profile
    from federation.flows.people import recent_posts
    from server.floor.db import session_scope

    profile_id = _resolved(acct_or_url)
    if posts:
        recent_posts(profile_id)
    with session_scope() as session:
        profile = session.get(Profile, profile_id)
        click.echo(profile.uri if profile else "")


@people_group.command("post")
@click.argument("handle")
@click.argument("text")
@click.option("--visibility", type=click.Choice(["public", "unlisted", "private", "direct"]), default="public")
@click.option("--spoiler", default="", help="A content warning.")
@click.option("--language", default=None)
@click.option("--reply-to", "reply_to", default=None, help="The status this answers (id, ActivityPub id or URL).")
def post_command(
    handle: str, text: str, visibility: str, spoiler: str, language: str | None, reply_to: str | None
) -> None:
    """Local person HANDLE posts TEXT (@user@host mentions are looked up first); prints its id."""
    instance()
    from community import statuses
    from community.text import render
    from federation.flows.people import profiles_for, resolve_accts
    from server.floor.db import write_scope

    resolved = resolve_accts(render(text).mentions)
    with write_scope() as session:
        parent = _status(session, reply_to).id if reply_to else None
        status = statuses.post(
            session, _me(session, handle), text, visibility=visibility, spoiler_text=spoiler, language=language,
            in_reply_to_id=parent, resolved_mentions=profiles_for(session, resolved),
        )  # fmt: skip
        click.echo(status.ap_id)


@people_group.command("edit")
@click.argument("handle")
@click.argument("ref")
@click.argument("text")
def edit_command(handle: str, ref: str, text: str) -> None:
    """HANDLE edits their status REF to TEXT."""
    instance()
    from community import statuses
    from server.floor.db import write_scope
    from server.floor.errors import PermissionDenied

    with write_scope() as session:
        me, status = _me(session, handle), _status(session, ref)
        if status.profile_id != me.id:
            raise PermissionDenied(f"status {ref} is not {handle}'s")
        statuses.edit(session, status, text=text)
        click.echo(status.ap_id)


@people_group.command("delete")
@click.argument("handle")
@click.argument("ref")
def delete_command(handle: str, ref: str) -> None:
    """HANDLE deletes their status REF."""
    instance()
    from community import statuses
    from server.floor.db import write_scope
    from server.floor.errors import PermissionDenied

    with write_scope() as session:
        me, status = _me(session, handle), _status(session, ref)
        if status.profile_id != me.id:
            raise PermissionDenied(f"status {ref} is not {handle}'s")
        statuses.delete(session, status)
        click.echo(status.ap_id)


def _act(handle: str, ref: str, act: str) -> None:
    from community import statuses
    from server.floor.db import write_scope

    with write_scope() as session:
        me, status = _me(session, handle), _status(session, ref)
        getattr(statuses, act)(session, me, status)
        click.echo(status.ap_id)


@people_group.command("boost")
@click.argument("handle")
@click.argument("ref")
@click.option("--undo", is_flag=True)
def boost_command(handle: str, ref: str, undo: bool) -> None:
    """HANDLE boosts status REF (or takes the boost back)."""
    instance()
    _act(handle, ref, "unreblog" if undo else "reblog")


@people_group.command("like")
@click.argument("handle")
@click.argument("ref")
@click.option("--undo", is_flag=True)
def like_command(handle: str, ref: str, undo: bool) -> None:
    """HANDLE favourites status REF (or takes it back)."""
    instance()
    _act(handle, ref, "unfavourite" if undo else "favourite")


@people_group.command("follow")
@click.argument("handle")
@click.argument("acct_or_url")
@click.option("--undo", is_flag=True)
def follow_command(handle: str, acct_or_url: str, undo: bool) -> None:
    """HANDLE follows a person (user, user@host or actor URL), or stops; prints their actor id."""
    instance()
    from community import graph
    from community.models import Profile
    from community.people import find_by_acct
    from server.floor.db import session_scope, write_scope
    from server.floor.errors import NotFound

    with session_scope() as session:
        known = find_by_acct(session, acct_or_url) if not acct_or_url.startswith("http") else None
        known_id = known.id if known is not None and known.domain is None else None
    target_id = known_id or _resolved(acct_or_url)
    with write_scope() as session:
        me, target = _me(session, handle), session.get(Profile, target_id)
        if target is None:
            raise NotFound(f"no account {acct_or_url!r}")
        if undo:
            graph.unfollow(session, me, target)
        else:
            graph.follow(session, me, target)
        click.echo(target.uri)


@people_group.command("alias")
@click.argument("handle")
@click.argument("acct_or_url")
def alias_command(handle: str, acct_or_url: str) -> None:
    """HANDLE names another account of theirs (alsoKnownAs), before that account moves here."""
    instance()
    from federation.flows.people import add_alias
    from server.floor.db import session_scope

    with session_scope() as session:
        profile_id = _me(session, handle).id
    click.echo("\n".join(add_alias(profile_id, acct_or_url).also_known_as))


@people_group.command("move")
@click.argument("handle")
@click.argument("acct_or_url")
def move_command(handle: str, acct_or_url: str) -> None:
    """HANDLE moves to another account (which names HANDLE among its aliases); their followers are told."""
    instance()
    from federation.flows.people import move
    from server.floor.db import session_scope

    with session_scope() as session:
        profile_id = _me(session, handle).id
    move(profile_id, acct_or_url)
    click.echo(acct_or_url)


@people_group.command("context")
@click.argument("ref")
@json_option
def context_command(ref: str, as_json: bool) -> None:
    """The thread around status REF, as its author sees it: ancestors and descendants (ids, texts)."""
    instance()
    from community import statuses
    from community.models import Profile
    from server.floor.db import session_scope

    with session_scope() as session:
        status = _status(session, ref)
        viewer = session.get(Profile, status.profile_id)
        ancestors, descendants = statuses.context(session, status, viewer)
        data = {
            "ancestors": [{"id": s.ap_id, "text": s.text} for s in ancestors],
            "descendants": [{"id": s.ap_id, "text": s.text} for s in descendants],
        }
    emit(data, as_json, lambda d: "\n".join(f"{s['id']} {s['text']}" for s in d["ancestors"] + d["descendants"]))


commands = [people_group]
