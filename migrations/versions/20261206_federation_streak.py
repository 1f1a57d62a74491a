"""federation: when a remote host's current run of failures began (availability judged by time)

Revision ID: 20261206_federation_streak
Revises: 20261125_federation
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from server.floor.db import UTCDateTime

revision: str = "20261206_federation_streak"
down_revision: str | Sequence[str] | None = "20261125_federation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("federation_hosts") as batch:
        batch.add_column(sa.Column("failing_since", UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("federation_hosts") as batch:
        batch.drop_column("failing_since")
