"""The admin's pages: an index of sections and the instance's public identity."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from community import registrations
from mail import attention
from server.floor.db import session_scope, write_scope
from server.floor.instance import instance_info, set_instance_info
from web.auth import require_role
from web.csrf import posted_form
from web.flash import flash
from web.templating import render

FIELDS = ("name", "description", "rules", "contact")
REGISTRATION_MODES = (
    ("open", "Anyone (open)"),
    ("approval", "Anyone, approved by a moderator (the form asks why)"),
    ("invite", "Only with an invite link"),
    ("closed", "Nobody (closed)"),
)
MAX_LENGTH = {"name": 100, "description": 2000, "rules": 10000, "contact": 320}


@dataclass(frozen=True)
class AdminSection:
    """A card on the admin index; other packages' admin pages add theirs to SECTIONS."""

    label: str
    path: str
    summary: str


SECTIONS: tuple[AdminSection, ...] = (
    AdminSection("Instance", "/admin/instance", "Name, description, rules and contact shown to visitors."),
    AdminSection("Accounts", "/admin/accounts", "Who may log in: add organizers and admins, change roles, disable."),
    AdminSection("Sign-ups", "/admin/sign_ups", "Sign-ups awaiting approval: approve or reject them."),
    AdminSection("Invites", "/admin/invites", "Invite links: make one with a use limit and an expiry, or withdraw it."),
    AdminSection(
        "Reports",
        "/admin/reports",
        "The moderators' queue: reports about people, silence, suspend, domain blocks, audit log.",
    ),
    AdminSection(
        "Course and group moderation",
        "/admin/moderation",
        "Flags about courses, runs and groups from other servers, blocked domains, study group members.",
    ),
    AdminSection("Queue health", "/admin/queues", "Deliveries, inbox, mail outbox and the worker's heartbeat."),
    AdminSection(
        "Mail", "/admin/mail", "The outbox: uncertain and failed mails, the local outbox, suppressed addresses."
    ),
)


@require_role("admin")
def admin_index(request: Request) -> Response:
    """What the admin can look after, and how many mails wait for a person (uncertain, failed)."""
    with session_scope() as db:
        mail_waiting = attention.counts(db)
    return render(request, "admin/index.html", {"sections": SECTIONS, "mail_waiting": mail_waiting})


def check_instance_form(values: dict[str, str]) -> dict[str, str]:
    """Errors by field name for the instance form (empty when it can be saved)."""
    errors: dict[str, str] = {}
    labels = {"name": "Name", "description": "Description", "rules": "Rules", "contact": "Contact"}
    for name, limit in MAX_LENGTH.items():
        if len(values[name]) > limit:
            errors[name] = f"{labels[name]}: at most {limit} characters (now {len(values[name])})."
    if not values["name"]:
        errors["name"] = "Name: the instance needs a name."
    if not values["description"]:
        errors["description"] = "Description: say in a sentence what this instance is for."
    contact = values["contact"]
    if contact and not (contact.startswith(("https://", "http://")) or ("@" in contact and " " not in contact)):
        errors["contact"] = "Contact: give an email address or a web address starting with https://."
    return errors


@require_role("admin")
def instance_form(request: Request) -> Response:
    """The instance settings, ready to edit."""
    with session_scope() as db:
        values = instance_info(db) | {"registrations": registrations.mode(db)}
    return render(request, "admin/instance.html", _context(values, {}))


def _context(values: dict[str, str], errors: dict[str, str]) -> dict[str, object]:
    return {"values": values, "errors": errors, "registration_modes": REGISTRATION_MODES}


@require_role("admin")
def instance_submit(request: Request) -> Response:
    """Save the instance settings, all of them or none."""
    form = posted_form(request)
    values = {name: str(form.get(name, "")).strip().replace("\r\n", "\n") for name in FIELDS}
    errors = check_instance_form(values)
    mode = str(form.get("registrations", "") or "closed")
    if mode not in registrations.MODES:
        errors["registrations"] = "Who may sign up: choose one of the listed modes."
    if errors:
        return render(request, "admin/instance.html", _context(values | {"registrations": mode}, errors), status=400)
    with write_scope() as db:
        set_instance_info(db, **values)
        registrations.set_mode(db, mode)
    flash(request, "The instance settings are saved.", "success")
    return RedirectResponse("/admin/instance", status_code=303)


def routes() -> list[BaseRoute]:
    """The admin pages of the web shell."""
    return [
        Route("/admin", admin_index, methods=["GET"], name="admin"),
        Route("/admin/instance", instance_form, methods=["GET"], name="admin_instance"),
        Route("/admin/instance", instance_submit, methods=["POST"]),
    ]
