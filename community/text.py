"""Mastodon's plain-text conventions (app/lib/text_formatter.rb): a status is typed as plain text;
it is shown escaped, in paragraphs (a blank line) with line breaks, its http(s) URLs linked and
shortened for display, `@user` / `@user@host` mentions and `#hashtags` linked.

`render` is pure (no database): mentions link to the URL the caller knows for them
(`mention_urls`), local ones (`@user`, or `@user@our-host`) to `/@user` otherwise; an unresolved
remote mention stays plain text, as Mastodon leaves it. `count` is Mastodon's length rule: a URL
counts 23 characters, a remote mention only its `@user` part.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from html import escape

from linkify_it import LinkifyIt

from server.floor import urls
from server.floor.config import get_settings
from server.floor.untrusted import http_url

URL_LENGTH = 23  # what a link counts, whatever its length (Mastodon's StatusLengthValidator)
DISPLAY_URL_LENGTH = 30
MAX_TAG_LENGTH = 200
LINK_REL = "nofollow noopener noreferrer"
# Mastodon's Account::MENTION_RE and USERNAME_RE.
MENTION = re.compile(r"(?<![=/\w])@([a-z0-9_]+(?:[a-z0-9_.-]*[a-z0-9_])?)(?:@((?:[\w-]+\.)+[\w-]*\w|[\w-]+))?", re.I)
# Mastodon's Tag::HASHTAG_RE, without the characters Python's re cannot name: letters, digits and
# underscores with at least one that is not a digit.
HASHTAG = re.compile(r"(?<![=/)\w&#])#(\w*[^\W\d]\w*)")
_URL_PREFIX = re.compile(r"^https?://(?:www\.)?", re.I)
_PARAGRAPHS = re.compile(r"\n{2,}")
# C0/C1 controls but tab and newline: never meaningful in a status, some confuse HTML parsers.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_linkify = LinkifyIt(options={"fuzzy_link": False, "fuzzy_email": False, "fuzzy_ip": False})


@dataclass(frozen=True)
class Rendered:
    """A status's HTML, and the accounts it mentions (`user` or `user@host`, lower-case host) and
    the hashtags it carries (lower case, no '#'), each once, in order of appearance."""

    html: str
    mentions: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    tag_display: dict[str, str] = field(default_factory=dict)  # name -> as first typed


def normalise(text: str) -> str:
    """The text as stored and rendered: LF line ends, no control characters, no trailing blanks."""
    return _CONTROLS.sub("", text.replace("\r\n", "\n").replace("\r", "\n")).rstrip()


def acct_of(username: str, host: str | None) -> str:
    """`user` for ours (no host or our host), `user@host` otherwise (host in lower case)."""
    if not host or host.lower() == get_settings().host.lower():
        return username
    return f"{username}@{host.lower()}"


def _tokens(text: str) -> Iterator[tuple[str, str, re.Match[str] | str]]:
    """(kind, source, detail) spans: 'text', 'url' (detail: the URL), 'mention', 'tag' (a match)."""
    position = 0
    for link in _linkify.match(text) or []:
        url = text[link.index : link.last_index]
        if link.index < position or link.schema.lower() not in ("http:", "https:") or http_url(url) is None:
            continue
        yield from _words(text[position : link.index])
        yield "url", url, url
        position = link.last_index
    yield from _words(text[position:])


_ENTITY = re.compile(f"{MENTION.pattern}|{HASHTAG.pattern}", re.I)


def _words(segment: str) -> Iterator[tuple[str, str, re.Match[str] | str]]:
    position = 0
    for match in _ENTITY.finditer(segment):
        if match.group(3) is not None and len(match.group(3)) > MAX_TAG_LENGTH:
            continue
        if match.start() > position:
            yield "text", segment[position : match.start()], ""
        yield ("mention" if match.group(1) is not None else "tag"), match.group(0), match
        position = match.end()
    if position < len(segment):
        yield "text", segment[position:], ""


def _link(url: str) -> str:
    prefix_match = _URL_PREFIX.match(url)
    prefix = prefix_match.group(0) if prefix_match else ""
    rest = url[len(prefix) :]
    shown, hidden = rest[:DISPLAY_URL_LENGTH], rest[DISPLAY_URL_LENGTH:]
    return (
        f'<a href="{escape(url)}" target="_blank" rel="{LINK_REL}" translate="no">'
        f'<span class="invisible">{escape(prefix)}</span>'
        f'<span class="{"ellipsis" if hidden else ""}">{escape(shown)}</span>'
        f'<span class="invisible">{escape(hidden)}</span></a>'
    )


def _mention(username: str, url: str) -> str:
    return (
        f'<span class="h-card" translate="no"><a href="{escape(url)}" class="u-url mention">'
        f"@<span>{escape(username)}</span></a></span>"
    )


def _hashtag(name: str) -> str:
    href = urls.absolute(f"/tags/{name.lower()}")
    return f'<a href="{escape(href)}" class="mention hashtag" rel="tag">#<span>{escape(name)}</span></a>'


def render(text: str, mention_urls: Mapping[str, str] | None = None) -> Rendered:
    """`text` as Mastodon shows a plain-text status: escaped HTML in <p>, <br> for line breaks,
    linked URLs, mentions and hashtags (see the module docstring for which mentions link)."""
    known = {key.lower(): value for key, value in (mention_urls or {}).items()}
    parts: list[str] = []
    mentions: dict[str, None] = {}
    tags: dict[str, str] = {}
    for kind, source, detail in _tokens(normalise(text)):
        if kind == "url":
            parts.append(_link(source))
        elif kind == "mention" and isinstance(detail, re.Match):
            username, host = detail.group(1), detail.group(2)
            acct = acct_of(username, host)
            mentions.setdefault(acct, None)
            url = known.get(acct.lower()) or (urls.absolute(f"/@{username}") if "@" not in acct else None)
            parts.append(_mention(username, url) if url and http_url(url) else escape(source))
        elif kind == "tag" and isinstance(detail, re.Match):
            name = detail.group(3)
            tags.setdefault(name.lower(), name)
            parts.append(_hashtag(name))
        else:
            parts.append(escape(source))
    body = "".join(parts)
    paragraphs = [p for p in _PARAGRAPHS.split(body) if p]
    html = "".join(f"<p>{p.replace(chr(10), '<br>')}</p>" for p in paragraphs)
    return Rendered(html=html, mentions=list(mentions), tags=list(tags), tag_display=tags)


def mentions_in(text: str) -> list[str]:
    """The accounts `text` mentions (as `render` names them), without rendering it."""
    return render(text).mentions


def _graphemes(text: str) -> int:
    """User-perceived characters, near enough: combining marks, variation selectors, skin tones and
    what a zero-width joiner glues on do not count."""
    count, joined = 0, False
    for char in text:
        code = ord(char)
        if char == "\u200d":
            joined = True
            continue
        if joined:
            joined = False
            continue
        if unicodedata.category(char) in ("Mn", "Me") or 0xFE00 <= code <= 0xFE0F or 0x1F3FB <= code <= 0x1F3FF:
            continue
        count += 1
    return count


def count(text: str) -> int:
    """A status's length as Mastodon counts it: URLs 23 each, remote mentions as `@user`."""
    total = 0
    for kind, source, detail in _tokens(normalise(text)):
        if kind == "url":
            total += URL_LENGTH
        elif kind == "mention" and isinstance(detail, re.Match):
            total += 1 + _graphemes(detail.group(1))
        else:
            total += _graphemes(source)
    return total
