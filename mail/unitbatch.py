"""Unit mails for a tick's batch of learners: what a unit's mail shares within a study group made once,
only what differs from one learner to the next filled in for each.

`mail.messages.unit_mail` builds a learner's whole context, fills every merge tag of the unit's
templates and writes every header. Here, per run, unit and group (a batch holds the ~20 learners of
each group together), the shared context is built once and the unit's templates are specialised on
it (`FastTemplate.specialise`): the course, run, unit and group tags become text, and what stays a
hole is the learner's own — name, address, the links that carry their token, tracked links. Which
values differ per learner is not listed here but found: the context of two made-up learners who
differ in every field is compared, and each value that differs is left to fill per learner.

The mail is byte for byte what `unit_mail` writes (tests/mail/test_unit_batch.py). A unit whose
templates need Jinja2, or a learner whose values the fast path does not take, is rendered by
`mail.render.render` as before: in the bounded sandbox.
"""

from __future__ import annotations

from typing import Any

from courses.models import Run
from mail.addresses import new_token
from mail.fastrender import VARYING, FastTemplate, Unsupported
from mail.messages import (
    UNIT_SUBJECT,
    Grouping,
    Personal,
    course_headers,
    personal_context,
    shared_context,
    tracked,
    unit_where,
)
from mail.mime import compose
from mail.render import Rendered, _fast_subject, compile_body, render

# Two made-up learners who differ in every field a learner's merge tags are made of.
_STAND_INS = (
    (Personal("A", "a@a.invalid", "UTC", "a", "a" * 32), "a" * 20),
    (Personal("B", "b@b.invalid", "Europe/Berlin", "b", "b" * 32), "b" * 20),
)
GroupKey = tuple[str, str] | None


def _identity(url: str) -> str:
    return url


def _values(data: dict[str, Any], links: tuple[str, ...], tracking: dict[str, Any]) -> dict[str, Any]:
    """The values the templates see, as `mail.render.render` makes them."""
    return {
        **data,
        "track_click": tracking.get("track_click") or _identity,
        "open_pixel": tracking.get("open_pixel", ""),
        "body_links": links,
    }


def _common(first: Any, second: Any) -> Any:
    """`first` where `second` is the same, VARYING where they differ (dicts compared key by key)."""
    if type(first) is dict and type(second) is dict and first.keys() == second.keys():
        return {key: _common(first[key], second[key]) for key in first}
    return first if type(first) is type(second) and first == second else VARYING


class UnitMails:
    """The unit mails of one run's course version, made learner after learner within a tick."""

    def __init__(self, run: Run, snapshot: dict[str, Any]) -> None:
        self.run = run
        self.snapshot = snapshot
        self._shared: dict[tuple[int, GroupKey], dict[str, Any]] = {}
        self._templates: dict[tuple[int, GroupKey, bool], tuple[FastTemplate, ...] | None] = {}

    def mail(self, unit: dict[str, Any], learner: Personal, group: Grouping | None) -> tuple[str, str, str]:
        """A fresh token, the subject and the mail of `unit` for `learner`, as `unit_mail` writes it."""
        token = new_token()
        position = int(unit.get("position", 0))
        key: GroupKey = (group.handle, group.name) if group is not None else None
        shared = self._shared.get((position, key))
        if shared is None:
            shared = self._shared[(position, key)] = shared_context(self.run, self.snapshot, group, unit)
        data = personal_context(shared, learner, token)
        where = unit_where(self.snapshot, unit)
        tracking = tracked(token)
        body = str(unit.get("body", ""))
        rendered = self._fast(position, key, shared, body, where, data, tracking)
        if rendered is None:
            rendered = render(UNIT_SUBJECT, body, data, where, **tracking)
        handle = group.handle if group is not None else None
        headers = course_headers(learner.name, learner.email, handle, self.run, self.snapshot, rendered, token)
        return token, rendered.subject, compose(headers, rendered.text, rendered.html)

    def _fast(
        self,
        position: int,
        key: GroupKey,
        shared: dict[str, Any],
        body: str,
        where: str,
        data: dict[str, Any],
        tracking: dict[str, Any],
    ) -> Rendered | None:
        """The mail's text by the templates specialised for its unit and group, or None (render as before)."""
        compiled = compile_body(body, where, bool(tracking))
        templates = self._specialised(position, key, shared, body, where, bool(tracking))
        if templates is None:
            return None
        subject, text, html = templates
        values = _values(data, compiled.links, tracking)
        try:
            title = " ".join(subject.render(values).split())
            return Rendered(subject=title, text=text.render(values), html=html.render(values))
        except Unsupported:
            return None  # this learner's values need Jinja2 (as in `render`)

    def _specialised(
        self, position: int, key: GroupKey, shared: dict[str, Any], body: str, where: str, tracking: bool
    ) -> tuple[FastTemplate, ...] | None:
        if (position, key, tracking) in self._templates:
            return self._templates[(position, key, tracking)]
        compiled = compile_body(body, where, tracking)
        subject = _fast_subject(UNIT_SUBJECT)
        templates: tuple[FastTemplate, ...] | None = None
        if subject is not None and compiled.fast_text is not None and compiled.fast_html is not None:
            first, second = (
                _values(personal_context(shared, learner, token), compiled.links, tracked(token) if tracking else {})
                for learner, token in _STAND_INS
            )
            common = _common(first, second)
            try:
                templates = tuple(t.specialise(common) for t in (subject, compiled.fast_text, compiled.fast_html))
            except Unsupported:
                templates = None
        self._templates[(position, key, tracking)] = templates
        return templates
