"""Backup and restore: the same data and an intact audit trail afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from tests import factories
from trialdb import backup, migrate
from trialdb.db import Base, make_engine, make_session_factory, unit_of_work
from trialdb.errors import InvalidInput
from trialdb.scratch import empty_database
from trialdb.services import audit


def _content(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    with engine.connect() as connection:
        return {
            table.name: [tuple(row) for row in connection.execute(
                select(table).order_by(*table.primary_key.columns))]
            for table in Base.metadata.sorted_tables
        }


def test_backup_then_restore_into_an_empty_database(backend: str, tmp_path: Path) -> None:
    with empty_database(backend, tmp_path) as source_url, \
            empty_database(backend, tmp_path) as target_url:
        source, target = make_engine(source_url), make_engine(target_url)
        try:
            migrate.upgrade(source)
            with unit_of_work(make_session_factory(source)) as session:
                site = factories.site(session)
                for _ in range(3):
                    factories.participant(session, site)
            archive = tmp_path / f"backup-{backend}.bin"
            backup.backup(source, archive)
            with pytest.raises(InvalidInput):
                backup.backup(source, archive)  # never overwrites
            backup.restore(target, archive)
            assert _content(target) == _content(source)
            assert any(_content(target)["participant"])
            with make_session_factory(target, write=False)() as session:
                assert audit.verify_chain(session) is None
            with pytest.raises(InvalidInput, match="not empty"):
                backup.restore(target, archive)
        finally:
            source.dispose()
            target.dispose()


def test_restore_refuses_a_file_of_the_wrong_kind(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("not a backup")
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    with pytest.raises(InvalidInput, match="not an SQLite backup"):
        backup.restore(engine, bogus)
