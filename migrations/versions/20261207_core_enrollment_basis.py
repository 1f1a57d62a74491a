"""core: record why a learner was enrolled without confirming (lawful basis) and by whom

Revision ID: 20261207_core_enrollment_basis
Revises: 20261207_core_rate_hits
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261207_core_enrollment_basis"
down_revision: str | Sequence[str] | None = "20261207_core_rate_hits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lawful_basis", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("enrolled_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_enrollments_enrolled_by_id_accounts"),
            "accounts",
            ["enrolled_by_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_enrollments_enrolled_by_id_accounts"), type_="foreignkey")
        batch_op.drop_column("enrolled_by_id")
        batch_op.drop_column("lawful_basis")
