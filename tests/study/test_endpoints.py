"""Derived CMV endpoints: every rule on small hand-made series, and the real
seed series (end of seeds/000_3d491d5dd49acb7a.txt) with its foscarnet course."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from trialdb.errors import InvalidInput
from trialdb.study.endpoint_settings import (
    CensorAt,
    CompetingEvent,
    EndpointSettings,
    Threshold,
    load_endpoint_settings,
    settings_from_mapping,
)
from trialdb.study.endpoints import (
    CsCmviReason,
    DiseaseEpisode,
    FollowUpFacts,
    Judgement,
    LoadResult,
    RefractoryStatus,
    TherapyCourse,
    clinically_significant_infection,
    cmv_test_days,
    derive_endpoints,
    first_reactivation,
    judge_result,
    last_known_test,
    peak_load,
    prevalent_dnaemia,
    recurrences,
    refractory_assessments,
    time_to_clearance,
    time_to_event,
)
from trialdb.vocab import (
    Antiviral,
    AntiviralIndication,
    CmvDiseaseSite,
    DiagnosticCertainty,
    LoadUnit,
    ResultState,
    Specimen,
    Virus,
)

D0 = date(2024, 1, 10)
ANY = EndpointSettings()
LLOQ = EndpointSettings(threshold=Threshold.AT_OR_ABOVE_LLOQ)
IU1000 = EndpointSettings(threshold=Threshold.AT_OR_ABOVE_VALUE)
_ids = itertools.count(1)

ND, BLQ, Q = ResultState.NOT_DETECTED, ResultState.BELOW_LLOQ, ResultState.QUANTIFIED


def result(day: int, state: ResultState = Q, value: float | None = None, *,
           unit: LoadUnit = LoadUnit.IU_PER_ML, specimen: Specimen = Specimen.PLASMA,
           virus: Virus = Virus.CMV, assay: int = 1, lloq: float | None = 50.0,
           factor: float | None = None, on: date | None = None) -> LoadResult:
    if state is Q and value is None:
        value = 500.0
    return LoadResult(next(_ids), virus, specimen, on or D0 + timedelta(days=day), assay, state,
                      value if state is Q else None, unit, lloq, factor)


def day_of(d: date) -> int:
    return (d - D0).days


# --- settings ------------------------------------------------------------------------


def test_settings_from_the_study_file_and_hash_recorded() -> None:
    settings = load_endpoint_settings()
    assert settings.threshold is Threshold.ANY_DETECTION
    assert settings.horizon_days == 90
    assert settings.censor_at is CensorAt.LAST_CMV_TEST
    assert len(settings.settings_hash) == 64
    # a sensitivity analysis is one setting away and changes the hash
    other = dataclasses.replace(settings, threshold=Threshold.AT_OR_ABOVE_VALUE)
    assert other.settings_hash != settings.settings_hash
    # the order of a list setting does not change the hash
    swapped = dataclasses.replace(settings, specimens=tuple(reversed(settings.specimens)))
    assert swapped.settings_hash == settings.settings_hash


def test_settings_refuse_typos_and_bad_values(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="horizon_dys"):
        settings_from_mapping({"horizon_dys": 90})
    with pytest.raises(InvalidInput) as caught:
        settings_from_mapping({"threshold": "above_1000"})
    assert "threshold" in caught.value.message("fr")
    with pytest.raises(InvalidInput):
        settings_from_mapping({"consecutive_detections": 3})
    with pytest.raises(InvalidInput):
        settings_from_mapping({"competing_events": ["new_line"]})  # death always competes
    with pytest.raises(InvalidInput):
        settings_from_mapping({"horizon_days": True})
    study = tmp_path / "study.yaml"
    study.write_text("endpoints:\n  threshold: at_or_above_value\n  threshold_iu_per_ml: 500\n")
    loaded = load_endpoint_settings(study)
    assert loaded.threshold_iu_per_ml == Decimal(500)
    assert loaded.recurrence_gap_days == 28  # default
    assert loaded.as_json_dict()["threshold_iu_per_ml"] == "500"
    broken = tmp_path / "broken.yaml"
    broken.write_text("endpoints: [unclosed\n")
    with pytest.raises(InvalidInput, match="Cannot read"):
        load_endpoint_settings(broken)


# --- judging results -----------------------------------------------------------------


def test_threshold_settings_judge_each_state() -> None:
    nd, blq, low, high = result(1, ND), result(1, BLQ), result(1, Q, 300), result(1, Q, 1000)
    assert [judge_result(r, ANY) for r in (nd, blq, low, high)] == [
        Judgement.NEGATIVE, Judgement.QUALIFIES, Judgement.QUALIFIES, Judgement.QUALIFIES]
    assert [judge_result(r, LLOQ) for r in (nd, blq, low, high)] == [
        Judgement.NEGATIVE, Judgement.NEGATIVE, Judgement.QUALIFIES, Judgement.QUALIFIES]
    assert [judge_result(r, IU1000) for r in (nd, blq, low, high)] == [
        Judgement.NEGATIVE, Judgement.NEGATIVE, Judgement.BELOW_THRESHOLD, Judgement.QUALIFIES]


def test_copies_converted_only_through_the_assays_factor() -> None:
    # 1 IU = 2 copies: 1800 copies/mL = 900 IU/mL < 1000; 2000 copies/mL = 1000 IU/mL
    below = result(1, Q, 1800, unit=LoadUnit.COPIES_PER_ML, factor=2.0)
    at = result(1, Q, 2000, unit=LoadUnit.COPIES_PER_ML, factor=2.0)
    assert judge_result(below, IU1000) is Judgement.BELOW_THRESHOLD
    assert judge_result(at, IU1000) is Judgement.QUALIFIES


def test_copies_without_factor_are_not_comparable_to_an_iu_threshold() -> None:
    huge = result(5, Q, 500_000, unit=LoadUnit.COPIES_PER_ML, factor=None)
    assert judge_result(huge, IU1000) is Judgement.NOT_COMPARABLE
    # ... but it is a detection for the other thresholds
    assert judge_result(huge, ANY) is Judgement.QUALIFIES
    assert judge_result(huge, LLOQ) is Judgement.QUALIFIES
    series = [result(3, ND), huge, result(12, ND)]
    ends = derive_endpoints(D0, series, [], [], IU1000)
    assert ends.reactivation is None
    assert ends.not_comparable_result_ids == (huge.id,)
    assert ends.last_test is not None and ends.last_test.on == D0 + timedelta(days=12)
    # a below-LLOQ copies result without factor: LLOQ cannot be put in IU either
    assert judge_result(result(1, BLQ, unit=LoadUnit.COPIES_PER_ML, lloq=62), IU1000) \
        is Judgement.NOT_COMPARABLE
    # below LLOQ with an LLOQ at or under the threshold is below it
    assert judge_result(result(1, BLQ, lloq=137), IU1000) is Judgement.NEGATIVE


def test_quantified_value_under_a_recorded_lloq_is_not_at_or_above_it() -> None:
    # detected, so not a negative test either
    assert judge_result(result(1, Q, 40, lloq=50), LLOQ) is Judgement.BELOW_THRESHOLD


def test_other_viruses_and_specimens_never_count() -> None:
    series = [result(5, Q, 10**6, virus=Virus.TTV, unit=LoadUnit.COPIES_PER_ML),
              result(6, Q, 5000, specimen=Specimen.STOOL)]
    assert cmv_test_days(series, ANY) == []
    assert first_reactivation(series, D0, ANY) is None
    plasma_only = dataclasses.replace(ANY, specimens=(Specimen.PLASMA,))
    wb = result(7, Q, 900, specimen=Specimen.WHOLE_BLOOD)
    assert first_reactivation([wb], D0, ANY) is not None
    assert first_reactivation([wb], D0, plasma_only) is None


# --- prevalence and first reactivation ------------------------------------------------------


def test_detection_on_d0_is_prevalent_not_incident() -> None:
    on_d0 = result(0, BLQ)
    series = [on_d0, result(7, ND)]
    prevalence = prevalent_dnaemia(series, D0, ANY)
    assert prevalence is not None and prevalence.day == 0
    assert prevalence.source_result_ids == (on_d0.id,)
    assert first_reactivation(series, D0, ANY) is None


def test_prevalence_window() -> None:
    old = result(-8, Q, 2000)
    recent = result(-7, Q, 2000)
    assert prevalent_dnaemia([old, result(0, ND)], D0, ANY) is None
    found = prevalent_dnaemia([old, recent], D0, ANY)
    assert found is not None and found.source_result_ids == (recent.id,) and found.day == -7
    # prevalence follows the threshold too
    assert prevalent_dnaemia([result(-2, BLQ)], D0, LLOQ) is None


def test_first_reactivation_under_each_threshold() -> None:
    series = [result(0, ND), result(7, BLQ), result(14, Q, 300), result(21, Q, 1500), result(28, ND)]
    assert [first_reactivation(series, D0, s).day for s in (ANY, LLOQ, IU1000)] == [7, 14, 21]  # type: ignore[union-attr]
    found = first_reactivation(series, D0, IU1000)
    assert found is not None and found.source_result_ids == (series[3].id,)


def test_below_lloq_only_series() -> None:
    series = [result(d, BLQ) for d in (7, 14, 21)]
    assert first_reactivation(series, D0, ANY).day == 7  # type: ignore[union-attr]
    assert first_reactivation(series, D0, LLOQ) is None
    assert first_reactivation(series, D0, IU1000) is None


def test_two_consecutive_detections() -> None:
    two = dataclasses.replace(ANY, consecutive_detections=2)
    blip, neg, first, second = result(7, Q, 100), result(14, ND), result(21, Q, 200), result(28, Q, 300)
    found = first_reactivation([blip, neg, first, second], D0, two)
    assert found is not None
    assert (found.day, found.confirmed_on) == (21, second.sampled_on)
    assert found.source_result_ids == (first.id, second.id)
    # the last detection of a series cannot be confirmed
    assert first_reactivation([blip, neg, first], D0, two) is None
    # an unknown day (copies without factor, IU threshold) is skipped, not a break
    two_iu = dataclasses.replace(IU1000, consecutive_detections=2)
    a, unknown, b = (result(7, Q, 5000), result(10, Q, 9, unit=LoadUnit.COPIES_PER_ML, lloq=None),
                     result(14, Q, 4000))
    assert first_reactivation([a, unknown, b], D0, two_iu).confirmed_on == b.sampled_on  # type: ignore[union-attr]


def test_same_day_plasma_and_whole_blood_are_one_test() -> None:
    p, wb = result(9, ND), result(9, Q, 700, specimen=Specimen.WHOLE_BLOOD, assay=2)
    days = cmv_test_days([p, wb], ANY)
    assert len(days) == 1 and days[0].judgement is Judgement.QUALIFIES
    assert days[0].result_ids == tuple(sorted((p.id, wb.id)))
    assert first_reactivation([p, wb], D0, ANY).source_result_ids == (wb.id,)  # type: ignore[union-attr]


# --- clearance, recurrence ---------------------------------------------------------------


def test_time_to_clearance() -> None:
    series = [result(10, Q, 800), result(17, BLQ), result(24, ND)]
    # any detection: the below-LLOQ day is still a detection; cleared at 24
    assert time_to_clearance(series, series[0].sampled_on, ANY).days_from_onset == 14  # type: ignore[union-attr]
    # at or above LLOQ: below LLOQ is a clearance state
    cleared = time_to_clearance(series, series[0].sampled_on, LLOQ)
    assert cleared is not None and cleared.days_from_onset == 7
    assert cleared.source_result_ids == (series[1].id,)
    assert time_to_clearance(series[:1], series[0].sampled_on, ANY) is None


def weekly(pattern: str, start: int = 7, step: int = 7) -> list[LoadResult]:
    """'+' quantified, '-' not detected, '.' no test, from day `start` every `step` days."""
    out = []
    for i, mark in enumerate(pattern):
        if mark != ".":
            out.append(result(start + i * step, Q if mark == "+" else ND, 900))
    return out


def test_recurrence_after_four_negative_weeks_under_surveillance() -> None:
    series = weekly("++----+")  # days 7,14 detected; 21..42 negative; 49 detected
    found = recurrences(series, D0, ANY)
    assert [r.day for r in found] == [49]
    assert found[0].negative_since == D0 + timedelta(days=21)
    assert set(found[0].source_result_ids) == {r.id for r in series[2:]}


def test_no_recurrence_after_a_short_gap() -> None:
    assert recurrences(weekly("++---+"), D0, ANY) == []  # 21 days from first negative


def test_no_recurrence_without_surveillance_in_the_gap() -> None:
    # negative on day 21, nothing for 35 days, then detected on day 56: gap not surveilled
    series = [result(7, Q, 900), result(21, ND), result(56, Q, 900)]
    assert recurrences(series, D0, ANY) == []
    # ... unless tests were frequent enough
    dense = [result(7, Q, 900), *[result(d, ND) for d in (21, 35, 49)], result(56, Q, 900)]
    assert [r.day for r in recurrences(dense, D0, ANY)] == [56]


def test_a_low_detection_in_the_gap_restarts_it() -> None:
    series = [result(7, Q, 5000), result(14, ND), result(21, BLQ), result(28, ND), result(35, ND),
              result(42, ND), result(49, Q, 5000)]
    # under any detection the below-LLOQ result is a detection: no recurrence (28 to 49 is 21 days)
    assert recurrences(series, D0, ANY) == []
    # at or above LLOQ: below LLOQ is negative; 14 to 49 is 35 days
    assert [r.day for r in recurrences(series, D0, LLOQ)] == [49]
    # IU threshold: a quantified load below it is a detection below the threshold (not negative)
    series_iu = [result(7, Q, 5000), result(14, ND), result(21, Q, 200),
                 *[result(d, ND) for d in (28, 35, 42)], result(49, Q, 5000)]
    assert recurrences(series_iu, D0, IU1000) == []


# --- clinically significant infection -------------------------------------------------------


def course(start: int, end: int | None, drug: Antiviral = Antiviral.VALGANCICLOVIR,
           indication: AntiviralIndication = AntiviralIndication.PRE_EMPTIVE,
           *, started_on: date | None = None, ended_on: date | None = None) -> TherapyCourse:
    s = started_on or D0 + timedelta(days=start)
    e = ended_on or (None if end is None else D0 + timedelta(days=end))
    return TherapyCourse(next(_ids), drug, indication, s, e)


def test_cscmvi_by_pre_emptive_therapy_after_dnaemia() -> None:
    detection = result(20, Q, 3000)
    therapy = course(23, 40)
    found = clinically_significant_infection([result(13, ND), detection], [therapy], [], D0, ANY)
    assert found is not None
    assert (found.day, found.reason) == (23, CsCmviReason.PRE_EMPTIVE_THERAPY)
    assert found.source_result_ids == (detection.id,)
    assert found.source_course_ids == (therapy.id,)
    # prophylaxis (letermovir) is not pre-emptive therapy
    prophylaxis = course(0, 100, Antiviral.LETERMOVIR, AntiviralIndication.PROPHYLAXIS)
    assert clinically_significant_infection([detection], [prophylaxis], [], D0, ANY) is None
    # therapy without a detection in the 14 days before is not counted
    assert clinically_significant_infection([result(5, Q, 3000)], [therapy], [], D0, ANY) is None


def test_cscmvi_by_end_organ_disease_first() -> None:
    disease = DiseaseEpisode(next(_ids), D0 + timedelta(days=18), CmvDiseaseSite.PNEUMONIA,
                             DiagnosticCertainty.PROBABLE)
    possible = DiseaseEpisode(next(_ids), D0 + timedelta(days=12), CmvDiseaseSite.GASTROINTESTINAL,
                              DiagnosticCertainty.POSSIBLE)
    found = clinically_significant_infection([result(20, Q, 3000)], [course(23, 40)],
                                             [disease, possible], D0, ANY)
    assert found is not None and found.reason is CsCmviReason.END_ORGAN_DISEASE
    assert (found.day, found.source_disease_ids) == (18, (disease.id,))


# --- refractory ---------------------------------------------------------------------------


def test_refractory_rise_of_more_than_one_log() -> None:
    base = result(20, Q, 1000)
    rise = result(35, Q, 10_001)
    found = refractory_assessments([base, result(27, Q, 50_000), rise], [course(21, 50)], ANY)
    # day 27 is before 14 days of therapy: not judged
    assert [a.status for a in found] == [RefractoryStatus.REFRACTORY]
    assert found[0].source_result_ids == (base.id, rise.id)
    assert found[0].therapy_day == 14
    assert found[0].log10_change is not None and found[0].log10_change > 1


def test_exactly_one_log_is_persistent_and_a_fall_is_response() -> None:
    base = result(20, Q, 1000)
    up = refractory_assessments([base, result(35, Q, 10_000)], [course(21, 50)], ANY)
    down = refractory_assessments([base, result(35, Q, 100)], [course(21, 50)], ANY)
    fall = refractory_assessments([base, result(35, Q, 99)], [course(21, 50)], ANY)
    cleared = refractory_assessments([base, result(35, ND)], [course(21, 50)], ANY)
    assert up[0].status is RefractoryStatus.PROBABLE_REFRACTORY
    assert down[0].status is RefractoryStatus.PROBABLE_REFRACTORY
    assert fall[0].status is RefractoryStatus.RESPONDING
    assert cleared[0].status is RefractoryStatus.RESPONDING


def test_different_assays_or_specimens_are_not_compared() -> None:
    base = result(20, Q, 1000, assay=1)
    other_assay = result(35, Q, 100_000, assay=2)
    other_specimen = result(35, Q, 100_000, assay=1, specimen=Specimen.WHOLE_BLOOD)
    found = refractory_assessments([base, other_assay, other_specimen], [course(21, 50)], ANY)
    assert found[0].status is RefractoryStatus.NOT_EVALUABLE


def test_not_evaluable_short_therapy_or_no_baseline() -> None:
    base = result(20, Q, 1000)
    assert refractory_assessments([base, result(35, Q, 5000)], [course(21, 30)], ANY)[0].status \
        is RefractoryStatus.NOT_EVALUABLE
    # baseline sampled after therapy started is not a baseline; nor one older than 7 days
    late = [result(22, Q, 1000), result(36, Q, 100_000)]
    assert refractory_assessments(late, [course(21, 50)], ANY)[0].status is RefractoryStatus.NOT_EVALUABLE
    old = [result(13, Q, 1000), result(36, Q, 100_000)]
    assert refractory_assessments(old, [course(21, 50)], ANY)[0].status is RefractoryStatus.NOT_EVALUABLE
    # prophylaxis is not therapy
    assert refractory_assessments([base], [course(21, 50, Antiviral.LETERMOVIR,
                                                      AntiviralIndication.PROPHYLAXIS)], ANY) == []


def test_switch_of_drug_does_not_restart_the_clock() -> None:
    base = result(20, Q, 1000)
    later = result(36, Q, 20_000)
    switch = [course(21, 30, Antiviral.GANCICLOVIR), course(30, 60, Antiviral.FOSCARNET)]
    found = refractory_assessments([base, later], switch, ANY)
    assert len(found) == 1 and found[0].status is RefractoryStatus.REFRACTORY
    assert found[0].therapy_day == 15 and len(found[0].course_ids) == 2


# The real series: seeds/000_3d491d5dd49acb7a.txt, "CV CMV plasmatique", plasma CMV in
# copies/mL ('<62': below the LLOQ of 62), and the treatment that followed
# ("Foscavir 180 mg/kg 06/08 au 31/08/22 : échec virologique", ...).
SEED_SERIES = """\
14/11/2022 5951
09/11/2022 16734
02/11/2022 39079
25/10/2022 170128
17/10/2022 30002
11/10/2022 50295
03/10/2022 6968
27/09/2022 3045
22/09/2022 3024
19/09/2022 6475
09/09/2022 1645
05/09/2022 8644
29/08/2022 13070
22/08/2022 25792
16/08/2022 10795
08/08/2022 7671
04/08/2022 4488
01/08/2022 3516
25/07/2022 <62
22/07/2022 <62
11/07/2022 187
06/07/2022 76
08/06/2022 <62
11/05/2022 1360
04/05/2022 709
19/04/2022 <62
"""


def seed_results() -> list[LoadResult]:
    out = []
    for n, line in enumerate(SEED_SERIES.splitlines(), start=1):
        when, printed = line.split()
        day, month, year = map(int, when.split("/"))
        below = printed.startswith("<")
        out.append(LoadResult(
            id=n, virus=Virus.CMV, specimen=Specimen.PLASMA, sampled_on=date(year, month, day),
            assay_id=7, state=BLQ if below else Q, value=None if below else float(printed),
            unit=LoadUnit.COPIES_PER_ML, lloq=62.0, copies_per_iu=None,
        ))
    return out


def seed_id(on: date) -> int:
    return next(r.id for r in seed_results() if r.sampled_on == on)


def test_seed_series_with_foscarnet_is_probable_refractory_after_14_days() -> None:
    foscarnet = TherapyCourse(1, Antiviral.FOSCARNET, AntiviralIndication.PRE_EMPTIVE,
                              date(2022, 8, 6), date(2022, 8, 31))
    [assessment] = refractory_assessments(seed_results(), [foscarnet], ANY)
    # baseline: the pre-treatment load, 4488 on 04/08 (08/08 is already on therapy);
    # first result from day 14 (20/08): 25792 on 22/08, up log10(25792/4488) = 0.76 < 1,
    # not fallen by more than 1 log10 -> probable refractory; 29/08 (13070) rises no more.
    assert assessment.status is RefractoryStatus.PROBABLE_REFRACTORY
    assert assessment.baseline_result_id == seed_id(date(2022, 8, 4))
    assert assessment.classified_on == date(2022, 8, 22)
    assert assessment.therapy_day == 16
    assert assessment.log10_change is not None
    assert abs(float(assessment.log10_change) - 0.7594) < 5e-5
    assert assessment.source_result_ids == (seed_id(date(2022, 8, 4)), seed_id(date(2022, 8, 22)))


def test_seed_series_with_all_its_treatment_becomes_refractory() -> None:
    def c(n: int, drug: Antiviral, start: date, end: date | None) -> TherapyCourse:
        return TherapyCourse(n, drug, AntiviralIndication.PRE_EMPTIVE, start, end)

    courses = [
        c(1, Antiviral.FOSCARNET, date(2022, 8, 6), date(2022, 8, 31)),
        c(2, Antiviral.GANCICLOVIR, date(2022, 8, 31), date(2022, 9, 9)),
        c(3, Antiviral.FOSCARNET, date(2022, 9, 9), date(2022, 9, 14)),
        c(4, Antiviral.CIDOFOVIR, date(2022, 9, 14), date(2022, 12, 9)),
        c(5, Antiviral.MARIBAVIR, date(2022, 10, 29), date(2022, 12, 11)),
        TherapyCourse(6, Antiviral.LETERMOVIR, AntiviralIndication.PROPHYLAXIS,
                      date(2022, 12, 11), date(2022, 12, 20)),
        c(7, Antiviral.MARIBAVIR, date(2022, 12, 21), None),
    ]
    first, second = refractory_assessments(seed_results(), courses, ANY)
    assert first.course_ids == (1, 2, 3, 4, 5)
    # 11/10: 50295 vs 4488 is a rise of 1.05 log10 (resistance mutations found on 03/10)
    assert first.status is RefractoryStatus.REFRACTORY
    assert first.classified_on == date(2022, 10, 11)
    assert second.status is RefractoryStatus.NOT_EVALUABLE  # no load after 21/12 in the series


def test_seed_series_peak_needs_a_factor() -> None:
    d0 = date(2022, 7, 1)
    assert peak_load(seed_results(), d0, Specimen.PLASMA, ANY) is None
    with_factor = [dataclasses.replace(r, copies_per_iu=2.0) for r in seed_results()]
    peak = peak_load(with_factor, d0, Specimen.PLASMA, dataclasses.replace(ANY, horizon_days=200))
    assert peak is not None
    assert (peak.on, peak.iu_per_ml) == (date(2022, 10, 25), Decimal(85064))
    assert peak.source_result_ids == (seed_id(date(2022, 10, 25)),)


# --- time to event -----------------------------------------------------------------------


NO_FOLLOW_UP = FollowUpFacts()


def tte(series: list[LoadResult], follow: FollowUpFacts = NO_FOLLOW_UP,
        settings: EndpointSettings = ANY) -> tuple[int, int]:
    ends = derive_endpoints(D0, series, [], [], settings, follow_up_ends_on=follow.withdrawn_on)
    out = time_to_event(D0, ends.reactivation, ends.last_test, follow, settings)
    return out.time, out.status


def test_reactivation_is_status_1_at_its_day() -> None:
    assert tte([result(0, ND), result(7, ND), result(14, Q, 700), result(21, ND)]) == (14, 1)


def test_censored_at_last_cmv_test_or_last_contact() -> None:
    series = [result(0, ND), result(7, ND), result(30, ND)]
    contact = FollowUpFacts(last_contact_on=D0 + timedelta(days=45))
    assert tte(series, contact) == (30, 0)
    assert tte(series, contact, dataclasses.replace(ANY, censor_at=CensorAt.LAST_CONTACT)) == (45, 0)
    # without a contact date, the last test
    assert tte(series, FollowUpFacts(), dataclasses.replace(ANY, censor_at=CensorAt.LAST_CONTACT)) == (30, 0)


def test_administrative_censoring_at_the_horizon() -> None:
    series = [result(d, ND) for d in (0, 30, 60, 120)] + [result(95, Q, 2000)]
    assert tte(series) == (90, 0)
    assert tte([result(90, Q, 2000)]) == (90, 1)  # day 90 is within the horizon


def test_death_competes_and_same_day_detection_wins() -> None:
    series = [result(0, ND), result(7, ND)]
    death = FollowUpFacts(died_on=D0 + timedelta(days=20))
    assert tte(series, death) == (20, 2)
    assert tte([*series, result(20, Q, 900)], death) == (20, 1)
    assert tte(series, FollowUpFacts(died_on=D0 + timedelta(days=120))) == (7, 0)
    assert tte([], FollowUpFacts(died_on=D0)) == (0, 2)  # death on D0


def test_other_competing_events_only_when_selected() -> None:
    series = [result(0, ND), result(7, ND), result(40, ND)]
    follow = FollowUpFacts(later_allo_hsct_on=D0 + timedelta(days=25),
                           new_line_on=D0 + timedelta(days=25))
    assert tte(series, follow) == (40, 0)
    allo = dataclasses.replace(ANY, competing_events=(CompetingEvent.DEATH, CompetingEvent.LATER_ALLO_HSCT))
    assert tte(series, follow, allo) == (25, 3)
    both = dataclasses.replace(ANY, competing_events=tuple(CompetingEvent))
    assert tte(series, follow, both) == (25, 3)  # transplant ranks before a new line
    line = dataclasses.replace(ANY, competing_events=(CompetingEvent.DEATH, CompetingEvent.NEW_LINE))
    assert tte(series, follow, line) == (25, 4)


def test_withdrawal_ends_follow_up() -> None:
    series = [result(0, ND), result(7, ND), result(40, Q, 900)]
    withdrawn = FollowUpFacts(withdrawn_on=D0 + timedelta(days=30))
    assert tte(series, withdrawn) == (7, 0)
    contact = dataclasses.replace(ANY, censor_at=CensorAt.LAST_CONTACT)
    late_contact = FollowUpFacts(withdrawn_on=D0 + timedelta(days=30),
                                 last_contact_on=D0 + timedelta(days=60))
    assert tte(series, late_contact, contact) == (30, 0)


def test_no_test_after_d0_is_censored_at_zero() -> None:
    assert tte([result(0, ND)]) == (0, 0)
    assert tte([]) == (0, 0)


def test_last_known_test_skips_unknown_days() -> None:
    known = result(10, ND)
    unknown = result(20, Q, 5000, unit=LoadUnit.COPIES_PER_ML)
    assert last_known_test([known, unknown], IU1000).on == known.sampled_on  # type: ignore[union-attr]
    assert last_known_test([known, unknown], ANY).on == unknown.sampled_on  # type: ignore[union-attr]
