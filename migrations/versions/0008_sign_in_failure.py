"""sign_in_failure: failed sign-in steps by client address, so that the sign-in
throttle counts across every worker and process and survives a restart

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 03:45:58.663640
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0008'
down_revision: str | Sequence[str] | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A new table: nothing to copy. It starts empty (the counts kept in the
    # workers' memory until now are not carried over; the window is minutes).
    op.create_table('sign_in_failure',
    sa.Column('id', sa.Integer(), nullable=False, comment='Surrogate key'),
    sa.Column('client_digest', sa.String(length=64), nullable=False, comment="HMAC-SHA256 (keyed with the application's secret key) of the client's IP address: the throttle only needs to recognise an address, not to read it"),
    sa.Column('failed_at', sa.DateTime(timezone=True), nullable=False, comment="When the attempt failed (UTC); rows older than the throttle's window are deleted"),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in_failure'))
    )
    # one address's failures in the window; the purge of everything older
    op.create_index('ix_sign_in_failure_client_digest', 'sign_in_failure', ['client_digest', 'failed_at'], unique=False)
    op.create_index(op.f('ix_sign_in_failure_failed_at'), 'sign_in_failure', ['failed_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_sign_in_failure_failed_at'), table_name='sign_in_failure')
    op.drop_index('ix_sign_in_failure_client_digest', table_name='sign_in_failure')
    op.drop_table('sign_in_failure')
