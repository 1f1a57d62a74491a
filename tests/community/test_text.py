"""Mastodon's plain-text conventions: escaping, paragraphs, links, mentions, hashtags, counting."""

from __future__ import annotations

from html.parser import HTMLParser

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from community.text import count, normalise, render
from server.floor.settings import Settings

ALLOWED = {
    "p": set(),
    "br": set(),
    "a": {"href", "class", "rel", "target", "translate"},
    "span": {"class", "translate"},
}


class Checker(HTMLParser):
    """Collects text and checks that only the expected tags and attributes appear, well nested."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.stack: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED:
            self.problems.append(f"tag {tag}")
        for name, value in attrs:
            if name not in ALLOWED.get(tag, set()):
                self.problems.append(f"attribute {name} on {tag}")
            if name == "href" and not (value or "").startswith(("http://", "https://")):
                self.problems.append(f"href {value}")
        if tag != "br":
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.problems.append(f"unbalanced </{tag}>")

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def handle_comment(self, data: str) -> None:
        self.problems.append("comment")

    def handle_decl(self, decl: str) -> None:
        self.problems.append("declaration")

    def unknown_decl(self, data: str) -> None:
        self.problems.append("declaration")

    def handle_pi(self, data: str) -> None:
        self.problems.append("processing instruction")


def check(html: str) -> str:
    parser = Checker()
    parser.feed(html)
    parser.close()
    assert parser.problems == [], (parser.problems, html)
    assert parser.stack == [], html
    return "".join(parser.text)


def test_escapes_and_keeps_paragraphs_and_line_breaks(sqlite_settings: Settings) -> None:
    rendered = render("<b>hi</b> & 'you'\nnext line\n\n\nnew paragraph")
    assert rendered.html == ("<p>&lt;b&gt;hi&lt;/b&gt; &amp; &#x27;you&#x27;<br>next line</p><p>new paragraph</p>")


def test_links_urls_as_mastodon_shortens_them(sqlite_settings: Settings) -> None:
    url = "https://www.example.org/a/rather/long/path/to/somewhere?q=1&x=2"
    html = render(f"see {url}.").html
    assert f'<a href="{url.replace("&", "&amp;")}" target="_blank" rel="nofollow noopener noreferrer"' in html
    assert '<span class="invisible">https://www.</span>' in html
    assert '<span class="ellipsis">example.org/a/rather/long/path</span>' in html
    assert html.endswith("</a>.</p>")
    assert "<a" not in render("javascript:alert(1) ftp://example.org/x data:text/html,hi").html


def test_mentions_and_hashtags(sqlite_settings: Settings) -> None:
    rendered = render(
        "@ann hi @Bob@Social.Example and @cy@testserver.localhost #Python #2024 #py_3 a@b.example x#no",
        {"bob@social.example": "https://social.example/@Bob"},
    )
    assert rendered.mentions == ["ann", "Bob@social.example", "cy"]
    assert rendered.tags == ["python", "py_3"]
    assert (
        '<span class="h-card" translate="no"><a href="http://testserver.localhost/@ann" class="u-url mention">'
        "@<span>ann</span></a></span>" in rendered.html
    )
    assert 'href="https://social.example/@Bob" class="u-url mention">@<span>Bob</span>' in rendered.html
    assert (
        '<a href="http://testserver.localhost/tags/python" class="mention hashtag" rel="tag">#<span>Python</span></a>'
        in rendered.html
    )
    assert "#2024" in rendered.html and "a@b.example" in rendered.html and "x#no" in rendered.html
    unresolved = render("@zed@elsewhere.example")
    assert "<a" not in unresolved.html and unresolved.mentions == ["zed@elsewhere.example"]


def test_counts_urls_as_23_and_remote_mentions_as_their_user(sqlite_settings: Settings) -> None:
    assert count("https://example.org/" + "x" * 300) == 23
    assert count("@ann@social.example hi") == len("@ann hi")
    assert count("e\u0301") == 1  # a combining accent
    assert count("👩\u200d💻") == 1  # a ZWJ sequence
    assert count("a\r\nb") == 3


PIECES = [
    "<",
    ">",
    "&",
    '"',
    "'",
    "@",
    "#",
    "\n",
    "\n\n",
    " ",
    "\r",
    "\x00",
    "http://",
    "https://a.b/",
    "@a@b.c",
    "#x",
    "&amp;",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.text(max_size=6), st.sampled_from(PIECES)), max_size=40).map("".join))
def test_any_text_renders_to_valid_escaped_html(sqlite_settings: Settings, text: str) -> None:
    rendered = render(text)
    shown = check(rendered.html)
    # What a reader sees is what was typed, line breaks aside; nothing became markup.
    assert shown == normalise(text).replace("\n", "")
