"""The demo cohort as generated, before any database: shape, rules, determinism."""

from __future__ import annotations

import dataclasses
import re
import statistics
from collections import Counter
from datetime import date
from typing import Any

import pytest

from trialdb.demo import SITES, generate_cohort
from trialdb.demo.reference import ACCOUNTS, ASSAY_BY_NAME, REFERENCE_DATE
from trialdb.services.accounts import MIN_PASSWORD_LENGTH
from trialdb.services.cohort import ParticipantBundle
from trialdb.study.consent import ConsentFacts, assess_consent, expected_regime
from trialdb.study.timeline import age_at
from trialdb.study.viral_load import parse_lab_result, to_iu_per_ml
from trialdb.vocab import (
    Antiviral,
    AntiviralIndication,
    CarTProduct,
    Disease,
    ResultState,
    StudyPart,
    Virus,
)

LATEST_DATE = date(2026, 11, 1)
LARGE = 3000


@pytest.fixture(scope="module")
def large() -> list[ParticipantBundle]:
    return generate_cohort(LARGE, seed=11).bundles


def included(bundles: list[ParticipantBundle]) -> list[ParticipantBundle]:
    return [b for b in bundles if b.infusion is not None]


def cmv_series(bundle: ParticipantBundle) -> list[tuple[int, ResultState, float | None]]:
    """(study day, state, IU/mL) of the CMV blood results, in sampling order."""
    assert bundle.infusion is not None
    d0 = bundle.infusion["infused_on"]
    series = []
    for result in bundle.viral_loads:
        assay = ASSAY_BY_NAME[result.assay]
        if assay.virus is not Virus.CMV:
            continue
        parsed = parse_lab_result(result.reported_as, assay.unit, lloq=assay.lloq)
        iu = None
        if parsed.quantified_value is not None:
            converted = to_iu_per_ml(parsed.quantified_value, assay.unit, assay.copies_per_iu)
            assert converted is not None
            iu = float(converted)
        series.append(((result.sampled_on - d0).days, parsed.state, iu))
    return sorted(series, key=lambda item: item[0])


def onset(bundle: ParticipantBundle) -> int | None:
    """First CMV detection after D0 up to D90 (any detection), None when prevalent or none."""
    series = cmv_series(bundle)
    if any(day <= 0 and state is not ResultState.NOT_DETECTED for day, state, _ in series):
        return None
    days = [day for day, state, _ in series if 0 < day <= 90
            and state is not ResultState.NOT_DETECTED]
    return min(days) if days else None


def test_proportions_follow_the_published_series(large: list[ParticipantBundle]) -> None:
    cohort = included(large)
    children = [b for b in cohort
                if age_at(b.birth_year, b.birth_month, b.infusion["infused_on"]) < 18]  # type: ignore[index]
    assert 0.11 <= len(children) / len(cohort) <= 0.19
    ages = [age_at(b.birth_year, b.birth_month, b.infusion["infused_on"])  # type: ignore[index]
            for b in cohort]
    assert min(ages) >= 1 and max(ages) <= 80
    assert 0.06 <= (len(large) - len(cohort)) / len(large) <= 0.16

    onsets = [day for b in cohort if (day := onset(b)) is not None]
    incidence = len(onsets) / len(cohort)
    assert 0.22 <= incidence <= 0.36, incidence  # Kampouri 2024: 27 % (17-38 %)
    assert 15 <= statistics.median(onsets) <= 25  # median onset about day 19-20
    peaks = [max(iu or 0.0 for day, _, iu in cmv_series(b) if 0 < day <= 90)
             for b in cohort if onset(b) is not None]
    quantified_peaks = [peak for peak in peaks if peak > 0]
    assert 70 <= statistics.median(quantified_peaks) <= 250  # median peak about 127 IU/mL

    diseases = Counter(b.infusion["disease"] for b in cohort)  # type: ignore[index]
    assert set(diseases) == {Disease.ALL, Disease.LBCL, Disease.FL, Disease.MCL}
    products = {b.infusion["product"] for b in cohort}  # type: ignore[index]
    assert products == {CarTProduct.TISAGENLECLEUCEL, CarTProduct.AXICABTAGENE,
                        CarTProduct.BREXUCABTAGENE, CarTProduct.LISOCABTAGENE,
                        CarTProduct.OBECABTAGENE}
    parts = Counter(b.part for b in cohort)
    assert parts[StudyPart.RETROSPECTIVE] > 0.3 * len(cohort)
    assert parts[StudyPart.PROSPECTIVE] > 0.3 * len(cohort)
    assert len({b.site_code for b in large}) == len(SITES) >= 4


def test_virology_has_every_state_and_schedule(large: list[ParticipantBundle]) -> None:
    states: dict[Virus, Counter[ResultState]] = {}
    sparse_points: list[int] = []
    for bundle in included(large):
        counts: Counter[Virus] = Counter()
        for result in bundle.viral_loads:
            assay = ASSAY_BY_NAME[result.assay]
            state = parse_lab_result(result.reported_as, assay.unit, lloq=assay.lloq).state
            states.setdefault(assay.virus, Counter())[state] += 1
            counts[assay.virus] += 1
        sparse_points += [counts[Virus.REDONDOVIRUS], counts[Virus.PEGIVIRUS]]
        assert counts[Virus.TTV] <= counts[Virus.CMV] <= 14
    for virus in (Virus.CMV, Virus.TTV, Virus.REDONDOVIRUS, Virus.PEGIVIRUS):
        assert set(states[virus]) == set(ResultState), virus
    assert max(sparse_points) == 3


def test_ttv_rises_before_cmv_in_part_of_those_who_reactivate(
        large: list[ParticipantBundle]) -> None:
    rising = reactivating = 0
    for bundle in included(large):
        first = onset(bundle)
        if first is None or first < 14:
            continue
        reactivating += 1
        d0 = bundle.infusion["infused_on"]  # type: ignore[index]
        ttv = {}
        for result in bundle.viral_loads:
            assay = ASSAY_BY_NAME[result.assay]
            if assay.virus is Virus.TTV:
                parsed = parse_lab_result(result.reported_as, assay.unit, lloq=assay.lloq)
                if parsed.quantified_value is not None:
                    ttv[(result.sampled_on - d0).days] = float(parsed.log10 or 0)
        before = [log for day, log in ttv.items() if first - 16 <= day <= first - 10]
        at = [log for day, log in ttv.items() if first - 2 <= day <= first]
        if before and at and max(at) - min(before) >= 0.8:
            rising += 1
    assert reactivating > 100
    assert 0.25 <= rising / reactivating <= 0.85


def test_antivirals_resistance_disease_and_competing_deaths(
        large: list[ParticipantBundle]) -> None:
    cohort = included(large)
    courses = Counter((a["drug"], a["indication"]) for b in cohort for a in b.antivirals)
    assert courses[(Antiviral.LETERMOVIR, AntiviralIndication.PROPHYLAXIS)] > 0.05 * len(cohort)
    assert courses[(Antiviral.VALGANCICLOVIR, AntiviralIndication.PRE_EMPTIVE)] > 0
    assert courses[(Antiviral.GANCICLOVIR, AntiviralIndication.PRE_EMPTIVE)] > 0
    assert courses[(Antiviral.FOSCARNET, AntiviralIndication.PRE_EMPTIVE)] > 0
    assert sum(len(b.cmv_disease) for b in cohort) >= 2

    refractory = 0
    for bundle in cohort:
        series = cmv_series(bundle)
        d0 = bundle.infusion["infused_on"]  # type: ignore[index]
        for course in bundle.antivirals:
            if course["indication"] is AntiviralIndication.PROPHYLAXIS:
                continue
            start = (course["started_on"] - d0).days
            end = (course["ended_on"] - d0).days if course["ended_on"] else 10_000
            before = [iu for day, _, iu in series if day <= start and iu]
            later = [iu for day, _, iu in series if start + 14 <= day <= end + 1 and iu]
            if before and later and max(later) > 10 * before[-1]:
                refractory += 1
                assert any((gene.value, change) == ("UL54", "G841A")
                           for report in bundle.genotypes for gene, change in report.mutations)
    assert refractory >= 1

    deaths_first = 0
    for bundle in cohort:
        died = bundle.follow_up["died_on"] if bundle.follow_up else None
        if died is not None and (died - bundle.infusion["infused_on"]).days <= 90 \
                and onset(bundle) is None:  # type: ignore[index]
            deaths_first += 1
    assert deaths_first >= 5
    prevalent = sum(1 for b in cohort if any(day <= 0 and state is not ResultState.NOT_DETECTED
                                             for day, state, _ in cmv_series(b)))
    assert 0 < prevalent < 0.06 * len(cohort)
    assert sum(1 for b in cohort if b.follow_up and b.follow_up["later_allo_hsct_on"]) > 0
    assert sum(len(b.deviations) for b in cohort) >= 2


def test_every_included_participant_has_d0_and_cmv_results(
        large: list[ParticipantBundle]) -> None:
    for bundle in included(large):
        series = cmv_series(bundle)
        assert series and series[0][0] in (0, -1, -2)
        assert bundle.follow_up is not None and bundle.clinical_course is not None
        assert bundle.serologies[0]["result"].value == "positive"


def test_screen_failures_have_reasons(large: list[ParticipantBundle]) -> None:
    failures = [b for b in large if b.infusion is None]
    reasons: Counter[str] = Counter()
    for bundle in failures:
        answers = bundle.eligibility
        found = [name for name, failing in (
            ("cmv_seronegative", answers.cmv_igg_positive is False),
            ("no_social_security", answers.social_security_affiliation is False),
            ("guardianship", answers.under_guardianship is True),
            ("ame", answers.ame_beneficiary is True),
            ("not_refractory", answers.car_t_for_refractory_disease is False),
        ) if failing]
        if not found:
            # Still screening: consent or non-opposition awaiting signatures.
            assert bundle.consent is not None
            found = ["consent_pending"]
            facts = ConsentFacts(part=bundle.part, regime=expected_regime(bundle.part),
                                 consent_on=bundle.consent.consent_on,
                                 birth_year=bundle.birth_year, birth_month=bundle.birth_month,
                                 today=REFERENCE_DATE,
                                 **{f.name: getattr(bundle.consent, f.name)
                                    for f in dataclasses.fields(bundle.consent)
                                    if f.name.endswith("signed_on") or f.name in (
                                        "child_assent_on", "document_date",
                                        "only_one_parent_alive")})
            decision = assess_consent(facts)
            assert not decision.valid and decision.missing
        reasons.update(found)
    assert reasons.most_common(1)[0][0] == "cmv_seronegative"
    assert {"no_social_security", "ame", "consent_pending"} <= set(reasons)


def test_consents_carry_the_signatures_the_rules_require(
        large: list[ParticipantBundle]) -> None:
    minors = Counter[str]()
    for bundle in included(large):
        form = bundle.consent
        assert form is not None
        decision = assess_consent(ConsentFacts(
            part=bundle.part, regime=expected_regime(bundle.part), consent_on=form.consent_on,
            birth_year=bundle.birth_year, birth_month=bundle.birth_month, today=REFERENCE_DATE,
            as_of=(form.withdrawn_on - (form.withdrawn_on - form.consent_on) // 2)
            if form.withdrawn_on else None,
            document_date=form.document_date, only_one_parent_alive=form.only_one_parent_alive,
            patient_signed_on=form.patient_signed_on, child_assent_on=form.child_assent_on,
            parent_1_signed_on=form.parent_1_signed_on,
            parent_2_signed_on=form.parent_2_signed_on,
            legal_representative_signed_on=form.legal_representative_signed_on,
            investigator_signed_on=form.investigator_signed_on))
        assert decision.valid, (bundle.site_code, decision.problems, decision.missing)
        if decision.minor:
            minors["legal representative" if form.only_one_parent_alive
                   else "both parents"] += 1
        if bundle.part is StudyPart.PROSPECTIVE:
            assert form.investigator_signed_on < bundle.infusion["infused_on"]  # type: ignore[index,operator]
    assert minors["both parents"] > 0 and minors["legal representative"] > 0


def _all_values(bundle: ParticipantBundle) -> list[Any]:
    values: list[Any] = []

    def walk(item: Any) -> None:
        if dataclasses.is_dataclass(item) and not isinstance(item, type):
            for f in dataclasses.fields(item):
                walk(getattr(item, f.name))
        elif isinstance(item, dict):
            for value in item.values():
                walk(value)
        elif isinstance(item, tuple | list):
            for value in item:
                walk(value)
        else:
            values.append(item)

    walk(bundle)
    return values


def test_no_identifying_data_and_no_date_after_the_cut_off(
        large: list[ParticipantBundle]) -> None:
    names = {f.name for f in dataclasses.fields(ParticipantBundle)}
    assert not names & {"name", "initials", "birth_date", "birth_day", "hospital_number"}
    hospital_number = re.compile(r"\d{6,}")
    full_date = re.compile(r"\d{1,2}/\d{1,2}/\d{4}")
    for bundle in large:
        for value in _all_values(bundle):
            if isinstance(value, date):
                assert value <= LATEST_DATE
            elif isinstance(value, str) and not value.replace(" ", "").isdigit():
                assert not hospital_number.search(value), value
                assert not full_date.search(value), value
    for account in ACCOUNTS:
        assert len(account.password) >= MIN_PASSWORD_LENGTH
        assert account.email.endswith(".invalid")


def test_generation_is_deterministic() -> None:
    first = generate_cohort(200, seed=42)
    assert first.bundles == generate_cohort(200, seed=42).bundles
    assert first.bundles != generate_cohort(200, seed=43).bundles
