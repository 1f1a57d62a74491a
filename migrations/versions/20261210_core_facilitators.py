"""core: a run's facilitators (run_facilitators), who moderate its study groups with the organizer

Revision ID: 20261210_core_facilitators
Revises: 20261210_core_group_closed
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.floor.db

revision: str = "20261210_core_facilitators"
down_revision: str | Sequence[str] | None = "20261210_core_group_closed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "run_facilitators",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("created_at", server.floor.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "account_id"),
    )
    with op.batch_alter_table("run_facilitators", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_run_facilitators_account_id"), ["account_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("run_facilitators", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_run_facilitators_account_id"))
    op.drop_table("run_facilitators")
