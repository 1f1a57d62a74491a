"""`mechmooc course follow|fork|upstream|pull-upstream` and `mechmooc federation ...` (moderation, jobs)."""

from __future__ import annotations

import click

from server.roof.cli.base import emit, instance, json_option
from server.roof.cli.course import course_group


def _local_course(session, slug: str):  # type: ignore[no-untyped-def]
    from courses.runs import find_course

    return find_course(session, slug)


def _origin_of(slug: str) -> str:
    """The origin of the fork SLUG, read in a transaction of its own (closed before any fetch)."""
    from server.floor.db import session_scope
    from server.floor.errors import NotFound

    with session_scope() as session:
        origin = _local_course(session, slug).origin
    if not origin:
        raise NotFound(f"course {slug} is not a fork; it has no upstream")
    return str(origin)


@course_group.command("follow")
@click.argument("id_or_handle")
@click.option(
    "--as", "as_handle", default=None, help="Follow as this local person, course or run (default: the instance)."
)
def follow_command(id_or_handle: str, as_handle: str | None) -> None:
    """Follow a course on another instance (or any fediverse actor); prints the followed id."""
    instance()
    from federation.flows import actors, follows
    from server.floor import urls
    from server.floor.db import session_scope
    from server.floor.errors import NotFound

    with session_scope() as session:
        follower = urls.instance_actor()
        if as_handle:
            local = actors.by_handle(session, as_handle)
            if local is None:
                raise NotFound(f"--as {as_handle!r}: no person, course or run has that handle here")
            follower = local.id
    actor_id = follows.look_up(id_or_handle)  # the network with no transaction open
    with session_scope() as session:
        row = follows.follow(session, follower, actor_id)
        click.echo(f"{row.state}: {follower} follows {row.target}")
        target = row.target
    click.echo(target)


@course_group.command("fork")
@click.argument("id_or_handle")
@click.option("--slug", default=None, help="The fork's slug here (default: the origin's, made free).")
def fork_command(id_or_handle: str, slug: str | None) -> None:
    """Copy a course of another instance here, keeping its provenance; prints the new course's id."""
    instance()
    from federation.flows import forks
    from server.floor import urls
    from server.floor.db import session_scope

    document = forks.fetch_course(id_or_handle)  # the network with no transaction open
    with session_scope() as session:
        course = forks.fork(session, document, slug=slug)
        click.echo(f"forked {course.origin} as {course.slug} ({len(course.units)} units)")
        click.echo("lineage: " + " <- ".join([*reversed(course.lineage), urls.course(course.slug)]))
        new_id = urls.course(course.slug)
    click.echo(new_id)


@course_group.command("upstream")
@click.argument("slug")
def upstream_command(slug: str) -> None:
    """Show what the fork SLUG's origin changed since the fork last pulled (a unified diff)."""
    instance()
    from federation.flows import forks
    from server.floor.db import session_scope

    document = forks.fetch_course(_origin_of(slug))  # the network with no transaction open
    with session_scope() as session:
        diff = forks.upstream_diff(session, _local_course(session, slug), document)
    click.echo(diff or "in step with upstream", nl=not diff)


@course_group.command("pull-upstream")
@click.argument("slug")
def pull_upstream_command(slug: str) -> None:
    """Take the origin's current version into the fork SLUG's draft (publish it to make it current)."""
    instance()
    from federation.flows import forks
    from server.floor.db import session_scope

    document = forks.fetch_course(_origin_of(slug))  # the network with no transaction open
    with session_scope() as session:
        course = forks.pull_upstream(session, _local_course(session, slug), document)
        click.echo(f"{course.slug}: draft now at upstream version {course.origin_version}")


@click.group("federation", help="Federation: moderation and background jobs.")
def federation_group() -> None:
    """Federation."""


@federation_group.command("block-domain")
@click.argument("domain")
@click.option("--reason", default="")
def block_domain_command(domain: str, reason: str) -> None:
    """Refuse activities from DOMAIN (and subdomains), deliver nothing there (queued ones cancelled)."""
    instance()
    from federation.flows.admin import block_domain
    from server.floor.db import session_scope

    with session_scope() as session:
        outcome = block_domain(session, domain, reason)
        click.echo(f"blocked {outcome.block.domain}; {outcome.cancelled} queued deliveries cancelled")
        blocked = outcome.block.domain
    click.echo(blocked)


@federation_group.command("unblock-domain")
@click.argument("domain")
def unblock_domain_command(domain: str) -> None:
    """Lift a domain block."""
    instance()
    from federation.transport.moderation import unblock_domain
    from server.floor.db import session_scope
    from server.floor.errors import NotFound

    with session_scope() as session:
        if not unblock_domain(session, domain):
            raise NotFound(f"domain {domain} is not blocked")
    click.echo(domain)


@federation_group.command("reports")
@json_option
def reports_command(as_json: bool) -> None:
    """The open Flag reports (the admin's moderation queue)."""
    instance()
    from federation.flows.reports import open_reports
    from server.floor.db import session_scope

    with session_scope() as session:
        rows = [
            {"id": r.id, "reporter": r.reporter, "targets": r.targets, "content": r.content, "at": r.created_at}
            for r in open_reports(session)
        ]
    emit(
        rows,
        as_json,
        lambda d: "\n".join(f"{r['id']}\t{r['reporter']}\t{' '.join(r['targets'])}\t{r['content']}" for r in d),
    )


@federation_group.command("remove-member")
@click.argument("group_handle")
@click.argument("member")
@click.option(
    "--block", is_flag=True, help="Also refuse the member's posts and joins from now on (fediverse accounts)."
)
def remove_member_command(group_handle: str, member: str, block: bool) -> None:
    """Take MEMBER (an actor id or an email address) out of study group GROUP_HANDLE."""
    instance()
    from sqlalchemy import select

    from courses.models import StudyGroup
    from federation.flows import cohorts
    from server.floor.db import session_scope
    from server.floor.errors import NotFound

    with session_scope() as session:
        group = session.scalar(select(StudyGroup).where(StudyGroup.handle == group_handle))
        if group is None:
            raise NotFound(f"no study group {group_handle!r} here")
        if block:
            cohorts.block_member(session, group, member)
        else:
            cohorts.remove_member(session, group, member)
    click.echo(f"{member} {'blocked from' if block else 'removed from'} {group_handle}")


@federation_group.command("work")
@json_option
def work_command(as_json: bool) -> None:
    """Apply received activities and send due deliveries now (what the worker does every few seconds)."""
    instance()
    from federation.entry.inbox import process_inbox
    from federation.transport.delivery import deliver_due

    data = {"applied": process_inbox(), "delivered": deliver_due()}
    emit(data, as_json, lambda d: f"applied {d['applied']} received activities, worked {d['delivered']} deliveries")


@federation_group.command("post")
@click.argument("handle")
@click.argument("text")
@click.option(
    "--to", "to", multiple=True, required=True, help="An actor id (or @user@host) to address; repeat for more."
)
@click.option("--in-reply-to", default=None, help="The id of the post this answers.")
def post_command(handle: str, text: str, to: tuple[str, ...], in_reply_to: str | None) -> None:
    """Post TEXT as local person HANDLE to the given actors (e.g. a study group); prints the post's id."""
    instance()
    from federation.flows.posting import post_as
    from federation.transport.fetch import prefetch
    from server.floor.db import session_scope

    # Handles are looked up (WebFinger, the actor) before the transaction that stores the post.
    targets = [t if t.startswith(("http://", "https://")) else prefetch(t) for t in to]
    with session_scope() as session:
        post = post_as(session, handle, targets, text, in_reply_to)
        ap_id = post.ap_id
    click.echo(ap_id)


@federation_group.command("rotate-key")
@click.argument("handle")
def rotate_key_command(handle: str) -> None:
    """Give local actor HANDLE (person, course, run, group; the host name for the instance) a new key.

    Its followers are sent an `Update` with the new key; prints the actor's id.
    """
    instance()
    from federation.flows import actors, rotation
    from server.floor.db import session_scope
    from server.floor.errors import NotFound

    with session_scope() as session:
        local = actors.by_handle(session, handle)
        if local is None:
            raise NotFound(f"no person, course, run or group has the handle {handle!r} here")
        rotation.rotate(session, local.id)
        actor_id = local.id
    click.echo(actor_id)


commands = [federation_group]
