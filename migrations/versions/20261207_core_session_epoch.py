"""core: accounts.session_epoch, bumped by logout and password changes to end earlier sessions

Revision ID: 20261207_core_session_epoch
Revises: 20261207_core_enrollment_basis
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261207_core_session_epoch"
down_revision: str | Sequence[str] | None = "20261207_core_enrollment_basis"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_epoch", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("session_epoch")
