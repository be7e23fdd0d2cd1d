"""The import-labs, lab-mapping, export and api-token commands, end to end on a file database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests import factories
from tests.exports.cohort import build_cohort
from trialdb import migrate
from trialdb.cli import main
from trialdb.db import make_engine, make_session_factory, unit_of_work
from trialdb.vocab import Role


@pytest.fixture()
def database(tmp_path: Path) -> tuple[str, dict[str, str]]:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    with unit_of_work(make_session_factory(engine)) as session:
        cohort = build_cohort(session)
        numbers = {"child": cohort.child.study_number, "other": cohort.elsewhere.study_number}
        factories.user(session, email="stat@example.org", role=Role.STATISTICIAN)
    engine.dispose()
    return url, numbers


def test_import_labs_dry_run_then_commit_then_again(database, tmp_path: Path) -> None:
    url, numbers = database
    env = {"TRIALDB_DATABASE_URL": url, "TRIALDB_INSTANCE_PATH": str(tmp_path / "instance")}
    lab = tmp_path / "labo.csv"
    lab.write_bytes(("Patient;Date;Résultat;Technique\n"
                     f"{numbers['child']};21/03/2026;<62;Abbott RealTime CMV (test)\n"
                     f"{numbers['child']};28/03/2026;1,2E+04;Abbott RealTime CMV (test)\n").encode("latin-1"))
    runner = CliRunner()
    saved = runner.invoke(main, ["lab-mapping", "save", "pitie", "--laboratory", "Pitié",
                                 "--column", "study_number=Patient", "--column", "sampled_on=Date",
                                 "--column", "result=Résultat", "--column", "assay=Technique",
                                 "--default", "virus=CMV", "--default", "specimen=plasma"], env=env)
    assert saved.exit_code == 0, saved.output
    dry = runner.invoke(main, ["import-labs", str(lab), "--mapping", "pitie", "--dry-run", "--lang", "fr"],
                        env=env)
    assert dry.exit_code == 0, dry.output
    assert "2 nouveau" in dry.output and "essai à blanc" in dry.output
    done = runner.invoke(main, ["import-labs", str(lab), "--mapping", "pitie"], env=env)
    assert done.exit_code == 0 and "imported: 2 new result(s)" in done.output
    again = runner.invoke(main, ["import-labs", str(lab), "--mapping", "pitie"], env=env)
    assert again.exit_code == 0 and "2 duplicate" in again.output and "already imported" in again.output
    bad = tmp_path / "bad.csv"
    bad.write_text("study_number,virus,specimen,sampled_on,result,unit,assay\n"
                   f"{numbers['child']},CMV,plasma,2026-03-29,banana,copies/mL,Abbott RealTime CMV (test)\n")
    refused = runner.invoke(main, ["import-labs", str(bad)], env=env)
    assert refused.exit_code == 2 and "Nothing was imported" in refused.output


def test_export_and_api_token_commands(database, tmp_path: Path) -> None:
    url, _numbers = database
    env = {"TRIALDB_DATABASE_URL": url, "TRIALDB_INSTANCE_PATH": str(tmp_path / "instance")}
    runner = CliRunner()
    exported = runner.invoke(main, ["export", "--out", str(tmp_path / "out"), "--format", "csv,parquet",
                                    "--as", "stat@example.org"], env=env)
    assert exported.exit_code == 0, exported.output
    bundle = next((tmp_path / "out").iterdir())
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["formats"] == ["csv", "parquet"] and manifest["created_by"].startswith("User")
    wrong = runner.invoke(main, ["export", "--out", str(tmp_path / "out"), "--format", "pdf"], env=env)
    assert wrong.exit_code == 2 and "Unknown export format" in wrong.output
    refused = runner.invoke(main, ["export", "--out", str(tmp_path / "xpt"), "--format", "xpt"], env=env)
    assert refused.exit_code == 2 and "non-ASCII" in refused.output
    xpt = runner.invoke(main, ["export", "--out", str(tmp_path / "xpt"), "--format", "xpt",
                               "--xpt-ascii", "transliterate"], env=env)
    assert xpt.exit_code == 0, xpt.output
    manifest = json.loads((next((tmp_path / "xpt").iterdir()) / "manifest.json").read_text())
    assert manifest["xpt_ascii"]["mode"] == "transliterate"
    created = runner.invoke(main, ["api-token", "create", "--email", "stat@example.org",
                                   "--label", "R scripts"], env=env)
    assert created.exit_code == 0 and "tdb_" in created.output
    listed = runner.invoke(main, ["api-token", "list", "--email", "stat@example.org"], env=env)
    token_id = listed.output.split("\t", 1)[0]
    assert "active" in listed.output
    assert runner.invoke(main, ["api-token", "revoke", token_id], env=env).exit_code == 0
    assert "revoked" in runner.invoke(main, ["api-token", "list", "--email", "stat@example.org"],
                                      env=env).output
