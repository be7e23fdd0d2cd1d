"""The time-to-event dataset built from participants entered through the services
(both databases)."""

from __future__ import annotations

import dataclasses
import math
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from tests import factories
from trialdb.analysis.dataset import build_time_to_event, long_data
from trialdb.analysis.day90 import day90_analysis
from trialdb.analysis.loading import count_withdrawn_data_excluded, load_cohort
from trialdb.models import (
    AntiviralCourse,
    Assay,
    CarTInfusion,
    ClinicalCourse,
    ConsentRecord,
    CorticosteroidCourse,
    FollowUp,
    ImmuneMeasurement,
    Participant,
    ViralLoadResult,
)
from trialdb.services import records
from trialdb.services.withdrawal import record_withdrawal
from trialdb.study.endpoint_settings import (
    CompetingEvent,
    PrevalentCases,
    Threshold,
    load_endpoint_settings,
)
from trialdb.vocab import (
    Antiviral,
    AntiviralIndication,
    CarTProduct,
    ConsentRegime,
    Corticosteroid,
    Disease,
    DiseaseStatus,
    LoadUnit,
    Lymphodepletion,
    ParticipantStatus,
    ResultState,
    Specimen,
    TargetAntigen,
    Virus,
    WithdrawalDataChoice,
)

SYSTEM = factories.SYSTEM
D0 = date(2024, 3, 20)


class Cohort:
    """A few participants entered through the services."""

    def __init__(self, db: Session) -> None:
        self.db = db
        self.site = factories.site(db)
        self.cmv = Assay(name=f"CMV PCR {self.site.code}", virus=Virus.CMV, specimen=Specimen.PLASMA,
                         unit=LoadUnit.COPIES_PER_ML, limit_of_detection=20, lloq=62, copies_per_iu=2.0)
        self.cmv_no_factor = Assay(name=f"CMV PCR nf {self.site.code}", virus=Virus.CMV,
                                   specimen=Specimen.PLASMA, unit=LoadUnit.COPIES_PER_ML, lloq=62)
        self.ttv = Assay(name=f"TTV PCR {self.site.code}", virus=Virus.TTV, specimen=Specimen.PLASMA,
                         unit=LoadUnit.COPIES_PER_ML, lloq=250)
        db.add_all([self.cmv, self.cmv_no_factor, self.ttv])
        db.flush()

    def person(self, *, birth: tuple[int, int] = (1970, 5), disease: Disease = Disease.LBCL,
               status: ParticipantStatus = ParticipantStatus.INCLUDED, d0: date = D0,
               allo: bool = False, crs: int = 1) -> Participant:
        p = factories.participant(self.db, self.site, birth=birth, screened_on=d0 - timedelta(days=30))
        records.create_record(self.db, SYSTEM, p, ConsentRecord, {
            "regime": ConsentRegime.CONSENT, "document_version": "v1", "consent_on": d0 - timedelta(days=20),
            "patient_signed_on": d0 - timedelta(days=20), "investigator_signed_on": d0 - timedelta(days=20),
        })
        records.create_record(self.db, SYSTEM, p, CarTInfusion, {
            "infused_on": d0, "product": CarTProduct.AXICABTAGENE, "target_antigen": TargetAntigen.CD19,
            "disease": disease, "disease_status": DiseaseStatus.PROGRESSIVE, "prior_lines": 2,
            "prior_allo_hsct": allo, "bridging_therapy": True, "lymphodepletion": Lymphodepletion.FLU_CY,
        })
        records.create_record(self.db, SYSTEM, p, ClinicalCourse, {
            "crs_grade": crs, "icans_grade": 0, "tocilizumab": crs >= 2, "ivig": False,
        })
        # status as the screening services would leave it (their own tests cover inclusion)
        p.status = status
        self.db.flush()
        return p

    def load(self, p: Participant, day: int, state: ResultState, value: float | None = None, *,
             assay: Assay | None = None, virus: Virus = Virus.CMV) -> ViralLoadResult:
        chosen = assay or (self.ttv if virus is Virus.TTV else self.cmv)
        return records.create_record(self.db, SYSTEM, p, ViralLoadResult, {
            "virus": virus, "specimen": Specimen.PLASMA, "sampled_on": D0 + timedelta(days=day),
            "assay_id": chosen.id, "state": state, "value": value, "unit": LoadUnit.COPIES_PER_ML,
        })

    def follow_up(self, p: Participant, **values: Any) -> None:
        records.create_record(self.db, SYSTEM, p, FollowUp, {"icu_admission": False,
                                                             "lost_to_follow_up": False, **values})


ND, BLQ, Q = ResultState.NOT_DETECTED, ResultState.BELOW_LLOQ, ResultState.QUANTIFIED


def row_of(frame: Any, p: Participant) -> Any:
    rows = frame[frame["participant_id"] == p.id]
    assert len(rows) == 1
    return rows.iloc[0]


def test_dataset_rows(db: Session) -> None:
    c = Cohort(db)
    settings = load_endpoint_settings()

    reactivated = c.person(birth=(2012, 1), disease=Disease.ALL)  # paediatric
    c.load(reactivated, 0, ND)
    c.load(reactivated, 7, ND)
    first = c.load(reactivated, 14, Q, 5000)
    second = c.load(reactivated, 21, Q, 12000)
    c.load(reactivated, 10, Q, 4.0e6, virus=Virus.TTV)
    c.load(reactivated, -3, Q, 1.0e5, virus=Virus.TTV)
    records.create_record(db, SYSTEM, reactivated, AntiviralCourse, {
        "drug": Antiviral.VALGANCICLOVIR, "indication": AntiviralIndication.PRE_EMPTIVE,
        "started_on": D0 + timedelta(days=22), "ended_on": D0 + timedelta(days=40)})
    records.create_record(db, SYSTEM, reactivated, CorticosteroidCourse, {
        "drug": Corticosteroid.DEXAMETHASONE, "daily_dose_mg": 10, "started_on": D0 + timedelta(days=2),
        "ended_on": D0 + timedelta(days=5)})
    records.create_record(db, SYSTEM, reactivated, ImmuneMeasurement, {
        "measured_on": D0 - timedelta(days=1), "lymphocytes_per_ul": 120, "igg_g_per_l": 6.1})

    died = c.person(allo=True)
    c.load(died, 0, ND)
    c.load(died, 7, ND)
    c.follow_up(died, died_on=D0 + timedelta(days=12), last_contact_on=D0 + timedelta(days=12))

    censored = c.person()
    c.load(censored, 7, ND)
    c.load(censored, 28, BLQ, assay=c.cmv)  # any detection: this is a reactivation
    c.load(censored, 35, ND)

    long_follow = c.person(status=ParticipantStatus.COMPLETED)
    for day in (0, 30, 60, 100):
        c.load(long_follow, day, ND)

    prevalent = c.person()
    c.load(prevalent, -2, Q, 300)
    c.load(prevalent, 14, ND)

    no_factor = c.person()
    c.load(no_factor, 7, ND)
    unknown = c.load(no_factor, 14, Q, 90000, assay=c.cmv_no_factor)

    kept = c.person()
    c.load(kept, 7, ND)
    c.load(kept, 30, Q, 800)  # after the withdrawal: not known to the study
    record_withdrawal(db, SYSTEM, kept, withdrawn_on=D0 + timedelta(days=20),
                      data_choice=WithdrawalDataChoice.KEEP, today=date(2026, 1, 1))
    gone = c.person()
    c.load(gone, 7, Q, 900)
    record_withdrawal(db, SYSTEM, gone, withdrawn_on=D0 + timedelta(days=20),
                      data_choice=WithdrawalDataChoice.EXCLUDE, today=date(2026, 1, 1))
    screening = c.person(status=ParticipantStatus.SCREENING)
    c.load(screening, 7, Q, 900)
    no_infusion = factories.participant(db, c.site)
    no_infusion.status = ParticipantStatus.INCLUDED
    deleted = c.load(long_follow, 45, Q, 99999)
    records.delete_record(db, SYSTEM, deleted, "typed in the wrong participant")
    db.flush()

    cohort = [p for p in load_cohort(db) if p.site_code == c.site.code]
    ids = {p.participant_id for p in cohort}
    assert gone.id not in ids and screening.id not in ids  # never read
    assert count_withdrawn_data_excluded(db) >= 1
    dataset = build_time_to_event(cohort, settings)
    frame = dataset.data
    assert frame.attrs["settings_hash"] == settings.settings_hash
    assert set(frame["settings_hash"]) == {settings.settings_hash}

    r = row_of(frame, reactivated)
    assert (r["time"], r["status"], r["status_label"]) == (14, 1, "cmv_reactivation")
    assert r["source_result_ids"] == str(first.id)
    assert r["age_group"] == "paediatric" and r["paediatric"] == 1.0
    assert r["disease_group"] == "ALL" and r["disease_all"] == 1.0
    assert r["corticosteroids_any"] == 1.0
    assert r["corticosteroid_dose_pred_eq_mg"] == pytest.approx(4 * 10 * 5 / 0.75)
    assert r["lymphopenia"] == 1.0 and r["hypogammaglobulinaemia"] == 0.0
    assert r["ttv_log10_baseline"] == pytest.approx(5.0)
    assert r["cscmvi_day"] == 22 and r["cscmvi_reason"] == "pre_emptive_therapy"
    assert r["cscmvi_source_result_ids"] == f"{first.id} {second.id}"
    assert r["peak_source_result_ids_plasma"] == str(second.id)
    # 5000 copies/mL / 2 copies per IU = 2500 IU/mL; peak 12000 / 2 = 6000 IU/mL
    assert r["peak_log10_iu_per_ml_plasma"] == pytest.approx(math.log10(6000))
    assert math.isnan(r["peak_log10_iu_per_ml_whole_blood"])

    d = row_of(frame, died)
    assert (d["time"], d["status"]) == (12, 2)
    assert d["prior_allo_hsct"] == 1.0 and d["age_group"] == "adult"
    assert math.isnan(d["lymphopenia"]) and math.isnan(d["ttv_log10_baseline"])

    assert (row_of(frame, censored)["time"], row_of(frame, censored)["status"]) == (28, 1)
    lf = row_of(frame, long_follow)
    assert (lf["time"], lf["status"], lf["censoring_basis"]) == (90, 0, "horizon")
    assert (row_of(frame, no_factor)["time"], row_of(frame, no_factor)["status"]) == (14, 1)
    assert row_of(frame, no_factor)["not_comparable_result_ids"] == ""
    k = row_of(frame, kept)
    assert (k["time"], k["status"], k["participant_status"]) == (7, 0, "withdrawn")

    assert prevalent.id not in set(frame["participant_id"])
    apart = row_of(dataset.prevalent, prevalent)
    assert apart["prevalent_day"] == -2
    assert dataset.prevalent.attrs["settings_hash"] == settings.settings_hash
    reasons = {(e.participant_id, e.reason) for e in dataset.exclusions}
    assert (prevalent.id, "prevalent_dnaemia") in reasons
    assert (no_infusion.id, "no_infusion") in reasons
    assert len(frame) == 6

    # a sensitivity analysis is one setting away
    iu = dataclasses.replace(settings, threshold=Threshold.AT_OR_ABOVE_VALUE,
                             prevalent_cases=PrevalentCases.EXCLUDE)
    strict = build_time_to_event(cohort, iu)
    assert strict.data.attrs["settings_hash"] == iu.settings_hash != settings.settings_hash
    # 2500 IU/mL on day 14 qualifies; the below-LLOQ result does not
    assert (row_of(strict.data, reactivated)["time"], row_of(strict.data, reactivated)["status"]) == (14, 1)
    assert (row_of(strict.data, censored)["time"], row_of(strict.data, censored)["status"]) == (35, 0)
    # copies/mL without factor cannot be compared to 1000 IU/mL: reported, not counted
    nf = row_of(strict.data, no_factor)
    assert (nf["time"], nf["status"]) == (7, 0)
    assert nf["not_comparable_result_ids"] == str(unknown.id)
    # 300 copies/mL on D-2 is 150 IU/mL: not DNAemia at 1000 IU/mL, so not prevalent either
    assert strict.prevalent.empty and (row_of(strict.data, prevalent)["status"]) == 0
    # with exclude, prevalent cases are counted, not listed apart
    low = dataclasses.replace(settings, prevalent_cases=PrevalentCases.EXCLUDE)
    dropped = build_time_to_event(cohort, low)
    assert dropped.prevalent.empty and dropped.exclusion_counts()["prevalent_dnaemia"] == 1


def test_other_competing_events_and_long_data(db: Session) -> None:
    c = Cohort(db)
    settings = dataclasses.replace(load_endpoint_settings(), competing_events=(
        CompetingEvent.DEATH, CompetingEvent.LATER_ALLO_HSCT))
    p = c.person()
    for day in (0, 7, 14, 21, 28):
        c.load(p, day, ND)
    c.load(p, 1, Q, 1.0e6, virus=Virus.TTV)
    c.load(p, 8, ND, virus=Virus.TTV)
    c.follow_up(p, later_allo_hsct_on=D0 + timedelta(days=25), last_contact_on=D0 + timedelta(days=60))
    records.create_record(db, SYSTEM, p, CorticosteroidCourse, {
        "drug": Corticosteroid.METHYLPREDNISOLONE, "daily_dose_mg": 80, "started_on": D0 + timedelta(days=3),
        "ended_on": D0 + timedelta(days=9)})
    cohort = [x for x in load_cohort(db) if x.participant_id == p.id]
    dataset = build_time_to_event(cohort, settings)
    assert (dataset.data.iloc[0]["time"], dataset.data.iloc[0]["status"]) == (25, 3)
    assert build_time_to_event(cohort, load_endpoint_settings()).data.iloc[0]["time"] == 28

    long = long_data(cohort, dataset)
    assert long.attrs["settings_hash"] == settings.settings_hash
    got = [tuple(r) for r in long[["start", "stop", "status", "corticosteroids"]].itertuples(index=False)]
    # cuts: steroids start day 3, end day 9 -> 10; TTV day 1 + 7 = 8, day 8 + 7 = 15
    assert got == [(0, 3, 0, 0.0), (3, 8, 0, 1.0), (8, 10, 0, 1.0), (10, 15, 0, 0.0), (15, 25, 3, 0.0)]
    ttv = long["ttv_log10_lagged"].tolist()
    assert math.isnan(ttv[0]) and math.isnan(ttv[1])
    assert ttv[2:] == [6.0, 6.0, 0.0]


def test_cohort_is_read_in_a_few_queries(db: Session) -> None:
    c = Cohort(db)
    for _ in range(6):
        p = c.person()
        c.load(p, 7, ND)
        c.load(p, 14, Q, 900)
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    bind = db.get_bind()
    event.listen(bind, "before_cursor_execute", count)
    try:
        cohort = load_cohort(db)
    finally:
        event.remove(bind, "before_cursor_execute", count)
    assert len(cohort) >= 6
    assert len(statements) <= 10


def test_day90_analysis_on_a_small_cohort(db: Session) -> None:
    c = Cohort(db)
    settings = load_endpoint_settings()
    outcomes = [(10, 1), (20, 1), (30, None), (15, "death"), (40, 1), (60, None)]
    for i, (day, what) in enumerate(outcomes):
        p = c.person(birth=(2010, 1) if i % 2 else (1960, 1),
                     disease=Disease.ALL if i < 3 else Disease.LBCL)
        c.load(p, 0, ND)
        if what == 1:
            c.load(p, day, Q, 2000)
        elif what == "death":
            c.load(p, 5, ND)
            c.follow_up(p, died_on=D0 + timedelta(days=day))
        else:
            c.load(p, day, ND)
    cohort = [x for x in load_cohort(db) if x.site_code == c.site.code]
    dataset = build_time_to_event(cohort, settings)
    result = day90_analysis(dataset, long_data(cohort, dataset))
    assert result.n == 6
    assert result.events == {"censored": 2, "cmv_reactivation": 3, "death": 1}
    # Aalen–Johansen by hand: day 10 reactivation (6 at risk), 15 death (5), 20 reactivation (4),
    # 30 censored, 40 reactivation (2 at risk), 60 censored. Event-free survival just before
    # 10, 20, 40: 1, 4/6, 3/6; F(90) = 1 * 1/6 + 4/6 * 1/4 + 3/6 * 1/2.
    expected = 1 / 6 + (4 / 6) * (1 / 4) + (3 / 6) * (1 / 2)
    assert result.d90["estimate"] == pytest.approx(expected, abs=1e-12)
    assert result.d90["lower"] is not None and result.d90["lower"] < expected < result.d90["upper"]  # type: ignore[operator]
    as_dict = result.to_dict()
    assert as_dict["d90_cumulative_incidence"]["settings_hash"] == settings.settings_hash
    assert {g.variable for g in result.group_tests} == {"age_group", "disease_group"}
    assert all(g.error is None and g.df == 1 for g in result.group_tests)
    names = {m.name: m for m in result.models}
    assert set(names) == {"cause_specific_cox", "fine_gray", "time_varying_cause_specific_cox"}
    # 3 events for several covariates: the events-per-variable warning is carried
    assert any("per covariate" in w for w in names["cause_specific_cox"].warnings)
    assert "prior_allo_hsct" in names["cause_specific_cox"].dropped  # no one had one
