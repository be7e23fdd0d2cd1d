"""The PDF documents: text extracted with pdftotext and checked against the
statistics, every page rendered with pdftoppm, byte-identical rebuilds.

A demo cohort is loaded once per database (SQLite and PostgreSQL) through the
project's own write path; documents are rendered from it through the CLI and
the report services.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from trialdb import migrate
from trialdb.cli import main
from trialdb.crf.definitions import load_forms
from trialdb.db import make_engine, make_session_factory, unit_of_work
from trialdb.models import AuditEvent, Participant, Site
from trialdb.reporting import service
from trialdb.scratch import empty_database
from trialdb.services import snapshots
from trialdb.services.actor import Actor
from trialdb.vocab import ParticipantStatus, Role

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None or shutil.which("pdftoppm")
                                is None, reason="poppler-utils (pdftotext, pdftoppm) missing")

DEMO_PARTICIPANTS = 80


@pytest.fixture(scope="module")
def demo(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Engine]]:
    from trialdb.demo import load_demo

    with empty_database(backend, tmp_path_factory.mktemp("reports")) as url:
        engine = make_engine(url)
        migrate.upgrade(engine)
        load_demo(engine, participants=DEMO_PARTICIPANTS, seed=11)
        with unit_of_work(make_session_factory(engine)) as session:
            snapshots.freeze(session, Actor.system("report tests"), "Interim analysis 1")
        yield url, engine
        engine.dispose()


def pdf_text(pdf: bytes, tmp_path: Path, name: str = "doc") -> str:
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True,
                         capture_output=True, text=True)
    return out.stdout


def render_pages(pdf: bytes, tmp_path: Path, name: str) -> list[Path]:
    """Every page to PNG; poppler fails (non-zero exit) on a broken page."""
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "30", "-png", str(path), str(tmp_path / name)],
                   check=True, capture_output=True)
    pages = sorted(tmp_path.glob(f"{name}-*.png"))
    info = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True)
    count = int(re.search(r"Pages:\s+(\d+)", info.stdout).group(1))  # type: ignore[union-attr]
    assert len(pages) == count > 0
    for page in pages:
        assert page.stat().st_size > 500  # a blank or unreadable page would be tiny
    return pages


def _cli_env(url: str, tmp_path: Path) -> dict[str, str]:
    return {"TRIALDB_DATABASE_URL": url, "TRIALDB_INSTANCE_PATH": str(tmp_path)}


def _percent(value: float) -> str:
    return f"{100 * value:.1f}%"


def test_interim_report_numbers_match_the_analysis(demo: tuple[str, Engine], tmp_path: Path
                                                   ) -> None:
    url, engine = demo
    env = _cli_env(url, tmp_path)
    analysis = CliRunner().invoke(main, ["analyze", "--json"], env=env)
    assert analysis.exit_code == 0, analysis.output
    d90 = json.loads(analysis.output)["d90_cumulative_incidence"]
    out = tmp_path / "interim.pdf"
    result = CliRunner().invoke(main, ["report", "interim", "--out", str(out)], env=env)
    assert result.exit_code == 0, result.output
    text = pdf_text(out.read_bytes(), tmp_path)
    flat = " ".join(text.split())
    expected = (f"Cumulative incidence of CMV reactivation at day 90: "
                f"{_percent(d90['estimate'])} ({_percent(d90['lower'])} to "
                f"{_percent(d90['upper'])}) (95% CI), {d90['events']} reactivations among "
                f"{d90['n']} participants")
    assert expected in flat
    with make_session_factory(engine, write=False)() as session:
        screened = session.scalar(select(func.count(Participant.id)))
        failures = session.scalar(select(func.count(Participant.id)).where(
            Participant.status == ParticipantStatus.SCREEN_FAILURE))
    assert f"{screened} patients screened" in flat
    assert f"({failures} screen failures" in flat
    for heading in ("1. Recruitment", "2. Baseline characteristics", "4. Primary endpoint",
                    "5. Risk factors", "6. Persistent viruses", "Appendix. Methods",
                    "NCT06058858", "Number at risk", "Gray's test"):
        assert heading in flat
    assert json.loads(analysis.output)["settings_hash"] in flat
    render_pages(out.read_bytes(), tmp_path, "interim")


def test_interim_from_a_snapshot_is_byte_identical(demo: tuple[str, Engine], tmp_path: Path
                                                   ) -> None:
    url, engine = demo
    with make_session_factory(engine, write=False)() as session:
        snapshot = snapshots.latest(session)
        assert snapshot is not None
        first = service.interim_report(session, Actor.system("Dr Test"), snapshot_id=snapshot.id)
        second = service.interim_report(session, Actor.system("Dr Test"),
                                        snapshot_id=snapshot.id)
        content_hash = snapshot.content_hash
    assert first == second
    text = " ".join(pdf_text(first, tmp_path).split())
    assert content_hash in text
    assert f"Snapshot {snapshot.id}" in text
    # the CLI gives the same bytes as the service
    out = tmp_path / "cli.pdf"
    result = CliRunner().invoke(main, ["report", "interim", "--out", str(out), "--snapshot",
                                       str(snapshot.id), "--by", "Dr Test"],
                                env=_cli_env(url, tmp_path))
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == first
    # the command wrote its audit entry: the snapshot, its content hash, the PDF's hash
    with make_session_factory(engine, write=False)() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.entity == "report")
                                .order_by(AuditEvent.id.desc()).limit(1)).one()
    assert (event.action, event.user_name, event.entity_id) == ("export", "Dr Test", snapshot.id)
    assert event.changes is not None
    assert event.changes["content_hash"] == [None, content_hash]
    assert event.changes["pdf_sha256"] == [None, hashlib.sha256(first).hexdigest()]
    # an export is not a change of the data: the live report's cut-off does not move
    with make_session_factory(engine, write=False)() as session:
        assert service._last_change(session) < event.occurred_at


def test_site_investigator_gets_their_site_only(demo: tuple[str, Engine], tmp_path: Path
                                                ) -> None:
    _, engine = demo
    with make_session_factory(engine, write=False)() as session:
        site = session.scalars(select(Site).order_by(Site.code)).first()
        assert site is not None
        at_site = session.scalar(select(func.count(Participant.id)).where(
            Participant.site_id == site.id))
        actor = Actor(user_id=None, name="Site investigator", role=Role.INVESTIGATOR,
                      site_ids=frozenset({site.id}))
        pdf = service.interim_report(session, actor)
    flat = " ".join(pdf_text(pdf, tmp_path).split())
    assert f"{at_site} patients screened" in flat
    assert f"Scope {site.code}" in flat


def test_casebook_shows_forms_values_and_audit(demo: tuple[str, Engine], tmp_path: Path) -> None:
    url, engine = demo
    with make_session_factory(engine, write=False)() as session:
        participant = session.scalars(select(Participant).where(
            Participant.status == ParticipantStatus.COMPLETED).order_by(Participant.id)).first()
        assert participant is not None
        number = participant.study_number
    out = tmp_path / "casebook.pdf"
    result = CliRunner().invoke(main, ["report", "casebook", "--participant", number, "--out",
                                       str(out)], env=_cli_env(url, tmp_path))
    assert result.exit_code == 0, result.output
    flat = " ".join(pdf_text(out.read_bytes(), tmp_path).split())
    assert number in flat and "Participant casebook" in flat
    assert "Casebook signatures" in flat
    assert "CAR-T infusion (D0)" in flat and "create" in flat
    # the consent's statement, not stated in the demo, as its definition names it
    assert "Minor or adult on the date of consent" in flat and "Not stated" in flat
    render_pages(out.read_bytes(), tmp_path, "casebook")
    missing = CliRunner().invoke(main, ["report", "casebook", "--participant", "ZZZ-9999",
                                        "--out", str(tmp_path / "none.pdf")],
                                 env=_cli_env(url, tmp_path))
    assert missing.exit_code == 2 and "no participant" in missing.output


def test_blank_crf_lists_every_field_and_code(demo: tuple[str, Engine], tmp_path: Path) -> None:
    url, engine = demo
    out = tmp_path / "crf.pdf"
    result = CliRunner().invoke(main, ["report", "blank-crf", "--out", str(out), "--language",
                                       "fr", "--by", "Dr Blank"], env=_cli_env(url, tmp_path))
    assert result.exit_code == 0, result.output
    # audited as every other document handed out: who, which, in what language, its hash
    with make_session_factory(engine, write=False)() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.entity == "report")
                                .order_by(AuditEvent.id.desc()).limit(1)).one()
    assert (event.action, event.user_name, event.entity_id) == ("export", "Dr Blank", None)
    assert event.changes is not None
    assert event.changes["document"] == [None, "blank-crf"]
    assert event.changes["language"] == [None, "fr"]
    assert event.changes["pdf_sha256"] == [None, hashlib.sha256(out.read_bytes()).hexdigest()]
    result = CliRunner().invoke(main, ["report", "blank-crf", "--out", str(out)],
                                env=_cli_env(url, tmp_path))
    assert result.exit_code == 0, result.output
    text = pdf_text(out.read_bytes(), tmp_path)
    squeezed = re.sub(r"\s+", "", text)
    for form in load_forms().values():
        assert form.title.en in " ".join(text.split())
        for spec in form.fields:
            assert spec.name.replace(" ", "") in squeezed, spec.name
            for code in spec.codes:
                assert f"{code}=" in squeezed, code
    # a yes/no field's own answer labels, by stored value (a cell's lines meet other columns)
    assert "true = Minor" in text and "false = Adult" in text and "NULL = Not stated" in text
    again = service.blank_crf(Actor.system("command line"))
    assert again == out.read_bytes()
    render_pages(out.read_bytes(), tmp_path, "crf")
