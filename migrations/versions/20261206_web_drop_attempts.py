"""web: login and reset attempts are counted by the one limiter (rate_hits, server.floor.ratelimit)

Revision ID: 20261206_web_drop_attempts
Revises: 20261125_web
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from server.floor.db import UTCDateTime

revision: str = "20261206_web_drop_attempts"
down_revision: str | Sequence[str] | None = "20261125_web"
branch_labels: str | Sequence[str] | None = None
# rate_hits must exist before the attempts it replaces go.
depends_on: str | Sequence[str] | None = "20261207_core_rate_hits"


def upgrade() -> None:
    with op.batch_alter_table("web_attempts") as batch:
        batch.drop_index("ix_web_attempts_scope_key_at")
    op.drop_table("web_attempts")


def downgrade() -> None:
    op.create_table(
        "web_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=320), nullable=False),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_attempts")),
    )
    with op.batch_alter_table("web_attempts") as batch:
        batch.create_index("ix_web_attempts_scope_key_at", ["scope", "key", "at"], unique=False)
