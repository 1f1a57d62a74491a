"""HTML for mails that do not come from course Markdown: list relays and transactional mails.

Incoming HTML is cleaned with nh3 to a short allowlist (text structure and links only): no images,
styles, forms or scripts, so a relayed mail can neither track its readers nor run anything. Plain
text becomes escaped paragraphs with its web addresses as links; a value a learner typed (their
name) is escaped and never made a link.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from html import escape, unescape

import nh3

TAGS = frozenset(
    {
        "a", "b", "blockquote", "br", "code", "div", "em", "h1", "h2", "h3", "h4", "hr", "i", "li",
        "ol", "p", "pre", "s", "span", "strong", "sub", "sup", "table", "tbody", "td", "th", "thead",
        "tr", "u", "ul",
    }
)  # fmt: skip
ATTRIBUTES = {"a": {"href", "title"}, "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"}}
SCHEMES = frozenset({"http", "https", "mailto"})
_URL = re.compile(r"""(?:https?://|mailto:)[^\s<>"']+""")
_TRAILING = ".,;:!?)]}'\""
_PARAGRAPH = re.compile(r"\n[ \t]*\n+")


def clean_html(html: str) -> str:
    """`html` reduced to the allowlist; <script> and <style> go with their content."""
    return str(
        nh3.clean(
            html,
            tags=set(TAGS),
            attributes={tag: set(names) for tag, names in ATTRIBUTES.items()},
            url_schemes=set(SCHEMES),
            link_rel="noopener noreferrer nofollow",
            strip_comments=True,
        )
    )


def html_text(html: str) -> str:
    """The text of `html`, tags dropped and entities decoded (for a text part when a mail had only HTML)."""
    return unescape(str(nh3.clean(html, tags=set())))


def _linked(line: str) -> str:
    """One line of text, escaped, with its URLs as links (trailing punctuation stays outside)."""
    out: list[str] = []
    last = 0
    for match in _URL.finditer(line):
        url = match.group(0).rstrip(_TRAILING)
        end = match.start() + len(url)
        out += [escape(line[last : match.start()]), f'<a href="{escape(url)}">{escape(url)}</a>']
        last = end
    out.append(escape(line[last:]))
    return "".join(out)


def _paragraphs(text: str, line_html: Callable[[str], str]) -> str:
    paragraphs = [p.strip("\n") for p in _PARAGRAPH.split(text.replace("\r\n", "\n").strip())]
    return "".join(f"<p>{'<br>'.join(line_html(line) for line in p.split(chr(10)))}</p>" for p in paragraphs if p)


def text_html(text: str) -> str:
    """Plain `text` as HTML: blank lines part paragraphs, line breaks stay, addresses become links.

    Only for text of our own or of a course; values a learner typed go through `verbatim_html`."""
    return _paragraphs(text, _linked)


def verbatim_html(text: str) -> str:
    """Text a person typed (a learner's name in a greeting) as HTML paragraphs: escaped, never a link,
    so that a name such as "https://evil.example" stays words and is not made a link in our mail."""
    return _paragraphs(text, escape)


def document(body: str, footer: str = "") -> str:
    """A whole HTML part around `body` (already safe HTML), with an optional small footer."""
    foot = f'<p style="margin-top:2em;font-size:85%;color:#57606a">{footer}</p>' if footer else ""
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head>'
        '<body style="font-family:Georgia,serif;line-height:1.5;color:#1f2328">'
        f'<div style="max-width:38em">{body}{foot}</div></body></html>'
    )
