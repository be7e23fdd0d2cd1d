"""Who may import laboratory results: the web's rule of data entry
(services.actor.ENTRY_ROLES) in the service and in `trialdb import-labs --as`,
on both databases. A refused import writes nothing, not even its report file."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from tests import factories
from tests.exports.cohort import build_cohort
from trialdb import migrate
from trialdb.cli import main
from trialdb.db import make_engine, make_session_factory, unit_of_work
from trialdb.errors import Forbidden
from trialdb.scratch import empty_database
from trialdb.services import lab_import
from trialdb.services.actor import ENTRY_ROLES, Actor, require_entry
from trialdb.vocab import Role

READ_ONLY = sorted(set(Role) - ENTRY_ROLES)
#: What an import writes, or a refused one must not.
TABLES = ("viral_load_result", "lab_import_batch", "audit_event")


@dataclass
class Setting:
    engine: Engine
    env: dict[str, str]
    lab_file: Path
    emails: dict[Role, str]


@pytest.fixture(scope="module")
def setting(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setting]:
    folder = tmp_path_factory.mktemp(f"import-roles-{backend}")
    with empty_database(backend, folder) as url:
        engine = make_engine(url)
        migrate.upgrade(engine)
        with unit_of_work(make_session_factory(engine)) as session:
            cohort = build_cohort(session)
            emails = {role: factories.user(session, role, [cohort.site]).email for role in Role}
            number = cohort.child.study_number
        lab_file = folder / "labo.csv"
        lab_file.write_text("study_number,virus,specimen,sampled_on,result,unit,assay\n"
                            f"{number},CMV,plasma,2026-03-29,5951,copies/mL,"
                            "Abbott RealTime CMV (test)\n", encoding="utf-8")
        env = {"TRIALDB_DATABASE_URL": url, "TRIALDB_INSTANCE_PATH": str(folder / "instance")}
        try:
            yield Setting(engine, env, lab_file, emails)
        finally:
            engine.dispose()


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {table: connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                for table in TABLES}


def test_the_rule_is_the_web_s() -> None:
    assert Role.ADMIN not in ENTRY_ROLES
    for role in Role:
        actor = Actor(user_id=1, name="someone", role=role)
        assert actor.may_enter_data is (role in ENTRY_ROLES)
    require_entry(Actor.system("operator"))  # the operator's own shell commands have no role


@pytest.mark.parametrize("role", READ_ONLY, ids=[r.value for r in READ_ONLY])
def test_the_service_refuses_read_only_roles(db: Session, role: Role) -> None:
    actor = Actor.of(factories.user(db, role, [factories.site(db)]))
    with pytest.raises(Forbidden):
        lab_import.import_lab_file(db, actor, io.BytesIO(b"study_number\n"), file_name="x.csv",
                                   dry_run=True)
    with pytest.raises(Forbidden):
        lab_import.save_mapping(db, actor, code="lab", laboratory="Lab",
                                columns={name: name for name in lab_import.FIELDS})


@pytest.mark.parametrize("role", READ_ONLY, ids=[r.value for r in READ_ONLY])
@pytest.mark.parametrize("lang", ["en", "fr"])
def test_read_only_accounts_cannot_import(setting: Setting, role: Role, lang: str,
                                          tmp_path: Path) -> None:
    before = _counts(setting.engine)
    report = tmp_path / "report.csv"
    result = CliRunner().invoke(main, [
        "import-labs", str(setting.lab_file), "--as", setting.emails[role], "--lang", lang,
        "--report", str(report)], env=setting.env)
    assert result.exit_code == 2, result.output
    assert result.output.strip() == ("error: Your role is read-only." if lang == "en" else
                                     "erreur : Votre rôle permet la consultation seulement.")
    assert _counts(setting.engine) == before
    assert not report.exists()


@pytest.mark.parametrize("role", sorted(ENTRY_ROLES), ids=[r.value for r in sorted(ENTRY_ROLES)])
def test_entry_accounts_still_import(setting: Setting, role: Role, tmp_path: Path) -> None:
    before = _counts(setting.engine)
    report = tmp_path / "report.csv"
    result = CliRunner().invoke(main, [
        "import-labs", str(setting.lab_file), "--as", setting.emails[role], "--dry-run",
        "--report", str(report)], env=setting.env)
    assert result.exit_code == 0, result.output
    assert "1 new" in result.output and "dry run: nothing written." in result.output
    assert report.read_text(encoding="utf-8").count("\n") == 2  # header and the row
    assert _counts(setting.engine) == before
