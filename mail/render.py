"""Rendering course text: merge tags in Jinja2's sandbox, Markdown to HTML with inlined CSS, plain text.

Course text may come from another instance, so templates run sandboxed and bounded, raw HTML in Markdown is
escaped, merge values are HTML-escaped (`safe` and `autoescape` are refused), and a template error
is reported naming the unit it came from.

Speed: Markdown and CSS inlining cost milliseconds, so they run once per unit body, not once per
learner. The merge tags are set aside as placeholders, the Markdown becomes an HTML document with
inlined CSS, and the tags are put back: what is left per learner is two Jinja2 renders.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from html import escape
from typing import Any

import css_inline
from jinja2 import ChainableUndefined, Template, TemplateError, nodes
from markdown_it import MarkdownIt

from mail.fastrender import FastTemplate, Unsupported, fast_template
from server.floor.errors import Invalid
from server.floor.sandbox import BoundedSandbox

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
FOOTER_TEXT = (
    "Your page: {{ links.learner_page }}\n{% if group.address %}Your group: {{ links.group }}\n{% endif %}"
    "Unsubscribe: {{ links.unsubscribe }}\n"
)
FOOTER_HTML = (
    '<a href="{{ links.learner_page }}">Your page</a>{% if group.address %} · '
    '<a href="{{ links.group }}">Your group</a>{% endif %} · <a href="{{ links.unsubscribe }}">Unsubscribe</a>'
    '{% if open_pixel %}<img src="{{ open_pixel }}" width="1" height="1" alt="">{% endif %}'
)
_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)

# The bounded sandbox of every course text (server.floor.sandbox): a render has a budget of work and size.
_text_env = BoundedSandbox(undefined=ChainableUndefined, autoescape=False)
_html_env = BoundedSandbox(undefined=ChainableUndefined, autoescape=True)
_markdown = MarkdownIt("commonmark", {"html": False}).enable("table").enable("strikethrough")
_inliner = css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False)


@dataclass(frozen=True)
class Rendered:
    """A mail's subject and its two bodies."""

    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class CompiledBody:
    """A unit body made ready for many learners: a text template and an HTML template."""

    text: Template
    html: Template
    links: tuple[str, ...]
    fast_text: FastTemplate | None = None  # the same templates without Jinja2's per-render work (fastrender)
    fast_html: FastTemplate | None = None


def _error(where: str, error: TemplateError) -> Invalid:
    lineno = getattr(error, "lineno", None)  # syntax errors carry one; undefined names do not
    line = f" line {lineno}" if lineno else ""
    return Invalid(f"{where}{line}: {getattr(error, 'message', None) or error}")


def _refuse_unescaping(source: str, where: str) -> None:
    """Course text may not switch HTML escaping off (`|safe`, `{% autoescape false %}`)."""
    tree = _html_env.parse(source)
    if any(f.name == "safe" for f in tree.find_all(nodes.Filter)) or any(tree.find_all(nodes.EvalContextModifier)):
        raise Invalid(f"{where}: merge tags may not turn HTML escaping off (|safe, autoescape)")


def _protect(source: str) -> tuple[str, dict[str, str]]:
    """`source` with each Jinja2 tag replaced by a placeholder Markdown and CSS inlining leave alone."""
    spans: dict[str, str] = {}

    def hide(match: re.Match[str]) -> str:
        key = f"MMTAG{secrets.token_hex(6)}X"
        spans[key] = match.group(0)
        return key

    return _TAG.sub(hide, source), spans


def _html_document(markdown: str, spans: dict[str, str], tracking: bool, links: list[str]) -> str:
    tokens = _markdown.parse(markdown)
    if tracking:
        for block in tokens:
            for child in block.children or []:
                href = child.attrGet("href") if child.type == "link_open" else None
                if isinstance(href, str) and href.startswith(("http://", "https://")) and "MMTAG" not in href:
                    key = f"MMTAG{secrets.token_hex(6)}X"
                    # By index, so no character of the URL can end the template expression.
                    spans[key] = f"{{{{ track_click(body_links[{len(links)}]) }}}}"
                    links.append(href)
                    child.attrSet("href", key)
    body = str(_markdown.renderer.render(tokens, _markdown.options, {}))
    footer, footer_spans = _protect(FOOTER_HTML)
    spans.update(footer_spans)
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><style>{STYLE}</style></head>'
        f'<body><div class="mail">{body}<p class="footer">{footer}</p></div></body></html>'
    )


@lru_cache(maxsize=256)
def compile_body(body: str, where: str, tracking: bool) -> CompiledBody:
    """Markdown `body` with merge tags as a text template and an inlined-CSS HTML template."""
    try:
        _refuse_unescaping(body, where)  # parses the body alone first, so errors carry its own line numbers
        text = _text_env.from_string(f"{body.rstrip()}\n\n-- \n{FOOTER_TEXT}")
        protected, spans = _protect(body)
        links: list[str] = []
        document = str(_inliner.inline(_html_document(protected, spans, tracking, links)))
        for key, tag in spans.items():
            document = document.replace(key, tag)
        html = _html_env.from_string(document)
    except TemplateError as error:
        raise _error(where, error) from None
    return CompiledBody(
        text=text,
        html=html,
        links=tuple(links),
        fast_text=fast_template(_text_env, f"{body.rstrip()}\n\n-- \n{FOOTER_TEXT}"),
        fast_html=fast_template(_html_env, document),
    )


@lru_cache(maxsize=256)
def _subject(source: str, where: str) -> Template:
    try:
        return _text_env.from_string(source)
    except TemplateError as error:
        raise _error(where, error) from None


@lru_cache(maxsize=256)
def _fast_subject(source: str) -> FastTemplate | None:
    return fast_template(_text_env, source)


def render(
    subject: str,
    body: str,
    context: dict[str, Any],
    where: str,
    track_click: Callable[[str], str] | None = None,
    open_pixel: str = "",
) -> Rendered:
    """Subject, plain text and HTML of one mail from Markdown `body` with merge tags.

    With `track_click` (tracking on), links of the body go through it; `open_pixel` is the image URL.
    Templates made only of look-ups take the fast path (mail.fastrender), the same text without Jinja2.
    """
    compiled = compile_body(body, where, track_click is not None)
    values = {
        **context,
        "track_click": track_click or (lambda url: url),
        "open_pixel": open_pixel,
        "body_links": compiled.links,
    }
    fast_subject = _fast_subject(subject)
    if fast_subject is not None and compiled.fast_text is not None and compiled.fast_html is not None:
        try:
            title = " ".join(fast_subject.render(values).split())
            return Rendered(
                subject=title, text=compiled.fast_text.render(values), html=compiled.fast_html.render(values)
            )
        except Unsupported:
            pass  # this learner's values need Jinja2 (a value that is not text, a very long one)
    return render_slow(subject, compiled, values, where)


def render_slow(subject: str, compiled: CompiledBody, values: dict[str, Any], where: str) -> Rendered:
    """`render` by Jinja2 alone (what the fast path must equal)."""
    try:
        title = " ".join(_subject(subject, f"{where} (subject)").render(values).split())
        return Rendered(subject=title, text=compiled.text.render(values), html=compiled.html.render(values))
    except TemplateError as error:
        raise _error(where, error) from None


def preview_html(markdown: str) -> str:
    """Markdown as HTML for a browser preview (no merge tags filled, raw HTML escaped)."""
    return str(_markdown.render(markdown))


def escape_text(value: str) -> str:
    """HTML-escape a value for a page."""
    return escape(value)
