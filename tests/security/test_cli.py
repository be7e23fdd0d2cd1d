"""The command-line side of account security: the password policy applies to
`trialdb create-user`, and `trialdb reset-second-factor` removes a lost factor."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.factories import PASSWORD
from trialdb.cli import main
from trialdb.db import make_engine, make_session_factory, unit_of_work
from trialdb.models import AuditEvent, User
from trialdb.security import second_factor, totp


@pytest.fixture()
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "trial.sqlite3"
    monkeypatch.setenv("TRIALDB_DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.setenv("TRIALDB_INSTANCE_PATH", str(tmp_path))
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(main, ["create-site", "--code", "PSL", "--name", "Centre"]).exit_code == 0
    return path


def test_create_user_refuses_a_common_password(database: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["create-user", "--email", "c@example.org", "--role",
                                  "coordinator", "--site", "PSL", "--password", "Azerty123456!"])
    assert result.exit_code != 0 and "too common" in result.output
    result = runner.invoke(main, ["create-user", "--email", "c@example.org", "--role",
                                  "coordinator", "--site", "PSL", "--password", PASSWORD])
    assert result.exit_code == 0, result.output


def test_reset_second_factor(database: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["create-user", "--email", "i@example.org", "--role",
                                "investigator", "--site", "PSL", "--password",
                                PASSWORD]).exit_code == 0
    engine = make_engine(f"sqlite:///{database}")
    secret = totp.new_secret()
    with unit_of_work(make_session_factory(engine)) as session:
        user = session.query(User).filter_by(email="i@example.org").one()
        assert second_factor.enrol(session, user, secret, totp.current_code(secret))
    result = runner.invoke(main, ["reset-second-factor", "--email", "i@example.org",
                                  "--reason", "phone lost"])
    assert result.exit_code == 0, result.output
    with make_session_factory(engine, write=False)() as session:
        user = session.query(User).filter_by(email="i@example.org").one()
        assert user.totp_secret is None
        reasons = [e.reason for e in session.query(AuditEvent).filter_by(entity_id=user.id)]
        assert "phone lost" in reasons
    result = runner.invoke(main, ["reset-second-factor", "--email", "nobody@example.org",
                                  "--reason", "x"])
    assert result.exit_code != 0
    engine.dispose()
