"""mail: two indexes of mail_outgoing dropped, `state` and `next_attempt_at` alone: every query that
filters on them filters on `state` first and is served by `ix_mail_outgoing_due (state,
next_attempt_at)` (the sender's lease and recovery, the dashboards' counts by state, the attention
listing, the oldest due mail), so they only cost: each answer of the sender changes `state`, which
makes its update write a new entry in every index of the table (no HOT update), 11 of them before

Revision ID: 20261214_mail_fewer_indexes
Revises: 20261213_mail_message_apart
"""

from collections.abc import Sequence

from alembic import op

revision: str = "20261214_mail_fewer_indexes"
down_revision: str | Sequence[str] | None = "20261213_mail_message_apart"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_mail_outgoing_state", table_name="mail_outgoing")
    op.drop_index("ix_mail_outgoing_next_attempt_at", table_name="mail_outgoing")


def downgrade() -> None:
    op.create_index("ix_mail_outgoing_next_attempt_at", "mail_outgoing", ["next_attempt_at"], unique=False)
    op.create_index("ix_mail_outgoing_state", "mail_outgoing", ["state"], unique=False)
