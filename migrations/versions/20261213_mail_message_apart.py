"""mail: on PostgreSQL an outgoing mail's message is stored apart from its queue row (TOAST), so that
the sender's three updates of a row (lease, in flight, answer) write a row of a few hundred bytes and
not the compressed 1.6 KB message with it each time; nothing changes on SQLite

Revision ID: 20261213_mail_message_apart
Revises: 20261206_mail_message_id
"""

from collections.abc import Sequence

from alembic import op

revision: str = "20261213_mail_message_apart"
down_revision: str | Sequence[str] | None = "20261206_mail_message_id"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # A row longer than this has its long values compressed and moved to the TOAST table; an update
        # that does not change them copies only their pointer (the default, 2 kB, kept them inline).
        op.execute("ALTER TABLE mail_outgoing SET (toast_tuple_target = 512, fillfactor = 70)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE mail_outgoing RESET (toast_tuple_target, fillfactor)")
