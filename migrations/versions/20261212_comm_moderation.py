"""community moderation: domain blocks with a severity, and the indexes moderation reads by
(sanctioned profiles, reports by their Flag's id, open reports)

Revision ID: 20261212_comm_moderation
Revises: 20261212_comm_search
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.floor.db

revision: str = "20261212_comm_moderation"
down_revision: str | Sequence[str] | None = "20261212_comm_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = server.floor.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    """The domain block table and the indexes."""
    op.create_table(
        "community_domain_blocks",
        sa.Column("id", BIG, primary_key=True, autoincrement=False),
        sa.Column("domain", sa.String(255), nullable=False, unique=True),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_index("ix_community_profiles_silenced_at", "community_profiles", ["silenced_at"])
    op.create_index("ix_community_profiles_suspended_at", "community_profiles", ["suspended_at"])
    op.create_index("ix_community_reports_uri", "community_reports", ["uri"])
    op.create_index("ix_community_reports_resolved_at", "community_reports", ["resolved_at"])


def downgrade() -> None:
    """Drop them."""
    op.drop_index("ix_community_reports_resolved_at", "community_reports")
    op.drop_index("ix_community_reports_uri", "community_reports")
    op.drop_index("ix_community_profiles_suspended_at", "community_profiles")
    op.drop_index("ix_community_profiles_silenced_at", "community_profiles")
    op.drop_table("community_domain_blocks")
