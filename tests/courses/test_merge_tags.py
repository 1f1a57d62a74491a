"""Every merge tag docs/mail.md lists is accepted by the editor and the folder import, and rendered by mail."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy.orm import Session

from courses import editor
from courses.merge_tags import SAMPLE_CONTEXT, body_problem

MAIL_DOC = Path(__file__).parents[2] / "docs" / "mail.md"


def documented_tags() -> list[str]:
    """`learner.name`, `unit.number`, ... from the "Merge tags:" sentence of docs/mail.md."""
    text = MAIL_DOC.read_text()
    sentence = text[text.index("Merge tags:") : text.index("Templates run in")]
    tags = []
    for group, names in re.findall(r"`(\w+)` \(([^)]*)\)", sentence):
        tags += [f"{group}.{name}" for name in re.split(r"[,/\s]+", names) if name]
    return tags


def test_the_editor_accepts_every_documented_merge_tag(session: Session) -> None:
    tags = documented_tags()
    assert "unit.number" in tags and "links.learner_page" in tags and len(tags) > 25
    body = "\n".join(f"{tag}: {{{{ {tag} }}}}" for tag in tags)
    assert body_problem(body) is None
    course = editor.create_course(session, "tags-course", "Tags")
    unit = editor.add_unit(session, course, "Week {{ unit.number }}", 0, "This is unit {{ unit.number }}.")
    assert unit.body == "This is unit {{ unit.number }}."


def test_the_sample_has_the_shape_mail_renders() -> None:
    from datetime import date

    from courses.models import Enrollment, Run, StudyGroup
    from mail.messages import context

    run = Run(handle="r", course_id=1, version_number=1, start_date=date(2027, 1, 4))
    learner = Enrollment(email="a@example.org", name="A", timezone="UTC", language="en", token="t")
    learner.group = StudyGroup(handle="r-1", name="Group 1")
    real = context(learner, run, {"slug": "c"}, "token", {"slug": "u", "position": 0})
    assert {k: sorted(v) for k, v in real.items()} == {k: sorted(v) for k, v in SAMPLE_CONTEXT.items()}
