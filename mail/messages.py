"""The mails the instance writes: course units, signup confirmations, one-off mails; headers included."""

from __future__ import annotations

from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formataddr
from typing import Any

from courses.models import Enrollment, Run, StudyGroup
from mail.addresses import list_id, new_token
from mail.outbox import base_message
from mail.render import Rendered, render
from server import urls
from server.config import get_settings

UNIT_SUBJECT = "{{ course.title }}: {{ unit.title }}"


def run_title(run: Run, snapshot: dict[str, Any]) -> str:
    """How a run is named in mails: the course title and the start date."""
    return f"{snapshot.get('title', run.handle)} ({run.start_date.isoformat()})"


def context(
    enrollment: Enrollment, run: Run, snapshot: dict[str, Any], token: str, unit: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The merge tags available to course text: learner, course, run, group, unit, links."""
    group: StudyGroup | None = enrollment.group
    slug = str(snapshot.get("slug", ""))
    links = {
        "learner_page": urls.learner_page(enrollment.token),
        "me": urls.learner_page(enrollment.token),
        "unsubscribe": urls.unsubscribe(token),
        "course": urls.course(slug),
        "run": urls.run(run.handle),
        "group": urls.group(group.handle) if group else "",
    }
    data: dict[str, Any] = {
        "learner": {
            "name": enrollment.name,
            "email": enrollment.email or "",
            "timezone": enrollment.timezone,
            "language": enrollment.language,
        },
        "course": {
            "title": snapshot.get("title", ""),
            "slug": slug,
            "summary": snapshot.get("summary", ""),
            "license": snapshot.get("license", ""),
            "url": links["course"],
        },
        "run": {"handle": run.handle, "start": run.start_date.isoformat(), "url": links["run"]},
        "group": {
            "name": group.name if group else "",
            "handle": group.handle if group else "",
            "address": urls.group_address(group.handle) if group else "",
            "url": links["group"],
        },
        "links": links,
    }
    if unit is not None:
        data["unit"] = {
            "title": unit.get("title", ""),
            "slug": unit.get("slug", ""),
            "day": unit.get("day", 0),
            "position": unit.get("position", 0),
            "number": int(unit.get("position", 0)) + 1,
            "url": urls.unit(slug, str(unit.get("slug", ""))),
        }
    return data


def footer(data: dict[str, Any]) -> list[tuple[str, str]]:
    """The links at the foot of every course mail."""
    lines = [("Your page", data["links"]["learner_page"])]
    if data["group"]["address"]:
        lines.append(("Your group", data["links"]["group"]))
    lines.append(("Unsubscribe", data["links"]["unsubscribe"]))
    return lines


def course_message(
    enrollment: Enrollment, run: Run, snapshot: dict[str, Any], rendered: Rendered, token: str
) -> EmailMessage:
    """A course mail with its list headers: List-Id, List-Unsubscribe (RFC 8058), Reply-To the group."""
    settings = get_settings()
    sender = formataddr((str(snapshot.get("title", "")), settings.mail_from))
    recipient = str(Address(display_name=enrollment.name, addr_spec=enrollment.email or ""))
    message = base_message(recipient, rendered.subject, token, sender=sender)
    if enrollment.group is not None:
        message["Reply-To"] = urls.group_address(enrollment.group.handle)
    message["List-Id"] = list_id(run_title(run, snapshot), run.handle)
    message["List-Unsubscribe"] = f"<{urls.unsubscribe(token)}>, <mailto:unsubscribe+{token}@{settings.mail_domain}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message


def unit_mail(
    enrollment: Enrollment, run: Run, snapshot: dict[str, Any], unit: dict[str, Any]
) -> tuple[str, EmailMessage]:
    """A fresh token and the rendered mail of `unit` for `enrollment`."""
    token = new_token()
    data = context(enrollment, run, snapshot, token, unit)
    where = f"unit {unit.get('slug', unit.get('position'))!s} of {snapshot.get('slug', 'the course')}"
    tracking = token if get_settings().tracking else None
    rendered = render(UNIT_SUBJECT, str(unit.get("body", "")), data, where, footer(data), tracking)
    return token, course_message(enrollment, run, snapshot, rendered, token)


def composed_mail(
    enrollment: Enrollment, run: Run, snapshot: dict[str, Any], subject: str, body: str, where: str
) -> tuple[str, EmailMessage]:
    """A fresh token and an organizer's one-off mail rendered for `enrollment`."""
    token = new_token()
    data = context(enrollment, run, snapshot, token)
    tracking = token if get_settings().tracking else None
    rendered = render(subject, body, data, where, footer(data), tracking)
    return token, course_message(enrollment, run, snapshot, rendered, token)


def confirmation_mail(
    enrollment: Enrollment, run: Run, snapshot: dict[str, Any], link: str
) -> tuple[str, EmailMessage]:
    """A fresh token and the double opt-in mail carrying the single-use `link`."""
    token = new_token()
    title = str(snapshot.get("title", run.handle))
    text = (
        f"Hello {enrollment.name or 'there'},\n\n"
        f"Someone (we hope you) asked to join {title}, starting {run.start_date.isoformat()}.\n"
        f"Confirm by opening this link:\n\n{link}\n\n"
        "If it was not you, ignore this mail: nothing more will be sent.\n"
    )
    message = base_message(enrollment.email or "", f"Confirm your place in {title}", token)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    return token, message
