"""How a note meant for one learner is addressed so that each fediverse server shows it: pure data.

Everything a learner must see of their course (a unit, the signup confirmation, every post of
their study group) reaches them as a `Create` of a `Note` written for them alone. The rules each
server applies, and the shape here that meets all of them (docs/federation-flows.md, "What a
fediverse learner sees, and why"):

- **Sender: the course, a `Service`.** Lemmy keeps a private message only from a
  Person/Service/Organization (`crates/apub/objects/src/protocol/person.rs`, `UserTypes`;
  `crates/apub/objects/src/protocol/private_message.rs`, `attributed_to: ObjectId<ApubPerson>`):
  a note from a run or a study group (`Group`s) never arrives there.
- **`to` is the learner alone.** Lemmy reads `to` as exactly one person
  (`private_message.rs`, `to: [ObjectId<ApubPerson>; 1]` with `deserialize_one`, which fails on
  two), in the `Create` too (`activities/src/protocol/create_or_update/private_message.rs`).
- **A `Mention` of the learner, named `@user@host`.** Mastodon notifies only accounts that a
  `Mention` tag names and that are in the audience (`ActivityPub::Activity::Create#process_tags`,
  `#process_audience`: `@silenced_account_ids`; `FanOutOnWriteService#notify_mentioned_accounts!`);
  GoToSocial drops a note from an account the receiver does not follow unless a `Mention` names the
  receiver (`internal/filter/spam/statusable.go`, `StatusableOK`, heuristic 2) and reads `name` as
  the `@user@host` namestring (`internal/ap/extract.go`, `ExtractMention`).
- **`cc` names the sender itself.** Addressed to one account and mentioning it, Mastodon would
  make the note a direct message (`ActivityPub::Parser::StatusParser#visibility`), and Mastodon
  4.3+ files direct messages from accounts one does not follow under "filtered notifications"
  (`NotifyService::FilterCondition#filtered_by_private_mentions_policy?`, on by default in
  `NotificationPolicy`). An addressed account that no tag mentions turns it into a
  limited-audience post instead (`ActivityPub::Activity::Create#process_audience`: "If there is at
  least one silent mention, then the status can be considered as a limited-audience status"), which
  that filter does not touch (`private_mention_not_in_response?` asks `direct_visibility?`). The
  sender is the one account the receiving server always knows: it just verified its signature.
  Misskey makes the note `specified` to the addressed accounts (`ApAudienceService.parseAudience`);
  Lemmy ignores `cc`.
- **No `name`, no `summary`.** GoToSocial turns a Note's `summary`, or failing that its `name`,
  into a content warning that hides the text (`internal/typeutils/astointernal.go`,
  `ASStatusToStatus`: "prefer Summary, fall back to Name").
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import urlsplit


def acct(actor_id: str, handle: str | None) -> str:
    """`@user@host` for an actor: its WebFinger handle when known, else its id's last segment and host."""
    if handle and "@" in handle.strip("@"):
        return "@" + handle.strip("@")
    parts = urlsplit(actor_id)
    user = parts.path.rstrip("/").rsplit("/", 1)[-1] or parts.netloc
    return f"@{user}@{parts.netloc}"


def mention(actor_id: str, handle: str | None) -> dict[str, Any]:
    """A `Mention` tag: `href` the actor id, `name` its `@user@host`."""
    return {"type": "Mention", "href": actor_id, "name": acct(actor_id, handle)}


def mention_html(actor_id: str, handle: str | None) -> str:
    """The mention as Mastodon writes it in content (an h-card link), so clients show `@user`."""
    user = acct(actor_id, handle).split("@")[1]
    return (
        f'<span class="h-card"><a href="{html.escape(actor_id)}" class="u-url mention">'
        f"@<span>{html.escape(user)}</span></a></span>"
    )


def personal_note(
    *,
    note_id: str,
    sender: str,
    recipient: str,
    handle: str | None,
    content: str,
    published: str,
    in_reply_to: str | None = None,
    url: str | None = None,
) -> dict[str, Any]:
    """A Note for one learner from `sender` (the course): the addressing the module docstring explains.

    `content` is sanitized HTML; the mention of the learner is put in front of it.
    """
    note: dict[str, Any] = {
        "id": note_id,
        "type": "Note",
        "attributedTo": sender,
        "content": f"<p>{mention_html(recipient, handle)}</p>{content}",
        "published": published,
        "to": [recipient],
        "cc": [sender],
        "tag": [mention(recipient, handle)],
    }
    if in_reply_to:
        note["inReplyTo"] = in_reply_to
    if url:
        note["url"] = url
    return note
