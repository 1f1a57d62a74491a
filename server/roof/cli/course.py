"""`mechmooc course ...`: import, export, publish and list course templates (federation adds follow and fork)."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import click
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.roof.cli.base import emit, instance, json_option


@click.group("course", help="Course templates: import, export, publish, list.")
def course_group() -> None:
    """Course templates."""


def _follower_count(session: Session, actor_id: str) -> int:
    """Followers of a course actor, from the federation package when it provides them."""
    try:
        follows = importlib.import_module("federation.flows.follows")
    except ImportError:
        return 0
    counter = getattr(follows, "follower_count", None)
    return int(counter(session, actor_id)) if counter else 0


@course_group.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--replace", is_flag=True, help="Replace the draft of an existing course with the same slug.")
def import_command(path: Path, replace: bool) -> None:
    """Import a course folder (course.toml + units/*.md) or a .zip of one; print its id."""
    instance()
    from courses.folder import import_course
    from server.floor import urls
    from server.floor.db import session_scope

    notices: list[str] = []
    with session_scope() as session:
        course = import_course(session, path, replace=replace, notices=notices)
        click.echo(f"imported {course.slug}: {course.title} ({len(course.units)} units)")
        for notice in notices:
            click.echo(f"note: {notice}")
        slug = course.slug
    click.echo(urls.course(slug))


@course_group.command("export")
@click.argument("slug")
@click.argument("path", type=click.Path(path_type=Path))
def export_command(slug: str, path: Path) -> None:
    """Write course SLUG in the folder format to PATH (a .zip if PATH ends in .zip)."""
    instance()
    from courses.folder import export_course
    from server.floor.db import session_scope

    with session_scope() as session:
        written = export_course(session, slug, path)
    click.echo(f"wrote {len(written)} files to {path}")


@course_group.command("publish")
@click.argument("slug")
def publish_command(slug: str) -> None:
    """Publish the draft of course SLUG as a new version; print the version number (last line)."""
    instance()
    from courses import editor
    from courses.runs import find_course
    from server.floor.db import session_scope

    with session_scope() as session:
        course = find_course(session, slug)
        if not course.draft_changed and course.current_version is not None:
            number = course.current_version
            click.echo(f"{slug}: the draft is version {number} already, nothing published")
        else:
            number = editor.publish(session, course).number
            click.echo(f"published {slug} version {number} (runs created from now on pin it)")
    click.echo(str(number))


@course_group.command("list")
@json_option
def list_command(as_json: bool) -> None:
    """Local courses with their units, versions, runs, forks and followers."""
    instance()
    from courses.models import Course, CourseFork, Run
    from server.floor import urls
    from server.floor.db import session_scope

    with session_scope() as session:
        forks = dict(session.execute(select(CourseFork.course_id, func.count()).group_by(CourseFork.course_id)).all())
        runs = dict(session.execute(select(Run.course_id, func.count()).group_by(Run.course_id)).all())
        rows: list[dict[str, Any]] = []
        for course in session.scalars(select(Course).order_by(Course.slug)):
            rows.append(
                {
                    "id": urls.course(course.slug),
                    "slug": course.slug,
                    "title": course.title,
                    "license": course.license,
                    "units": len(course.units),
                    "version": course.current_version,
                    "draft_changed": course.draft_changed,
                    "origin": course.origin,
                    "runs": runs.get(course.id, 0),
                    "forks": forks.get(course.id, 0),
                    "followers": _follower_count(session, urls.course(course.slug)),
                }
            )

    def text(data: list[dict[str, Any]]) -> str:
        if not data:
            return "no courses yet (mechmooc course import PATH)"
        return "\n".join(
            f"{row['slug']}\t{row['title']}\tv{row['version'] or '-'}\t{row['units']} units\t"
            f"{row['runs']} runs\t{row['forks']} forks\t{row['followers']} followers"
            for row in data
        )

    emit(rows, as_json, text)


commands = [course_group]
