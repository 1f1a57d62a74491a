"""mail: the Message-ID each outgoing mail carries, looked up to match replies (no token in it any more)

Revision ID: 20261206_mail_message_id
Revises: 20261125_mail
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261206_mail_message_id"
down_revision: str | Sequence[str] | None = "20261125_mail"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("mail_outgoing", schema=None) as batch_op:
        batch_op.add_column(sa.Column("message_id", sa.String(length=500), nullable=True))
        batch_op.create_index(batch_op.f("ix_mail_outgoing_message_id"), ["message_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("mail_outgoing", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mail_outgoing_message_id"))
        batch_op.drop_column("message_id")
