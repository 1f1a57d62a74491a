"""web: throttled attempts and password reset links

Revision ID: 20261125_web
Revises:
Create Date: 2026-11-25 20:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.floor.db

revision: str = "20261125_web"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("web",)
depends_on: str | Sequence[str] | None = "20261125_core"


def upgrade() -> None:
    op.create_table(
        "web_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=320), nullable=False),
        sa.Column("at", server.floor.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_attempts")),
    )
    with op.batch_alter_table("web_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_web_attempts_scope_key_at", ["scope", "key", "at"], unique=False)

    op.create_table(
        "web_password_resets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", server.floor.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", server.floor.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", server.floor.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_web_password_resets_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_password_resets")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_web_password_resets_token_hash")),
    )
    with op.batch_alter_table("web_password_resets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_web_password_resets_account_id"), ["account_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("web_password_resets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_password_resets_account_id"))
    op.drop_table("web_password_resets")
    with op.batch_alter_table("web_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_web_attempts_scope_key_at")
    op.drop_table("web_attempts")
