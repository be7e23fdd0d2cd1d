"""Laboratory import: classification, all-or-nothing commit, French files, mappings, scoping."""

from __future__ import annotations

import hashlib
import io
from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests import factories
from trialdb.errors import Forbidden, InvalidInput
from trialdb.models import Assay, AuditEvent, LabImportBatch, Participant, ViralLoadResult
from trialdb.services import audit, lab_import
from trialdb.services.actor import Actor
from trialdb.services.lab_import import RowKind, RowOutcome
from trialdb.vocab import LoadUnit, ResultState, Role, Specimen, Virus

TODAY = date(2026, 11, 30)
HEADER = "study_number,virus,specimen,sampled_on,result,unit,assay\n"


@pytest.fixture()
def setting(db: Session) -> dict[str, object]:
    site = factories.site(db)
    other_site = factories.site(db)
    p1 = factories.participant(db, site)
    p2 = factories.participant(db, site)
    stranger = factories.participant(db, other_site)
    cmv = Assay(name="Abbott RealTime CMV", virus=Virus.CMV, specimen=Specimen.PLASMA,
                unit=LoadUnit.COPIES_PER_ML, limit_of_detection=20, lloq=62, copies_per_iu=1.6)
    ttv = Assay(name="TTV R-GENE", virus=Virus.TTV, specimen=Specimen.PLASMA,
                unit=LoadUnit.COPIES_PER_ML, lloq=250)
    db.add_all([cmv, ttv])
    db.flush()
    coordinator = factories.user(db, Role.COORDINATOR, sites=[site])
    return {"site": site, "p1": p1, "p2": p2, "stranger": stranger, "cmv": cmv, "ttv": ttv,
            "actor": Actor.of(coordinator)}


def run(db: Session, actor: Actor, content: bytes, *, dry_run: bool = False,
        mapping: str | None = None, rows: list[RowOutcome] | None = None,
        batch_size: int = 1000) -> lab_import.ImportSummary:
    return lab_import.import_lab_file(
        db, actor, io.BytesIO(content), file_name="results.csv", mapping=mapping, dry_run=dry_run,
        today=TODAY, on_row=rows.append if rows is not None else None, batch_size=batch_size)


def results(db: Session, participant: Participant) -> list[ViralLoadResult]:
    return list(db.scalars(select(ViralLoadResult).where(
        ViralLoadResult.participant_id == participant.id).order_by(ViralLoadResult.sampled_on)))


def test_default_layout_imports_lab_notations_and_audits_the_file_hash(db, setting) -> None:
    p1 = setting["p1"].study_number
    content = (HEADER
               + f"{p1},CMV,plasma,2026-11-01,5951,copies/mL,Abbott RealTime CMV\n"
               + f"{p1},CMV,plasma,2026-11-08,<62,copies/mL,Abbott RealTime CMV\n"
               + f"{p1},CMV,plasma,2026-11-15,ND,copies/mL,Abbott RealTime CMV\n"
               + f'{p1},CMV,plasma,21/11/2026,"1,2E+04",cp/mL,Abbott RealTime CMV\n'
               + f"{p1},TTV,plasma,21/11/2026,3 400 000,,TTV R-GENE\n").encode()
    summary = run(db, setting["actor"], content)
    assert summary.committed and summary.counts[RowKind.NEW] == 5 and summary.blocking == 0
    stored = results(db, setting["p1"])
    by_day = {(r.virus, r.sampled_on): r for r in stored}
    assert by_day[(Virus.CMV, date(2026, 11, 1))].value == 5951
    assert by_day[(Virus.CMV, date(2026, 11, 8))].state is ResultState.BELOW_LLOQ
    assert by_day[(Virus.CMV, date(2026, 11, 8))].value is None
    assert by_day[(Virus.CMV, date(2026, 11, 8))].reported_as == "<62"
    assert by_day[(Virus.CMV, date(2026, 11, 15))].state is ResultState.NOT_DETECTED
    assert by_day[(Virus.CMV, date(2026, 11, 21))].value == 12000
    assert by_day[(Virus.TTV, date(2026, 11, 21))].value == 3_400_000
    assert by_day[(Virus.TTV, date(2026, 11, 21))].unit is LoadUnit.COPIES_PER_ML
    sha = hashlib.sha256(content).hexdigest()
    batch = db.scalar(select(LabImportBatch).where(LabImportBatch.id == summary.batch_id))
    assert batch is not None and batch.file_sha256 == sha == summary.file_sha256
    assert batch.rows_new == 5
    imported = db.scalar(select(AuditEvent).where(AuditEvent.action == "import",
                                                  AuditEvent.entity_id == batch.id))
    assert imported is not None and imported.changes["file_sha256"] == [None, sha]
    created = db.scalars(select(AuditEvent.entity_id).where(
        AuditEvent.action == "create", AuditEvent.entity == "viral_load_result",
        AuditEvent.study_number == p1)).all()
    assert sorted(created) == sorted(r.id for r in stored)
    assert audit.verify_chain(db) is None


def test_importing_the_same_file_twice_adds_nothing(db, setting) -> None:
    p1, p2 = setting["p1"].study_number, setting["p2"].study_number
    content = (HEADER + f"{p1},CMV,plasma,2026-11-01,5951,copies/mL,Abbott RealTime CMV\n"
               + f"{p2},CMV,plasma,2026-11-01,ND,copies/mL,Abbott RealTime CMV\n").encode()
    first = run(db, setting["actor"], content)
    count = db.scalar(select(func.count(ViralLoadResult.id)))
    second = run(db, setting["actor"], content)
    assert first.counts[RowKind.NEW] == 2
    assert second.committed and second.counts[RowKind.NEW] == 0
    assert second.counts[RowKind.DUPLICATE] == 2
    assert second.already_imported_batch == first.batch_id
    assert db.scalar(select(func.count(ViralLoadResult.id))) == count


def test_dry_run_lists_every_kind_with_bilingual_reasons_and_writes_nothing(db, setting) -> None:
    p1, p2 = setting["p1"].study_number, setting["p2"].study_number
    run(db, setting["actor"], (HEADER + f"{p1},CMV,plasma,2026-11-01,5951,copies/mL,"
                               "Abbott RealTime CMV\n").encode())
    before = db.scalar(select(func.count(ViralLoadResult.id)))
    audit_before = db.scalar(select(func.count(AuditEvent.id)))
    content = (HEADER
               + f"{p1},CMV,plasma,2026-11-01,5951,copies/mL,Abbott RealTime CMV\n"  # duplicate
               + f"{p1},CMV,plasma,01/11/2026,6100,copies/mL,Abbott RealTime CMV\n"  # conflict
               + f"{p2},CMV,plasma,2026-11-02,480,copies/mL,Abbott RealTime CMV\n"  # new
               + f"{p2},CMV,plasma,2026-11-03,3.5 log,copies/mL,Abbott RealTime CMV\n"  # invalid
               + f"{p2},CMV,plasma,2026-13-03,480,copies/mL,Abbott RealTime CMV\n"  # invalid date
               + f"{p2},CMV,plasma,2026-11-04,480,copies/mL,Unknown PCR\n"  # invalid assay
               + f"{p2},CMV,plasma,2026-11-05,480,IU/mL,Abbott RealTime CMV\n"  # invalid unit
               + f"{p2},CMV,plasma,2026-11-06,<50,copies/mL,Abbott RealTime CMV\n"  # bound != LLOQ
               + f"{p2},CMV,plasma,2026-11-02,480,copies/mL,Abbott RealTime CMV\n"  # dup in file
               ).encode()
    rows: list[RowOutcome] = []
    summary = run(db, setting["actor"], content, dry_run=True, rows=rows)
    assert not summary.committed
    by_line = {r.line: r for r in rows}
    assert sorted(by_line) == list(range(2, 11))
    assert [by_line[n].kind for n in range(2, 11)] == [
        RowKind.DUPLICATE, RowKind.CONFLICT, RowKind.NEW, RowKind.INVALID, RowKind.INVALID,
        RowKind.INVALID, RowKind.INVALID, RowKind.INVALID, RowKind.DUPLICATE]
    assert "5951" in by_line[3].reason("en") and "5951" in by_line[3].reason("fr")
    assert "log10" in by_line[5].reason("en") and "log10" in by_line[5].reason("fr")
    assert by_line[6].field == "sampled_on" and "Date non comprise" in by_line[6].reason("fr")
    assert by_line[7].field == "assay" and "Technique inconnue" in by_line[7].reason("fr")
    assert by_line[8].field == "unit"
    assert by_line[9].field == "result" and "LLOQ" in by_line[9].reason("en")
    assert "earlier row" in by_line[10].reason("en")
    assert summary.counts == {RowKind.NEW: 1, RowKind.DUPLICATE: 2, RowKind.CONFLICT: 1,
                              RowKind.INVALID: 5}
    assert db.scalar(select(func.count(ViralLoadResult.id))) == before
    assert db.scalar(select(func.count(AuditEvent.id))) == audit_before


def test_commit_is_all_or_nothing(db, setting) -> None:
    p1 = setting["p1"].study_number
    before = db.scalar(select(func.count(ViralLoadResult.id)))
    content = (HEADER + f"{p1},CMV,plasma,2026-11-01,5951,copies/mL,Abbott RealTime CMV\n"
               + f"{p1},CMV,plasma,2026-11-02,banana,copies/mL,Abbott RealTime CMV\n").encode()
    summary = run(db, setting["actor"], content, batch_size=1)
    assert not summary.committed and summary.counts[RowKind.INVALID] == 1
    assert db.scalar(select(func.count(ViralLoadResult.id))) == before
    assert db.scalar(select(func.count(LabImportBatch.id))) == 0
    error = lab_import.refusal(summary)
    assert "Nothing was imported" in error.message("en") and "Rien n'a été importé" in error.message("fr")


@pytest.mark.parametrize("encoding", ["latin-1", "utf-8-sig", "utf-8"])
def test_french_file_with_semicolons_dates_and_encodings(db, setting, encoding: str) -> None:
    p1 = setting["p1"].study_number
    lab_import.save_mapping(
        db, setting["actor"], code="pitie-virologie", laboratory="Virologie Pitié",
        columns={"study_number": "N° étude", "specimen": "Prélèvement",
                 "sampled_on": "Date de prélèvement", "result": "Résultat", "unit": "Unité",
                 "assay": "Technique"},
        defaults={"virus": "CMV"})
    content = ("N° étude;Prélèvement;Date de prélèvement;Résultat;Unité;Technique;Commentaire\n"
               f"{p1};plasma;21/11/2026;1,2E+04;copies/mL;Abbott RealTime CMV;contrôle à J+7\n"
               f"{p1};plasma;14/11/2026;non détecté;copies/mL;Abbott RealTime CMV;\n"
               f"{p1};plasma;07/11/2026;1 360;copies/mL;Abbott RealTime CMV;\n").encode(encoding)
    summary = run(db, setting["actor"], content, mapping="pitie-virologie")
    assert summary.committed and summary.counts[RowKind.NEW] == 3, summary.problems
    stored = results(db, setting["p1"])
    assert [(r.sampled_on.day, r.state, r.value) for r in stored] == [
        (7, ResultState.QUANTIFIED, 1360), (14, ResultState.NOT_DETECTED, None),
        (21, ResultState.QUANTIFIED, 12000)]
    assert summary.mapping_code == "pitie-virologie"


def test_missing_columns_are_named(db, setting) -> None:
    with pytest.raises(InvalidInput) as caught:
        run(db, setting["actor"], b"patient;date;result\nX;1;2\n")
    assert "study_number" in caught.value.message("en")
    assert "Colonnes absentes" in caught.value.message("fr")


def test_importer_only_imports_for_participants_of_their_sites(db, setting) -> None:
    stranger = setting["stranger"].study_number
    content = (HEADER + f"{stranger},CMV,plasma,2026-11-01,5951,copies/mL,Abbott RealTime CMV\n"
               + "XX-9999,CMV,plasma,2026-11-01,5951,copies/mL,Abbott RealTime CMV\n").encode()
    rows: list[RowOutcome] = []
    summary = run(db, setting["actor"], content, rows=rows)
    assert not summary.committed and summary.counts[RowKind.INVALID] == 2
    assert rows[0].reason("en").replace(stranger, "X") == rows[1].reason("en").replace("XX-9999", "X")
    assert results(db, setting["stranger"]) == []


def test_roles_that_do_not_enter_data_cannot_import(db, setting) -> None:
    statistician = Actor.of(factories.user(db, Role.STATISTICIAN))
    with pytest.raises(Forbidden):
        run(db, statistician, HEADER.encode())


def test_mapping_validation(db, setting) -> None:
    with pytest.raises(InvalidInput) as caught:
        lab_import.save_mapping(db, setting["actor"], code="lab", laboratory="Lab",
                                columns={"study_number": "Patient"})
    assert "virus" in caught.value.message("en")
    with pytest.raises(InvalidInput):
        lab_import.save_mapping(db, setting["actor"], code="lab", laboratory="Lab",
                                columns={name: name for name in lab_import.FIELDS} | {"x": "y"})


def test_future_dates_and_dates_before_birth_are_invalid(db, setting) -> None:
    p1 = setting["p1"].study_number
    content = (HEADER + f"{p1},CMV,plasma,2027-01-01,5951,copies/mL,Abbott RealTime CMV\n"
               + f"{p1},CMV,plasma,1960-01-01,5951,copies/mL,Abbott RealTime CMV\n").encode()
    rows: list[RowOutcome] = []
    run(db, setting["actor"], content, dry_run=True, rows=rows)
    assert [r.field for r in rows] == ["sampled_on", "sampled_on"]
    assert "futur" in rows[0].reason("fr") and "naissance" in rows[1].reason("fr")


@pytest.mark.parametrize("reported_as, value", [
    ("ND", None), ("5951", 5951.0), ("1,2E+04", 12000.0), ('"<62" \\ é\u2028\x07', 62.5),
    ("non détecté", None), ("x", 1e-07), ("y", 123456789012.0), ("z", 0.1 + 0.2)])
def test_created_changes_text_is_the_canonical_serialisation(reported_as: str, value: float | None) -> None:
    changes: dict[str, list[object]] = {
        "virus": [None, Virus.CMV], "specimen": [None, Specimen.WHOLE_BLOOD],
        "sampled_on": [None, date(2026, 2, 3)], "assay_id": [None, 42],
        "state": [None, ResultState.QUANTIFIED if value else ResultState.NOT_DETECTED],
        "unit": [None, LoadUnit.COPIES_PER_ML], "reported_as": [None, reported_as],
        "is_complete": [None, True]}
    if value is not None:
        changes["value"] = [None, value]
    text = lab_import.created_changes(
        Virus.CMV, Specimen.WHOLE_BLOOD, date(2026, 2, 3), 42,
        ResultState.QUANTIFIED if value else ResultState.NOT_DETECTED, LoadUnit.COPIES_PER_ML,
        reported_as, value)
    assert text == audit.canonical_json(changes)
