"""community: partial indexes of the few hidden profiles (suspended or deleted; silenced), so that
a timeline's "author not hidden" check reads a tiny index instead of every profile

Revision ID: 20261212_comm_hidden
Revises: 20261212_comm_report_evidence
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261212_comm_hidden"
down_revision: str | Sequence[str] | None = "20261212_comm_report_evidence"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HIDDEN = "suspended_at IS NOT NULL OR deleted_at IS NOT NULL"
SILENCED = "silenced_at IS NOT NULL"


def upgrade() -> None:
    for name, where in (("ix_community_profiles_hidden", HIDDEN), ("ix_community_profiles_silenced", SILENCED)):
        op.create_index(
            name,
            "community_profiles",
            ["id"],
            postgresql_where=sa.text(where),
            sqlite_where=sa.text(where),
        )


def downgrade() -> None:
    op.drop_index("ix_community_profiles_silenced", table_name="community_profiles")
    op.drop_index("ix_community_profiles_hidden", table_name="community_profiles")
