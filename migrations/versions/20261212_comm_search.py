"""community: full-text search over statuses (SQLite FTS5 table kept by community.search;
PostgreSQL GIN expression index), and an index for the federated timeline

Revision ID: 20261212_comm_search
Revises: 20261211_community
"""

from collections.abc import Sequence

from alembic import op

revision: str = "20261212_comm_search"
down_revision: str | Sequence[str] | None = "20261211_community"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DOCUMENT = "to_tsvector('simple', coalesce(spoiler_text, '') || ' ' || coalesce(text, ''))"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX ix_posts_search ON posts USING gin ({DOCUMENT})")
    else:
        op.execute(
            "CREATE VIRTUAL TABLE community_status_search USING fts5(body, tokenize='unicode61 remove_diacritics 2')"
        )
        op.execute(
            "INSERT INTO community_status_search (rowid, body) SELECT id, coalesce(spoiler_text, '') || ' ' || "
            "coalesce(text, '') FROM posts WHERE deleted = 0 AND reblog_of_id IS NULL"
        )
    op.create_index("ix_posts_visibility_id", "posts", ["visibility", "id"])


def downgrade() -> None:
    op.drop_index("ix_posts_visibility_id", table_name="posts")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_posts_search")
    else:
        op.execute("DROP TABLE community_status_search")
