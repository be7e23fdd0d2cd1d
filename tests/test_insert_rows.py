"""`db.insert_rows`: on SQLite the cohort's bulk rows go straight to the driver,
and must be stored exactly as a Core INSERT stores them; scalar defaults of
left-out columns are applied, computed ones send the batch through Core."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from tests import factories
from trialdb import migrate
from trialdb.db import Base, insert_rows, make_engine
from trialdb.demo import generate_cohort, load_cohort, load_reference_data
from trialdb.models import EligibilityAssessment, Site
from trialdb.scratch import empty_database
from trialdb.services import audit, cohort

FIXED_NOW = datetime(2026, 10, 15, 9, 30, 12, 345678, tzinfo=UTC)
# every table a cohort load writes (the audit trail included), in a stable order
WRITTEN = sorted(
    {"participant", "eligibility_assessment", "consent_record", "serology", "car_t_infusion",
     "clinical_course", "corticosteroid_course", "immune_measurement", "viral_load_result",
     "antiviral_course", "cmv_disease_episode", "follow_up", "protocol_deviation",
     "withdrawal", "resistance_genotype", "genotype_gene", "genotype_mutation",
     "drug_susceptibility", "audit_event"} & set(Base.metadata.tables))


def _core_insert(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(table), rows)


def _stored(path: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row as SQLite keeps it (raw text and numbers, not SQLAlchemy's types)."""
    with sqlite3.connect(path) as connection:
        return {table: connection.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
                for table in WRITTEN}


def _load(folder: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, list[tuple[Any, ...]]]:
    monkeypatch.setattr(cohort, "utcnow", lambda: FIXED_NOW)
    monkeypatch.setattr(audit, "utcnow", lambda: FIXED_NOW)
    with empty_database("sqlite", folder) as url:
        engine = make_engine(url)
        migrate.upgrade(engine)
        load_reference_data(engine)
        load_cohort(engine, generate_cohort(60, seed=11), batch_size=25)
        engine.dispose()
        return _stored(url.split("///", 1)[1])


def test_the_driver_path_stores_what_a_core_insert_stores(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    direct = _load(tmp_path / "direct", monkeypatch)
    monkeypatch.setattr(cohort, "insert_rows", _core_insert)
    through_core = _load(tmp_path / "core", monkeypatch)
    assert sum(len(rows) for rows in direct.values()) > 2000  # every kind of row was written
    assert [t for t in WRITTEN if not direct[t]] == []
    for table in WRITTEN:
        assert direct[table] == through_core[table], table


def test_left_out_columns_get_their_defaults(db: Session) -> None:
    """Site.is_active has a scalar default (True): written by the driver path.
    EligibilityAssessment.failed_criteria has a computed one (a new list): that
    batch goes through Core, which computes it, instead of leaving it NULL."""
    insert_rows(db, cast(Table, Site.__table__),
                [{"code": "DFLT1", "name": "Default one"}, {"code": "DFLT2", "name": "Default two"}])
    assert db.scalars(select(Site.is_active).where(Site.code.in_(["DFLT1", "DFLT2"]))).all() \
        == [True, True]
    person = factories.participant(db, factories.site(db))
    table = cast(Table, EligibilityAssessment.__table__)
    assert not table.c.failed_criteria.default.is_scalar  # type: ignore[union-attr]
    insert_rows(db, table, [{"participant_id": person.id, "assessed_on": date(2024, 3, 2),
                             "decision": "pending", "row_version": 1, "is_complete": False,
                             "is_deleted": False, "created_at": FIXED_NOW,
                             "updated_at": FIXED_NOW}])
    assert db.scalars(select(EligibilityAssessment.failed_criteria).where(
        EligibilityAssessment.participant_id == person.id)).all() == [[]]
