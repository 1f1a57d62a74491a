"""The addressing and tag rules of what a fediverse learner receives, pinned per target server.

Each test restates, in a few lines of Python, the rule of the other server's code that it pins
(cited by file and method), and checks our documents against it. Pure: no database, no network.
"""

from __future__ import annotations

import re
from typing import Any

from federation.protocol import vocabulary
from federation.protocol.addressing import acct, personal_note
from federation.protocol.vocabulary import PUBLIC, CourseIds, RunFacts, create_of

COURSE = "https://mooc.example/courses/gentle-python"
BEA = "https://social.example/users/bea"
IDS = CourseIds(course=COURSE, url=COURSE, forks=f"{COURSE}/forks", version=2)


def note_for_bea(**extra: Any) -> dict[str, Any]:
    return personal_note(
        note_id="https://mooc.example/posts/7/to/3", sender=COURSE, recipient=BEA, handle="bea@social.example",
        content="<p>Hello</p>", published="2030-01-07T09:00:00Z", **extra,
    )  # fmt: skip


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value] if value is not None else []


# --- Mastodon ---------------------------------------------------------------------------------


def mastodon_visibility(note: dict[str, Any], sender: str, known_accounts: set[str]) -> str:
    """What Mastodon makes of a note it receives.

    `ActivityPub::Parser::StatusParser#visibility`: Public in to -> public, in cc -> unlisted,
    the sender's followers in to -> private, else direct; then `ActivityPub::Activity::Create
    #process_audience`: an addressed account Mastodon knows that no Mention tag names becomes a
    silent mention, and a direct note with a silent mention is limited.
    """
    to, cc = as_list(note.get("to")), as_list(note.get("cc"))
    if PUBLIC in to:
        return "public"
    if PUBLIC in cc:
        return "unlisted"
    if f"{sender}/followers" in to:
        return "private"
    mentioned = {t["href"] for t in as_list(note.get("tag")) if t.get("type") == "Mention"}
    silent = [a for a in to + cc if a in known_accounts and a not in mentioned]
    return "limited" if silent else "direct"


def mastodon_filters(visibility: str, recipient_follows_sender: bool) -> bool:
    """`NotifyService::FilterCondition#filtered_by_private_mentions_policy?`: filter_private_mentions
    (default on, app/models/notification_policy.rb) and not following and
    `private_mention_not_in_response?`, which asks `target_status.direct_visibility?`."""
    return visibility == "direct" and not recipient_follows_sender


def mastodon_notifies(note: dict[str, Any], recipient: str) -> bool:
    """`FanOutOnWriteService#notify_mentioned_accounts!` notifies active (non-silent) mentions, less
    `@silenced_account_ids`: accounts tagged but not in the audience (`Create#process_audience`)."""
    mentioned = {t["href"] for t in as_list(note.get("tag")) if t.get("type") == "Mention"}
    return recipient in mentioned and recipient in as_list(note.get("to")) + as_list(note.get("cc"))


def test_mastodon_notifies_a_learner_unfiltered_whether_or_not_they_follow_the_sender() -> None:
    note = note_for_bea()
    # The receiving server knows the learner (its own account) and the sender (it just verified its signature).
    visibility = mastodon_visibility(note, COURSE, known_accounts={BEA, COURSE})
    assert visibility == "limited"
    assert mastodon_notifies(note, BEA)
    assert not mastodon_filters(visibility, recipient_follows_sender=False)


def test_without_the_sender_in_cc_mastodon_would_file_it_under_filtered_notifications() -> None:
    # The shape sent before issue 13: a direct message, filtered for a learner who follows no sender.
    note = {**note_for_bea(), "cc": []}
    visibility = mastodon_visibility(note, COURSE, known_accounts={BEA, COURSE})
    assert visibility == "direct" and mastodon_filters(visibility, recipient_follows_sender=False)


def test_a_group_note_without_mention_tags_was_silent_in_mastodon() -> None:
    # Issue 13, item 2: addressed to the learner but not tagged, the learner is a silent mention.
    note = {**note_for_bea(), "tag": []}
    assert not mastodon_notifies(note, BEA)


# --- Lemmy ------------------------------------------------------------------------------------

LEMMY_USER_TYPES = {"Person", "Service", "Organization"}  # crates/apub/objects/src/protocol/person.rs, UserTypes


def test_lemmy_takes_it_as_a_private_message() -> None:
    note = note_for_bea()
    create = create_of(note, COURSE, cc=note["cc"])
    # crates/apub/objects/src/protocol/private_message.rs: `to: [ObjectId<ApubPerson>; 1]` read with
    # `deserialize_one`, which fails on two; the same in the Create
    # (activities/src/protocol/create_or_update/private_message.rs).
    assert len(as_list(note["to"])) == 1 and len(as_list(create["to"])) == 1
    # activities/src/create_or_update/private_message.rs, `verify`: actor == attributedTo, same domain as the id.
    assert create["actor"] == note["attributedTo"] == COURSE and note["id"].startswith("https://mooc.example/")
    # The sender must dereference as an ApubPerson: the course actor is a Service; runs and groups are not.
    assert vocabulary.course_fields({**_minimal_snapshot()}, IDS)["type"] in LEMMY_USER_TYPES
    assert vocabulary.run_fields(_run_facts())["type"] not in LEMMY_USER_TYPES


def test_lemmy_reads_no_course_as_the_moderators_of_a_run_or_group() -> None:
    # crates/apub/objects/src/utils/protocol.rs, `AttributedTo::url`: a Group's attributedTo is its moderators collection.
    assert "attributedTo" not in vocabulary.run_fields(_run_facts())
    group = vocabulary.group_fields("https://mooc.example/groups/g1", "https://mooc.example/groups/g1", "G", "r", "R")
    assert "attributedTo" not in group


# --- GoToSocial -------------------------------------------------------------------------------

NAMESTRING = re.compile(r"^@([^@\s]+)@([^@\s]+)$")  # internal/util ExtractNamestringParts: @user@domain


def test_gotosocial_keeps_it_and_shows_the_text() -> None:
    note = note_for_bea()
    # internal/filter/spam/statusable.go, StatusableOK heuristic 2: dropped unless a Mention names the receiver,
    # by href or by a namestring (internal/ap/extract.go, ExtractMention).
    (tag,) = note["tag"]
    assert tag["type"] == "Mention" and tag["href"] == BEA and NAMESTRING.match(tag["name"])
    # internal/typeutils/astointernal.go, ASStatusToStatus: "prefer Summary, fall back to Name" as content warning.
    assert "summary" not in note and "name" not in note


def test_gotosocial_and_mastodon_take_course_articles_as_public_posts() -> None:
    snapshot = _minimal_snapshot()
    article = vocabulary.version_article(snapshot, IDS, "2030-01-01T00:00:00Z")
    unit = vocabulary.unit_document(snapshot, IDS, snapshot["units"][0], "2030-01-01T00:00:00Z")
    for document in (article, unit):
        # internal/ap/extract.go, ExtractVisibility: refuses a post "TO or CC" nobody; Public in to is public.
        assert document["to"] == [PUBLIC] and document["cc"] == [f"{COURSE}/followers"]
        assert mastodon_visibility(document, COURSE, set()) == "public"
        assert document["attributedTo"] == COURSE and document["published"] == "2030-01-01T00:00:00Z"
    # Mastodon shows an Article as name, summary and url (Create#converted_text); GoToSocial its content.
    assert article["name"] == "Gentle" and COURSE in article["content"] and "version 2" in article["content"]


# --- Misskey ----------------------------------------------------------------------------------


def misskey_audience(note: dict[str, Any], sender: str) -> tuple[str, list[str]]:
    """packages/backend/src/core/activitypub/ApAudienceService.ts, parseAudience: the visibility and
    the users who may see it (`specified`: every addressed person)."""
    to, cc = as_list(note.get("to")), as_list(note.get("cc"))
    if PUBLIC in to:
        return "public", []
    if PUBLIC in cc:
        return "home", []
    if f"{sender}/followers" in to:
        return "followers", []
    return "specified", [a for a in dict.fromkeys(to + cc)]


def test_misskey_lets_the_learner_see_it() -> None:
    visibility, visible = misskey_audience(note_for_bea(), COURSE)
    assert visibility == "specified" and BEA in visible


def test_a_mention_is_named_user_at_host() -> None:
    assert acct(BEA, "bea@social.example") == "@bea@social.example"
    assert acct(BEA, "@bea@social.example") == "@bea@social.example"
    assert acct("https://lemmy.example/u/picard", None) == "@picard@lemmy.example"


def _minimal_snapshot() -> dict[str, Any]:
    return {
        "slug": "gentle-python", "title": "Gentle", "summary": "Learn <Python>.", "language": "en",
        "license": "CC-BY-4.0", "tags": [], "resources": [], "send_time": "09:00", "late_join": "catch_up",
        "group_size": 8, "group_by": [], "questions": [], "extra": {}, "origin": None, "lineage": [],
        "units": [{"slug": "welcome", "title": "Welcome", "day": 0, "position": 0, "body": "Hi", "extra": {}}],
    }  # fmt: skip


def _run_facts() -> RunFacts:
    return RunFacts(
        run="https://mooc.example/runs/gp-1", url="https://mooc.example/runs/gp-1", course=COURSE,
        course_title="Gentle", course_url=COURSE, start_date="2030-01-07", timezone="UTC", last_day=7, units=2,
    )  # fmt: skip
