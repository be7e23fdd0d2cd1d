"""The analysis datasets, built from a (frozen) database session.

Pseudonymised by construction: every date leaves as a study day counted
from the participant's D0 (the infusion day is day 0), ages as completed
years at infusion, never a calendar date, a birth year or month, a name or
free text. Participants whose data may not be used are left out of every
dataset (see :func:`exported_participants`). Derived values (log10, IU/mL,
endpoints, the time-to-event dataset) come from the study rules and
:mod:`trialdb.analysis`, never computed twice with other rules.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pandas as pd
from sqlalchemy import String, func, select, type_coerce
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

from trialdb.exports.variables import (
    ANTIVIRALS,
    AUDIT_TRAIL,
    CMV_DISEASE,
    GENOTYPES,
    MUTATIONS,
    PARTICIPANTS,
    TIME_TO_EVENT,
    VIRAL_LOADS,
    DatasetSpec,
)
from trialdb.models import (
    AntiviralCourse,
    Assay,
    AuditEvent,
    CarTInfusion,
    ClinicalCourse,
    CmvDiseaseEpisode,
    ConsentRecord,
    CorticosteroidCourse,
    DrugSusceptibility,
    FollowUp,
    GenotypeGene,
    GenotypeMutation,
    Participant,
    ResistanceGenotype,
    Serology,
    Site,
    ViralLoadResult,
)
from trialdb.study.endpoint_settings import EndpointSettings
from trialdb.vocab import Antiviral, CmvGene, Virus, WithdrawalDataChoice

ADULT_AGE: Final = 18


@dataclass
class Dataset:
    spec: DatasetSpec
    frame: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def _text(column: Any) -> Any:
    """An enumerated column read as its stored code (no enum objects in frames)."""
    return type_coerce(column, String).label(column.key)


def _frame(session: Session, statement: Executable) -> pd.DataFrame:
    """The rows of a Core statement as a frame (through the connection: no ORM row handling)."""
    result = session.connection().execute(statement)
    columns = list(result.keys())
    return pd.DataFrame.from_records(result.fetchall(), columns=columns, coerce_float=True)


def _dates(values: pd.Series) -> pd.Series:
    """Dates as datetime64 (ISO text, as SQLite gives them, is parsed in one pass)."""
    if values.dtype == object and len(values) and isinstance(values.dropna().iloc[0]
                                                            if values.notna().any() else None, str):
        return pd.to_datetime(values, format="%Y-%m-%d")
    return pd.to_datetime(values)


def _days(later: pd.Series, d0: pd.Series) -> pd.Series:
    """Whole days from D0 (nullable integers; missing when either date is)."""
    delta = _dates(later) - _dates(d0)
    return delta.dt.days.astype("Int64")


def _reason(frame: pd.DataFrame, name: str, rules: Sequence[tuple[pd.Series, str]],
            default: str = "not_recorded") -> None:
    """Fill `<name>_missing` where `name` is missing: the first rule that holds, else `default`."""
    missing = frame[name].isna()
    reasons = pd.Series(pd.NA, index=frame.index, dtype="object")
    for condition, reason in reversed(list(rules)):
        reasons = reasons.mask(condition.fillna(False).astype(bool), reason)
    reasons = reasons.fillna(default)
    frame[f"{name}_missing"] = reasons.where(missing, None)


def _finish(spec: DatasetSpec, frame: pd.DataFrame) -> Dataset:
    """The frame with the spec's columns, in order, typed; missing reasons default to not_recorded."""
    for variable in spec.variables:
        if variable.why and variable.missing_name not in frame:
            if variable.name not in frame:  # an empty dataset has no columns yet
                frame[variable.name] = None
            _reason(frame, variable.name, [])
    columns = [v.name for v in spec.columns()]
    out = frame.reindex(columns=columns)
    if not isinstance(out.index, pd.RangeIndex) or out.index.start != 0 or out.index.step != 1:
        out = out.reset_index(drop=True)
    for variable in spec.columns():
        series = out[variable.name]
        if variable.kind == "int" or variable.kind == "bool":
            if series.dtype == object:
                series = pd.to_numeric(series.where(series.notna(), None), errors="raise")
            out[variable.name] = series.astype("Int64")
        elif variable.kind == "float":
            out[variable.name] = pd.to_numeric(series, errors="raise").astype("float64")
        elif series.dtype != object or series.hasnans:
            out[variable.name] = series.astype("object").where(series.notna(), None)
    return Dataset(spec, out)


# --- who is exported -------------------------------------------------------------------------------


def exported_participants(session: Session, site_ids: frozenset[int] | None = None) -> pd.DataFrame:
    """Participants whose data may be exported, with their D0.

    Left out: participants who withdrew asking that their data be excluded,
    and those without a valid consent or non-opposition (never given, or
    opposed). `site_ids` limits the export to those sites.
    """
    people = _frame(session, select(
        Participant.id.label("participant_id"), Participant.study_number, Site.code.label("site_code"),
        Participant.site_id, _text(Participant.part), _text(Participant.sex), _text(Participant.status),
        Participant.birth_year, Participant.birth_month, Participant.screened_on,
        Participant.included_on, CarTInfusion.infused_on.label("d0"),
    ).join(Site, Site.id == Participant.site_id)
     .outerjoin(CarTInfusion, (CarTInfusion.participant_id == Participant.id)
                & CarTInfusion.is_deleted.is_(False))
     .order_by(Participant.study_number))
    live = ConsentRecord.is_deleted.is_(False)
    excluded = select(ConsentRecord.participant_id).where(
        live, ConsentRecord.withdrawal_data_choice == WithdrawalDataChoice.EXCLUDE)
    consented = select(ConsentRecord.participant_id).where(live, ConsentRecord.is_valid.is_(True))
    out = {row[0] for row in session.execute(excluded)}
    valid = {row[0] for row in session.execute(consented)}
    keep = people["participant_id"].map(lambda pid: pid in valid and pid not in out).astype(bool)
    if site_ids is not None:
        keep &= people["site_id"].isin(site_ids)
    return people[keep].reset_index(drop=True)


# --- participants ------------------------------------------------------------------------------------


def _age_at(row: Any) -> Any:
    from trialdb.study.timeline import age_at

    if pd.isna(row.d0):
        return None
    return age_at(int(row.birth_year), int(row.birth_month), row.d0)


def build_participants(session: Session, people: pd.DataFrame,
                       endpoints: pd.DataFrame) -> Dataset:
    ids = list(people["participant_id"])
    frame = people.copy()
    no_d0 = frame["d0"].isna()
    frame["age_at_infusion"] = frame.apply(_age_at, axis=1) if len(frame) else []
    frame["age_group"] = frame["age_at_infusion"].map(
        lambda a: None if a is None or pd.isna(a) else ("adult" if a >= ADULT_AGE else "paediatric"))
    frame["screening_day"] = _days(frame["screened_on"], frame["d0"])
    frame["inclusion_day"] = _days(frame["included_on"], frame["d0"])

    consents = _frame(session, select(
        ConsentRecord.participant_id, _text(ConsentRecord.regime), ConsentRecord.withdrawn_on,
        _text(ConsentRecord.withdrawal_data_choice), ConsentRecord.consent_on,
    ).where(ConsentRecord.is_deleted.is_(False), ConsentRecord.participant_id.in_(ids))
     .order_by(ConsentRecord.participant_id, ConsentRecord.consent_on, ConsentRecord.id))
    latest = consents.groupby("participant_id").last() if len(consents) else consents
    frame["consent_regime"] = frame["participant_id"].map(latest["regime"]) if len(latest) else None
    withdrawn = consents.dropna(subset=["withdrawn_on"]).groupby("participant_id").first() \
        if len(consents) else consents
    frame["withdrawn_on"] = frame["participant_id"].map(withdrawn["withdrawn_on"]) if len(withdrawn) else None
    frame["withdrawal_data_choice"] = (frame["participant_id"].map(withdrawn["withdrawal_data_choice"])
                                       if len(withdrawn) else None)
    frame["withdrawal_day"] = _days(frame["withdrawn_on"], frame["d0"])
    not_withdrawn = frame["withdrawn_on"].isna()

    serology = _frame(session, select(
        Serology.participant_id, Serology.sampled_on, _text(Serology.result),
    ).where(Serology.is_deleted.is_(False), Serology.virus == Virus.CMV, Serology.participant_id.in_(ids))
     .order_by(Serology.participant_id, Serology.sampled_on, Serology.id))
    if len(serology):
        serology = serology.merge(frame[["participant_id", "d0"]], on="participant_id")
        before = serology[serology["d0"].isna() | (serology["sampled_on"] <= serology["d0"])]
        frame["cmv_igg"] = frame["participant_id"].map(before.groupby("participant_id")["result"].last())
    else:
        frame["cmv_igg"] = None

    infusion = _frame(session, select(
        CarTInfusion.participant_id, _text(CarTInfusion.product), _text(CarTInfusion.target_antigen),
        _text(CarTInfusion.disease), _text(CarTInfusion.disease_status), CarTInfusion.prior_lines,
        CarTInfusion.prior_allo_hsct, CarTInfusion.prior_allo_hsct_on, CarTInfusion.bridging_therapy,
        _text(CarTInfusion.lymphodepletion),
    ).where(CarTInfusion.is_deleted.is_(False), CarTInfusion.participant_id.in_(ids)))
    frame = frame.merge(infusion, on="participant_id", how="left")
    frame["prior_allo_hsct_day"] = _days(frame["prior_allo_hsct_on"], frame["d0"])

    clinical = _frame(session, select(
        ClinicalCourse.participant_id, ClinicalCourse.crs_grade, ClinicalCourse.crs_onset_on,
        ClinicalCourse.icans_grade, ClinicalCourse.icans_onset_on, ClinicalCourse.tocilizumab,
        ClinicalCourse.tocilizumab_doses, ClinicalCourse.ivig,
    ).where(ClinicalCourse.is_deleted.is_(False), ClinicalCourse.participant_id.in_(ids)))
    frame = frame.merge(clinical, on="participant_id", how="left", indicator="clinical_form")
    has_clinical = frame["clinical_form"] == "both"
    frame["crs_onset_day"] = _days(frame["crs_onset_on"], frame["d0"])
    frame["icans_onset_day"] = _days(frame["icans_onset_on"], frame["d0"])

    steroids = _frame(session, select(
        CorticosteroidCourse.participant_id, func.count(CorticosteroidCourse.id).label("n"),
    ).where(CorticosteroidCourse.is_deleted.is_(False), CorticosteroidCourse.participant_id.in_(ids))
     .group_by(CorticosteroidCourse.participant_id))
    frame["corticosteroid_courses"] = (
        frame["participant_id"].map(steroids.set_index("participant_id")["n"]) if len(steroids)
        else 0)
    frame["corticosteroid_courses"] = frame["corticosteroid_courses"].fillna(0)

    follow = _frame(session, select(
        FollowUp.participant_id, FollowUp.last_contact_on, FollowUp.died_on, _text(FollowUp.death_cause),
        FollowUp.relapse_on, FollowUp.later_allo_hsct_on, FollowUp.new_line_on, FollowUp.icu_admission,
        FollowUp.lost_to_follow_up,
    ).where(FollowUp.is_deleted.is_(False), FollowUp.participant_id.in_(ids)))
    frame = frame.merge(follow, on="participant_id", how="left", indicator="follow_form")
    has_follow = frame["follow_form"] == "both"
    for source, target in (("last_contact_on", "last_contact_day"), ("died_on", "death_day"),
                           ("relapse_on", "relapse_day"), ("later_allo_hsct_on", "later_allo_hsct_day"),
                           ("new_line_on", "new_line_day")):
        frame[target] = _days(frame[source], frame["d0"])

    frame = frame.merge(endpoints, on="participant_id", how="left")
    in_analysis = frame["analysis_population"].isin(["analysis_set", "prevalent"])
    frame["analysis_population"] = frame["analysis_population"].where(
        frame["analysis_population"].notna(), np.where(no_d0, "no_infusion", "not_analysed"))

    # why values are missing
    infusion_fields = ("age_at_infusion", "age_group", "product", "target_antigen", "disease",
                       "disease_status", "prior_lines", "prior_allo_hsct", "bridging_therapy",
                       "lymphodepletion", "screening_day", "inclusion_day")
    for name in infusion_fields:
        _reason(frame, name, [(no_d0, "no_infusion")])
    _reason(frame, "inclusion_day", [(no_d0, "no_infusion"), (frame["included_on"].isna(), "no_event")])
    _reason(frame, "consent_regime", [])
    _reason(frame, "withdrawal_day", [(not_withdrawn, "no_event"), (no_d0, "no_infusion")])
    _reason(frame, "withdrawal_data_choice", [(not_withdrawn, "not_applicable")])
    _reason(frame, "cmv_igg", [])
    _reason(frame, "prior_allo_hsct_day", [(no_d0, "no_infusion"),
                                           (frame["prior_allo_hsct"] == False, "not_applicable")])  # noqa: E712 - pandas
    for name in ("crs_grade", "icans_grade", "tocilizumab", "ivig"):
        _reason(frame, name, [(~has_clinical, "not_recorded")])
    _reason(frame, "crs_onset_day", [(~has_clinical, "not_recorded"), (frame["crs_grade"] == 0, "no_event"),
                                     (no_d0, "no_infusion")])
    _reason(frame, "icans_onset_day", [(~has_clinical, "not_recorded"),
                                       (frame["icans_grade"] == 0, "no_event"), (no_d0, "no_infusion")])
    _reason(frame, "tocilizumab_doses", [(~has_clinical, "not_recorded"),
                                         (frame["tocilizumab"] == False, "not_applicable")])  # noqa: E712
    _reason(frame, "last_contact_day", [(~has_follow, "not_recorded"), (no_d0, "no_infusion")])
    _reason(frame, "death_day", [(~has_follow, "not_recorded"), (frame["died_on"].isna(), "no_event"),
                                 (no_d0, "no_infusion")])
    _reason(frame, "death_cause", [(~has_follow, "not_recorded"),
                                   (frame["died_on"].isna(), "not_applicable")])
    for source, target in (("relapse_on", "relapse_day"), ("later_allo_hsct_on", "later_allo_hsct_day"),
                           ("new_line_on", "new_line_day")):
        _reason(frame, target, [(~has_follow, "not_recorded"), (frame[source].isna(), "no_event"),
                                (no_d0, "no_infusion")])
    for name in ("icu_admission", "lost_to_follow_up"):
        _reason(frame, name, [(~has_follow, "not_recorded")])
    for name in ("reactivation_day", "cscmvi_day", "clearance_days", "peak_log10_iu_plasma",
                 "peak_log10_iu_blood", "cscmvi_reason", "refractory_status", "recurrences"):
        if name not in frame:
            frame[name] = None
        _reason(frame, name, [(no_d0, "no_infusion"), (~in_analysis, "not_analysed")],
                default="no_event")
    return _finish(PARTICIPANTS, frame)


# --- endpoints and the time-to-event dataset (trialdb.analysis) -------------------------------------


def build_endpoints(session: Session, people: pd.DataFrame,
                    settings: EndpointSettings) -> tuple[pd.DataFrame, Dataset]:
    """Per-participant derived endpoints and the time-to-event dataset of the analysis set."""
    from trialdb.analysis.dataset import build_time_to_event
    from trialdb.analysis.loading import load_cohort

    cohort = load_cohort(session, list(people["participant_id"]))
    built = build_time_to_event(cohort, settings)
    parts = []
    for frame, population in ((built.data, "analysis_set"), (built.prevalent, "prevalent")):
        if len(frame):
            part = frame.copy()
            part["analysis_population"] = population
            parts.append(part)
    endpoint_columns = ["participant_id", "analysis_population", "reactivation_day", "cscmvi_day",
                        "cscmvi_reason", "recurrences", "refractory_status", "clearance_days",
                        "peak_log10_iu_per_ml_plasma", "peak_log10_iu_per_ml_whole_blood"]
    endpoints = (pd.concat(parts, ignore_index=True).reindex(columns=endpoint_columns) if parts
                 else pd.DataFrame(columns=endpoint_columns))
    endpoints = endpoints.rename(columns={
        "peak_log10_iu_per_ml_plasma": "peak_log10_iu_plasma",
        "peak_log10_iu_per_ml_whole_blood": "peak_log10_iu_blood"})
    tte = built.data.copy()
    known = {v.name for v in TIME_TO_EVENT.columns()} | {"participant_id", "participant_status",
                                                         "settings_hash"}
    dropped = sorted(set(tte.columns) - known)
    if len(tte):
        _reason(tte, "censoring_basis", [(tte["status"] != 0, "not_applicable")])
        _reason(tte, "disease_all", [(tte["disease_group"] == "other", "not_applicable")])
        _reason(tte, "reactivation_day", [], default="no_event")
    dataset = _finish(TIME_TO_EVENT, tte)
    if dropped:
        dataset.notes.append(f"columns of the analysis dataset not exported: {', '.join(dropped)}")
    return endpoints, dataset


# --- viral loads --------------------------------------------------------------------------------------


def build_viral_loads(session: Session, people: pd.DataFrame) -> Dataset:
    frame = _frame(session, select(
        ViralLoadResult.participant_id, ViralLoadResult.id.label("result_id"),
        _text(ViralLoadResult.sampled_on), _text(ViralLoadResult.virus), _text(ViralLoadResult.specimen),
        _text(ViralLoadResult.state), ViralLoadResult.reported_as, ViralLoadResult.value,
        _text(ViralLoadResult.unit), Assay.name.label("assay"), Assay.limit_of_detection.label("assay_lod"),
        Assay.lloq.label("assay_lloq"), Assay.copies_per_iu.label("assay_copies_per_iu"),
    ).join(Assay, Assay.id == ViralLoadResult.assay_id)
     .join(Participant, Participant.id == ViralLoadResult.participant_id)
     .where(ViralLoadResult.is_deleted.is_(False))
     .order_by(Participant.study_number, ViralLoadResult.sampled_on, ViralLoadResult.id))
    # an inner merge keeps the query's order (study number, day, result)
    frame = frame.merge(people[["participant_id", "study_number", "d0"]], on="participant_id")
    frame["study_day"] = _days(frame["sampled_on"], frame["d0"])
    value = frame["value"].astype("float64")
    frame["log10_value"] = _log10(value)
    frame["iu_per_ml"] = _iu_per_ml(value, frame["unit"], frame["assay_copies_per_iu"].astype("float64"))
    frame["log10_iu_per_ml"] = _log10(frame["iu_per_ml"])
    not_quantified = frame["state"] != "quantified"
    _reason(frame, "study_day", [(frame["d0"].isna(), "no_infusion")])
    _reason(frame, "value", [(not_quantified, "not_quantified")])
    _reason(frame, "log10_value", [(not_quantified, "not_quantified")])
    for name in ("iu_per_ml", "log10_iu_per_ml"):
        _reason(frame, name, [(not_quantified, "not_quantified")], default="no_conversion_factor")
    for name in ("assay_lod", "assay_lloq"):
        _reason(frame, name, [], default="assay_limit_unknown")
    _reason(frame, "assay_copies_per_iu", [(frame["unit"] == "IU/mL", "not_applicable")],
            default="no_conversion_factor")
    _reason(frame, "reported_as", [])
    return _finish(VIRAL_LOADS, frame)


def _log10(values: pd.Series) -> pd.Series:
    """log10 of positive loads (float64, the exported precision); missing stays missing.

    Agrees with :func:`trialdb.study.log10_load` to the last bit of a double
    (tested); computed on whole columns because an export has 10^5-10^6 rows.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.Series(np.log10(values.to_numpy(dtype="float64")), index=values.index)


def _iu_per_ml(values: pd.Series, units: pd.Series, copies_per_iu: pd.Series) -> pd.Series:
    """:func:`trialdb.study.to_iu_per_ml` over columns: IU/mL kept, copies/mL divided by the
    assay's own factor, missing without a factor (never a constant)."""
    converted = values / copies_per_iu
    return values.where(units == "IU/mL", converted.where(copies_per_iu.notna()))


# --- antivirals, CMV disease, genotypes ----------------------------------------------------------------


def build_antivirals(session: Session, people: pd.DataFrame) -> Dataset:
    frame = _frame(session, select(
        AntiviralCourse.participant_id, AntiviralCourse.id.label("course_id"), _text(AntiviralCourse.drug),
        _text(AntiviralCourse.indication), AntiviralCourse.started_on, AntiviralCourse.ended_on,
        AntiviralCourse.dose_mg, _text(AntiviralCourse.stop_reason),
    ).where(AntiviralCourse.is_deleted.is_(False)).order_by(AntiviralCourse.started_on, AntiviralCourse.id))
    frame = frame.merge(people[["participant_id", "study_number", "d0"]], on="participant_id")
    frame["start_day"] = _days(frame["started_on"], frame["d0"])
    frame["end_day"] = _days(frame["ended_on"], frame["d0"])
    frame["duration_days"] = _days(frame["ended_on"], frame["started_on"]) + 1
    no_d0, ongoing = frame["d0"].isna(), frame["ended_on"].isna()
    _reason(frame, "start_day", [(no_d0, "no_infusion")])
    _reason(frame, "end_day", [(ongoing, "ongoing"), (no_d0, "no_infusion")])
    _reason(frame, "duration_days", [(ongoing, "ongoing")])
    _reason(frame, "stop_reason", [(ongoing, "ongoing")])
    frame = frame.sort_values(["study_number", "start_day", "course_id"], kind="stable")
    return _finish(ANTIVIRALS, frame)


def build_cmv_disease(session: Session, people: pd.DataFrame) -> Dataset:
    frame = _frame(session, select(
        CmvDiseaseEpisode.participant_id, CmvDiseaseEpisode.id.label("episode_id"),
        CmvDiseaseEpisode.diagnosed_on, _text(CmvDiseaseEpisode.organ), _text(CmvDiseaseEpisode.certainty),
    ).where(CmvDiseaseEpisode.is_deleted.is_(False)).order_by(CmvDiseaseEpisode.id))
    frame = frame.merge(people[["participant_id", "study_number", "d0"]], on="participant_id")
    frame["diagnosis_day"] = _days(frame["diagnosed_on"], frame["d0"])
    _reason(frame, "diagnosis_day", [(frame["d0"].isna(), "no_infusion")])
    return _finish(CMV_DISEASE, frame.sort_values(["study_number", "episode_id"], kind="stable"))


def build_genotypes(session: Session, people: pd.DataFrame) -> tuple[Dataset, Dataset]:
    genotypes = _frame(session, select(
        ResistanceGenotype.participant_id, ResistanceGenotype.id.label("genotype_id"),
        ResistanceGenotype.sampled_on, _text(ResistanceGenotype.specimen),
    ).where(ResistanceGenotype.is_deleted.is_(False)).order_by(ResistanceGenotype.id))
    genotypes = genotypes.merge(people[["participant_id", "study_number", "d0"]], on="participant_id")
    genotypes["sample_day"] = _days(genotypes["sampled_on"], genotypes["d0"])
    _reason(genotypes, "sample_day", [(genotypes["d0"].isna(), "no_infusion")])
    ids = list(genotypes["genotype_id"])
    genes = _frame(session, select(GenotypeGene.genotype_id, _text(GenotypeGene.gene),
                                   _text(GenotypeGene.outcome)).where(GenotypeGene.genotype_id.in_(ids)))
    for gene in CmvGene:
        column = f"gene_{gene.value.lower()}"
        chosen = genes[genes["gene"] == gene.value].set_index("genotype_id")["outcome"]
        genotypes[column] = genotypes["genotype_id"].map(chosen)
        _reason(genotypes, column, [], default="gene_not_sent")
    drugs = _frame(session, select(DrugSusceptibility.genotype_id, _text(DrugSusceptibility.drug),
                                   _text(DrugSusceptibility.susceptibility))
                   .where(DrugSusceptibility.genotype_id.in_(ids)))
    for drug in Antiviral:
        column = f"susc_{drug.value}"
        chosen = drugs[drugs["drug"] == drug.value].set_index("genotype_id")["susceptibility"]
        genotypes[column] = genotypes["genotype_id"].map(chosen)
        _reason(genotypes, column, [], default="drug_not_interpreted")
    mutations = _frame(session, select(GenotypeMutation.genotype_id, _text(GenotypeMutation.gene),
                                       GenotypeMutation.amino_acid_change)
                       .where(GenotypeMutation.genotype_id.in_(ids)).order_by(GenotypeMutation.id))
    counts = mutations.groupby("genotype_id").size()
    genotypes["mutations"] = genotypes["genotype_id"].map(counts).fillna(0)
    mutations = mutations.merge(genotypes[["genotype_id", "study_number", "sample_day",
                                           "sample_day_missing"]], on="genotype_id")
    order = ["study_number", "genotype_id"]
    return (_finish(GENOTYPES, genotypes.sort_values(order, kind="stable")),
            _finish(MUTATIONS, mutations.sort_values(order, kind="stable")))


# --- the audit trail -----------------------------------------------------------------------------------


def build_audit_trail(session: Session, people: pd.DataFrame) -> Dataset:
    """The trail without names, free text, values or calendar dates.

    The actor becomes a pseudonymous code (U + account number, S for the
    system), the moment a study day of the participant concerned, the
    changes the list of field names, the reason a flag. Events about
    participants who are not exported are left out.
    """
    frame = _frame(session, select(
        AuditEvent.id.label("event_id"), AuditEvent.occurred_at, AuditEvent.user_id, AuditEvent.user_role,
        AuditEvent.site_code, AuditEvent.action, AuditEvent.entity, AuditEvent.entity_id,
        AuditEvent.study_number, AuditEvent.changes, AuditEvent.reason,
    ).order_by(AuditEvent.id))
    exported = set(people["study_number"])
    keep = frame["study_number"].isna() | frame["study_number"].isin(exported)
    frame = frame[keep].copy()
    d0 = people.set_index("study_number")["d0"]
    day = frame["study_number"].map(d0)
    occurred = pd.to_datetime(frame["occurred_at"], utc=True).dt.tz_localize(None).dt.normalize()
    frame["event_day"] = (occurred - pd.to_datetime(day)).dt.days.astype("Int64")
    frame["user_code"] = frame["user_id"].map(lambda u: "S" if u is None or pd.isna(u) else f"U{int(u)}")
    frame["fields_changed"] = frame["changes"].map(
        lambda c: " ".join(sorted(c)) if isinstance(c, dict) and c else None)
    frame["reason_given"] = frame["reason"].map(lambda r: bool(r and str(r).strip()))
    no_participant = frame["study_number"].isna()
    _reason(frame, "event_day", [(no_participant, "no_participant"), (day.isna(), "no_infusion")])
    _reason(frame, "study_number", [(no_participant, "no_participant")])
    _reason(frame, "user_role", [(frame["user_code"] == "S", "not_applicable")])
    for name in ("site_code", "entity", "entity_id", "fields_changed"):
        _reason(frame, name, [], default="not_applicable")
    return _finish(AUDIT_TRAIL, frame)


# --- all of them ---------------------------------------------------------------------------------------

Step = Callable[[str], None]


def build_all(session: Session, settings: EndpointSettings, *, site_ids: frozenset[int] | None = None,
              step: Step | None = None) -> list[Dataset]:
    """Every dataset of an export, in order. `step(name)` is called as each one is done."""
    def done(name: str) -> None:
        if step is not None:
            step(name)

    people = exported_participants(session, site_ids)
    endpoints, time_to_event = build_endpoints(session, people, settings)
    done("time_to_event")
    participants = build_participants(session, people, endpoints)
    done("participants")
    viral_loads = build_viral_loads(session, people)
    done("viral_loads")
    antivirals = build_antivirals(session, people)
    done("antiviral_courses")
    disease = build_cmv_disease(session, people)
    done("cmv_disease")
    genotypes, mutations = build_genotypes(session, people)
    done("genotypes")
    audit_trail = build_audit_trail(session, people)
    done("audit_trail")
    return [participants, viral_loads, antivirals, disease, genotypes, mutations, time_to_event,
            audit_trail]


def is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA
