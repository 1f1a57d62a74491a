"""api: the Mastodon client API's apps, authorization codes, tokens and idempotency keys

Revision ID: 20261212_api
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.floor.db

revision: str = "20261212_api"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("api",)
depends_on: str | Sequence[str] | None = "20261211_community"

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = server.floor.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "api_applications",
        sa.Column("id", BIG, primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("website", sa.String(2000), nullable=True),
        sa.Column("redirect_uris", sa.Text(), nullable=False),
        sa.Column("scopes", sa.String(1000), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("client_secret_hash", sa.String(64), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_applications")),
        sa.UniqueConstraint("client_id", name=op.f("uq_api_applications_client_id")),
    )
    op.create_table(
        "api_authorization_codes",
        sa.Column("id", BIG, primary_key=True, autoincrement=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("application_id", BIG, nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("redirect_uri", sa.String(2000), nullable=False),
        sa.Column("scope", sa.String(1000), nullable=False),
        sa.Column("code_challenge", sa.String(128), nullable=True),
        sa.Column("code_challenge_method", sa.String(16), nullable=True),
        sa.Column("expires_at", WHEN, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["api_applications.id"],
            name=op.f("fk_api_authorization_codes_application_id_api_applications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_api_authorization_codes_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_authorization_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_api_authorization_codes_code_hash")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", BIG, primary_key=True, autoincrement=False),
        sa.Column("application_id", BIG, nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("access_hash", sa.String(64), nullable=False),
        sa.Column("refresh_hash", sa.String(64), nullable=True),
        sa.Column("scope", sa.String(1000), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("expires_at", WHEN, nullable=True),
        sa.Column("revoked_at", WHEN, nullable=True),
        sa.Column("last_used_at", WHEN, nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["api_applications.id"],
            name=op.f("fk_api_tokens_application_id_api_applications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_api_tokens_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("access_hash", name=op.f("uq_api_tokens_access_hash")),
        sa.UniqueConstraint("refresh_hash", name=op.f("uq_api_tokens_refresh_hash")),
    )
    op.create_index(op.f("ix_api_tokens_application_id"), "api_tokens", ["application_id"])
    op.create_index(op.f("ix_api_tokens_account_id"), "api_tokens", ["account_id"])
    op.create_table(
        "api_idempotency_keys",
        sa.Column("id", BIG, primary_key=True, autoincrement=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("status_id", BIG, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_api_idempotency_keys_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["status_id"], ["posts.id"], name=op.f("fk_api_idempotency_keys_status_id_posts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_idempotency_keys")),
        sa.UniqueConstraint("account_id", "key", name=op.f("uq_api_idempotency_keys_account_id_key")),
    )
    op.create_index("ix_api_idempotency_keys_created_at", "api_idempotency_keys", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_api_idempotency_keys_created_at", table_name="api_idempotency_keys")
    op.drop_table("api_idempotency_keys")
    op.drop_index(op.f("ix_api_tokens_account_id"), table_name="api_tokens")
    op.drop_index(op.f("ix_api_tokens_application_id"), table_name="api_tokens")
    op.drop_table("api_tokens")
    op.drop_table("api_authorization_codes")
    op.drop_table("api_applications")
