"""Statuses on the wire (`federation.protocol.statuses`): real Mastodon, Misskey, Pixelfed, GoToSocial
and Pleroma payloads read as we keep them, and our Notes addressed as Mastodon addresses its own.

The rules are Mastodon's: `app/lib/activitypub/parser/status_parser.rb` (`StatusParser#visibility`,
`#language`, `#spoiler_text`, `#sensitive`), `app/lib/activitypub/tag_manager.rb` (`TagManager#to`,
`#cc`), `app/serializers/activitypub/note_serializer.rb` (`contentMap`, `attachment`, `tag`).
"""

from __future__ import annotations

import pytest

from federation.protocol.statuses import PUBLIC, Image, Mentioned, NoteFacts, addressing, note, read_note
from server.floor.errors import Invalid
from tests.federation.conftest import payload


def test_a_public_mastodon_note_with_a_content_warning_and_a_mention() -> None:
    created = payload("mastodon-create-note-public")
    read = read_note(created["object"], "http://mastodon.example.org/users/admin/followers")
    assert read.visibility == "public" and read.summary == "cw" and read.sensitive
    assert read.mentions == ("http://localtesting.pleroma.lol/users/lain",)
    assert read.author == "http://mastodon.example.org/users/admin"
    assert 'class="u-url mention"' in read.html and read.text == "@lain"


def test_an_unlisted_mastodon_reply_keeps_its_language_and_parent() -> None:
    # StatusParser#visibility: Public only in cc -> unlisted; StatusParser#language: contentMap's first key.
    created = payload("mastodon-create-note-unlisted-reply")
    read = read_note(created["object"], "https://mastodon.madrid/users/felix/followers")
    assert read.visibility == "unlisted" and read.language == "en"
    assert read.in_reply_to == "https://mamot.fr/users/retiolus/statuses/107224244380204526"
    assert read.url == "https://mastodon.madrid/@felix/107224289116410645"


def test_a_direct_mastodon_reply_and_a_followers_only_note() -> None:
    direct = read_note(payload("mastodon-note-direct-reply"), "https://mastodon.world/users/nutomic/followers")
    assert direct.visibility == "direct" and direct.language == "es"
    boosted = payload("mastodon-announce-followers-only")["object"]
    followers = boosted["attributedTo"] + "/followers"
    assert read_note(boosted, followers).visibility == "private"
    # Without knowing the followers collection, the same note cannot be told from a direct one.
    assert read_note(boosted, None).visibility == "direct"


def test_a_misskey_note_a_gotosocial_reply_and_a_pleroma_reply() -> None:
    misskey = read_note(payload("misskey-create-note")["object"])
    assert misskey.visibility == "public" and misskey.text == "meow" and misskey.summary == ""
    gts = read_note(payload("gotosocial-note-mention-reply"), "http://localhost:8080/users/admin/followers")
    assert gts.visibility == "public"  # `to` a lone string, not a list
    assert gts.mentions and gts.in_reply_to and gts.language == "en"
    pleroma = read_note(payload("pleroma-create-note-reply")["object"])
    assert pleroma.visibility == "public" and pleroma.mentions == ("https://enterprise.lemmy.ml/u/picard",)


def test_a_pixelfed_photo_keeps_its_image_alt_text_and_hashtags() -> None:
    read = read_note(payload("pixelfed-create-note-image")["object"])
    (image,) = read.images
    assert image.url.startswith("https://pxscdn.com/") and image.media_type == "image/jpeg"
    assert image.description.startswith("Stickers on the glass") and (image.width, image.height) == (1620, 1080)
    assert set(read.tags) == {"streetphotography", "colorphotography"}
    assert "hashtag" in read.html and "rel=" in read.html


def test_a_mastodon_poll_is_kept_as_a_note_with_its_options() -> None:
    read = read_note(payload("mastodon-create-question")["object"])
    assert read.type == "Question" and "<li>Dunno</li>" in read.html


def test_hostile_notes_are_refused_or_bounded() -> None:
    with pytest.raises(Invalid, match="object.type"):
        read_note({"type": "Person", "id": "https://x.example/1"})
    with pytest.raises(Invalid, match="object.id"):
        read_note({"type": "Note", "id": "javascript:alert(1)", "attributedTo": "https://x.example/u"})
    with pytest.raises(Invalid, match="attributedTo"):
        read_note({"type": "Note", "id": "https://x.example/1"})
    flood = {
        "type": "Note",
        "id": "https://x.example/1",
        "attributedTo": "https://x.example/u",
        "content": "<script>alert(1)</script><p>hi</p>" + "x" * 300_000,
        "tag": [{"type": "Hashtag", "name": f"#t{i}"} for i in range(5000)],
        "attachment": [{"type": "Document", "url": f"https://x.example/{i}.png"} for i in range(100)]
        + [{"type": "Document", "url": "file:///etc/passwd"}],
    }
    read = read_note(flood)
    assert "<script" not in read.html and len(read.html) < 110_000
    assert len(read.tags) == 50 and len(read.images) == 4


def test_our_notes_are_addressed_per_visibility_as_mastodon_does() -> None:
    followers, dan = "https://us.example/users/ann/followers", "https://b.example/users/dan"
    assert addressing("public", followers, [dan]) == ([PUBLIC], [followers, dan])
    assert addressing("unlisted", followers, [dan]) == ([followers], [PUBLIC, dan])
    assert addressing("private", followers, [dan]) == ([followers], [dan])
    assert addressing("direct", followers, [dan]) == ([dan], [])
    with pytest.raises(Invalid):
        addressing("group", followers, [])


def test_our_note_carries_cw_language_mentions_hashtags_and_images() -> None:
    facts = NoteFacts(
        id="https://us.example/posts/1",
        author="https://us.example/users/ann",
        followers="https://us.example/users/ann/followers",
        content="<p>Hi @dan #python</p>",
        published="2026-12-06T10:00:00Z",
        visibility="public",
        summary="spoilers",
        language="en",
        in_reply_to="https://b.example/users/dan/statuses/9",
        mentions=(Mentioned("https://b.example/users/dan", "@dan@b.example"),),
        tags=("python",),
        tag_base="https://us.example",
        images=(Image("https://us.example/media/1.webp", "image/webp", "a cat", 640, 480),),
    )
    document = note(facts)
    assert document["to"] == [PUBLIC] and document["cc"] == [facts.followers, "https://b.example/users/dan"]
    assert document["summary"] == "spoilers" and document["sensitive"] is True
    assert document["contentMap"] == {"en": facts.content} and document["inReplyTo"] == facts.in_reply_to
    assert {"type": "Mention", "href": "https://b.example/users/dan", "name": "@dan@b.example"} in document["tag"]
    assert {"type": "Hashtag", "href": "https://us.example/tags/python", "name": "#python"} in document["tag"]
    assert document["attachment"] == [
        {"type": "Document", "mediaType": "image/webp", "url": "https://us.example/media/1.webp", "name": "a cat",
         "width": 640, "height": 480}
    ]  # fmt: skip
    # What we write, we read back the same way (the round trip another instance of ours makes).
    back = read_note(document, facts.followers)
    assert back.visibility == "public" and back.language == "en" and back.summary == "spoilers"
    assert back.mentions == ("https://b.example/users/dan",) and back.tags == ("python",)
    assert back.images[0].description == "a cat"
