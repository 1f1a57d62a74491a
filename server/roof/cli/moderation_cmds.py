"""`mechmooc moderation ...`: reports and what moderators do, from the command line (the same
services as /admin/reports: `community.moderation`, `community.sanctions`). A moderator's act names
the moderator (`--as HANDLE`, a local moderator or admin), whom the audit log records. Accounts are
named `user` (local), `user@host` or an actor URL (remote: looked up first, outside the transaction)."""

from __future__ import annotations

from typing import Any

import click

from server.roof.cli.base import emit, instance, json_option

moderation_group = click.Group(
    name="moderation", help="Moderation: report, list and resolve reports, silence, suspend, block domains, audit log."
)
as_option = click.option("--as", "moderator", required=True, help="The handle of the moderator or admin acting.")
reason_option = click.option("--reason", default="", help="Why (kept in the audit log).")


def _account(session: Any, handle: str) -> Any:
    from sqlalchemy import select

    from server.floor.accounts import Account
    from server.floor.errors import NotFound

    account = session.scalar(select(Account).where(Account.handle == handle.lstrip("@").lower()))
    if account is None:
        raise NotFound(f"no local account with handle {handle!r}")
    return account


def _profile_id(session: Any, ref: str) -> int:
    """A profile already known here, by id, `user`, `user@host` or actor URL."""
    from sqlalchemy import select

    from community.models import Profile
    from community.people import find_by_acct
    from server.floor.errors import NotFound

    if ref.isdigit() and len(ref) < 20 and session.get(Profile, int(ref)) is not None:
        return int(ref)
    found = (
        session.scalar(select(Profile).where(Profile.uri == ref))
        if "://" in ref
        else find_by_acct(session, ref.lstrip("@"))
    )
    if found is None:
        raise NotFound(f"no account {ref!r} known here")
    return int(found.id)


def _looked_up(ref: str) -> None:
    """A remote account (`user@host` or URL) fetched and cached before any transaction opens."""
    if "://" in ref or "@" in ref.lstrip("@"):
        from federation.flows.people import resolve

        resolve(ref)


@moderation_group.command("report")
@click.argument("handle")
@click.argument("account")
@click.option(
    "--status", "status_refs", multiple=True, help="A reported status (id, ActivityPub id or URL); repeatable."
)
@click.option("--comment", default="")
@click.option("--category", type=click.Choice(["spam", "legal", "violation", "other"]), default="other")
@click.option("--forward", is_flag=True, help="Send an anonymous Flag to a remote account's server too.")
def report_command(
    handle: str, account: str, status_refs: tuple[str, ...], comment: str, category: str, forward: bool
) -> None:
    """Local person HANDLE reports ACCOUNT (and --status ones of its statuses); prints the report id."""
    instance()
    from community import moderation
    from community.models import Profile
    from community.people import local_profile
    from server.floor.db import write_scope
    from server.roof.cli.people import _status

    _looked_up(account)
    with write_scope() as session:
        reporter = local_profile(session, _account(session, handle))
        target = session.get(Profile, _profile_id(session, account))
        assert target is not None  # _profile_id found it
        ids = [_status(session, ref).id for ref in status_refs]
        row = moderation.report(session, reporter, target, ids, comment, category, forward)
        click.echo(str(row.id))


@moderation_group.command("reports")
@click.option("--resolved", is_flag=True, help="The resolved ones (newest first) instead of the open ones.")
@json_option
def reports_command(resolved: bool, as_json: bool) -> None:
    """The moderators' queue."""
    instance()
    from community import moderation
    from community.models import Profile
    from server.floor.db import session_scope

    with session_scope() as session:
        rows = []
        for row in moderation.reports(session, resolved=resolved):
            target = session.get(Profile, row.target_id)
            rows.append(
                {
                    "id": row.id,
                    "target": target.acct if target else None,
                    "statuses": row.status_ids,
                    "comment": row.comment,
                    "category": row.category,
                    "flag": row.uri,
                    "created_at": row.created_at.isoformat(),
                }
            )
    emit(rows, as_json, lambda rs: "\n".join(f"{r['id']}\t@{r['target']}\t{r['category']}\t{r['comment']}" for r in rs))


@moderation_group.command("resolve")
@click.argument("report_id", type=int)
@as_option
@reason_option
def resolve_command(report_id: int, moderator: str, reason: str) -> None:
    """Close report REPORT_ID."""
    instance()
    from community import moderation
    from server.floor.db import write_scope

    with write_scope() as session:
        moderation.resolve(session, report_id, _account(session, moderator), reason)


def _sanction(action: str, account: str, moderator: str, reason: str) -> None:
    instance()
    from community import sanctions
    from server.floor.db import write_scope

    _looked_up(account)
    with write_scope() as session:
        who, profile_id = _account(session, moderator), _profile_id(session, account)
        if action == "silence":
            profile = sanctions.silence(session, who, profile_id, reason)
        elif action == "unsilence":
            profile = sanctions.unsilence(session, who, profile_id, reason)
        elif action == "suspend":
            profile = sanctions.suspend(session, who, profile_id, reason)
        else:
            profile = sanctions.unsuspend(session, who, profile_id, reason)
        click.echo(profile.uri)


@moderation_group.command("silence")
@click.argument("account")
@as_option
@reason_option
def silence_command(account: str, moderator: str, reason: str) -> None:
    """Silence ACCOUNT: its statuses leave the public timelines."""
    _sanction("silence", account, moderator, reason)


@moderation_group.command("unsilence")
@click.argument("account")
@as_option
@reason_option
def unsilence_command(account: str, moderator: str, reason: str) -> None:
    """Lift the silence of ACCOUNT."""
    _sanction("unsilence", account, moderator, reason)


@moderation_group.command("suspend")
@click.argument("account")
@as_option
@reason_option
def suspend_command(account: str, moderator: str, reason: str) -> None:
    """Suspend ACCOUNT: hidden everywhere; a local login is disabled, a remote actor refused."""
    _sanction("suspend", account, moderator, reason)


@moderation_group.command("unsuspend")
@click.argument("account")
@as_option
@reason_option
def unsuspend_command(account: str, moderator: str, reason: str) -> None:
    """Lift the suspension of ACCOUNT."""
    _sanction("unsuspend", account, moderator, reason)


@moderation_group.command("domain-block")
@click.argument("domain")
@click.option("--severity", type=click.Choice(["silence", "suspend"]), required=True)
@as_option
@reason_option
def domain_block_command(domain: str, severity: str, moderator: str, reason: str) -> None:
    """Silence or suspend DOMAIN and its subdomains."""
    instance()
    from community import sanctions
    from server.floor.db import write_scope

    with write_scope() as session:
        sanctions.block_domain(session, _account(session, moderator), domain, severity, reason)


@moderation_group.command("domain-unblock")
@click.argument("domain")
@as_option
@reason_option
def domain_unblock_command(domain: str, moderator: str, reason: str) -> None:
    """Lift the block of DOMAIN."""
    instance()
    from community import sanctions
    from server.floor.db import write_scope

    with write_scope() as session:
        sanctions.unblock_domain(session, _account(session, moderator), domain, reason)


@moderation_group.command("audit")
@json_option
def audit_command(as_json: bool) -> None:
    """The audit log, newest first (the latest 50)."""
    instance()
    from community.moderation import audit_log
    from server.floor.accounts import Account
    from server.floor.db import session_scope

    with session_scope() as session:
        rows = []
        for row in audit_log(session):
            who = session.get(Account, row.moderator_id) if row.moderator_id is not None else None
            rows.append(
                {
                    "moderator": who.handle if who else None,
                    "action": row.action,
                    "profile_id": row.target_profile_id,
                    "status_id": row.target_status_id,
                    "domain": row.target_domain,
                    "report_id": row.report_id,
                    "reason": row.reason,
                    "at": row.created_at.isoformat(),
                }
            )
    emit(rows, as_json, lambda rs: "\n".join(f"{r['at']}\t{r['moderator']}\t{r['action']}\t{r['reason']}" for r in rs))


commands = [moderation_group]
