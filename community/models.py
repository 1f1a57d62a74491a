"""The community's tables: profiles, statuses of every kind, who follows, blocks and mutes whom,
favourites, bookmarks, mentions, hashtags, media, edits, home feeds and notifications.

Modelled on what Mastodon models (app/models/account.rb, status.rb, follow.rb, notification.rb,
media_attachment.rb), so the client API can serve them as Mastodon's entities. Ids sort by time
(`server.floor.ids`). The learning world (courses, runs, study groups) sits above this package: a
status may carry a course/run/group id as its *context*, a plain number here that only `courses`
gives meaning to (the database still holds the foreign keys the core migration made).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.floor.clock import now
from server.floor.db import Base, JSONDoc, UTCDateTime
from server.floor.ids import BigId, new_id

VISIBILITIES = ("public", "unlisted", "private", "direct", "group")
# What a profile stands for: a person (local or remote), or one of the course world's actors.
PROFILE_KINDS = ("person", "course", "run", "group", "service", "instance")
NOTIFICATION_TYPES = (
    "mention",
    "reply",
    "follow",
    "follow_request",
    "reblog",
    "favourite",
    "status",
    "update",
    "unit",
    "group_post",
    "admin.report",
    "admin.sign_up",
)


class Profile(Base):
    """Anyone a status can come from or be addressed to: a local person (`account_id`), a remote
    actor (`domain`), or a local course, run or study group (kind course/run/group; bot/group set)."""

    __tablename__ = "community_profiles"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, default=new_id)
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), unique=True, nullable=True
    )
    uri: Mapped[str] = mapped_column(String(2000), unique=True)  # the ActivityPub id
    url: Mapped[str | None] = mapped_column(String(2000), nullable=True)  # the HTML page
    username: Mapped[str] = mapped_column(String(200))
    domain: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)  # None: ours
    kind: Mapped[str] = mapped_column(String(16), default="person")
    display_name: Mapped[str] = mapped_column(String(200), default="")
    note: Mapped[str] = mapped_column(Text, default="")  # sanitized HTML
    note_source: Mapped[str] = mapped_column(Text, default="")  # what the person typed (local)
    avatar_url: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    avatar_description: Mapped[str] = mapped_column(String(1500), default="")
    header_url: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    header_description: Mapped[str] = mapped_column(String(1500), default="")
    fields: Mapped[list[dict[str, Any]]] = mapped_column(JSONDoc, default=list)  # [{name, value}] <= 4
    locked: Mapped[bool] = mapped_column(default=False)
    bot: Mapped[bool] = mapped_column(default=False)
    group: Mapped[bool] = mapped_column(default=False)
    discoverable: Mapped[bool] = mapped_column(default=True)
    indexable: Mapped[bool] = mapped_column(default=False)
    show_courses: Mapped[bool] = mapped_column(default=False)  # opt-in: list courses and groups
    inbox_url: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    shared_inbox_url: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    followers_url: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    also_known_as: Mapped[list[str]] = mapped_column(JSONDoc, default=list)
    moved_to_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("community_profiles.id", ondelete="SET NULL"), nullable=True
    )
    silenced_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    followers_count: Mapped[int] = mapped_column(default=0)
    following_count: Mapped[int] = mapped_column(default=0)
    statuses_count: Mapped[int] = mapped_column(default=0)
    last_status_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    __table_args__ = (UniqueConstraint("username", "domain"),)

    @property
    def local(self) -> bool:
        """A profile of this instance."""
        return self.domain is None

    @property
    def acct(self) -> str:
        """`user` for ours, `user@host` for a remote profile (Mastodon's Account#acct)."""
        return self.username if self.domain is None else f"{self.username}@{self.domain}"


class Status(Base):
    """Every status: a person's post, a reply, a boost (`reblog_of_id`), a study group post (from
    the web, by email or from the fediverse), a course or run announcement, a unit delivered to a
    fediverse learner. The table keeps its first name, `posts`."""

    __tablename__ = "posts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, default=new_id)
    # ActivityPub id: ours for local posts, the remote id for fediverse posts.
    ap_id: Mapped[str | None] = mapped_column(String(2000), unique=True, nullable=True)
    url: Mapped[str | None] = mapped_column(String(2000), nullable=True)  # a remote post's page
    message_id: Mapped[str | None] = mapped_column(String(500), unique=True, nullable=True)
    profile_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("community_profiles.id", ondelete="CASCADE"), nullable=True
    )
    # Context in the learning world (ids `courses` gives meaning to; see the module docstring).
    group_id: Mapped[int | None] = mapped_column(nullable=True, index=True)
    run_id: Mapped[int | None] = mapped_column(nullable=True, index=True)
    course_id: Mapped[int | None] = mapped_column(nullable=True)
    kind: Mapped[str] = mapped_column(String(16), default="group")  # status|group|announcement|unit
    source: Mapped[str] = mapped_column(String(16), default="email")  # email|activitypub|local
    local: Mapped[bool] = mapped_column(default=False, server_default="0")
    author_email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    author_actor: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    author_name: Mapped[str] = mapped_column(String(200), default="")
    subject: Mapped[str] = mapped_column(String(500), default="")
    spoiler_text: Mapped[str] = mapped_column(String(1500), default="", server_default="")
    sensitive: Mapped[bool] = mapped_column(default=False, server_default="0")
    language: Mapped[str | None] = mapped_column(String(16), nullable=True)
    text: Mapped[str] = mapped_column(Text, default="")
    html: Mapped[str] = mapped_column(Text, default="")  # sanitized
    in_reply_to_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("posts.id", ondelete="SET NULL"), nullable=True, index=True
    )
    in_reply_to_ref: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    in_reply_to_profile_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    reblog_of_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("posts.id", ondelete="CASCADE"), nullable=True, index=True
    )
    thread_id: Mapped[int | None] = mapped_column(BigId, nullable=True, index=True)
    visibility: Mapped[str] = mapped_column(String(16), default="group")
    held: Mapped[bool] = mapped_column(default=False)
    deleted: Mapped[bool] = mapped_column(default=False)
    replies_count: Mapped[int] = mapped_column(default=0, server_default="0")
    reblogs_count: Mapped[int] = mapped_column(default=0, server_default="0")
    favourites_count: Mapped[int] = mapped_column(default=0, server_default="0")
    pinned_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now, index=True)

    __table_args__ = (
        Index("ix_posts_profile_id_id", "profile_id", "id"),
        Index("ix_posts_local_visibility_id", "local", "visibility", "id"),
        Index("ix_posts_visibility_id", "visibility", "id"),  # the federated timeline (20261212_comm_search)
    )


class StatusEdit(Base):
    """An earlier version of an edited status (Mastodon's StatusEdit), for the edit history."""

    __tablename__ = "community_status_edits"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, default=new_id)
    status_id: Mapped[int] = mapped_column(BigId, ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text, default="")
    html: Mapped[str] = mapped_column(Text, default="")
    spoiler_text: Mapped[str] = mapped_column(String(1500), default="")
    sensitive: Mapped[bool] = mapped_column(default=False)
    media: Mapped[list[dict[str, Any]]] = mapped_column(JSONDoc, default=list)  # [{id, description}]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class Media(Base):
    """An image attached to a status or uploaded for one (local: a file; remote: linked)."""

    __tablename__ = "community_media"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, default=new_id)
    profile_id: Mapped[int] = mapped_column(BigId, ForeignKey("community_profiles.id", ondelete="CASCADE"))
    status_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("posts.id", ondelete="CASCADE"), nullable=True, index=True
    )
    kind: Mapped[str] = mapped_column(String(16), default="image")
    path: Mapped[str | None] = mapped_column(String(500), nullable=True)  # under the media folder
    preview_path: Mapped[str | None] = mapped_column(String(500), nullable=True)
    remote_url: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    content_type: Mapped[str] = mapped_column(String(100), default="image/webp")
    description: Mapped[str] = mapped_column(String(1500), default="")  # alt text
    width: Mapped[int | None] = mapped_column(nullable=True)
    height: Mapped[int | None] = mapped_column(nullable=True)
    blurhash: Mapped[str | None] = mapped_column(String(100), nullable=True)
    state: Mapped[str] = mapped_column(String(16), default="ready")  # processing|ready|failed
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class Follow(Base):
    """`profile_id` follows `target_id`; `accepted` false while a locked account has not approved."""

    __tablename__ = "community_follows"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, default=new_id)
    profile_id: Mapped[int] = mapped_column(BigId, ForeignKey("community_profiles.id", ondelete="CASCADE"))
    target_id: Mapped[int] = mapped_column(BigId, ForeignKey("community_profiles.id", ondelete="CASCADE"), index=True)
    accepted: Mapped[bool] = mapped_column(default=True)
    uri: Mapped[str | None] = mapped_column(String(2000), nullable=True)  # the Follow activity's id
    show_reblogs: Mapped[bool] = mapped_column(default=True)
    notify: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    __table_args__ = (UniqueConstraint("profile_id", "target_id"),)


class Block(Base):
    """`profile_id` blocks `target_id` (federated as `Block`)."""

    __tablename__ = "community_blocks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, default=new_id)
    profile_id: Mapped[int] = mapped_column(BigId, ForeignKey("community_profiles.id", ondelete="CASCADE"))
    target_id: Mapped[int] = mapped_column(BigId, ForeignKey("community_profiles.id", ondelete="CASCADE"), index=True)
    uri: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    __table_args__ = (UniqueConstraint("profile_id", "target_id"),)


class Mute(Base):
    """`profile_id` mutes `target_id` (local only: nobody else is told)."""

    __tablename__ = "community_mutes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, default=new_id)
    profile_id: Mapped[int] = mapped_column(BigId, ForeignKey("community_profiles.id", ondelete="CASCADE"))
    target_id: Mapped[int] = mapped_column(BigId, ForeignKey("community_profiles.id", ondelete="CASCADE"))
    notifications: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    __table_args__ = (UniqueConstraint("profile_id", "target_id"),)


class Favourite(Base):
    """`profile_id` favourited `status_id` (federated as `Like`)."""

    __tablename__ = "community_favourites"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, default=new_id)
    profile_id: Mapped[int] = mapped_column(BigId, ForeignKey("community_profiles.id", ondelete="CASCADE"))
    status_id: Mapped[int] = mapped_column(BigId, ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    uri: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    __table_args__ = (UniqueConstraint("profile_id", "status_id"),)


class Bookmark(Base):
    """`profile_id` (local) bookmarked `status_id` (private: never federated)."""

    __tablename__ = "community_bookmarks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, default=new_id)
    profile_id: Mapped[int] = mapped_column(BigId, ForeignKey("community_profiles.id", ondelete="CASCADE"))
    status_id: Mapped[int] = mapped_column(BigId, ForeignKey("posts.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    __table_args__ = (UniqueConstraint("profile_id", "status_id"),)


class Mention(Base):
    """`status_id` mentions `profile_id` (a `Mention` tag; a notification for a local person)."""

    __tablename__ = "community_mentions"

    status_id: Mapped[int] = mapped_column(BigId, ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True)
    profile_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("community_profiles.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Tag(Base):
    """A hashtag, by its lower-case name."""

    __tablename__ = "community_tags"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)  # lower case, no '#'
    display_name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class StatusTag(Base):
    """`status_id` carries `tag_id` (the hashtag timeline reads (tag_id, status_id) backwards)."""

    __tablename__ = "community_status_tags"

    tag_id: Mapped[int] = mapped_column(BigId, ForeignKey("community_tags.id", ondelete="CASCADE"), primary_key=True)
    status_id: Mapped[int] = mapped_column(BigId, ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True)


class TagFollow(Base):
    """`profile_id` (local) follows hashtag `tag_id`: its public statuses enter their home feed."""

    __tablename__ = "community_tag_follows"

    profile_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("community_profiles.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[int] = mapped_column(BigId, ForeignKey("community_tags.id", ondelete="CASCADE"), primary_key=True)


class FeedEntry(Base):
    """One status in one local person's home feed (fan-out on write, as Mastodon's FeedManager
    does in Redis; here a table, so the home timeline is one indexed range scan)."""

    __tablename__ = "community_feed"

    profile_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("community_profiles.id", ondelete="CASCADE"), primary_key=True
    )
    status_id: Mapped[int] = mapped_column(BigId, ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True)


class Notification(Base):
    """Something a local person should know about, of a type in NOTIFICATION_TYPES."""

    __tablename__ = "community_notifications"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, default=new_id)
    profile_id: Mapped[int] = mapped_column(BigId, ForeignKey("community_profiles.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(32))
    from_profile_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("community_profiles.id", ondelete="CASCADE"), nullable=True
    )
    status_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("posts.id", ondelete="CASCADE"), nullable=True)
    report_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    __table_args__ = (
        Index("ix_community_notifications_profile_id_id", "profile_id", "id"),
        UniqueConstraint("profile_id", "type", "from_profile_id", "status_id"),
    )


class Preferences(Base):
    """A local person's settings for the community: notification mail, defaults for posting."""

    __tablename__ = "community_preferences"

    profile_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("community_profiles.id", ondelete="CASCADE"), primary_key=True
    )
    email_notifications: Mapped[bool] = mapped_column(default=False)
    email_types: Mapped[list[str]] = mapped_column(JSONDoc, default=lambda: ["mention", "follow", "reply"])
    default_visibility: Mapped[str] = mapped_column(String(16), default="public")
    default_language: Mapped[str | None] = mapped_column(String(16), nullable=True)
    last_read_notification_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    last_read_home_id: Mapped[int | None] = mapped_column(BigId, nullable=True)


class Report(Base):
    """A report of an account (and some of its statuses) to this instance's moderators, from a
    local person or from another server's `Flag`."""

    __tablename__ = "community_reports"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, default=new_id)
    reporter_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("community_profiles.id", ondelete="SET NULL"), nullable=True
    )
    target_id: Mapped[int] = mapped_column(BigId, ForeignKey("community_profiles.id", ondelete="CASCADE"))
    status_ids: Mapped[list[int]] = mapped_column(JSONDoc, default=list)
    # What the reported statuses said when reported ({id, text, html, visibility, created_at}), so a
    # deletion (by the author or a moderator) does not take the evidence away (moderation's column).
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSONDoc, default=list, server_default="[]")
    comment: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(16), default="other")  # spam|legal|violation|other
    forward: Mapped[bool] = mapped_column(default=False)
    uri: Mapped[str | None] = mapped_column(String(2000), nullable=True)  # a remote Flag's id
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolved_by_id: Mapped[int | None] = mapped_column(nullable=True)  # accounts.id
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class ModerationAction(Base):
    """The audit log: who did what to whom, and why."""

    __tablename__ = "community_moderation_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, default=new_id)
    moderator_id: Mapped[int | None] = mapped_column(nullable=True)  # accounts.id
    action: Mapped[str] = mapped_column(String(32))  # delete_status|silence|suspend|unsilence|...
    target_profile_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    target_status_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    target_domain: Mapped[str | None] = mapped_column(String(255), nullable=True)
    report_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class Registration(Base):
    """How a local account came to be: the mode it registered under, the reason it gave (approval
    mode), the invite it used, when it accepted the rules and confirmed its address."""

    __tablename__ = "community_registrations"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending|approved|rejected
    reason: Mapped[str] = mapped_column(Text, default="")
    invite_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    rules_accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    email_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class Invite(Base):
    """An invite link an admin (or a member, if allowed) made: `code`, uses left, expiry."""

    __tablename__ = "community_invites"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), nullable=True)
    max_uses: Mapped[int | None] = mapped_column(nullable=True)
    uses: Mapped[int] = mapped_column(default=0)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
