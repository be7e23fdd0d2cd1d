"""session epoch and last TOTP step on app_user: server-side session revocation
and no replay of a second-factor code

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 20:59:26.131977
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006'
down_revision: str | Sequence[str] | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Adding columns needs no table copy, on SQLite either (batch mode adds them in place).
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('totp_last_step', sa.Integer(), nullable=True, comment='Time step (Unix time / 30 s) of the last TOTP code accepted: a code is accepted only for a later step (no replay)'))
        batch_op.add_column(sa.Column('session_epoch', sa.Integer(), server_default='0', nullable=False, comment="Generation of the user's web sessions, carried in each session cookie: raised at sign-out and on access or second-factor changes, which ends every session signed in before"))


def downgrade() -> None:
    # Not batch mode: on SQLite a batch drop copies app_user and drops the original,
    # and with foreign keys on (they are, and cannot be turned off inside the
    # migration's transaction) that drop would cascade to the site memberships and
    # API tokens. SQLite >= 3.35 and PostgreSQL both drop a plain column in place.
    op.drop_column('app_user', 'session_epoch')
    op.drop_column('app_user', 'totp_last_step')
