"""federation: who forwarded a received activity signed by another server than its actor's

Revision ID: 20261209_federation_forwarded
Revises: 20261206_federation_streak
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261209_federation_forwarded"
down_revision: str | Sequence[str] | None = "20261206_federation_streak"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("federation_inbox") as batch:
        batch.add_column(sa.Column("forwarded_by", sa.String(length=2000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("federation_inbox") as batch:
        batch.drop_column("forwarded_by")
