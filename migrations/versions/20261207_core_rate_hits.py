"""core: the shared rate-limit log (server.floor.ratelimit)

Revision ID: 20261207_core_rate_hits
Revises: 20261207_core_group_forward
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from server.floor.db import UTCDateTime

revision: str = "20261207_core_rate_hits"
down_revision: str | Sequence[str] | None = "20261207_core_group_forward"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rate_hits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=320), nullable=False),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_hits")),
    )
    op.create_index("ix_rate_hits_scope_key_at", "rate_hits", ["scope", "key", "at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_rate_hits_scope_key_at", table_name="rate_hits")
    op.drop_table("rate_hits")
