"""Sanitizing HTML from other servers with nh3, using Mastodon's allowlist (Sanitize::Config::MASTODON_STRICT).

Every remote HTML fragment (post content, summaries, report comments) passes through `sanitize_html`
before it is stored or shown; `sanitize_text` reduces it to plain text.
"""

from __future__ import annotations

import html
import re

import nh3

# Mastodon's allowlist: elements, attributes, link protocols and the microformat classes it keeps.
TAGS = {
    "p", "br", "span", "a", "abbr", "del", "pre", "blockquote", "code", "b", "strong", "u", "sub", "sup",
    "i", "em", "h1", "h2", "h3", "h4", "h5", "ul", "ol", "li", "ruby", "rt", "rp",
}  # fmt: skip
ATTRIBUTES = {
    "a": {"href", "translate"},
    "abbr": {"title"},
    "span": {"translate"},
    "ol": {"start", "reversed"},
    "li": {"value"},
}
URL_SCHEMES = {"http", "https", "dat", "dweb", "ipfs", "ipns", "ssb", "gopher", "xmpp", "magnet", "gemini"}
CLASSES = {
    "a": {"mention", "hashtag", "u-url", "h-card", "status-link", "unhandled-link"},
    "span": {"h-card", "mention", "hashtag", "ellipsis", "invisible", "u-url"},
}
DROP_WITH_CONTENT = {"script", "style", "iframe", "object", "embed", "template", "noscript"}


def sanitize_html(fragment: str) -> str:
    """`fragment` with only Mastodon's allowed markup left; links get rel=nofollow noopener noreferrer."""
    return nh3.clean(
        fragment,
        tags=TAGS,
        clean_content_tags=DROP_WITH_CONTENT,
        attributes=ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        allowed_classes=CLASSES,
        link_rel="nofollow noopener noreferrer",
        strip_comments=True,
    )


def sanitize_text(fragment: str) -> str:
    """Remote HTML as plain text: sanitized, paragraphs and breaks kept as newlines, entities decoded."""
    cleaned = sanitize_html(fragment)
    cleaned = re.sub(r"<br\s*/?>", "\n", cleaned)
    cleaned = re.sub(r"</p>\s*<p[^>]*>", "\n\n", cleaned)
    text = re.sub(r"<[^>]+>", "", cleaned)
    return html.unescape(text).strip()
