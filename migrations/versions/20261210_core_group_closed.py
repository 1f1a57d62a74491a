"""core: a study group closed by its organizer (study_groups.closed_at): groups live on after the run until then

Revision ID: 20261210_core_group_closed
Revises: 20261208_core_retention
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.floor.db

revision: str = "20261210_core_group_closed"
down_revision: str | Sequence[str] | None = "20261208_core_retention"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("study_groups", schema=None) as batch_op:
        batch_op.add_column(sa.Column("closed_at", server.floor.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("study_groups", schema=None) as batch_op:
        batch_op.drop_column("closed_at")
