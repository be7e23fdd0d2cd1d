"""minor_at_consent on consent_record: the investigator's statement, in the month
of the 18th birthday, of minor or adult on the date of consent

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 10:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0007'
down_revision: str | Sequence[str] | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Adding a nullable column needs no table copy, on SQLite either (batch mode adds it in place).
    # Existing records stay NULL (not stated): they keep the judgement they were saved with.
    with op.batch_alter_table('consent_record', schema=None) as batch_op:
        batch_op.add_column(sa.Column('minor_at_consent', sa.Boolean(), nullable=True, comment="Investigator's statement, in the month of the 18th birthday, that the participant was a minor (True) or an adult (False) on the date of consent; NULL: not stated (a minor in doubt)"))


def downgrade() -> None:
    # Not batch mode, as in 0006: SQLite >= 3.35 and PostgreSQL both drop a plain
    # column in place, without copying the table.
    op.drop_column('consent_record', 'minor_at_consent')
