"""Exports: datasets, pseudonymisation, formats, manifest, ODM, audit."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests import factories
from tests.exports.cohort import Cohort, build_cohort
from trialdb.errors import Forbidden, InvalidInput
from trialdb.exports import bundle
from trialdb.exports.datasets import Dataset, build_all
from trialdb.exports.formats import (
    FormatLimitError,
    ascii_transliteration,
    check_xpt,
    parse_formats,
    transliterated_for_xpt,
    write_xpt,
)
from trialdb.exports.scanner import scan, scan_frame
from trialdb.exports.variables import DATASETS, VIRAL_LOADS, DatasetSpec, V
from trialdb.models import AuditEvent, ExportBundle
from trialdb.services import snapshots
from trialdb.services.actor import Actor
from trialdb.study import log10_load, to_iu_per_ml
from trialdb.study.endpoint_settings import load_endpoint_settings
from trialdb.vocab import Role

ODM_XSD = Path(__import__("odmlib").__file__).parent / "schemas" / "odm" / "1.3.2" / "ODM1-3-2.xsd"


@pytest.fixture()
def cohort(db: Session) -> Cohort:
    return build_cohort(db)


@pytest.fixture()
def statistician(db: Session) -> Actor:
    return Actor.of(factories.user(db, Role.STATISTICIAN))


def _datasets(db: Session, actor: Actor | None = None) -> dict[str, pd.DataFrame]:
    snapshot = snapshots.freeze(db, Actor.system("test"), "test")
    with snapshots.open_snapshot(db, snapshot.id) as frozen:
        site_ids = None if actor is None or actor.all_sites else actor.site_ids
        return {d.spec.name: d.frame for d in build_all(frozen, load_endpoint_settings(),
                                                         site_ids=site_ids)}


def test_export_bundle_has_manifest_with_hashes_snapshot_and_settings(db, cohort, statistician,
                                                                      tmp_path) -> None:
    steps: list[str] = []
    result = bundle.run_export(db, statistician, tmp_path, ["csv", "parquet", "dta", "sav", "odm"],
                               progress=steps.append)
    manifest = json.loads((result.directory / "manifest.json").read_text())
    assert manifest == result.manifest
    snapshot = snapshots.get(db, result.snapshot_id)
    assert manifest["snapshot"]["id"] == snapshot.id
    assert manifest["snapshot"]["content_hash"] == snapshot.content_hash
    assert manifest["endpoint_settings"]["hash"] == load_endpoint_settings().settings_hash
    assert manifest["software"]["trialdb"]
    listed = {f["path"]: f["sha256"] for f in manifest["files"]}
    on_disk = {str(p.relative_to(result.directory)) for p in result.directory.rglob("*")
               if p.is_file() and p.name != "manifest.json"}
    assert set(listed) == on_disk
    for path, digest in listed.items():
        assert hashlib.sha256((result.directory / path).read_bytes()).hexdigest() == digest
    assert len(steps) == bundle.steps_for(["csv", "parquet", "dta", "sav", "odm"])
    row = db.get(ExportBundle, result.bundle_id)
    assert row is not None and row.snapshot_id == snapshot.id
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "export",
                                               AuditEvent.entity_id == result.bundle_id))
    assert event is not None and event.user_id == statistician.user_id
    assert event.changes["content_hash"] == [None, snapshot.content_hash]
    # every format reads back with the same rows
    loads = pd.read_csv(result.directory / "csv" / "viral_loads.csv")
    assert len(pd.read_parquet(result.directory / "parquet" / "viral_loads.parquet")) == len(loads)
    dta, meta = pyreadstat.read_dta(str(result.directory / "dta" / "viral_loads.dta"))
    assert len(dta) == len(loads) and meta.column_names_to_labels["log10_value"] == "log10 of value"
    sav, _ = pyreadstat.read_sav(str(result.directory / "sav" / "viral_loads.sav"))
    assert list(sav["study_day"].dropna().astype(int)) == list(loads["study_day"].dropna().astype(int))


def test_exporting_a_named_snapshot_exports_its_frozen_data(db, cohort, statistician, tmp_path) -> None:
    snapshot = snapshots.freeze(db, statistician, "interim 1")
    factories.participant(db, cohort.site)  # after the freeze: not in the export
    result = bundle.run_export(db, statistician, tmp_path, ["csv"], snapshot_id=snapshot.id)
    assert result.snapshot_id == snapshot.id
    frame = pd.read_csv(result.directory / "csv" / "participants.csv")
    assert len(frame) == 4


def test_only_statisticians_and_data_managers_export(db, cohort, tmp_path) -> None:
    coordinator = Actor.of(factories.user(db, Role.COORDINATOR, sites=[cohort.site]))
    with pytest.raises(Forbidden):
        bundle.run_export(db, coordinator, tmp_path, ["csv"])
    manager = Actor.of(factories.user(db, Role.DATA_MANAGER))
    assert bundle.run_export(db, manager, tmp_path, ["csv"]).bundle_id


def test_excluded_and_unconsented_participants_are_left_out_everywhere(db, cohort) -> None:
    frames = _datasets(db)
    gone = {cohort.excluded.study_number, cohort.never_consented.study_number}
    for name, frame in frames.items():
        if "study_number" in frame:
            assert gone.isdisjoint(set(frame["study_number"].dropna())), name
    assert set(frames["participants"]["study_number"]) == {
        cohort.reactivated.study_number, cohort.child.study_number, cohort.no_infusion.study_number,
        cohort.elsewhere.study_number}


def test_no_calendar_date_birth_or_free_text_leaves(db, cohort) -> None:
    frames = _datasets(db)
    for name, frame in frames.items():
        assert scan_frame(name, frame) == [], name
        for column in frame.columns:
            assert not pd.api.types.is_datetime64_any_dtype(frame[column]), (name, column)
            assert not column.endswith(("_on", "_at"))
            assert not any(word in column for word in ("birth", "regimen", "comment", "note"))
    text = "\n".join(frame.to_csv() for frame in frames.values())
    assert "2026-03" not in text and "1970" not in text and "R-GemOx" not in text
    assert "Résistance" not in text


def test_viral_loads_in_long_form_with_derived_values(db, cohort) -> None:
    loads = _datasets(db)["viral_loads"].set_index(["study_number", "study_day", "virus"])
    row = loads.loc[(cohort.reactivated.study_number, 14, "CMV")]
    assert row["state"] == "quantified" and row["value"] == 5951 and row["unit"] == "copies/mL"
    assert row["log10_value"] == pytest.approx(float(log10_load(5951)), rel=0, abs=1e-15)
    assert round(Decimal(row["log10_value"]), 8) == Decimal("3.77458995")
    expected_iu = float(to_iu_per_ml(5951, "copies/mL", 1.6))
    assert row["iu_per_ml"] == pytest.approx(expected_iu, rel=1e-15)
    assert row["assay_lloq"] == 62 and row["assay_copies_per_iu"] == 1.6
    below = loads.loc[(cohort.reactivated.study_number, 7, "CMV")]
    assert below["state"] == "below_lloq" and pd.isna(below["value"])
    assert below["value_missing"] == "not_quantified" and below["reported_as"] == "<62"
    ttv = loads.loc[(cohort.reactivated.study_number, 0, "TTV")]
    assert pd.isna(ttv["iu_per_ml"]) and ttv["iu_per_ml_missing"] == "no_conversion_factor"


def test_participants_keep_the_reason_of_missing_values(db, cohort) -> None:
    people = _datasets(db)["participants"].set_index("study_number")
    reactivated = people.loc[cohort.reactivated.study_number]
    assert reactivated["age_at_infusion"] == 55 and reactivated["age_group"] == "adult"
    assert reactivated["crs_onset_day"] == 2 and reactivated["tocilizumab_doses"] == 2
    assert pd.isna(reactivated["death_day"]) and reactivated["death_day_missing"] == "no_event"
    child = people.loc[cohort.child.study_number]
    assert child["age_at_infusion"] == 9 and child["age_group"] == "paediatric"
    assert child["death_day"] == 95
    assert child["crs_grade_missing"] == "not_recorded"
    waiting = people.loc[cohort.no_infusion.study_number]
    assert pd.isna(waiting["age_at_infusion"]) and waiting["age_at_infusion_missing"] == "no_infusion"
    assert waiting["analysis_population"] == "no_infusion"


def test_time_to_event_dataset_codes_events(db, cohort) -> None:
    tte = _datasets(db)["time_to_event"].set_index("study_number")
    assert tte.loc[cohort.reactivated.study_number, "status"] == 1
    assert tte.loc[cohort.child.study_number, "status"] in {0, 2}
    assert set(tte["status_label"]) <= {"censored", "cmv_reactivation", "death"}


def test_antivirals_genotypes_and_audit_trail(db, cohort) -> None:
    frames = _datasets(db)
    courses = frames["antiviral_courses"].set_index("study_number")
    valgan = courses.loc[cohort.reactivated.study_number]
    assert (valgan["start_day"], valgan["end_day"], valgan["duration_days"]) == (15, 35, 21)
    letermovir = courses.loc[cohort.child.study_number]
    assert pd.isna(letermovir["end_day"]) and letermovir["end_day_missing"] == "ongoing"
    genotype = frames["genotypes"].iloc[0]
    assert genotype["gene_ul97"] == "sequenced" and genotype["gene_ul54"] == "amplification_failed"
    assert genotype["gene_ul56_missing"] == "gene_not_sent"
    assert genotype["susc_ganciclovir"] == "resistant" and genotype["mutations"] == 1
    assert frames["mutations"].iloc[0]["amino_acid_change"] == "M460V"
    trail = frames["audit_trail"]
    assert set(trail["user_code"]) <= {"S"} | {f"U{i}" for i in range(1, 10_000)}
    assert not trail["study_number"].isin([cohort.excluded.study_number]).any()


def test_site_limited_exporter_only_exports_their_sites(db, cohort) -> None:
    manager = Actor(user_id=None, name="dm", role=Role.DATA_MANAGER,
                    site_ids=frozenset({cohort.other_site.id}))
    frames = _datasets(db, manager)
    assert list(frames["participants"]["study_number"]) == [cohort.elsewhere.study_number]
    assert set(frames["viral_loads"]["study_number"]) == {cohort.elsewhere.study_number}


def test_scanner_refuses_identifying_columns() -> None:
    spec = DatasetSpec("x", "X", "x", "x", (V("a", "A", "str", "a", "a"),))
    bad = pd.DataFrame({"patient_name": ["A"], "sampled_on": ["x"], "note": ["vu par Dr Martin"],
                        "when": ["21/11/2026"], "contact": ["jean@example.org"],
                        "when2": [pd.Timestamp("2026-01-01")]})
    with pytest.raises(InvalidInput) as caught:
        scan([Dataset(spec, bad)])
    message = caught.value.message("en")
    for column in ("patient_name", "sampled_on", "note", "when", "contact", "when2"):
        assert f"x.{column}:" in message
    assert "Export refusé" in caught.value.message("fr")
    assert scan_frame("x", pd.DataFrame({"reported_as": ["<62", "1,2E+04", "ND"]})) == []


def test_xpt_limits_fail_clearly_instead_of_truncating(tmp_path) -> None:
    frame = pd.DataFrame({"study_number": ["A-0001"], "result_id": [1], "reported_as": ["Non détecté"]})
    spec = DatasetSpec("loads", "LOADS", "Loads", "Charges", (
        V("study_number", "SUBJID", "str", "Study number", "N"), V("result_id", "RESID", "int", "Id", "Id"),
        V("reported_as", "REPORTED", "str", "Printed", "Imprimé")))
    with pytest.raises(FormatLimitError) as caught:
        check_xpt(Dataset(spec, frame))
    assert "non-ASCII" in caught.value.message("en") and "Non détecté" in caught.value.message("en")
    frame["reported_as"] = ["x" * 201]
    with pytest.raises(FormatLimitError, match="201 bytes"):
        check_xpt(Dataset(spec, frame))
    long_name = DatasetSpec("loads", "LOADS", "Loads", "Charges", (V("study_number", "SUBJECTID", "str",
                                                                      "Study number", "N"),))
    with pytest.raises(FormatLimitError, match="SUBJECTID"):
        check_xpt(Dataset(long_name, frame[["study_number"]]))
    long_label = DatasetSpec("loads", "LOADS", "Loads", "Charges", (V("study_number", "SUBJID", "str",
                                                                       "L" * 41, "N"),))
    with pytest.raises(FormatLimitError, match="label"):
        check_xpt(Dataset(long_label, frame[["study_number"]]))
    frame["reported_as"] = ["<62"]
    path = write_xpt(Dataset(spec, frame), tmp_path)[0]
    back, _meta = pyreadstat.read_xport(str(path))
    assert list(back.columns) == ["SUBJID", "RESID", "REPORTED"] and back["REPORTED"][0] == "<62"


def test_every_dataset_fits_sas_stata_and_spss_names() -> None:
    for spec in DATASETS:
        shorts = [v.short.upper() for v in spec.columns()]
        assert len(shorts) == len(set(shorts)), spec.name
        for variable in spec.columns():
            assert len(variable.short) <= 8 and variable.short.isascii()
            assert len(variable.label_en) <= 40 and variable.label_en.isascii(), variable.name
            assert len(variable.name) <= 32, variable.name
            assert variable.label_fr


def test_codebook_lists_every_variable_with_both_languages(db, cohort, statistician, tmp_path) -> None:
    result = bundle.run_export(db, statistician, tmp_path, ["csv"])
    codebook = pd.read_csv(result.directory / "codebook.csv")
    for spec in DATASETS:
        listed = set(codebook[codebook["dataset"] == spec.name]["variable"])
        assert listed == {v.name for v in spec.columns()}
    state = codebook[(codebook["dataset"] == "viral_loads") & (codebook["variable"] == "state")].iloc[0]
    assert "not_detected=" in state["codes"] and "below_lloq=" in state["codes_fr"]
    assert VIRAL_LOADS.name == "viral_loads"


def test_odm_export_validates_against_the_odm_1_3_2_schema(db, cohort, statistician, tmp_path) -> None:
    xmlschema = pytest.importorskip("xmlschema")
    result = bundle.run_export(db, statistician, tmp_path, ["odm"])
    document = result.directory / "odm" / "study.odm.xml"
    schema = xmlschema.XMLSchema(str(ODM_XSD))
    errors = [str(e)[:300] for e in schema.iter_errors(str(document))]
    assert errors == []
    text = document.read_text(encoding="utf-8")
    assert "<FormDef" in text and "<CodeList" in text and "<AuditRecord>" in text
    assert cohort.reactivated.study_number in text and cohort.excluded.study_number not in text
    assert "2026-03" not in text.split("<ClinicalData", 1)[1]
    assert 'ItemOID="IT.viral_loads.sampled_on_day" Value="14"' in text
    # a yes/no field's own answers are named in its description, in both languages
    assert "(true = Minor on the date of consent; false = Adult on the date of consent; " \
           "missing = Not stated)" in text
    assert "(true = Mineur(e) à la date du consentement; false = Majeur(e) à la date du " \
           "consentement; absent = Non renseigné)" in text


def test_unknown_format_is_refused() -> None:
    with pytest.raises(InvalidInput, match="pdf"):
        parse_formats("csv,pdf")


def test_signed_casebooks_export_with_odm_signatures(db, cohort, statistician, tmp_path) -> None:
    from datetime import UTC, datetime

    from trialdb.models import Signature

    xmlschema = pytest.importorskip("xmlschema")
    investigator = factories.user(db, Role.INVESTIGATOR, sites=[cohort.site])
    db.add(Signature(participant_id=cohort.reactivated.id, entity="participant",
                     record_id=cohort.reactivated.id, signer_id=investigator.id, signer_name="Dr Who",
                     signed_at=datetime(2026, 6, 1, 10, 30, tzinfo=UTC), meaning="reviewed_and_approved",
                     content_hash="0" * 64))
    db.flush()
    result = bundle.run_export(db, statistician, tmp_path, ["csv", "odm"])
    document = result.directory / "odm" / "study.odm.xml"
    assert list(xmlschema.XMLSchema(str(ODM_XSD)).iter_errors(str(document))) == []
    text = document.read_text(encoding="utf-8")
    assert '<SignatureRef SignatureOID="SD.reviewed_and_approved"/>' in text
    assert "<DateTimeStamp>2000-03-24T10:30:00</DateTimeStamp>" in text  # D0 + 83 days, on the anchor
    assert "Dr Who" not in text and "2026-06-01" not in text


def test_xpt_transliteration_is_explicit_and_refuses_what_has_no_ascii_form(tmp_path) -> None:
    assert ascii_transliteration("Non détecté") == "Non detecte"
    assert ascii_transliteration("Négatif, œdème") == "Negatif, œdeme"  # no decomposition for œ
    frame = pd.DataFrame({"study_number": ["A-0001", "A-0002"], "result_id": [1, 2],
                          "reported_as": ["Non détecté", "<62"]})
    spec = DatasetSpec("loads", "LOADS", "Loads", "Charges", (
        V("study_number", "SUBJID", "str", "Study number", "N"), V("result_id", "RESID", "int", "Id", "Id"),
        V("reported_as", "REPORTED", "str", "Printed", "Imprimé")))
    original = Dataset(spec, frame)
    copy, changed = transliterated_for_xpt(original)
    assert changed == 1 and list(copy.frame["reported_as"]) == ["Non detecte", "<62"]
    assert list(frame["reported_as"]) == ["Non détecté", "<62"]  # the dataset itself is untouched
    check_xpt(copy)
    back, _meta = pyreadstat.read_xport(str(write_xpt(copy, tmp_path)[0]))
    assert list(back["REPORTED"]) == ["Non detecte", "<62"]
    assert transliterated_for_xpt(Dataset(spec, frame.iloc[1:]))[1] == 0
    frame.loc[1, "reported_as"] = "2 µg"  # the micro sign decomposes to a Greek letter
    with pytest.raises(FormatLimitError) as caught:
        transliterated_for_xpt(Dataset(spec, frame))
    assert "no ASCII transliteration" in caught.value.message("en") and "2 µg" in caught.value.message("en")
    assert "sans translittération ASCII" in caught.value.message("fr")


def test_xpt_export_refuses_accents_unless_transliteration_is_asked_and_recorded(
        db, cohort, statistician, tmp_path) -> None:
    with pytest.raises(FormatLimitError) as caught:
        bundle.run_export(db, statistician, tmp_path / "refused", ["csv", "xpt"])
    assert "non-ASCII" in caught.value.message("en") and "Non détecté" in caught.value.message("en")
    assert not (tmp_path / "refused").exists() or not any((tmp_path / "refused").iterdir())
    with pytest.raises(InvalidInput):
        bundle.run_export(db, statistician, tmp_path, ["xpt"], xpt_ascii="ascii please")
    result = bundle.run_export(db, statistician, tmp_path, ["csv", "xpt"], xpt_ascii="transliterate")
    recorded = result.manifest["xpt_ascii"]
    assert recorded["mode"] == "transliterate" and "NFKD" in recorded["method"]
    assert recorded["values_transliterated"]["viral_loads"] >= 1
    assert json.loads((result.directory / "manifest.json").read_text())["xpt_ascii"] == recorded
    loads, _meta = pyreadstat.read_xport(str(result.directory / "xpt" / f"{VIRAL_LOADS.short.lower()}.xpt"))
    short = next(v.short for v in VIRAL_LOADS.columns() if v.name == "reported_as")
    printed = set(loads[short].dropna())
    assert "Non detecte" in printed and "Non détecté" not in printed
    assert "Non détecté" in set(pd.read_csv(result.directory / "csv" / "viral_loads.csv")["reported_as"])
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "export",
                                               AuditEvent.entity_id == result.bundle_id))
    assert event is not None and event.changes["xpt_ascii"] == [None, "transliterate"]
    plain = bundle.run_export(db, statistician, tmp_path, ["csv"])
    assert "xpt_ascii" not in plain.manifest
