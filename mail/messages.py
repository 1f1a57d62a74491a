"""The mails the instance writes: course units, signup confirmations, one-off mails; headers included."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, NamedTuple, Protocol

from courses.models import Enrollment, Run
from mail.addresses import list_id, new_token, unsubscribe_key
from mail.markup import document, text_html, verbatim_html
from mail.mime import address, compose
from mail.outbox import base_headers
from mail.render import Rendered, render
from mail.tracking import click_url, pixel_url
from server.floor import urls
from server.floor.config import get_settings

UNIT_SUBJECT = "{{ course.title }}: {{ unit.title }}"
SAMPLE_NAME = "Sample Learner"
SAMPLE_EMAIL = "sample.learner@example.org"
TEST_PREFIX = "[TEST]"


def run_title(run: Run, snapshot: dict[str, Any]) -> str:
    """How a run is named in mails: the course title and the start date."""
    return f"{snapshot.get('title', run.handle)} ({run.start_date.isoformat()})"


def context(
    enrollment: Enrollment, run: Run, snapshot: dict[str, Any], token: str, unit: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The merge tags available to course text: learner, course, run, group, unit, links."""
    return personal_context(
        shared_context(run, snapshot, enrollment.group, unit),
        Personal(enrollment.name, enrollment.email or "", enrollment.timezone, enrollment.language, enrollment.token),
        token,
    )


class Grouping(Protocol):
    """What a mail shows of a study group: a StudyGroup, or its name and handle as read by the scheduler."""

    @property
    def name(self) -> str: ...

    @property
    def handle(self) -> str: ...


class Personal(NamedTuple):
    """What a learner's own merge tags are made of (their enrollment's fields)."""

    name: str
    email: str
    timezone: str
    language: str
    page_token: str  # the enrollment's token: their page's magic link


def shared_context(
    run: Run, snapshot: dict[str, Any], group: Grouping | None, unit: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The merge tags every learner of `group` (None: solo) shares for `unit`; `personal_context` adds theirs."""
    slug = str(snapshot.get("slug", ""))
    links = {
        "course": urls.course(slug),
        "run": urls.run(run.handle),
        "group": urls.group(group.handle) if group else "",
    }
    data: dict[str, Any] = {
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


def personal_context(shared: dict[str, Any], learner: Personal, token: str) -> dict[str, Any]:
    """The merge tags of one learner getting the mail `token`: `shared` (not changed) and their own."""
    page, links = urls.learner_page(learner.page_token), shared["links"]
    data: dict[str, Any] = {
        "learner": {
            "name": learner.name,
            "email": learner.email,
            "timezone": learner.timezone,
            "language": learner.language,
        },
        "course": shared["course"],
        "run": shared["run"],
        "group": shared["group"],
        "links": {
            "learner_page": page,
            "me": page,
            "unsubscribe": urls.unsubscribe(unsubscribe_key(token)),
            "course": links["course"],
            "run": links["run"],
            "group": links["group"],
            "alumni": urls.alumni_join(learner.page_token),
        },
    }
    if "unit" in shared:
        data["unit"] = shared["unit"]
    return data


def sample_context(run: Run, snapshot: dict[str, Any], unit: dict[str, Any] | None = None) -> dict[str, Any]:
    """The merge tags of a sample learner and group: what previews and test mails show, never a real
    learner's name, address or magic link (an organizer could otherwise open a learner's page)."""
    sample = Enrollment(
        run_id=run.id, email=SAMPLE_EMAIL, name=SAMPLE_NAME, timezone=run.timezone,
        language=str(snapshot.get("language", "")), token="sample",
    )  # fmt: skip
    data = context(sample, run, snapshot, "sample", unit)
    page = urls.sample_learner_page()
    data["links"].update({"learner_page": page, "me": page, "unsubscribe": page, "group": page, "alumni": page})
    data["group"] = {
        "name": "Sample group",
        "handle": "sample-group",
        "address": "sample-group@example.org",
        "url": page,
    }
    return data


def tracked(token: str) -> dict[str, Any]:
    """The tracking arguments of `render` for the mail `token` (none when tracking is off)."""
    if not get_settings().tracking:
        return {}
    return {"track_click": lambda url: click_url(token, url), "open_pixel": pixel_url(token)}


def list_headers(token: str, list_name: str, list_handle: str) -> list[tuple[str, str]]:
    """List-Id and the RFC 8058 one-click List-Unsubscribe pair, carried by every course and list mail."""
    key, domain = unsubscribe_key(token), get_settings().mail_domain
    return [
        ("List-Id", list_id(list_name, list_handle)),
        ("List-Unsubscribe", f"<{urls.unsubscribe(key)}>, <mailto:unsubscribe+{key}@{domain}>"),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
    ]


def course_message(enrollment: Enrollment, run: Run, snapshot: dict[str, Any], rendered: Rendered, token: str) -> str:
    """A course mail with its list headers: List-Id, List-Unsubscribe (RFC 8058), Reply-To the group."""
    group = enrollment.group.handle if enrollment.group is not None else None
    return compose(course_headers(enrollment.name, enrollment.email or "", group, run, snapshot, rendered, token),
                   rendered.text, rendered.html)  # fmt: skip


def course_headers(
    name: str, email: str, group: str | None, run: Run, snapshot: dict[str, Any], rendered: Rendered, token: str
) -> list[tuple[str, str]]:
    """The headers of a course mail to `name <email>` in the group with handle `group` (None: solo)."""
    sender = address(str(snapshot.get("title", "")), get_settings().mail_from)
    headers = base_headers(address(name, email), rendered.subject, token, sender=sender)
    if group is not None:
        headers.append(("Reply-To", urls.group_address(group)))
    headers += list_headers(token, run_title(run, snapshot), run.handle)
    return headers


def unit_where(snapshot: dict[str, Any], unit: dict[str, Any]) -> str:
    """How errors name `unit` ("unit welcome of gentle-python")."""
    return f"unit {unit.get('slug', unit.get('position'))!s} of {snapshot.get('slug', 'the course')}"


def unit_mail(enrollment: Enrollment, run: Run, snapshot: dict[str, Any], unit: dict[str, Any]) -> tuple[str, str, str]:
    """A fresh token, the subject and the rendered mail of `unit` for `enrollment`."""
    token = new_token()
    data = context(enrollment, run, snapshot, token, unit)
    where = unit_where(snapshot, unit)
    rendered = render(UNIT_SUBJECT, str(unit.get("body", "")), data, where, **tracked(token))
    return token, rendered.subject, course_message(enrollment, run, snapshot, rendered, token)


def composed_mail(
    enrollment: Enrollment, run: Run, snapshot: dict[str, Any], subject: str, body: str, where: str
) -> tuple[str, str, str]:
    """A fresh token, the subject and an organizer's one-off mail rendered for `enrollment`."""
    token = new_token()
    data = context(enrollment, run, snapshot, token)
    rendered = render(subject, body, data, where, **tracked(token))
    return token, rendered.subject, course_message(enrollment, run, snapshot, rendered, token)


def sample_mail(
    run: Run, snapshot: dict[str, Any], subject: str, body: str, where: str, to: str
) -> tuple[str, str, str]:
    """A fresh token, the subject and a test copy of a one-off mail: the sample learner's, to `to`,
    the subject marked [TEST]; untracked, so a test counts in no statistics."""
    token = new_token()
    rendered = render(subject, body, sample_context(run, snapshot), where)
    rendered = replace(rendered, subject=f"{TEST_PREFIX} {rendered.subject}")
    sender = address(str(snapshot.get("title", "")), get_settings().mail_from)
    headers = base_headers(to, rendered.subject, token, sender=sender)
    headers += list_headers(token, run_title(run, snapshot), run.handle)
    return token, rendered.subject, compose(headers, rendered.text, rendered.html)


def confirmation_mail(
    enrollment: Enrollment, run: Run, snapshot: dict[str, Any], link: str, invited: bool = False
) -> tuple[str, str, str]:
    """A fresh token, the subject and the double opt-in mail carrying the single-use `link`
    (`invited`: an organizer named the address, not its owner)."""
    token = new_token()
    title = str(snapshot.get("title", run.handle))
    start = run.start_date.isoformat()
    if invited:
        asked = f"An organizer of {title} invited you to join its run starting {start}.\nTo join, confirm"
        otherwise = "If you do not want to join, ignore this mail: you are not enrolled and nothing more will be sent."
    else:
        asked = f"Someone (we hope you) asked to join {title}, starting {start}.\nConfirm"
        otherwise = "If it was not you, ignore this mail: nothing more will be sent."
    greeting = f"Hello {enrollment.name or 'there'},"
    rest = f"{asked} by opening this link:\n\n{link}\n\n{otherwise}\n"
    subject = f"Confirm your place in {title}"
    headers = [*base_headers(enrollment.email or "", subject, token), ("Auto-Submitted", "auto-generated")]
    # Anyone can type any name into the form: it is escaped and never made a link in the HTML part.
    html = document(verbatim_html(greeting) + text_html(rest))
    # Transactional: no List-* headers (it is no list mail, and nothing follows unless the link is opened).
    return token, subject, compose(headers, f"{greeting}\n\n{rest}", html)
