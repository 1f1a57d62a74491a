"""Courses, units, runs and study groups as ActivityStreams 2.0: plain functions over plain data.

A course is an actor (`Service`, so Mastodon can follow it and shows its profile) whose published
versions are `Article` objects: Mastodon shows an Article as its `name`, its teaser `summary` and
its `url`, and ignores what it does not know. Our peers read the full structure from terms of our
own `@context` (units with day offsets, schedule, SPDX license, language, resources, version) and
ForgeFed's `forks`; `origin` (ActivityStreams) points at what a fork was copied from.

The context is embedded in every document (and served at `/ns` for people and JSON-LD tools), so a
peer never needs to fetch it. Its vocabulary IRI is the serving instance's `/ns#`.

Interface for `federation.flows.actors` (the protocol engineer's envelopes): `course_fields(snapshot,
ids)` returns the type and the structure of a course actor; `run_fields` and `group_fields` the
same for runs and study groups (FEP-1b12 `Group`). The envelope adds `id`, `inbox`, `outbox`,
`followers`, `publicKey`, `endpoints` and `preferredUsername`, and uses `context()` as `@context`.
Units are `Article`s too: `name`, a plain-text teaser `summary` and `url` (their page) from
`federation.protocol.unit_text`, which renders merge tags neutrally; `unit_document` is a unit served at its id.
`snapshot_from_course(document)` is the inverse used by forks (in `course_reading`, re-exported
here): AS2 back to a course snapshot in the shape of `courses.versions.snapshot_of`.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

# Re-exported: forks and tests read courses back through this module.
from federation.protocol.course_reading import is_course as is_course
from federation.protocol.course_reading import snapshot_from_course as snapshot_from_course
from federation.protocol.course_reading import version_of as version_of
from federation.protocol.unit_text import facts_of, rendered
from server.floor.errors import Invalid

AS = "https://www.w3.org/ns/activitystreams"
SECURITY = "https://w3id.org/security/v1"
PUBLIC = AS + "#Public"
FORGEFED = "https://forgefed.org/ns#"
MARKDOWN = "text/markdown"


def terms(base_url: str) -> dict[str, Any]:
    """Our JSON-LD terms, with `mm:` bound to the instance's `/ns#`."""
    return {
        "mm": f"{base_url}/ns#",
        "forge": FORGEFED,
        "schema": "http://schema.org#",
        "PropertyValue": "schema:PropertyValue",
        "value": "schema:value",
        "forks": {"@id": "forge:forks", "@type": "@id"},
        "Course": "mm:Course",
        "units": {"@id": "mm:units", "@container": "@list"},
        "day": {"@id": "mm:day", "@type": "http://www.w3.org/2001/XMLSchema#integer"},
        "position": {"@id": "mm:position", "@type": "http://www.w3.org/2001/XMLSchema#integer"},
        "slug": "mm:slug",
        "version": {"@id": "mm:version", "@type": "http://www.w3.org/2001/XMLSchema#integer"},
        "license": "mm:spdxLicense",
        "language": "mm:language",
        "sendTime": "mm:sendTime",
        "lateJoin": "mm:lateJoin",
        "groupSize": {"@id": "mm:groupSize", "@type": "http://www.w3.org/2001/XMLSchema#integer"},
        "groupBy": {"@id": "mm:groupBy", "@container": "@list"},
        "resources": {"@id": "mm:resources", "@container": "@list"},
        "questions": {"@id": "mm:questions", "@type": "@json"},
        "extra": {"@id": "mm:extra", "@type": "@json"},
        "lineage": {"@id": "mm:lineage", "@type": "@id", "@container": "@list"},
        "course": {"@id": "mm:course", "@type": "@id"},
        "run": {"@id": "mm:run", "@type": "@id"},
        "startDate": "mm:startDate",
        "timezone": "mm:timezone",
        "signup": {"@id": "mm:signup", "@type": "@id"},
        "postingRestrictedToMods": "https://w3id.org/fep/1b12#postingRestrictedToMods",
        # Mastodon's extensions, bound as its app/lib/activitypub/adapter.rb CONTEXT_EXTENSION_MAP binds
        # them, so a JSON-LD processor keeps what our actors say of themselves.
        "toot": "http://joinmastodon.org/ns#",
        "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
        "discoverable": "toot:discoverable",
        "indexable": "toot:indexable",
        "featured": {"@id": "toot:featured", "@type": "@id"},
        "Hashtag": "as:Hashtag",
    }


def context(base_url: str) -> list[Any]:
    """The `@context` of every document we send: AS2, security, and our terms inline."""
    return [AS, SECURITY, terms(base_url)]


def context_document(base_url: str) -> dict[str, Any]:
    """The JSON-LD context document served at `/ns`."""
    return {"@context": terms(base_url)}


@dataclass(frozen=True)
class CourseIds:
    """The URLs a course document points at, built by `server.floor.urls` on the serving instance."""

    course: str
    url: str
    forks: str
    version: int | None = None


def unit_id(course_id: str, slug: str) -> str:
    """The id of a unit of the course `course_id` (mirrors `server.floor.urls.unit`)."""
    return f"{course_id}/units/{slug}"


def text_as_html(text: str) -> str:
    """Plain text as an HTML fragment Mastodon shows (escaped; paragraphs kept)."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p]
    return "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)


def _unit_object(snapshot: dict[str, Any], ids: CourseIds, unit: dict[str, Any]) -> dict[str, Any]:
    """A unit as the Article Mastodon degrades to (name, teaser summary, url); Markdown as `source`."""
    _content, teaser = rendered(facts_of(snapshot, ids.url, unit))
    body: dict[str, Any] = {
        "type": "Article",
        "id": unit_id(ids.course, unit["slug"]),
        "slug": unit["slug"],
        "name": unit["title"],
        "summary": html.escape(teaser, quote=False),
        "url": unit_id(ids.url, unit["slug"]),
        "day": unit["day"],
        "position": unit["position"],
        "source": {"content": unit["body"], "mediaType": MARKDOWN},
        "attributedTo": ids.course,
    }
    if unit.get("origin"):
        body["origin"] = unit["origin"]
    if unit.get("extra"):
        body["extra"] = unit["extra"]
    return body


def _public(course_id: str) -> dict[str, Any]:
    """Addressing of a course's public Articles: without `to`/`cc` Mastodon takes them for direct
    messages (`StatusParser#visibility`) and GoToSocial refuses them (`ap.ExtractVisibility`:
    "message wasn't TO or CC anyone")."""
    return {"to": [PUBLIC], "cc": [f"{course_id}/followers"]}


def unit_document(
    snapshot: dict[str, Any], ids: CourseIds, unit: dict[str, Any], published: str | None = None
) -> dict[str, Any]:
    """A unit on its own (served at its id): the embedded object plus its sanitized HTML `content`."""
    content, _teaser = rendered(facts_of(snapshot, ids.url, unit))
    dated = {"published": published} if published else {}
    return {
        **_unit_object(snapshot, ids, unit),
        "content": content,
        "context": ids.course,
        **_public(ids.course),
        **dated,
    }


def _structure(snapshot: dict[str, Any], ids: CourseIds) -> dict[str, Any]:
    """The course's full structure in our terms (shared by the actor and its version Articles)."""
    structure: dict[str, Any] = {
        "name": snapshot["title"],
        "summary": html.escape(snapshot["summary"]),
        "url": ids.url,
        "slug": snapshot["slug"],
        "language": snapshot["language"],
        "license": snapshot["license"],
        "tag": [{"type": "Hashtag", "name": f"#{tag}"} for tag in snapshot["tags"]],
        "resources": [_resource_link(r) for r in snapshot["resources"]],
        "sendTime": snapshot["send_time"],
        "lateJoin": snapshot["late_join"],
        "groupSize": snapshot["group_size"],
        "groupBy": list(snapshot["group_by"]),
        "questions": snapshot["questions"],
        "extra": snapshot["extra"],
        "units": [_unit_object(snapshot, ids, u) for u in snapshot["units"]],
        "forks": ids.forks,
        "lineage": list(snapshot.get("lineage") or []),
        # Mastodon shows these as profile fields: what a person wants to know at a glance.
        "attachment": [
            {"type": "PropertyValue", "name": "License", "value": snapshot["license"]},
            {"type": "PropertyValue", "name": "Language", "value": snapshot["language"]},
            {"type": "PropertyValue", "name": "Units", "value": str(len(snapshot["units"]))},
        ],
    }
    if ids.version is not None:
        structure["version"] = ids.version
    if snapshot.get("origin"):
        structure["origin"] = snapshot["origin"]
    return structure


def _resource_link(resource: dict[str, Any]) -> dict[str, Any]:
    link: dict[str, Any] = {"type": "Link", "name": resource.get("title", ""), "href": resource.get("url", "")}
    others = {k: v for k, v in resource.items() if k not in {"title", "url"}}
    if others:
        link["extra"] = others
    return link


def course_fields(snapshot: dict[str, Any], ids: CourseIds) -> dict[str, Any]:
    """The course actor's type and structure (the envelope adds inbox, keys and collections)."""
    return {"type": "Service", "id": ids.course, **_structure(snapshot, ids)}


def version_article(snapshot: dict[str, Any], ids: CourseIds, published: str) -> dict[str, Any]:
    """A published version as the `Article` Mastodon degrades to: name, teaser summary, url."""
    if ids.version is None:
        raise Invalid("a version Article needs a version number")
    structure = _structure(snapshot, ids)
    # Mastodon shows an Article as name, summary and link (`ActivityPub::Activity::Create#converted_text`);
    # GoToSocial shows its content (and the summary as a content warning over it).
    teaser = f"<p>{structure['summary']}</p>" if structure["summary"] else ""
    link = f'<p><a href="{html.escape(ids.url)}">{html.escape(ids.url)}</a></p>'
    content = f"<p><strong>{html.escape(snapshot['title'])}</strong>, version {ids.version}</p>{teaser}{link}"
    return {
        "type": "Article",
        "id": f"{ids.course}/versions/{ids.version}",
        "attributedTo": ids.course,
        "context": ids.course,
        "published": published,
        **_public(ids.course),
        **structure,
        "content": content,
    }


@dataclass(frozen=True)
class RunFacts:
    """What a run's Group actor and its announcement say: plain data gathered by the caller."""

    run: str
    url: str
    course: str
    course_title: str
    course_url: str
    start_date: str
    timezone: str
    last_day: int
    units: int


def run_teaser(facts: RunFacts) -> str:
    """One line a person reads in Mastodon: when the run starts, how long, how many units."""
    weeks = max(1, (facts.last_day + 6) // 7)
    return (
        f"A run of {facts.course_title} starting {facts.start_date} ({facts.timezone}): "
        f"{facts.units} units over {weeks} week{'s' if weeks != 1 else ''}, learned together in small study groups."
    )


def run_fields(facts: RunFacts) -> dict[str, Any]:
    """A run as a FEP-1b12 `Group` actor, joinable by Follow or Join; no `attributedTo` (FEP-1b12 and
    Lemmy read a Group's `attributedTo` as its moderators collection: `AttributedTo::url`)."""
    return {
        "type": "Group",
        "id": facts.run,
        "name": f"{facts.course_title} — run from {facts.start_date}",
        "summary": text_as_html(run_teaser(facts)),
        "url": facts.url,
        "course": facts.course,
        "startDate": facts.start_date,
        "timezone": facts.timezone,
        "signup": facts.url,
        "postingRestrictedToMods": True,
    }


def group_fields(group: str, url: str, name: str, run: str, run_name: str) -> dict[str, Any]:
    """A study group as a FEP-1b12 `Group` actor whose members may post to it."""
    return {
        "type": "Group",
        "id": group,
        "name": name,
        "summary": text_as_html(f"A study group of {run_name}. Posts addressed to it reach every member."),
        "url": url,
        "run": run,
        "postingRestrictedToMods": False,
    }


def create_of(note: dict[str, Any], actor: str, context: Any = AS, cc: list[str] | None = None) -> dict[str, Any]:
    """The Create of `note` by `actor`: its id is the note's + "/activity", `to` a copy of the note's,
    `cc` a copy of `cc` (none by default: our direct and group posts address everyone in `to`)."""
    return {
        "@context": context,
        "id": f"{note['id']}/activity",
        "type": "Create",
        "actor": actor,
        "published": note["published"],
        "to": list(note["to"]),
        "cc": list(cc or []),
        "object": note,
    }


def run_announcement(facts: RunFacts, note_id: str, published: str, followers: str) -> dict[str, Any]:
    """The public Note a course sends its followers when a run opens: name, dates, signup link."""
    content = (
        f'<p>New run of <a href="{html.escape(facts.course_url)}">{html.escape(facts.course_title)}</a> '
        f"starts {html.escape(facts.start_date)} ({html.escape(facts.timezone)}).</p>"
        f"<p>{html.escape(run_teaser(facts))}</p>"
        f'<p>Sign up: <a href="{html.escape(facts.url)}">{html.escape(facts.url)}</a> — '
        f"or follow the run from your fediverse account to get each unit as a post.</p>"
    )
    return {
        "type": "Note",
        "id": note_id,
        "attributedTo": facts.course,
        "content": content,
        "url": facts.url,
        "published": published,
        "to": [PUBLIC],
        "cc": [followers],
        "tag": [{"type": "Link", "href": facts.run, "name": facts.run}],
    }
