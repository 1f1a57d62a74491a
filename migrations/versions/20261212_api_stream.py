"""api: streaming messages handed from the embedded worker to the web process

Revision ID: 20261212_api_stream
Revises: 20261212_api
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.floor.db

revision: str = "20261212_api_stream"
down_revision: str | Sequence[str] | None = "20261212_api"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "api_stream_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("keys", JSON, nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", server.floor.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_stream_messages")),
    )
    op.create_index(op.f("ix_api_stream_messages_created_at"), "api_stream_messages", ["created_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_api_stream_messages_created_at"), table_name="api_stream_messages")
    op.drop_table("api_stream_messages")
