"""Alembic is the only way the schema changes: the chain must be whole and
must produce exactly the models, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect

from trialdb import migrate
from trialdb.db import make_engine
from trialdb.models import Base
from trialdb.scratch import empty_database


def test_exactly_one_head() -> None:
    assert len(migrate.heads()) == 1


def test_upgrade_check_downgrade_upgrade(backend: str, tmp_path: Path) -> None:
    with empty_database(backend, tmp_path) as url:
        engine = make_engine(url)
        try:
            migrate.upgrade(engine)
            migrate.check(engine)  # raises when autogenerate finds a difference
            assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
            migrate.downgrade(engine, "base")
            assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
            migrate.upgrade(engine)
            migrate.check(engine)
        finally:
            engine.dispose()


@pytest.mark.parametrize("table", sorted(Base.metadata.tables))
def test_every_column_is_documented(table: str) -> None:
    undocumented = [c.name for c in Base.metadata.tables[table].columns if not c.comment]
    assert undocumented == []


IDENTIFYING = ("name", "initial", "birth_date", "date_of_birth", "dob", "hospital", "ipp",
               "nip", "mrn", "address", "phone")


# Printed names of staff are required on audit rows and signatures (21 CFR 11.50).
STAFF_NAME_COLUMNS = {"user_name", "raised_by_name", "author_name", "signer_name"}


@pytest.mark.parametrize("table", sorted(Base.metadata.tables))
def test_no_identifying_column_about_patients(table: str) -> None:
    if table in {"app_user", "site", "assay"}:  # staff, centres and assays have names
        return
    suspicious = [c.name for c in Base.metadata.tables[table].columns
                  if any(word in c.name.lower() for word in IDENTIFYING)
                  and c.name not in STAFF_NAME_COLUMNS]
    assert suspicious == []
