"""community reports keep what the reported statuses said (evidence), whatever happens to them later

Revision ID: 20261212_comm_report_evidence
Revises: 20261212_comm_moderation
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261212_comm_report_evidence"
down_revision: str | Sequence[str] | None = "20261212_comm_moderation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    """The evidence column (an empty list for the reports made before)."""
    op.add_column("community_reports", sa.Column("evidence", JSON, nullable=False, server_default="[]"))


def downgrade() -> None:
    """Drop it."""
    op.drop_column("community_reports", "evidence")
