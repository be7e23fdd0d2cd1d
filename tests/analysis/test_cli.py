"""`trialdb analyze` and `trialdb stats cif` through click's CliRunner on a temporary
SQLite database."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from trialdb import migrate
from trialdb.analysis.day90 import run_day90_analysis
from trialdb.cli import main
from trialdb.db import make_engine, make_session_factory
from trialdb.stats import cumulative_incidence, grays_test
from trialdb.study.endpoint_settings import load_endpoint_settings


@pytest.fixture()
def empty_db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return url


def test_analyze_on_an_empty_database(empty_db: str, tmp_path: Path) -> None:
    env = {"TRIALDB_DATABASE_URL": empty_db, "TRIALDB_INSTANCE_PATH": str(tmp_path)}
    result = CliRunner().invoke(main, ["analyze", "--json"], env=env)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["n"] == 0
    assert data["d90_cumulative_incidence"]["estimate"] is None
    assert data["settings_hash"] == load_endpoint_settings().settings_hash
    text = CliRunner().invoke(main, ["analyze"], env=env)
    assert text.exit_code == 0 and "not estimable" in text.output


def test_analyze_on_a_database_without_schema(tmp_path: Path) -> None:
    env = {"TRIALDB_DATABASE_URL": f"sqlite:///{tmp_path / 'blank.sqlite3'}",
           "TRIALDB_INSTANCE_PATH": str(tmp_path)}
    result = CliRunner().invoke(main, ["analyze"], env=env)
    assert result.exit_code == 1
    assert "trialdb db upgrade" in result.output and "Traceback" not in result.output


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    from trialdb.demo import load_demo

    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.sqlite3'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    load_demo(engine, participants=60, seed=7)
    engine.dispose()
    return url


def test_analyze_on_the_demo_cohort(demo_db: str, tmp_path: Path) -> None:
    env = {"TRIALDB_DATABASE_URL": demo_db, "TRIALDB_INSTANCE_PATH": str(tmp_path)}
    result = CliRunner().invoke(main, ["analyze", "--json"], env=env)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    d90 = data["d90_cumulative_incidence"]
    assert data["n"] > 0 and d90["n"] == data["n"]
    # the same number as the library call on the same database
    engine = make_engine(demo_db)
    with make_session_factory(engine, write=False)() as session:
        direct = run_day90_analysis(session)
    engine.dispose()
    assert d90["estimate"] == direct.d90["estimate"]
    assert d90["lower"] <= d90["estimate"] <= d90["upper"]
    assert d90["events"] == data["events"]["cmv_reactivation"]
    assert sum(data["events"].values()) == data["n"]
    assert set(data["grays_test"]) == {"age_group", "disease_group"}
    assert {"cause_specific_cox", "fine_gray"} <= set(data["models"])
    text = CliRunner().invoke(main, ["analyze"], env=env)
    assert text.exit_code == 0
    assert "Gray's test by age_group" in text.output and "fine_gray" in text.output


def _csv(tmp_path: Path) -> Path:
    rng = np.random.default_rng(3)
    n = 80
    frame = pd.DataFrame({
        "days": rng.integers(0, 100, n),
        "status": rng.choice([0, 1, 2], n, p=[0.5, 0.3, 0.2]),
        "arm": rng.choice(["a", "b"], n),
    })
    path = tmp_path / "export.csv"
    frame.to_csv(path, index=False)
    return path


def test_stats_cif_matches_the_estimator(tmp_path: Path) -> None:
    path = _csv(tmp_path)
    frame = pd.read_csv(path)
    result = CliRunner().invoke(main, ["stats", "cif", "--csv", str(path), "--time", "days",
                                       "--event", "status", "--event-of-interest", "1",
                                       "--at", "30,60,90", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    expected = cumulative_incidence(frame["days"], frame["status"], times=[30, 60, 90])
    got = data["groups"]["all"]
    assert [row["time"] for row in got] == [30.0, 60.0, 90.0]
    assert [row["estimate"] for row in got] == expected["estimate"].tolist()
    assert [row["at_risk"] for row in got] == expected["at_risk"].tolist()


def test_stats_cif_by_group_with_grays_test(tmp_path: Path) -> None:
    path = _csv(tmp_path)
    frame = pd.read_csv(path)
    result = CliRunner().invoke(main, ["stats", "cif", "--csv", str(path), "--time", "days",
                                       "--event", "status", "--event-of-interest", "2",
                                       "--group", "arm", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    test = grays_test(frame["days"], frame["status"], frame["arm"], event_of_interest=2)
    assert data["grays_test"]["statistic"] == test.statistic
    a = frame[frame["arm"] == "a"]
    expected = cumulative_incidence(a["days"], a["status"], event_of_interest=2, times=[30, 60, 90])
    assert [row["estimate"] for row in data["groups"]["a"]] == expected["estimate"].tolist()
    text = CliRunner().invoke(main, ["stats", "cif", "--csv", str(path), "--time", "days",
                                     "--event", "status", "--group", "arm"])
    assert text.exit_code == 0 and "Gray's test by arm" in text.output


@pytest.mark.parametrize(("args", "message"), [
    (["--time", "day", "--event", "status"], "Column(s) not in"),
    (["--time", "days", "--event", "status", "--at", "30,x"], "--at must be days"),
    (["--time", "days", "--event", "status", "--at", "60,30"], "increasing order"),
    (["--time", "arm", "--event", "status"], "Cannot estimate"),
])
def test_stats_cif_mistakes_are_one_line_messages(tmp_path: Path, args: list[str], message: str) -> None:
    path = _csv(tmp_path)
    result = CliRunner().invoke(main, ["stats", "cif", "--csv", str(path), *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_stats_cif_missing_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["stats", "cif", "--csv", str(tmp_path / "none.csv"),
                                       "--time", "t", "--event", "e"])
    assert result.exit_code == 2 and "Cannot read" in result.output
