"""The audit commands on a real database file: verify, tamper, export, history."""

from __future__ import annotations

import csv
import sqlite3
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests import factories
from trialdb.cli import main
from trialdb.db import make_engine, make_session_factory, unit_of_work
from trialdb.models import ClinicalCourse
from trialdb.services import audit, records
from trialdb.services.actor import Actor


@pytest.fixture()
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "trial.sqlite3"
    monkeypatch.setenv("TRIALDB_DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.setenv("TRIALDB_INSTANCE_PATH", str(tmp_path))
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(main, ["create-site", "--code", "PSL", "--name", "Pitié"]).exit_code == 0
    engine = make_engine(f"sqlite:///{path}")
    actor = Actor.system("test")
    with unit_of_work(make_session_factory(engine)) as session:
        site = factories.site(session, "HEGP")
        participant = factories.participant(session, site)
        course = records.create_record(session, actor, participant, ClinicalCourse,
                                       {"crs_grade": 1, "icans_grade": 0, "tocilizumab": False,
                                        "ivig": False}, complete=True)
        records.update_record(session, actor, course, {"crs_grade": 2}, reason="source letter")
        history = audit.field_history(session, "clinical_course", course.id, "crs_grade")
        assert [(h.old, h.new, h.reason) for h in history] == [
            (None, 1, None), (1, 2, "source letter")]
        assert len(audit.participant_trail(session, participant.study_number)) == 3
    engine.dispose()
    return path


def test_verify_passes_then_names_the_tampered_row(database: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "intact" in result.output
    with sqlite3.connect(database) as raw:  # behind the application's back
        raw.execute("DROP TRIGGER audit_event_no_update")
        raw.execute("UPDATE audit_event SET user_name = 'someone else' WHERE id = 2")
    result = runner.invoke(main, ["audit", "verify"])
    assert result.exit_code == 1
    assert "row 2" in result.output


def test_export_writes_one_row_per_changed_field(database: Path, tmp_path: Path) -> None:
    out = tmp_path / "audit.csv"
    today = date.today().isoformat()
    result = CliRunner().invoke(main, ["audit", "export", "--start", today, "--end", today,
                                       "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    updates = [r for r in rows if r["action"] == "update"]
    assert [(r["field"], r["old_value"], r["new_value"], r["reason"]) for r in updates] == [
        ("crs_grade", "1", "2", "source letter")]
    assert CliRunner().invoke(main, ["audit", "verify"]).exit_code == 0
