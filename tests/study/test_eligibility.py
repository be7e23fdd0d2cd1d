from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trialdb.errors import InvalidInput
from trialdb.study.consent import (
    ConsentDecision,
    ConsentFacts,
    Signatory,
    assess_consent,
)
from trialdb.study.eligibility import (
    Criterion,
    EligibilityFacts,
    assess_eligibility,
)
from trialdb.vocab import ConsentRegime, ParticipantStatus, StudyPart, WithdrawalDataChoice

D = dt.date
C = Criterion


def _consent(**changes: Any) -> ConsentDecision:
    facts = ConsentFacts(
        part=StudyPart.PROSPECTIVE,
        regime=ConsentRegime.CONSENT,
        consent_on=D(2024, 3, 1),
        birth_year=1970,
        birth_month=4,
        today=D(2024, 6, 1),
        patient_signed_on=D(2024, 3, 1),
        investigator_signed_on=D(2024, 3, 1),
    )
    return assess_consent(dataclasses.replace(facts, **changes))


VALID_CONSENT = _consent()
INCOMPLETE_CONSENT = _consent(investigator_signed_on=None)
WITHDRAWN_CONSENT = _consent(
    withdrawn_on=D(2024, 5, 1), withdrawal_data_choice=WithdrawalDataChoice.KEEP
)
WRONG_REGIME_CONSENT = _consent(regime=ConsentRegime.NON_OPPOSITION)

ELIGIBLE = EligibilityFacts(
    age_years=54,
    car_t_for_refractory_all_or_b_lymphoma=True,
    cmv_igg_positive=True,
    social_security_affiliation=True,
    under_guardianship_or_curatorship=False,
    ame_beneficiary=False,
    consent=VALID_CONSENT,
)


def judge(**changes: Any) -> tuple[bool, bool, bool, list[tuple[Criterion, bool]]]:
    decision = assess_eligibility(dataclasses.replace(ELIGIBLE, **changes))
    failures = [(failure.criterion, failure.pending) for failure in decision.failures]
    return decision.eligible, decision.included_allowed, decision.pending, failures


def test_everything_met_allows_inclusion() -> None:
    decision = assess_eligibility(ELIGIBLE)
    assert decision.eligible
    assert decision.included_allowed
    assert not decision.pending
    assert decision.failures == ()
    assert decision.status is ParticipantStatus.INCLUDED


# changes -> eligible, included_allowed, pending, [(criterion, pending)]
TABLE: list[tuple[dict[str, Any], bool, bool, bool, list[tuple[Criterion, bool]]]] = [
    # one criterion failed for good
    ({"age_years": 0}, False, False, False, [(C.INCLUSION_AGE, False)]),
    ({"car_t_for_refractory_all_or_b_lymphoma": False}, False, False, False,
     [(C.INCLUSION_INDICATION, False)]),
    ({"cmv_igg_positive": False}, False, False, False,
     [(C.INCLUSION_CMV_SEROPOSITIVE, False), (C.EXCLUSION_CMV_SERONEGATIVE, False)]),
    ({"social_security_affiliation": False}, False, False, False,
     [(C.EXCLUSION_NO_SOCIAL_SECURITY, False)]),
    ({"under_guardianship_or_curatorship": True}, False, False, False,
     [(C.EXCLUSION_GUARDIANSHIP, False)]),
    ({"ame_beneficiary": True}, False, False, False, [(C.EXCLUSION_AME, False)]),
    ({"consent": WITHDRAWN_CONSENT}, True, False, False, [(C.INCLUSION_CONSENT, False)]),
    ({"consent": WRONG_REGIME_CONSENT}, True, False, False, [(C.INCLUSION_CONSENT, False)]),
    # one criterion not yet answered
    ({"age_years": None}, False, False, True, [(C.INCLUSION_AGE, True)]),
    ({"car_t_for_refractory_all_or_b_lymphoma": None}, False, False, True,
     [(C.INCLUSION_INDICATION, True)]),
    ({"cmv_igg_positive": None}, False, False, True, [(C.INCLUSION_CMV_SEROPOSITIVE, True)]),
    ({"social_security_affiliation": None}, False, False, True,
     [(C.EXCLUSION_NO_SOCIAL_SECURITY, True)]),
    ({"under_guardianship_or_curatorship": None}, False, False, True,
     [(C.EXCLUSION_GUARDIANSHIP, True)]),
    ({"ame_beneficiary": None}, False, False, True, [(C.EXCLUSION_AME, True)]),
    ({"consent": None}, True, False, True, [(C.INCLUSION_CONSENT, True)]),
    ({"consent": INCOMPLETE_CONSENT}, True, False, True, [(C.INCLUSION_CONSENT, True)]),
    # a definite failure beside unanswered ones: not pending, a screen failure
    ({"cmv_igg_positive": False, "ame_beneficiary": None, "consent": None}, False, False, False,
     [(C.INCLUSION_CMV_SEROPOSITIVE, False), (C.INCLUSION_CONSENT, True),
      (C.EXCLUSION_CMV_SERONEGATIVE, False), (C.EXCLUSION_AME, True)]),
    ({"age_years": None, "consent": WITHDRAWN_CONSENT}, False, False, False,
     [(C.INCLUSION_AGE, True), (C.INCLUSION_CONSENT, False)]),
    # several unanswered: pending
    ({"age_years": None, "cmv_igg_positive": None, "consent": INCOMPLETE_CONSENT}, False, False,
     True, [(C.INCLUSION_AGE, True), (C.INCLUSION_CMV_SEROPOSITIVE, True),
            (C.INCLUSION_CONSENT, True)]),
    # ages
    ({"age_years": 1}, True, True, False, []),
    ({"age_years": 17}, True, True, False, []),
    ({"age_years": 18}, True, True, False, []),
    ({"age_years": 95}, True, True, False, []),
]  # fmt: skip


@pytest.mark.parametrize(("changes", "eligible", "allowed", "pending", "failures"), TABLE)
def test_decision_table(
    changes: dict[str, Any],
    eligible: bool,
    allowed: bool,
    pending: bool,
    failures: list[tuple[Criterion, bool]],
) -> None:
    assert judge(**changes) == (eligible, allowed, pending, failures)


def test_nothing_answered_is_pending_with_every_criterion_listed() -> None:
    decision = assess_eligibility(EligibilityFacts())
    assert decision.pending
    assert not decision.eligible
    assert decision.status is ParticipantStatus.SCREENING
    assert decision.failed_criteria == (
        C.INCLUSION_AGE,
        C.INCLUSION_INDICATION,
        C.INCLUSION_CMV_SEROPOSITIVE,
        C.INCLUSION_CONSENT,
        C.EXCLUSION_NO_SOCIAL_SECURITY,
        C.EXCLUSION_GUARDIANSHIP,
        C.EXCLUSION_AME,
    )
    assert all(f.pending for f in decision.failures)
    assert all(f.en.startswith("Not yet answered: ") for f in decision.failures)
    assert all(f.fr.startswith("Pas encore renseigné : ") for f in decision.failures)


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({}, ParticipantStatus.INCLUDED),
        ({"ame_beneficiary": None}, ParticipantStatus.SCREENING),
        ({"consent": INCOMPLETE_CONSENT}, ParticipantStatus.SCREENING),
        ({"ame_beneficiary": True}, ParticipantStatus.SCREEN_FAILURE),
        ({"consent": WITHDRAWN_CONSENT}, ParticipantStatus.SCREEN_FAILURE),
    ],
)
def test_status(changes: dict[str, Any], status: ParticipantStatus) -> None:
    assert assess_eligibility(dataclasses.replace(ELIGIBLE, **changes)).status is status


@pytest.mark.parametrize(
    ("changes", "en", "fr"),
    [
        ({"cmv_igg_positive": False}, "CMV-seropositive patients only",
         "séropositifs pour le CMV (critère d'inclusion 2)"),
        ({"car_t_for_refractory_all_or_b_lymphoma": False}, "(inclusion criterion 1)",
         "lymphome B réfractaire (critère d'inclusion 1)"),
        ({"social_security_affiliation": False}, "Not affiliated to a social security scheme",
         "Non affilié à un régime de sécurité sociale"),
        ({"under_guardianship_or_curatorship": True}, "guardianship or curatorship",
         "sous tutelle ou curatelle"),
        ({"ame_beneficiary": True}, "AME, state medical aid", "aide médicale de l'État"),
        ({"age_years": 0}, "aged 1 year and older", "âgés d'un an et plus"),
        ({"consent": INCOMPLETE_CONSENT},
         "Consent or non-opposition incomplete: Missing: signature of the investigator.",
         "Consentement ou non-opposition incomplet : Manquant : signature de l'investigateur."),
        ({"consent": WITHDRAWN_CONSENT},
         "Consent or non-opposition not valid: Consent withdrawn on 2024-05-01.",
         "Consentement ou non-opposition non valide : Consentement retiré le 01/05/2024."),
        ({"consent": None}, "Not yet answered: consent or non-opposition not recorded.",
         "Pas encore renseigné : consentement ou non-opposition non saisi."),
    ],
)  # fmt: skip
def test_reasons_in_both_languages(changes: dict[str, Any], en: str, fr: str) -> None:
    decision = assess_eligibility(dataclasses.replace(ELIGIBLE, **changes))
    failure = decision.failures[0]
    assert en in failure.en
    assert fr in failure.fr
    assert failure.message("fr") == failure.fr
    assert failure.message("en") == failure.en


# --- age from the birth month ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("birth", "reference", "failures"),
    [
        ((2020, 3), D(2021, 4, 1), []),  # 1 year certain
        ((2020, 3), D(2021, 3, 31), [(C.INCLUSION_AGE, False)]),  # 0 or 1: not certain
        ((2020, 3), D(2021, 3, 1), [(C.INCLUSION_AGE, False)]),
        ((2020, 3), D(2021, 2, 28), [(C.INCLUSION_AGE, False)]),  # under 1
        ((2020, 3), D(2020, 3, 15), [(C.INCLUSION_AGE, False)]),
        ((2006, 6), D(2024, 6, 10), []),  # adult or minor: both eligible
        ((1940, 1), D(2024, 6, 10), []),
    ],
)
def test_age_from_birth_month(
    birth: tuple[int, int], reference: dt.date, failures: list[tuple[Criterion, bool]]
) -> None:
    changes = {"age_years": None, "birth_year": birth[0], "birth_month": birth[1],
               "reference_date": reference}
    assert judge(**changes)[3] == failures


def test_uncertain_first_birthday_says_when_it_becomes_certain() -> None:
    decision = assess_eligibility(
        dataclasses.replace(ELIGIBLE, age_years=None, birth_year=2020, birth_month=3,
                            reference_date=D(2021, 3, 20))
    )
    (failure,) = decision.failures
    assert "certain from 2021-04-01" in failure.en
    assert "certain à partir du 01/04/2021" in failure.fr
    assert not decision.pending


def test_a_given_age_settles_the_uncertain_month() -> None:
    changes = {"birth_year": 2020, "birth_month": 3, "reference_date": D(2021, 3, 20)}
    assert judge(age_years=1, **changes)[3] == []
    assert judge(age_years=0, **changes)[3] == [(C.INCLUSION_AGE, False)]


@pytest.mark.parametrize("age", [2, 5])
def test_age_contradicting_the_birth_month_is_refused(age: int) -> None:
    facts = dataclasses.replace(ELIGIBLE, age_years=age, birth_year=2020, birth_month=3,
                                reference_date=D(2021, 3, 20))
    with pytest.raises(InvalidInput) as raised:
        assess_eligibility(facts)
    assert raised.value.field == "age_years"


@pytest.mark.parametrize(
    "partial",
    [
        {"birth_year": 2000},
        {"birth_year": 2000, "birth_month": 5},
        {"birth_month": 5, "reference_date": D(2024, 1, 1)},
        {"reference_date": D(2024, 1, 1)},
    ],
)
def test_partial_birth_data_is_not_yet_answered(partial: dict[str, Any]) -> None:
    assert judge(age_years=None, **partial)[2:] == (True, [(C.INCLUSION_AGE, True)])


@pytest.mark.parametrize("age", [-1, 131, True])
def test_implausible_age_is_refused(age: int) -> None:
    with pytest.raises(InvalidInput) as raised:
        assess_eligibility(dataclasses.replace(ELIGIBLE, age_years=age))
    assert raised.value.field == "age_years"


def test_invalid_birth_month_is_refused() -> None:
    with pytest.raises(InvalidInput):
        assess_eligibility(dataclasses.replace(ELIGIBLE, age_years=None, birth_year=2000,
                                               birth_month=13, reference_date=D(2024, 1, 1)))


# --- properties ------------------------------------------------------------------------------

_ANSWER = st.one_of(st.none(), st.booleans())


@given(
    age=st.one_of(st.none(), st.integers(0, 100)),
    indication=_ANSWER,
    igg=_ANSWER,
    social=_ANSWER,
    guardianship=_ANSWER,
    ame=_ANSWER,
    consent=st.sampled_from(
        [None, VALID_CONSENT, INCOMPLETE_CONSENT, WITHDRAWN_CONSENT, WRONG_REGIME_CONSENT]
    ),
)
def test_decision_invariants(
    age: int | None,
    indication: bool | None,
    igg: bool | None,
    social: bool | None,
    guardianship: bool | None,
    ame: bool | None,
    consent: ConsentDecision | None,
) -> None:
    decision = assess_eligibility(
        EligibilityFacts(
            age_years=age,
            car_t_for_refractory_all_or_b_lymphoma=indication,
            cmv_igg_positive=igg,
            social_security_affiliation=social,
            under_guardianship_or_curatorship=guardianship,
            ame_beneficiary=ame,
            consent=consent,
        )
    )
    all_met = (
        age is not None and age >= 1 and indication is True and igg is True and social is True
        and guardianship is False and ame is False
    )  # fmt: skip
    assert decision.eligible is all_met
    assert decision.included_allowed is (all_met and consent is VALID_CONSENT)
    assert decision.included_allowed is (decision.failures == ())
    assert not (decision.pending and decision.included_allowed)
    unanswered = None in (age, indication, igg, social, guardianship, ame) or consent in (
        None, INCOMPLETE_CONSENT
    )  # fmt: skip
    if decision.pending:
        assert unanswered
    if unanswered and not decision.pending:
        assert any(not f.pending for f in decision.failures)
    assert len(set(decision.failed_criteria)) == len(decision.failed_criteria)
    assert decision.failed_criteria == tuple(c for c in Criterion if c in decision.failed_criteria)
    assert all(f.en and f.fr and f.en != f.fr for f in decision.failures)


def test_signatory_names_are_stable() -> None:
    # Stored codes: changing one needs a data migration.
    assert [s.value for s in Signatory] == [
        "patient", "child_assent", "parent_1", "parent_2", "legal_representative", "investigator"
    ]  # fmt: skip
    assert [c.value for c in Criterion] == [
        "inclusion_age", "inclusion_indication", "inclusion_cmv_seropositive",
        "inclusion_consent", "exclusion_cmv_seronegative", "exclusion_no_social_security",
        "exclusion_guardianship", "exclusion_ame",
    ]  # fmt: skip
