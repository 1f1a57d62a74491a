"""core: when a finished run's learners are forgotten (runs.anonymise_at), and who asked to stay in their group

Revision ID: 20261208_core_retention
Revises: 20261207_core_session_epoch
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.floor.db

revision: str = "20261208_core_retention"
down_revision: str | Sequence[str] | None = "20261207_core_session_epoch"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("anonymise_at", server.floor.db.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("keep_consent_at", server.floor.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.drop_column("keep_consent_at")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("anonymise_at")
