"""`mechmooc run held|approve|discard`: moderate the study groups' held posts from the command line
(the same as the group page's buttons: approving publishes `post.created`, so it is relayed then)."""

from __future__ import annotations

from typing import Any

import click

from server.roof.cli.base import emit, instance, json_option
from server.roof.cli.run import run_group


@run_group.command("held")
@click.argument("run_id")
@json_option
def held_command(run_id: str, as_json: bool) -> None:
    """The run's held posts (mail from non-members or unauthenticated senders), oldest first."""
    instance()
    from courses.models import StudyGroup
    from courses.posts import held_posts
    from courses.runs import find_run
    from server.floor.db import session_scope

    with session_scope() as session:
        run = find_run(session, run_id)
        rows: list[dict[str, Any]] = []
        for post in held_posts(session, run.id):
            group = session.get(StudyGroup, post.group_id) if post.group_id else None
            rows.append(
                {
                    "id": post.id,
                    "group": group.handle if group else None,
                    "source": post.source,
                    "from": post.author_email or post.author_actor or "",
                    "name": post.author_name,
                    "subject": post.subject,
                    "text": post.text[:500],
                    "received_at": post.created_at.isoformat(),
                }
            )

    def text(data: list[dict[str, Any]]) -> str:
        if not data:
            return "no held posts"
        return "\n".join(
            f"{row['id']}\t{row['group']}\t{row['from']}\t{row['subject'] or '(no subject)'}" for row in data
        )

    emit(rows, as_json, text)


def _moderate(post_id: int, approve: bool) -> str:
    from courses.posts import approve_post, discard_post, group_post
    from server.floor.db import session_scope

    with session_scope() as session:
        post = group_post(session, post_id)
        if approve:
            approve_post(session, post)
        else:
            discard_post(session, post)
    return f"post {post_id} {'approved: relayed to the group' if approve else 'discarded'}"


@run_group.command("approve")
@click.argument("post_id", type=click.IntRange(1, 2**62))
def approve_command(post_id: int) -> None:
    """Let the held post POST_ID through: it is archived and relayed to the group."""
    instance()
    click.echo(_moderate(post_id, approve=True))


@run_group.command("discard")
@click.argument("post_id", type=click.IntRange(1, 2**62))
def discard_command(post_id: int) -> None:
    """Refuse the held post POST_ID: it is dropped and never relayed."""
    instance()
    click.echo(_moderate(post_id, approve=False))


commands: list[click.Command] = []  # the commands above hang under `mechmooc run`
