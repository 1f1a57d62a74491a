"""Remote HTML keeps Mastodon's markup (mentions, hashtags, paragraphs) and loses everything else."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from federation.protocol.sanitize import sanitize_html, sanitize_text
from tests.federation.conftest import payload


def test_mastodon_note_markup_survives() -> None:
    content = payload("mastodon-create-note-public")["object"]["content"]
    cleaned = sanitize_html(content)
    assert 'class="h-card"' in cleaned and 'class="u-url mention"' in cleaned
    assert 'rel="nofollow noopener noreferrer"' in cleaned


def test_scripts_handlers_styles_and_bad_links_go() -> None:
    dirty = (
        '<p style="color:red" onclick="steal()">Hi<script>alert(1)</script>'
        '<img src="x" onerror="steal()"><iframe src="https://evil.example"></iframe>'
        '<a href="javascript:steal()">me</a><a href="https://ok.example" class="mention evil">@ok</a></p>'
    )
    cleaned = sanitize_html(dirty)
    for banned in ("script", "onclick", "onerror", "style", "iframe", "javascript:", "<img", "evil", "alert"):
        assert banned not in cleaned
    assert '<a href="https://ok.example" class="mention"' in cleaned


def test_text_form() -> None:
    assert sanitize_text("<p>Tom &amp; Jerry</p><p>line<br>two</p>") == "Tom & Jerry\n\nline\ntwo"


@given(st.text(max_size=300))
def test_sanitizing_is_idempotent_and_never_leaves_a_script(text: str) -> None:
    once = sanitize_html(text)
    assert sanitize_html(once) == once
    assert "<script" not in once.lower()
