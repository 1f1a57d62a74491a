"""Units of courses in public: a unit body rendered neutrally (pure functions on a unit's facts).

A unit body is a Jinja2 template with merge tags for one learner (`courses.merge_tags`). In public
(the unit's page, its `content` and teaser `summary`) the tags are filled with neutral values: the
course's and unit's own facts, and words such as "your study group" where a learner's value would go,
so no `{{ }}` reaches a reader. `GET /courses/{slug}/units/{unit_slug}` serves the unit object of the
course's current published version (the draft if never published) to ActivityPub clients
(`federation.entry.objects`); browsers get the web page at the same URL (`web.pages.units`).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import nh3
from jinja2 import ChainableUndefined, TemplateError
from markdown_it import MarkdownIt

from server.floor.sandbox import BoundedSandbox, TemplateTooCostly

TEASER_CHARS = 200
# Raw HTML in a body is shown as text, like the pages' `markdown` filter; nh3 then cleans the result.
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False})
_BLOCK_TAG = re.compile(r"</?(?:p|br|li|ul|ol|h[1-6]|blockquote|pre|hr|div|table|tr|td|th)\b[^>]*>", re.I)
# Whole tags first, then any delimiter left unpaired: a body that does not render shows its text only.
_TAG_SYNTAX = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}|\{\{|\}\}|\{%|%\}|\{#|#\}", re.DOTALL)
# What a body of another instance may still do wrong at render time, after the sandbox's own errors.
_RENDER_ERRORS = (TemplateError, TypeError, ValueError, LookupError, ArithmeticError, AttributeError)


class _Placeholder(ChainableUndefined):
    """A learner's or run's value on a public page: `default(...)` applies, else a neutral phrase shows."""

    def __str__(self) -> str:
        return self._undefined_hint or ""


@dataclass(frozen=True)
class UnitFacts:
    """What a unit's public rendering depends on (hashable, so renderings are cached)."""

    course_title: str
    course_slug: str
    course_summary: str
    course_url: str
    title: str
    day: int
    position: int
    url: str
    body: str


def facts_of(snapshot: dict[str, Any], course_url: str, unit: dict[str, Any]) -> UnitFacts:
    """The facts of `unit` in the course `snapshot` whose page is `course_url`."""
    return UnitFacts(
        course_title=snapshot["title"],
        course_slug=snapshot["slug"],
        course_summary=snapshot["summary"],
        course_url=course_url,
        title=unit["title"],
        day=unit["day"],
        position=unit["position"],
        url=f"{course_url}/units/{unit['slug']}",  # as federation.protocol.vocabulary.unit_id
        body=unit["body"],
    )


def _neutral_context(facts: UnitFacts) -> dict[str, Any]:
    """The merge-tag names with the course's own facts, and phrases for one learner's values."""
    here = facts.course_url
    return {
        "learner": {
            "name": _Placeholder("learner"),
            "email": _Placeholder("your email address"),
            "timezone": _Placeholder("your time zone"),
            "language": _Placeholder("your language"),
        },
        "course": {
            "title": facts.course_title,
            "slug": facts.course_slug,
            "summary": facts.course_summary,
            "url": here,
        },
        "run": {"handle": _Placeholder("your run"), "start": _Placeholder("the run's start date"), "url": here},
        "group": {
            "name": _Placeholder("your study group"),
            "handle": _Placeholder("your study group"),
            "address": _Placeholder("your study group's address"),
            "url": _Placeholder(here),
        },
        "unit": {"title": facts.title, "day": facts.day, "position": facts.position, "url": facts.url},
        "links": {"me": _Placeholder(here), "unsubscribe": _Placeholder(here)},
    }


def neutral_text(facts: UnitFacts) -> str:
    """The body's Markdown with merge tags filled neutrally (tags stripped when it does not render; a
    sentence saying why when it costs more than the sandbox allows, whose work is then not repeated)."""
    environment = BoundedSandbox(undefined=ChainableUndefined, autoescape=False)
    try:
        return environment.from_string(facts.body).render(_neutral_context(facts))
    except TemplateTooCostly as error:
        return f"*This unit cannot be shown: {error}.*"
    except _RENDER_ERRORS:
        return _TAG_SYNTAX.sub("", facts.body)


def teaser(fragment: str, limit: int = TEASER_CHARS) -> str:
    """Rendered HTML as one line of plain text, cut at a word boundary near `limit` characters."""
    spaced = _BLOCK_TAG.sub(" ", fragment)  # blocks part words; inline markup (<strong>) does not
    text = " ".join(html.unescape(re.sub(r"<[^>]*>", "", spaced)).split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] or text[:limit]
    return cut.rstrip(" ,.;:") + "…"


@lru_cache(maxsize=1024)
def rendered(facts: UnitFacts) -> tuple[str, str]:
    """(sanitized HTML, plain-text teaser) of a unit body in public."""
    fragment = nh3.clean(_MARKDOWN.render(neutral_text(facts)))
    return fragment, teaser(fragment)
