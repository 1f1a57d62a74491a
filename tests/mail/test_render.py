"""Rendering course text: sandbox, escaping, Markdown with inlined CSS, tracked links, errors naming the unit."""

from __future__ import annotations

import pytest

from mail.render import render
from server.floor.errors import Invalid

CONTEXT = {
    "learner": {"name": "<b>Bo</b> *star*"},
    "course": {"title": "Gentle"},
    "group": {"address": "g1@lists.example.org"},
    "links": {
        "learner_page": "https://x.example/me/t",
        "group": "https://x.example/groups/g1",
        "unsubscribe": "https://x.example/mail/unsubscribe/t",
    },
}


def test_merge_values_are_text_not_markup_and_css_is_inlined() -> None:
    body = "Hello {{ learner.name }}, write to **{{ group.address }}**.\n\n[Docs](https://docs.python.org/3/?a=1&b=2)"
    mail = render("{{ course.title }}: week 1", body, CONTEXT, "unit week-1")
    assert mail.subject == "Gentle: week 1"
    assert "&lt;b&gt;Bo&lt;/b&gt; *star*" in mail.html and "<b>Bo</b>" not in mail.html
    assert "<strong>g1@lists.example.org</strong>" in mail.html
    assert 'style="' in mail.html and "<style>" not in mail.html
    assert 'href="https://docs.python.org/3/?a=1&amp;b=2"' in mail.html
    assert mail.text.startswith("Hello <b>Bo</b> *star*, write to **g1@lists.example.org**.")
    assert "Unsubscribe: https://x.example/mail/unsubscribe/t" in mail.text
    assert "Your group: https://x.example/groups/g1" in mail.text


def test_tracked_links_go_through_the_click_function_and_the_pixel_is_added() -> None:
    body = "[Docs](https://docs.python.org/3/) and [me]({{ links.learner_page }})"
    mail = render(
        "s",
        body,
        CONTEXT,
        "unit x",
        track_click=lambda url: "https://t.example/c?u=" + url,
        open_pixel="https://t.example/o.gif",
    )
    assert 'href="https://t.example/c?u=https://docs.python.org/3/"' in mail.html
    assert 'href="https://x.example/me/t"' in mail.html  # personal links are not tracked
    assert '<img src="https://t.example/o.gif"' in mail.html
    plain = render("s", body, CONTEXT, "unit x")
    assert "t.example" not in plain.html and "<img" not in plain.html


def test_sandbox_and_errors_name_the_unit() -> None:
    with pytest.raises(Invalid, match="unit broken line 2"):
        render("s", "fine\n{{ learner.name ", CONTEXT, "unit broken")
    with pytest.raises(Invalid, match="unit evil: merge tags may not turn HTML escaping off"):
        render("s", "{{ '<script>x</script>' | safe }}", CONTEXT, "unit evil")
    with pytest.raises(Invalid, match="unit sneaky"):
        render("s", "{{ learner.__class__.__mro__[1].__subclasses__() }}", CONTEXT, "unit sneaky")
