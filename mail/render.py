"""Rendering course text: merge tags in Jinja2's sandbox, Markdown to HTML with inlined CSS, plain text.

Course text may come from another instance, so templates run sandboxed, raw HTML in Markdown is
escaped, and a template error is reported naming the unit it came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from html import escape
from typing import Any

import css_inline
from jinja2 import ChainableUndefined, Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from markdown_it import MarkdownIt

from mail.tracking import click_url, pixel_url
from server.errors import Invalid

STYLE = """
body { font-family: Georgia, 'Times New Roman', serif; color: #1f2328; line-height: 1.5; }
.mail { max-width: 38em; margin: 0 auto; padding: 1em; }
h1, h2, h3 { font-family: Helvetica, Arial, sans-serif; line-height: 1.25; }
a { color: #0b5cad; }
code { font-family: Menlo, Consolas, monospace; background: #f3f4f6; padding: 0 .2em; }
pre { background: #f3f4f6; padding: .75em; overflow-x: auto; }
blockquote { border-left: 3px solid #d0d7de; margin-left: 0; padding-left: 1em; color: #57606a; }
.footer { margin-top: 2em; font-size: 85%; color: #57606a; border-top: 1px solid #d0d7de; padding-top: .5em; }
"""

_environment = SandboxedEnvironment(undefined=ChainableUndefined, autoescape=False)
_markdown = MarkdownIt("commonmark", {"html": False}).enable("table").enable("strikethrough")
_inliner = css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False)


@dataclass(frozen=True)
class Rendered:
    """A mail's subject and its two bodies."""

    subject: str
    text: str
    html: str


@lru_cache(maxsize=512)
def _template(source: str) -> Template:
    return _environment.from_string(source)


def merge(source: str, context: dict[str, Any], where: str) -> str:
    """Fill the merge tags of `source`; Invalid naming `where` (a unit, a subject) on any template error."""
    try:
        return _template(source).render(context)
    except TemplateError as error:
        line = f" line {error.lineno}" if getattr(error, "lineno", None) else ""
        raise Invalid(f"{where}{line}: {error.message or error}") from None


def markdown_html(text: str, token: str | None) -> str:
    """Markdown as HTML; with a tracking `token`, every link goes through the signed click redirect."""
    tokens = _markdown.parse(text)
    if token:
        for block in tokens:
            for child in block.children or []:
                href = child.attrGet("href") if child.type == "link_open" else None
                if isinstance(href, str) and href.startswith(("http://", "https://")):
                    child.attrSet("href", click_url(token, href))
    return str(_markdown.renderer.render(tokens, _markdown.options, {}))


def page(body_html: str, footer_lines: list[tuple[str, str]], token: str | None) -> str:
    """The HTML document of a mail: the body, a footer of (label, url) links, the pixel; CSS inlined."""
    footer = " · ".join(f'<a href="{escape(url)}">{escape(label)}</a>' for label, url in footer_lines)
    pixel = f'<img src="{escape(pixel_url(token))}" width="1" height="1" alt="">' if token else ""
    document = (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><style>{STYLE}</style></head>'
        f'<body><div class="mail">{body_html}<p class="footer">{footer}</p>{pixel}</div></body></html>'
    )
    return str(_inliner.inline(document))


def plain(body_text: str, footer_lines: list[tuple[str, str]]) -> str:
    """The plain-text part: the Markdown as written, then the footer links spelled out."""
    footer = "\n".join(f"{label}: {url}" for label, url in footer_lines)
    return f"{body_text.rstrip()}\n\n-- \n{footer}\n"


def render(
    subject: str,
    body: str,
    context: dict[str, Any],
    where: str,
    footer_lines: list[tuple[str, str]],
    tracking_token: str | None,
) -> Rendered:
    """Subject, plain text and HTML of one mail from Markdown `body` with merge tags."""
    title = merge(subject, context, f"{where} (subject)").replace("\n", " ").strip()
    text = merge(body, context, where)
    html = page(markdown_html(text, tracking_token), footer_lines, tracking_token)
    return Rendered(subject=title, text=plain(text, footer_lines), html=html)
