"""core: keep the TOML text a course and its units were imported from (lossless export)

Revision ID: 20261125_core_sources
Revises: 20261125_core
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261125_core_sources"
down_revision: str | Sequence[str] | None = "20261125_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("courses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_toml", sa.Text(), nullable=True))
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_toml", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.drop_column("source_toml")
    with op.batch_alter_table("courses", schema=None) as batch_op:
        batch_op.drop_column("source_toml")
