"""community: profiles, statuses of every kind (the `posts` table grows into them), follows, blocks,
mutes, favourites, bookmarks, mentions, hashtags, media, edits, home feeds, notifications,
preferences, reports, the moderation log, registrations and invites

Revision ID: 20261211_community
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.floor.db

revision: str = "20261211_community"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("community",)
depends_on: str | Sequence[str] | None = ("20261210_core_facilitators", "20261206_mail_message_id")

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = server.floor.db.UTCDateTime(timezone=True)
JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(astext_type=sa.Text()), "postgresql")

POST_COLUMNS = [
    ("profile_id", BIG, {}),
    ("url", sa.String(2000), {}),
    ("local", sa.Boolean(), {"server_default": sa.false(), "nullable": False}),
    ("spoiler_text", sa.String(1500), {"server_default": "", "nullable": False}),
    ("sensitive", sa.Boolean(), {"server_default": sa.false(), "nullable": False}),
    ("language", sa.String(16), {}),
    ("in_reply_to_profile_id", BIG, {}),
    ("reblog_of_id", BIG, {}),
    ("replies_count", sa.Integer(), {"server_default": "0", "nullable": False}),
    ("reblogs_count", sa.Integer(), {"server_default": "0", "nullable": False}),
    ("favourites_count", sa.Integer(), {"server_default": "0", "nullable": False}),
    ("pinned_at", WHEN, {}),
    ("edited_at", WHEN, {}),
]


def _id() -> sa.Column:
    return sa.Column("id", BIG, primary_key=True, autoincrement=False)


def _ref(name: str, table: str, nullable: bool = False, ondelete: str = "CASCADE") -> sa.Column:
    return sa.Column(name, BIG, sa.ForeignKey(f"{table}.id", ondelete=ondelete), nullable=nullable)


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "community_profiles",
        _id(),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=True),
        sa.Column("uri", sa.String(2000), nullable=False),
        sa.Column("url", sa.String(2000), nullable=True),
        sa.Column("username", sa.String(200), nullable=False),
        sa.Column("domain", sa.String(255), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("note_source", sa.Text(), nullable=False),
        sa.Column("avatar_url", sa.String(2000), nullable=True),
        sa.Column("avatar_description", sa.String(1500), nullable=False),
        sa.Column("header_url", sa.String(2000), nullable=True),
        sa.Column("header_description", sa.String(1500), nullable=False),
        sa.Column("fields", JSON, nullable=False),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("bot", sa.Boolean(), nullable=False),
        sa.Column("group", sa.Boolean(), nullable=False),
        sa.Column("discoverable", sa.Boolean(), nullable=False),
        sa.Column("indexable", sa.Boolean(), nullable=False),
        sa.Column("show_courses", sa.Boolean(), nullable=False),
        sa.Column("inbox_url", sa.String(2000), nullable=True),
        sa.Column("shared_inbox_url", sa.String(2000), nullable=True),
        sa.Column("followers_url", sa.String(2000), nullable=True),
        sa.Column("also_known_as", JSON, nullable=False),
        _ref("moved_to_id", "community_profiles", nullable=True, ondelete="SET NULL"),
        sa.Column("silenced_at", WHEN, nullable=True),
        sa.Column("suspended_at", WHEN, nullable=True),
        sa.Column("deleted_at", WHEN, nullable=True),
        sa.Column("followers_count", sa.Integer(), nullable=False),
        sa.Column("following_count", sa.Integer(), nullable=False),
        sa.Column("statuses_count", sa.Integer(), nullable=False),
        sa.Column("last_status_at", WHEN, nullable=True),
        sa.Column("fetched_at", WHEN, nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.UniqueConstraint("account_id", name="uq_community_profiles_account_id"),
        sa.UniqueConstraint("uri", name="uq_community_profiles_uri"),
        sa.UniqueConstraint("username", "domain", name="uq_community_profiles_username_domain"),
    )
    op.create_index("ix_community_profiles_domain", "community_profiles", ["domain"])

    # The posts table becomes the statuses table: its ids grow to 64 bits on PostgreSQL (SQLite's
    # INTEGER is 64-bit already), and it gains what a status has beyond a group post.
    if postgres:
        op.alter_column("posts", "id", type_=sa.BigInteger())
        op.alter_column("posts", "in_reply_to_id", type_=sa.BigInteger())
        op.alter_column("posts", "thread_id", type_=sa.BigInteger())
        op.alter_column("mail_inbound", "post_id", type_=sa.BigInteger())
        op.alter_column("mail_outgoing", "post_id", type_=sa.BigInteger())
    for name, kind, options in POST_COLUMNS:
        op.add_column(
            "posts",
            sa.Column(name, kind, nullable=options.get("nullable", True), server_default=options.get("server_default")),
        )
    if postgres:  # SQLite cannot add a constraint to a table without rebuilding it
        op.create_foreign_key(
            "fk_posts_profile_id_community_profiles",
            "posts",
            "community_profiles",
            ["profile_id"],
            ["id"],
            ondelete="CASCADE",
        )
        op.create_foreign_key(
            "fk_posts_reblog_of_id_posts", "posts", "posts", ["reblog_of_id"], ["id"], ondelete="CASCADE"
        )
    op.create_index("ix_posts_profile_id_id", "posts", ["profile_id", "id"])
    op.create_index("ix_posts_local_visibility_id", "posts", ["local", "visibility", "id"])
    op.create_index("ix_posts_in_reply_to_id", "posts", ["in_reply_to_id"])
    op.create_index("ix_posts_reblog_of_id", "posts", ["reblog_of_id"])

    op.create_table(
        "community_status_edits",
        _id(),
        _ref("status_id", "posts"),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("spoiler_text", sa.String(1500), nullable=False),
        sa.Column("sensitive", sa.Boolean(), nullable=False),
        sa.Column("media", JSON, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_index("ix_community_status_edits_status_id", "community_status_edits", ["status_id"])
    op.create_table(
        "community_media",
        _id(),
        _ref("profile_id", "community_profiles"),
        _ref("status_id", "posts", nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("path", sa.String(500), nullable=True),
        sa.Column("preview_path", sa.String(500), nullable=True),
        sa.Column("remote_url", sa.String(2000), nullable=True),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("description", sa.String(1500), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("blurhash", sa.String(100), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_index("ix_community_media_status_id", "community_media", ["status_id"])
    for table, extra in (
        (
            "community_follows",
            [
                sa.Column("accepted", sa.Boolean(), nullable=False),
                sa.Column("uri", sa.String(2000), nullable=True),
                sa.Column("show_reblogs", sa.Boolean(), nullable=False),
                sa.Column("notify", sa.Boolean(), nullable=False),
            ],
        ),
        ("community_blocks", [sa.Column("uri", sa.String(2000), nullable=True)]),
        ("community_mutes", [sa.Column("notifications", sa.Boolean(), nullable=False)]),
    ):
        op.create_table(
            table,
            _id(),
            _ref("profile_id", "community_profiles"),
            _ref("target_id", "community_profiles"),
            *extra,
            sa.Column("created_at", WHEN, nullable=False),
            sa.UniqueConstraint("profile_id", "target_id", name=f"uq_{table}_profile_id_target_id"),
        )
    op.create_index("ix_community_follows_target_id", "community_follows", ["target_id"])
    op.create_index("ix_community_blocks_target_id", "community_blocks", ["target_id"])
    op.create_table(
        "community_favourites",
        _id(),
        _ref("profile_id", "community_profiles"),
        _ref("status_id", "posts"),
        sa.Column("uri", sa.String(2000), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.UniqueConstraint("profile_id", "status_id", name="uq_community_favourites_profile_id_status_id"),
    )
    op.create_index("ix_community_favourites_status_id", "community_favourites", ["status_id"])
    op.create_table(
        "community_bookmarks",
        _id(),
        _ref("profile_id", "community_profiles"),
        _ref("status_id", "posts"),
        sa.Column("created_at", WHEN, nullable=False),
        sa.UniqueConstraint("profile_id", "status_id", name="uq_community_bookmarks_profile_id_status_id"),
    )
    op.create_table(
        "community_mentions",
        sa.Column("status_id", BIG, sa.ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("profile_id", BIG, sa.ForeignKey("community_profiles.id", ondelete="CASCADE"), primary_key=True),
    )
    op.create_index("ix_community_mentions_profile_id", "community_mentions", ["profile_id"])
    op.create_table(
        "community_tags",
        _id(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.UniqueConstraint("name", name="uq_community_tags_name"),
    )
    op.create_table(
        "community_status_tags",
        sa.Column("tag_id", BIG, sa.ForeignKey("community_tags.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("status_id", BIG, sa.ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True),
    )
    op.create_table(
        "community_tag_follows",
        sa.Column("profile_id", BIG, sa.ForeignKey("community_profiles.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("tag_id", BIG, sa.ForeignKey("community_tags.id", ondelete="CASCADE"), primary_key=True),
    )
    op.create_table(
        "community_feed",
        sa.Column("profile_id", BIG, sa.ForeignKey("community_profiles.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("status_id", BIG, sa.ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True),
    )
    op.create_table(
        "community_notifications",
        _id(),
        _ref("profile_id", "community_profiles"),
        sa.Column("type", sa.String(32), nullable=False),
        _ref("from_profile_id", "community_profiles", nullable=True),
        _ref("status_id", "posts", nullable=True),
        sa.Column("report_id", BIG, nullable=True),
        sa.Column("read_at", WHEN, nullable=True),
        sa.Column("emailed_at", WHEN, nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.UniqueConstraint(
            "profile_id", "type", "from_profile_id", "status_id", name="uq_community_notifications_profile_id"
        ),
    )
    op.create_index("ix_community_notifications_profile_id_id", "community_notifications", ["profile_id", "id"])
    op.create_table(
        "community_preferences",
        sa.Column("profile_id", BIG, sa.ForeignKey("community_profiles.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("email_notifications", sa.Boolean(), nullable=False),
        sa.Column("email_types", JSON, nullable=False),
        sa.Column("default_visibility", sa.String(16), nullable=False),
        sa.Column("default_language", sa.String(16), nullable=True),
        sa.Column("last_read_notification_id", BIG, nullable=True),
        sa.Column("last_read_home_id", BIG, nullable=True),
    )
    op.create_table(
        "community_reports",
        _id(),
        _ref("reporter_id", "community_profiles", nullable=True, ondelete="SET NULL"),
        _ref("target_id", "community_profiles"),
        sa.Column("status_ids", JSON, nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("forward", sa.Boolean(), nullable=False),
        sa.Column("uri", sa.String(2000), nullable=True),
        sa.Column("resolved_at", WHEN, nullable=True),
        sa.Column("resolved_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_table(
        "community_moderation_log",
        _id(),
        sa.Column("moderator_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("target_profile_id", BIG, nullable=True),
        sa.Column("target_status_id", BIG, nullable=True),
        sa.Column("target_domain", sa.String(255), nullable=True),
        sa.Column("report_id", BIG, nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_table(
        "community_registrations",
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("invite_id", BIG, nullable=True),
        sa.Column("rules_accepted_at", WHEN, nullable=True),
        sa.Column("email_confirmed_at", WHEN, nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_table(
        "community_invites",
        _id(),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("created_by_id", sa.Integer(), sa.ForeignKey("accounts.id", ondelete="SET NULL"), nullable=True),
        sa.Column("max_uses", sa.Integer(), nullable=True),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.Column("expires_at", WHEN, nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.UniqueConstraint("code", name="uq_community_invites_code"),
    )


def downgrade() -> None:
    for table in (
        "community_invites",
        "community_registrations",
        "community_moderation_log",
        "community_reports",
        "community_preferences",
        "community_notifications",
        "community_feed",
        "community_tag_follows",
        "community_status_tags",
        "community_tags",
        "community_mentions",
        "community_bookmarks",
        "community_favourites",
        "community_mutes",
        "community_blocks",
        "community_follows",
        "community_media",
        "community_status_edits",
    ):
        op.drop_table(table)
    for index in (
        "ix_posts_reblog_of_id",
        "ix_posts_in_reply_to_id",
        "ix_posts_local_visibility_id",
        "ix_posts_profile_id_id",
    ):
        op.drop_index(index, table_name="posts")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("fk_posts_reblog_of_id_posts", "posts", type_="foreignkey")
        op.drop_constraint("fk_posts_profile_id_community_profiles", "posts", type_="foreignkey")
    for name, _kind, _options in reversed(POST_COLUMNS):
        op.drop_column("posts", name)
    op.drop_table("community_profiles")
