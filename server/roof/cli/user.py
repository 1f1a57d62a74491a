"""`mechmooc user ...`: local accounts."""

from __future__ import annotations

import click

from server.floor.accounts import ROLES
from server.floor.errors import Invalid
from server.roof.cli.base import emit, instance, json_option


@click.group()
def user() -> None:
    """Local accounts (admins, organizers, learners)."""


@user.command()
@click.argument("email")
@click.option("--password", default=None, help="Login password (at least 8 characters); without it, use a reset link.")
@click.option("--role", type=click.Choice(list(ROLES)), default="organizer", show_default=True)
@click.option("--handle", default=None, help="Fediverse handle (default: the email's local part).")
@click.option("--name", "display_name", default="", help="Display name (default: the handle).")
@json_option
def create(email: str, password: str | None, role: str, handle: str | None, display_name: str, as_json: bool) -> None:
    """Create a local account; prints its id alone on the last line."""
    from server.floor.accounts import create_account
    from server.floor.db import session_scope

    instance()
    with session_scope() as session:
        account = create_account(session, email, password=password, role=role, handle=handle, display_name=display_name)
        data = {"id": account.id, "email": account.email, "handle": account.handle, "role": account.role}
    if as_json:
        emit(data, True)
    else:
        click.echo(f"created {data['role']} {data['email']} (@{data['handle']})")
        click.echo(str(data["id"]))


@user.command("login-link")
@click.argument("email")
def login_link(email: str) -> None:
    """Print a one-time login link for the account EMAIL (it works once, for 30 minutes)."""
    from server.floor.db import session_scope
    from web.login_links import LIFETIME, issue_login_link
    from web.passwords import find_account

    instance()
    with session_scope() as session:
        account = find_account(session, email)
        if account is None:
            raise Invalid(f"no enabled account has the email {email}")
        url = issue_login_link(session, account)
    click.echo(f"log in as {account.email} once, within {int(LIFETIME.total_seconds() // 60)} minutes:")
    click.echo(url)


@user.command("registrations")
@click.argument("mode", required=False, type=click.Choice(["open", "approval", "invite", "closed"]))
def registrations_command(mode: str | None) -> None:
    """Show who may sign up for an account, or set it: open, approval, invite or closed."""
    from community import registrations
    from server.floor.db import session_scope

    instance()
    with session_scope() as session:
        if mode is not None:
            registrations.set_mode(session, mode)
        click.echo(f"registrations: {registrations.mode(session)}")


@user.command("invite")
@click.option(
    "--uses", type=click.IntRange(1, 10_000), default=None, help="How many sign-ups it allows (default: no limit)."
)
@click.option("--days", type=click.IntRange(1, 365), default=7, show_default=True, help="Days until it expires.")
def invite_command(uses: int | None, days: int) -> None:
    """Make an invite link (it opens sign-up in every registration mode); prints the link."""
    from datetime import timedelta

    from community import registrations
    from server.floor.db import session_scope
    from server.floor.urls import absolute

    instance()
    with session_scope() as session:
        made = registrations.create_invite(session, None, uses, timedelta(days=days))
        link = absolute(f"/invite/{made.code}")
    click.echo(link)


commands: list[click.Command] = [user]
