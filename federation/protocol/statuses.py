"""People's statuses as ActivityStreams and back: pure functions over plain data.

Out (`note`): a status as the `Note` Mastodon writes (`app/serializers/activitypub/note_serializer.rb`):
`content`, `contentMap` for its language, `summary` (the content warning) and `sensitive`, `inReplyTo`,
`attachment` (a `Document` per image, `name` = the alt text), `tag` (a `Mention` per mentioned account,
named `@user@host`, and a `Hashtag` per tag), addressed per visibility as
`ActivityPub::TagManager#to` / `#cc` do (`app/lib/activitypub/tag_manager.rb`):

| visibility | to | cc |
| --- | --- | --- |
| public | Public | the author's followers, the mentioned |
| unlisted | the author's followers | Public, the mentioned |
| private | the author's followers | the mentioned |
| direct | the mentioned | — |

In (`read_note`): a remote `Note`, `Question` or `Article` reduced to what a status keeps, with the
visibility `ActivityPub::Parser::StatusParser#visibility` gives (Public in `to`: public; in `cc`:
unlisted; the author's followers in `to`: private; otherwise direct), the language as
`StatusParser#language` reads it (the first key of `contentMap`), and the content sanitized with
Mastodon's allowlist. Every input is bounded: text sizes, counts of tags and attachments, URL schemes.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

from federation.protocol.sanitize import sanitize_html, sanitize_text
from server.floor.errors import Invalid

AS = "https://www.w3.org/ns/activitystreams"
PUBLIC = AS + "#Public"
PUBLIC_NAMES = frozenset({PUBLIC, "as:Public", "Public"})
NOTE_TYPES = frozenset({"Note", "Question", "Article", "Page"})
MAX_HTML = 100_000
MAX_SUMMARY = 1_500
MAX_TAGS = 50
MAX_ATTACHMENTS = 4
MAX_ALT = 1_500
# Mastodon's own context extensions for what a status carries (app/lib/activitypub/adapter.rb).
STATUS_CONTEXT: list[Any] = [
    AS,
    {
        "ostatus": "http://ostatus.org#",
        "sensitive": "as:sensitive",
        "Hashtag": "as:Hashtag",
        "toot": "http://joinmastodon.org/ns#",
        "blurhash": "toot:blurhash",
        "focalPoint": {"@container": "@list", "@id": "toot:focalPoint"},
    },
]


@dataclass(frozen=True)
class Mentioned:
    """An account a status mentions: its actor id and `@user@host`."""

    href: str
    acct: str


@dataclass(frozen=True)
class Image:
    """An image attached to a status: where it is, its type, alt text and size."""

    url: str
    media_type: str = "image/webp"
    description: str = ""
    width: int | None = None
    height: int | None = None
    blurhash: str | None = None


@dataclass(frozen=True)
class NoteFacts:
    """What `note` needs of a local status."""

    id: str
    author: str
    followers: str
    content: str  # sanitized HTML
    published: str
    visibility: str
    url: str | None = None
    summary: str = ""
    sensitive: bool = False
    language: str | None = None
    in_reply_to: str | None = None
    updated: str | None = None
    mentions: tuple[Mentioned, ...] = ()
    tags: tuple[str, ...] = ()  # hashtag names, without '#'
    tag_base: str = ""  # the instance's base URL: a hashtag's href is {tag_base}/tags/{name}
    images: tuple[Image, ...] = ()
    group: str | None = None  # a study group's actor id, for a status posted to one (FEP-1b12 audience)


def addressing(visibility: str, followers: str, mentioned: list[str]) -> tuple[list[str], list[str]]:
    """(to, cc) of a status by visibility, as `ActivityPub::TagManager#to` and `#cc` address it."""
    if visibility == "public":
        return [PUBLIC], [followers, *mentioned]
    if visibility == "unlisted":
        return [followers], [PUBLIC, *mentioned]
    if visibility == "private":
        return [followers], list(mentioned)
    if visibility == "direct":
        return list(mentioned), []
    raise Invalid(f"visibility {visibility!r} cannot be federated (public, unlisted, private or direct)")


def note(facts: NoteFacts) -> dict[str, Any]:
    """The Note of a local status (no @context: the activity carries it)."""
    hrefs = [m.href for m in facts.mentions]
    to, cc = addressing(facts.visibility, facts.followers, hrefs)
    if facts.group and facts.group not in to:
        to = [*to, facts.group]
    tags: list[dict[str, Any]] = [{"type": "Mention", "href": m.href, "name": m.acct} for m in facts.mentions]
    tags += [{"type": "Hashtag", "href": f"{facts.tag_base}/tags/{name}", "name": f"#{name}"} for name in facts.tags]
    document: dict[str, Any] = {
        "id": facts.id,
        "type": "Note",
        "summary": facts.summary or None,
        "inReplyTo": facts.in_reply_to,
        "published": facts.published,
        "url": facts.url or facts.id,
        "attributedTo": facts.author,
        "to": to,
        "cc": cc,
        "sensitive": bool(facts.sensitive or facts.summary),
        "content": facts.content,
        "attachment": [_document(image) for image in facts.images],
        "tag": tags,
    }
    if facts.language:
        document["contentMap"] = {facts.language: facts.content}
    if facts.updated:
        document["updated"] = facts.updated
    if facts.group:
        document["audience"] = facts.group
    return document


def _document(image: Image) -> dict[str, Any]:
    found: dict[str, Any] = {
        "type": "Document",
        "mediaType": image.media_type,
        "url": image.url,
        "name": image.description or None,
    }
    if image.blurhash:
        found["blurhash"] = image.blurhash
    if image.width and image.height:
        found["width"], found["height"] = image.width, image.height
    return found


def wrap(kind: str, activity_id: str, actor: str, obj: Any, to: list[str], cc: list[str]) -> dict[str, Any]:
    """An activity of `kind` (Create, Update, Delete, Announce...) with the status context."""
    return {
        "@context": STATUS_CONTEXT,
        "id": activity_id,
        "type": kind,
        "actor": actor,
        "to": to,
        "cc": cc,
        "object": obj,
    }


def tombstone(object_id: str, deleted: str | None = None) -> dict[str, Any]:
    """What a deleted status or account is now (`Tombstone`, as Mastodon's Delete carries it)."""
    found: dict[str, Any] = {"id": object_id, "type": "Tombstone"}
    if deleted:
        found["deleted"] = deleted
    return found


# --- reading remote statuses ---------------------------------------------------------------------


@dataclass(frozen=True)
class ReadNote:
    """A remote status as we keep it."""

    id: str
    type: str
    author: str
    html: str
    text: str
    visibility: str
    url: str | None = None
    summary: str = ""
    sensitive: bool = False
    language: str | None = None
    in_reply_to: str | None = None
    published: str | None = None
    mentions: tuple[str, ...] = ()  # actor ids
    tags: tuple[str, ...] = ()  # lower-case hashtag names
    images: tuple[Image, ...] = field(default_factory=tuple)
    addressed: tuple[str, ...] = ()  # to + cc + audience


def listed(value: Any) -> list[Any]:
    """An AS2 value as a list (one item may stand alone)."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def ref(value: Any) -> str | None:
    """The id of an AS2 reference (a string, or an object's `id`, or a Link's `href`)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        found = value.get("id") if isinstance(value.get("id"), str) else value.get("href")
        return found if isinstance(found, str) else None
    return None


def _http(value: Any) -> str | None:
    return (
        value if isinstance(value, str) and value.startswith(("https://", "http://")) and len(value) <= 2000 else None
    )


def _ids(value: Any) -> list[str]:
    return [found for item in listed(value)[:500] if (found := ref(item))]


def visibility_of(to: list[str], cc: list[str], followers: str | None) -> str:
    """`ActivityPub::Parser::StatusParser#visibility`: public, unlisted, private or direct."""
    if any(item in PUBLIC_NAMES for item in to):
        return "public"
    if any(item in PUBLIC_NAMES for item in cc):
        return "unlisted"
    if followers and followers in to:
        return "private"
    return "direct"


def _language(document: dict[str, Any]) -> str | None:
    content_map = document.get("contentMap")
    if isinstance(content_map, dict) and content_map:
        first = next(iter(content_map))
        return first[:16] if isinstance(first, str) and first.replace("-", "").isalnum() else None
    return None


def _content(document: dict[str, Any]) -> str:
    content = document.get("content")
    if not isinstance(content, str):
        content_map = document.get("contentMap")
        values = [v for v in content_map.values() if isinstance(v, str)] if isinstance(content_map, dict) else []
        content = values[0] if values else ""
    if document.get("type") == "Question":
        options = [o.get("name") for o in listed(document.get("oneOf") or document.get("anyOf")) if isinstance(o, dict)]
        items = "".join(f"<li>{html.escape(str(o)[:200])}</li>" for o in options[:20] if o)
        content += f"<ul>{items}</ul>" if items else ""
    if document.get("type") in {"Article", "Page"}:
        # ActivityPub::Activity::Create#converted_text: a title and a link for what is not a Note.
        name = document.get("name")
        link = _http(ref(document.get("url"))) or _http(document.get("id"))
        title = f"<p><strong>{html.escape(name[:500])}</strong></p>" if isinstance(name, str) and name else ""
        more = f'<p><a href="{html.escape(link)}">{html.escape(link)}</a></p>' if link else ""
        content = title + content + more
    return content[:MAX_HTML]


def _images(document: dict[str, Any]) -> tuple[Image, ...]:
    found: list[Image] = []
    for item in listed(document.get("attachment"))[: MAX_ATTACHMENTS * 4]:
        if not isinstance(item, dict) or item.get("type") not in {"Document", "Image", "Video", "Audio"}:
            continue
        url = _http(ref(item.get("url")) if not isinstance(item.get("url"), list) else ref(item["url"][0]))
        media_type = item.get("mediaType")
        if url is None:
            continue
        width, height = item.get("width"), item.get("height")
        found.append(
            Image(
                url=url,
                media_type=media_type[:100] if isinstance(media_type, str) else "application/octet-stream",
                description=sanitize_text(item["name"])[:MAX_ALT] if isinstance(item.get("name"), str) else "",
                width=width if isinstance(width, int) and 0 < width < 100_000 else None,
                height=height if isinstance(height, int) and 0 < height < 100_000 else None,
                blurhash=item["blurhash"][:100] if isinstance(item.get("blurhash"), str) else None,
            )
        )
        if len(found) == MAX_ATTACHMENTS:
            break
    return tuple(found)


def _tags(document: dict[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    mentions: list[str] = []
    hashtags: list[str] = []
    for item in listed(document.get("tag"))[: MAX_TAGS * 4]:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "Mention" and (href := _http(item.get("href"))) and href not in mentions:
            mentions.append(href)
        elif item.get("type") == "Hashtag" and isinstance(item.get("name"), str):
            name = item["name"].lstrip("#").strip().lower()[:200]
            if name and name not in hashtags:
                hashtags.append(name)
    return tuple(mentions[:MAX_TAGS]), tuple(hashtags[:MAX_TAGS])


def read_note(document: Any, followers: str | None = None) -> ReadNote:
    """A remote Note/Question/Article as we keep it; Invalid naming the field when it cannot be kept.

    `followers` is the author's followers collection (from their actor document), which tells a
    followers-only status from a direct one.
    """
    if not isinstance(document, dict):
        raise Invalid("object: a status must be embedded as an object")
    kind = document.get("type")
    if kind not in NOTE_TYPES:
        raise Invalid(f"object.type: {kind!r} is not a status (Note, Question, Article, Page)")
    note_id = _http(document.get("id"))
    if note_id is None:
        raise Invalid("object.id: not an http(s) URL")
    author = _http(ref(listed(document.get("attributedTo"))[0] if listed(document.get("attributedTo")) else None))
    if author is None:
        raise Invalid("object.attributedTo: no author")
    content = sanitize_html(_content(document))
    to, cc = _ids(document.get("to")), _ids(document.get("cc"))
    summary = document.get("summary") if kind == "Note" or kind == "Question" else None
    mentions, hashtags = _tags(document)
    published = document.get("published")
    return ReadNote(
        id=note_id,
        type=str(kind),
        author=author,
        html=content,
        text=sanitize_text(content),
        visibility=visibility_of(to, cc, followers),
        url=_http(ref(listed(document.get("url"))[0])) if listed(document.get("url")) else None,
        summary=sanitize_text(summary)[:MAX_SUMMARY] if isinstance(summary, str) else "",
        sensitive=document.get("sensitive") is True,
        language=_language(document),
        in_reply_to=_http(ref(document.get("inReplyTo"))),
        published=published if isinstance(published, str) and len(published) < 40 else None,
        mentions=mentions,
        tags=hashtags,
        images=_images(document),
        addressed=tuple(to + cc + _ids(document.get("audience"))),
    )
