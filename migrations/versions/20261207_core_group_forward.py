"""core: a merged study group remembers the group it joined (its address forwards there)

Revision ID: 20261207_core_group_forward
Revises: 20261125_core_sources
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261207_core_group_forward"
down_revision: str | Sequence[str] | None = "20261125_core_sources"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("study_groups", schema=None) as batch_op:
        batch_op.add_column(sa.Column("merged_into_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_study_groups_merged_into_id_study_groups"),
            "study_groups",
            ["merged_into_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("study_groups", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_study_groups_merged_into_id_study_groups"), type_="foreignkey")
        batch_op.drop_column("merged_into_id")
