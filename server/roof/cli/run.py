"""`mechmooc run ...`: create runs, enroll learners (one or a CSV), group them, show a run."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Any

import click

from server.floor.errors import Invalid
from server.roof.cli.base import emit, instance, json_option

# The command line is the instance admin's: it enrolls without a confirmation mail, and says why.
BASIS_HELP = (
    "The lawful basis for enrolling without the learner's confirmation, recorded on the place "
    "(default: 'admin (command line)')."
)


@click.group("run", help="Runs (cohorts) of a course: create, enroll, import, group, show.")
def run_group() -> None:
    """Runs of a course."""


def _date(option: str, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Invalid(f"{option} {value!r} must be a date YYYY-MM-DD") from None


@run_group.command("create")
@click.argument("slug")
@click.option("--start", required=True, help="First day of the run, YYYY-MM-DD (day 0 of the units).")
@click.option("--timezone", default="UTC", show_default=True, help="The run's IANA time zone.")
@click.option("--every", type=int, default=None, help="Repeat the run every N weeks.")
@click.option("--group-size", type=int, default=None, help="Target study-group size (default: the course's).")
@click.option("--capacity", type=int, default=None, help="Places; later signups go on a waiting list.")
@click.option("--signup-opens", default=None, help="First day of signup, YYYY-MM-DD (default: at once).")
@click.option("--signup-closes", default=None, help="Day signup closes, YYYY-MM-DD (default: the late-join policy).")
def create_command(
    slug: str,
    start: str,
    timezone: str,
    every: int | None,
    group_size: int | None,
    capacity: int | None,
    signup_opens: str | None,
    signup_closes: str | None,
) -> None:
    """Create a run of course SLUG (publishing the course first if it has no version); print its id."""
    instance()
    from courses.runs import create_run, find_course
    from courses.zones import check_timezone, local_midnight
    from server.floor import urls
    from server.floor.db import session_scope

    zone = check_timezone(timezone, "--timezone")
    first = _date("--start", start)
    opens = local_midnight(_date("--signup-opens", signup_opens), zone) if signup_opens else None
    closes = local_midnight(_date("--signup-closes", signup_closes), zone) if signup_closes else None
    with session_scope() as session:
        course = find_course(session, slug)
        run = create_run(
            session, course, first, zone, every_weeks=every, group_size=group_size, capacity=capacity,
            signup_opens_at=opens, signup_closes_at=closes,
        )  # fmt: skip
        click.echo(
            f"run {run.handle} of {course.slug} (version {run.version_number}) starts {run.start_date}: {run.status}"
        )
        handle = run.handle
    click.echo(urls.run(handle))


@run_group.command("enroll")
@click.argument("run_id")
@click.argument("email")
@click.option("--name", default="", help="The learner's name.")
@click.option("--timezone", default="UTC", show_default=True, help="The learner's IANA time zone.")
@click.option("--language", default=None, help="The learner's language (default: the course's).")
@click.option("--solo", is_flag=True, help="The learner learns on their own (no study group).")
@click.option("--basis", default=None, help=BASIS_HELP)
def enroll_command(
    run_id: str, email: str, name: str, timezone: str, language: str | None, solo: bool, basis: str | None
) -> None:
    """Enroll EMAIL in the run as an admin would (no confirmation mail; the lawful basis is recorded)."""
    instance()
    from courses.runs import find_run
    from courses.signup import COMMAND_LINE_BASIS, admin_enroll
    from mail.suppressions import suppressed
    from server.floor.db import session_scope

    with session_scope() as session:
        run = find_run(session, run_id)
        enrollment = admin_enroll(
            session, run, email, name, timezone, language, solo, basis=COMMAND_LINE_BASIS if basis is None else basis
        )
        click.echo(f"{enrollment.email}: {enrollment.status}")
        reason = suppressed(session, [enrollment.email or ""]).get((enrollment.email or "").lower())
        if reason:
            # An admin's word does not lift it: only the person, confirming a signup themselves.
            click.echo(f"note: {enrollment.email} is suppressed ({reason}): no mail reaches it until they sign up")


@run_group.command("import")
@click.argument("run_id")
@click.argument("csv_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check every row and say what would happen; change nothing.")
@click.option("--basis", default=None, help=BASIS_HELP)
def import_command(run_id: str, csv_file: Path, dry_run: bool, basis: str | None) -> None:
    """Enroll the learners of a CSV (email,name,timezone[,language]): all rows or none, the basis recorded."""
    instance()
    from courses.bulk import import_learners
    from courses.runs import find_run
    from courses.signup import COMMAND_LINE_BASIS
    from server.floor.db import session_scope

    basis = COMMAND_LINE_BASIS if basis is None else basis

    try:
        text = csv_file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise Invalid(f"{csv_file}: not UTF-8 text") from None
    rows = max(0, text.count("\n") - 1)
    with session_scope() as session:
        run = find_run(session, run_id)
        if sys.stderr.isatty() and not dry_run:
            with click.progressbar(length=rows, label="enrolling", file=sys.stderr, show_pos=True) as bar:
                outcome = import_learners(session, run, text, progress=bar.update, basis=basis)
        else:
            outcome = import_learners(session, run, text, dry_run=dry_run, basis=basis)
    waiting = f" ({outcome.waitlisted} on the waiting list)" if outcome.waitlisted else ""
    verb = "would enroll" if dry_run else "enrolled"
    click.echo(f"{verb} {outcome.enrolled}{waiting}")


@run_group.command("group")
@click.argument("run_id")
def group_command(run_id: str) -> None:
    """Form the study groups now (normally done when the run starts); later joiners fill them."""
    instance()
    from courses.groups import form_groups
    from courses.runs import find_run
    from server.floor.db import session_scope

    with session_scope() as session:
        touched = form_groups(session, find_run(session, run_id))
    click.echo(f"grouped into {len(set(touched))} groups")


@run_group.command("close-groups")
@click.argument("run_id")
@click.option("--group", "group_ref", default=None, help="Close this one group (handle or number) instead of all.")
def close_groups_command(run_id: str, group_ref: str | None) -> None:
    """Close the run's study groups (or one): their address refuses mail, fediverse posts get no copies."""
    instance()
    from courses.closing import close_group, close_groups
    from courses.groups import find_group
    from courses.runs import find_run
    from server.floor.db import session_scope

    with session_scope() as session:
        run = find_run(session, run_id)
        if group_ref is not None:
            group = find_group(session, run, group_ref)
            handles = [group.handle] if close_group(session, group) else []
        else:
            handles = [group.handle for group in close_groups(session, run)]
    click.echo(f"closed {len(handles)} groups" + (f": {', '.join(handles)}" if handles else " (all were closed)"))


@run_group.command("show")
@click.argument("run_id")
@json_option
def show_command(run_id: str, as_json: bool) -> None:
    """The run: course, start, learners count, and its groups with address and members."""
    instance()
    from courses.runs import find_run
    from courses.summary import run_summary
    from server.floor.db import session_scope

    with session_scope() as session:
        summary = run_summary(session, find_run(session, run_id))

    def text(data: dict[str, Any]) -> str:
        lines = [
            f"{data['id']}",
            f"course {data['course']} v{data['version']}: {data['title']}",
            f"start {data['start']} ({data['timezone']}), {data['status']}",
            f"learners {data['learners']}, pending {data['pending']}, waitlisted {data['waitlisted']}, solo {data['solo']}",
        ]
        for group in data["groups"]:
            lines.append(
                f"{group['address']}\t{group['timezone']}\t{group['language']}\t{len(group['members'])} members"
            )
            lines.extend(
                f"  {m.get('email') or m.get('actor')}\t{m['name']}\t{m['timezone']}" for m in group["members"]
            )
        return "\n".join(lines)

    emit(summary, as_json, text)


commands = [run_group]
