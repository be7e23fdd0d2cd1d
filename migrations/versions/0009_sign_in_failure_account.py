"""sign_in_failure.account_digest: which account a failed attempt named, so that
a successful sign-in forgets only that account's failures from its address

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 12:45:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0009'
down_revision: str | Sequence[str] | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: rows written before this revision name no account, so no sign-in
    # forgets them; they leave with the window (minutes).
    op.add_column('sign_in_failure', sa.Column('account_digest', sa.String(length=64), nullable=True, comment="HMAC-SHA256 (keyed likewise) of the e-mail address the attempt named: a successful sign-in forgets that account's failures from the address only"))


def downgrade() -> None:
    with op.batch_alter_table('sign_in_failure') as batch:
        batch.drop_column('account_digest')
