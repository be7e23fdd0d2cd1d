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
    ConsentProblemCode,
    Signatory,
    assess_consent,
    expected_regime,
    minor_on_consent,
    recommended_signatories,
    required_signatories,
)
from trialdb.vocab import ConsentRegime, StudyPart, WithdrawalDataChoice

D = dt.date
RETRO = StudyPart.RETROSPECTIVE
PROSP = StudyPart.PROSPECTIVE
NON_OPPOSITION = ConsentRegime.NON_OPPOSITION
CONSENT = ConsentRegime.CONSENT
PATIENT = Signatory.PATIENT
CHILD = Signatory.CHILD_ASSENT
P1 = Signatory.PARENT_1
P2 = Signatory.PARENT_2
LR = Signatory.LEGAL_REPRESENTATIVE
INV = Signatory.INVESTIGATOR
Code = ConsentProblemCode

CONSENT_ON = D(2024, 6, 10)
TODAY = D(2024, 9, 1)
DOCUMENT = D(2024, 1, 15)
FIELD = {
    PATIENT: "patient_signed_on",
    CHILD: "child_assent_on",
    P1: "parent_1_signed_on",
    P2: "parent_2_signed_on",
    LR: "legal_representative_signed_on",
    INV: "investigator_signed_on",
}
#: Birth (year, month) giving that age, certain, on CONSENT_ON.
BORN = {None: (1990, 3), 3: (2021, 1), 6: (2018, 1), 7: (2017, 1), 12: (2012, 1), 17: (2007, 1)}


def make_facts(
    part: StudyPart,
    age: int | None,
    signed: dict[Signatory, dt.date] | frozenset[Signatory] | set[Signatory],
    *,
    regime: ConsentRegime | None = None,
    only_one_parent_alive: bool = False,
    **changes: Any,
) -> ConsentFacts:
    """A record for an adult (age None) or a minor of `age`, everyone signing on
    CONSENT_ON unless `signed` gives dates."""
    dates = signed if isinstance(signed, dict) else dict.fromkeys(signed, CONSENT_ON)
    year, month = BORN[age]
    facts = ConsentFacts(
        part=part,
        regime=expected_regime(part) if regime is None else regime,
        consent_on=CONSENT_ON,
        birth_year=year,
        birth_month=month,
        today=TODAY,
        document_date=DOCUMENT,
        only_one_parent_alive=only_one_parent_alive,
    )
    signatures: dict[str, Any] = {FIELD[who]: day for who, day in dates.items()}
    return dataclasses.replace(facts, **signatures, **changes)


def codes(decision: ConsentDecision) -> list[ConsentProblemCode]:
    return [problem.code for problem in decision.problems]


# --- who must sign: every combination ----------------------------------------------------

# part, minor, only one parent alive, child age -> required signatories
REQUIRED = [
    (RETRO, False, False, None, {PATIENT, INV}),
    (RETRO, False, True, None, {PATIENT, INV}),
    (RETRO, True, False, 17, {P1, P2, CHILD, INV}),
    (RETRO, True, False, 12, {P1, P2, CHILD, INV}),
    (RETRO, True, False, 7, {P1, P2, CHILD, INV}),
    (RETRO, True, False, 6, {P1, P2, INV}),
    (RETRO, True, False, 3, {P1, P2, INV}),
    (RETRO, True, False, None, {P1, P2, CHILD, INV}),  # unknown age: ask the child
    (RETRO, True, True, 17, {CHILD, LR, INV}),
    (RETRO, True, True, 12, {CHILD, LR, INV}),
    (RETRO, True, True, 7, {CHILD, LR, INV}),
    (RETRO, True, True, 6, {LR, INV}),
    (RETRO, True, True, 3, {LR, INV}),
    (RETRO, True, True, None, {CHILD, LR, INV}),
    (PROSP, False, False, None, {PATIENT, INV}),
    (PROSP, False, True, None, {PATIENT, INV}),
    (PROSP, True, False, 17, {P1, P2, INV}),
    (PROSP, True, False, 12, {P1, P2, INV}),
    (PROSP, True, False, 7, {P1, P2, INV}),
    (PROSP, True, False, 3, {P1, P2, INV}),
    (PROSP, True, False, None, {P1, P2, INV}),
    (PROSP, True, True, 17, {LR, INV}),
    (PROSP, True, True, 12, {LR, INV}),
    (PROSP, True, True, 3, {LR, INV}),
    (PROSP, True, True, None, {LR, INV}),
]


@pytest.mark.parametrize(("part", "minor", "one_parent", "child_age", "expected"), REQUIRED)
def test_required_signatories(
    part: StudyPart, minor: bool, one_parent: bool, child_age: int | None, expected: set[Signatory]
) -> None:
    assert required_signatories(part, minor, one_parent, child_age_years=child_age) == expected


@pytest.mark.parametrize(
    ("part", "minor", "child_age", "expected"),
    [
        (PROSP, True, 17, {CHILD}),
        (PROSP, True, 7, {CHILD}),
        (PROSP, True, None, {CHILD}),
        (PROSP, True, 6, set()),
        (PROSP, False, None, set()),
        (RETRO, True, 12, set()),  # required there, not merely recommended
        (RETRO, True, 3, set()),
        (RETRO, False, None, set()),
    ],
)
def test_recommended_signatories(
    part: StudyPart, minor: bool, child_age: int | None, expected: set[Signatory]
) -> None:
    assert recommended_signatories(part, minor, child_age_years=child_age) == expected


def test_expected_regime() -> None:
    assert expected_regime(RETRO) is NON_OPPOSITION
    assert expected_regime(PROSP) is CONSENT


# --- assess_consent on every combination -------------------------------------------------

# part, age on the date of consent (None: adult), only one parent alive -> required
CASES = [
    (RETRO, None, False, {PATIENT, INV}),
    (RETRO, None, True, {PATIENT, INV}),
    (RETRO, 17, False, {P1, P2, CHILD, INV}),
    (RETRO, 17, True, {CHILD, LR, INV}),
    (RETRO, 12, False, {P1, P2, CHILD, INV}),
    (RETRO, 12, True, {CHILD, LR, INV}),
    (RETRO, 7, False, {P1, P2, CHILD, INV}),
    (RETRO, 7, True, {CHILD, LR, INV}),
    (RETRO, 6, False, {P1, P2, INV}),
    (RETRO, 6, True, {LR, INV}),
    (RETRO, 3, False, {P1, P2, INV}),
    (RETRO, 3, True, {LR, INV}),
    (PROSP, None, False, {PATIENT, INV}),
    (PROSP, None, True, {PATIENT, INV}),
    (PROSP, 17, False, {P1, P2, INV}),
    (PROSP, 17, True, {LR, INV}),
    (PROSP, 12, False, {P1, P2, INV}),
    (PROSP, 12, True, {LR, INV}),
    (PROSP, 7, False, {P1, P2, INV}),
    (PROSP, 7, True, {LR, INV}),
    (PROSP, 6, False, {P1, P2, INV}),
    (PROSP, 6, True, {LR, INV}),
    (PROSP, 3, False, {P1, P2, INV}),
    (PROSP, 3, True, {LR, INV}),
]


def _required(part: StudyPart, age: int | None, one_parent: bool) -> set[Signatory]:
    (expected,) = [e for p, a, o, e in CASES if (p, a, o) == (part, age, one_parent)]
    return expected


@pytest.mark.parametrize(("part", "age", "one_parent"), [case[:3] for case in CASES])
def test_complete_record_is_valid(part: StudyPart, age: int | None, one_parent: bool) -> None:
    required = _required(part, age, one_parent)
    decision = assess_consent(make_facts(part, age, required, only_one_parent_alive=one_parent))
    assert decision.valid
    assert decision.minor is (age is not None)
    assert decision.required == required
    assert decision.regime_expected is expected_regime(part)
    assert decision.missing == ()
    assert decision.problems == ()
    assert decision.unexpected == ()
    assert not decision.withdrawn


@pytest.mark.parametrize(("part", "age", "one_parent"), [case[:3] for case in CASES])
def test_each_missing_signatory_invalidates_and_is_named(
    part: StudyPart, age: int | None, one_parent: bool
) -> None:
    required = _required(part, age, one_parent)
    for absent in required:
        decision = assess_consent(
            make_facts(part, age, required - {absent}, only_one_parent_alive=one_parent)
        )
        assert not decision.valid
        assert [m.signatory for m in decision.missing] == [absent]
        assert decision.problems == ()
    nobody = assess_consent(make_facts(part, age, set(), only_one_parent_alive=one_parent))
    assert not nobody.valid
    assert {m.signatory for m in nobody.missing} == required
    assert [m.signatory for m in nobody.missing] == [s for s in Signatory if s in required]


@pytest.mark.parametrize(
    ("part", "absent", "en", "fr"),
    [
        (RETRO, PATIENT, "Missing: non-opposition of the patient.",
         "Manquant : non-opposition du patient."),
        (RETRO, INV, "Missing: signature of the investigator.",
         "Manquant : signature de l'investigateur."),
        (PROSP, PATIENT, "Missing: signature of the patient on the consent form.",
         "Manquant : signature du patient sur le formulaire de consentement."),
        (PROSP, INV, "Missing: signature of the investigator.",
         "Manquant : signature de l'investigateur."),
    ],
)  # fmt: skip
def test_missing_messages_adult(part: StudyPart, absent: Signatory, en: str, fr: str) -> None:
    decision = assess_consent(make_facts(part, None, {PATIENT, INV} - {absent}))
    (missing,) = decision.missing
    assert (missing.en, missing.fr) == (en, fr)
    assert missing.message("fr") == fr
    assert missing.message("en") == en
    assert missing.message("de") == en


@pytest.mark.parametrize(
    ("part", "one_parent", "absent", "en", "fr"),
    [
        (RETRO, False, P2, "Missing: non-opposition of the second parent.",
         "Manquant : non-opposition du second parent."),
        (RETRO, False, CHILD, "Missing: non-opposition of the child.",
         "Manquant : non-opposition de l'enfant."),
        (RETRO, True, LR, "Missing: non-opposition of the legal representative.",
         "Manquant : non-opposition du représentant légal."),
        (PROSP, False, P1, "Missing: signature of the first parent on the consent form.",
         "Manquant : signature du premier parent sur le formulaire de consentement."),
        (PROSP, True, LR, "Missing: signature of the legal representative on the consent form.",
         "Manquant : signature du représentant légal sur le formulaire de consentement."),
    ],
)  # fmt: skip
def test_missing_messages_minor(
    part: StudyPart, one_parent: bool, absent: Signatory, en: str, fr: str
) -> None:
    required = _required(part, 12, one_parent)
    decision = assess_consent(
        make_facts(part, 12, required - {absent}, only_one_parent_alive=one_parent)
    )
    (missing,) = decision.missing
    assert (missing.signatory, missing.en, missing.fr) == (absent, en, fr)


# --- regime --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("part", "regime", "en_fragment", "fr_fragment"),
    [
        (RETRO, CONSENT, "a non-opposition is expected", "une non-opposition est attendue"),
        (PROSP, NON_OPPOSITION, "a written consent is expected",
         "un consentement écrit est attendu"),
    ],
)  # fmt: skip
def test_wrong_regime_is_invalid(
    part: StudyPart, regime: ConsentRegime, en_fragment: str, fr_fragment: str
) -> None:
    decision = assess_consent(make_facts(part, None, {PATIENT, INV}, regime=regime))
    assert not decision.valid
    assert decision.missing == ()
    assert codes(decision) == [Code.WRONG_REGIME]
    assert en_fragment in decision.problems[0].en
    assert fr_fragment in decision.problems[0].fr
    assert decision.regime_expected is expected_regime(part)


def test_missing_messages_follow_the_expected_regime_not_the_recorded_one() -> None:
    decision = assess_consent(make_facts(RETRO, None, {INV}, regime=CONSENT))
    assert decision.missing[0].en == "Missing: non-opposition of the patient."


# --- dates ---------------------------------------------------------------------------------


def test_signature_in_the_future() -> None:
    later = TODAY + dt.timedelta(days=1)
    decision = assess_consent(make_facts(PROSP, None, {PATIENT: CONSENT_ON, INV: later}))
    assert not decision.valid
    assert codes(decision) == [Code.SIGNATURE_IN_FUTURE]
    assert decision.problems[0].signatory is INV
    # A signature dated in the future does not count as given either.
    assert [m.signatory for m in decision.missing] == [INV]


def test_signatures_on_today_are_fine() -> None:
    facts = make_facts(PROSP, None, {PATIENT: TODAY, INV: TODAY}, consent_on=TODAY)
    assert assess_consent(facts).valid


def test_signature_before_the_document_version() -> None:
    early = DOCUMENT - dt.timedelta(days=1)
    facts = make_facts(
        RETRO, None, {PATIENT: early, INV: CONSENT_ON}, consent_on=early
    )
    decision = assess_consent(facts)
    assert not decision.valid
    assert codes(decision) == [Code.CONSENT_BEFORE_DOCUMENT, Code.SIGNATURE_BEFORE_DOCUMENT]
    assert decision.problems[1].signatory is PATIENT
    assert "précède la date de la version du document" in decision.problems[1].fr


def test_signature_on_the_document_date_is_fine() -> None:
    facts = make_facts(RETRO, None, {PATIENT: DOCUMENT, INV: DOCUMENT}, consent_on=DOCUMENT)
    assert assess_consent(facts).valid


def test_without_document_date_that_rule_is_not_applied() -> None:
    early = DOCUMENT - dt.timedelta(days=100)
    facts = make_facts(
        RETRO, None, {PATIENT: early, INV: early}, consent_on=early, document_date=None
    )
    assert assess_consent(facts).valid


def test_consent_date_in_the_future() -> None:
    later = TODAY + dt.timedelta(days=3)
    decision = assess_consent(make_facts(PROSP, None, {PATIENT: later, INV: later},
                                         consent_on=later))
    assert not decision.valid
    assert Code.CONSENT_IN_FUTURE in codes(decision)
    assert codes(decision).count(Code.SIGNATURE_IN_FUTURE) == 2


def test_signature_before_the_date_of_consent() -> None:
    decision = assess_consent(
        make_facts(PROSP, None, {PATIENT: CONSENT_ON - dt.timedelta(days=2), INV: CONSENT_ON})
    )
    assert codes(decision) == [Code.SIGNATURE_BEFORE_CONSENT]
    assert decision.problems[0].signatory is PATIENT


@pytest.mark.parametrize(
    ("investigator_delay", "valid"), [(-1, False), (0, True), (1, True), (30, True)]
)
def test_investigator_signs_on_or_after_the_others(investigator_delay: int, valid: bool) -> None:
    last_parent = CONSENT_ON + dt.timedelta(days=5)
    signed = {
        P1: CONSENT_ON,
        P2: last_parent,
        CHILD: CONSENT_ON,
        INV: last_parent + dt.timedelta(days=investigator_delay),
    }
    decision = assess_consent(make_facts(RETRO, 12, signed))
    assert decision.valid is valid
    if not valid:
        assert codes(decision) == [Code.INVESTIGATOR_BEFORE_OTHERS]
        assert "l'investigateur signe en dernier" in decision.problems[0].fr


def test_investigator_before_an_unrequired_signature_is_still_a_problem() -> None:
    signed = {P1: CONSENT_ON, P2: CONSENT_ON, INV: CONSENT_ON, CHILD: CONSENT_ON + dt.timedelta(1)}
    decision = assess_consent(make_facts(PROSP, 12, signed))
    assert codes(decision) == [Code.INVESTIGATOR_BEFORE_OTHERS]


# --- validity on a past date ---------------------------------------------------------------


def test_signatures_after_as_of_do_not_count_yet() -> None:
    inv_day = CONSENT_ON + dt.timedelta(days=10)
    facts = make_facts(PROSP, None, {PATIENT: CONSENT_ON, INV: inv_day})
    assert assess_consent(facts).valid
    before = assess_consent(dataclasses.replace(facts, as_of=inv_day - dt.timedelta(days=1)))
    assert not before.valid
    assert [m.signatory for m in before.missing] == [INV]
    assert before.problems == ()
    assert assess_consent(dataclasses.replace(facts, as_of=inv_day)).valid


def test_as_of_before_the_consent() -> None:
    facts = make_facts(PROSP, None, {PATIENT, INV}, as_of=CONSENT_ON - dt.timedelta(days=1))
    decision = assess_consent(facts)
    assert not decision.valid
    assert codes(decision) == [Code.NOT_YET_GIVEN]
    assert len(decision.missing) == 2


def test_as_of_in_the_future_is_refused() -> None:
    with pytest.raises(InvalidInput) as raised:
        assess_consent(make_facts(PROSP, None, {PATIENT, INV}, as_of=TODAY + dt.timedelta(1)))
    assert raised.value.field == "as_of"


# --- withdrawal ----------------------------------------------------------------------------

WITHDRAWN_ON = D(2024, 8, 1)


@pytest.mark.parametrize(
    ("as_of", "valid"),
    [
        (WITHDRAWN_ON - dt.timedelta(days=1), True),
        (WITHDRAWN_ON, False),
        (WITHDRAWN_ON + dt.timedelta(days=1), False),
        (None, False),  # today
    ],
)
def test_withdrawn_consent_is_invalid_from_the_withdrawal_date_on(
    as_of: dt.date | None, valid: bool
) -> None:
    facts = make_facts(
        PROSP, None, {PATIENT, INV}, withdrawn_on=WITHDRAWN_ON,
        withdrawal_data_choice=WithdrawalDataChoice.KEEP, as_of=as_of,
    )  # fmt: skip
    decision = assess_consent(facts)
    assert decision.valid is valid
    assert decision.withdrawn is not valid
    if not valid:
        assert codes(decision) == [Code.WITHDRAWN]
        assert decision.problems[0].fr == "Consentement retiré le 01/08/2024."
        assert decision.problems[0].en == "Consent withdrawn on 2024-08-01."


@pytest.mark.parametrize(
    ("withdrawn_on", "choice", "expected"),
    [
        (WITHDRAWN_ON, None, [Code.WITHDRAWAL_DATA_CHOICE_MISSING, Code.WITHDRAWN]),
        (TODAY + dt.timedelta(days=1), WithdrawalDataChoice.EXCLUDE, [Code.WITHDRAWAL_IN_FUTURE]),
        (CONSENT_ON - dt.timedelta(days=1), WithdrawalDataChoice.EXCLUDE,
         [Code.WITHDRAWN, Code.WITHDRAWAL_BEFORE_CONSENT]),
        (None, WithdrawalDataChoice.KEEP, [Code.DATA_CHOICE_WITHOUT_WITHDRAWAL]),
        (CONSENT_ON, WithdrawalDataChoice.EXCLUDE, [Code.WITHDRAWN]),
    ],
)  # fmt: skip
def test_withdrawal_record_rules(
    withdrawn_on: dt.date | None, choice: WithdrawalDataChoice | None, expected: list[Code]
) -> None:
    facts = make_facts(
        PROSP, None, {PATIENT, INV}, withdrawn_on=withdrawn_on, withdrawal_data_choice=choice
    )
    decision = assess_consent(facts)
    assert not decision.valid
    assert codes(decision) == expected
    assert decision.missing == ()


# --- minor or adult on the date of consent --------------------------------------------------


@pytest.mark.parametrize(
    ("birth", "statement", "minor"),
    [
        ((2006, 6), None, True),  # 18th birthday in June 2024: not certain on 10 June
        ((2006, 6), True, True),
        ((2006, 6), False, False),  # the investigator checked the full date of birth
        ((2006, 5), None, False),
        ((2006, 7), None, True),
        ((2006, 7), True, True),
        ((2006, 5), False, False),
    ],
)
def test_minor_on_consent(birth: tuple[int, int], statement: bool | None, minor: bool) -> None:
    facts = make_facts(PROSP, None, set(), birth_year=birth[0], birth_month=birth[1],
                       minor_at_consent=statement)
    assert minor_on_consent(facts) is minor
    assert assess_consent(facts).minor is minor


@pytest.mark.parametrize(("birth", "statement"), [((2006, 7), False), ((2006, 5), True),
                                                  ((2012, 1), False), ((1990, 3), True)])
def test_statement_contradicting_the_birth_month_is_refused(
    birth: tuple[int, int], statement: bool
) -> None:
    facts = make_facts(PROSP, None, set(), birth_year=birth[0], birth_month=birth[1],
                       minor_at_consent=statement)
    with pytest.raises(InvalidInput) as raised:
        assess_consent(facts)
    assert raised.value.field == "minor_at_consent"
    assert "contredit" in raised.value.messages["fr"]


def test_in_the_month_of_majority_parents_are_required_unless_stated_adult() -> None:
    uncertain = make_facts(PROSP, None, {PATIENT, INV}, birth_year=2006, birth_month=6)
    decision = assess_consent(uncertain)
    assert not decision.valid
    assert {m.signatory for m in decision.missing} == {P1, P2}
    assert decision.unexpected == (PATIENT,)
    assert assess_consent(dataclasses.replace(uncertain, minor_at_consent=False)).valid


def test_birth_after_consent_is_refused() -> None:
    with pytest.raises(InvalidInput):
        assess_consent(make_facts(PROSP, None, set(), birth_year=2024, birth_month=7))


def test_child_age_is_judged_on_the_oldest_possible_age() -> None:
    # Born in June 2017: 6 or 7 on 10 June 2024; the child is asked.
    decision = assess_consent(make_facts(RETRO, 7, {P1, P2, INV}, birth_year=2017,
                                         birth_month=6))
    assert [m.signatory for m in decision.missing] == [CHILD]


# --- signatures nobody asked for, recommended ones --------------------------------------------


@pytest.mark.parametrize(
    ("part", "age", "one_parent", "extra", "unexpected"),
    [
        (PROSP, None, False, {P1}, (P1,)),
        (RETRO, None, False, {CHILD, LR}, (CHILD, LR)),
        (PROSP, 12, False, {PATIENT}, (PATIENT,)),
        (PROSP, 12, False, {LR}, (LR,)),
        (RETRO, 12, True, {P1}, (P1,)),
        (RETRO, 3, False, {CHILD}, ()),  # a young child's expression is welcome
        (PROSP, 3, True, {CHILD}, ()),
        (PROSP, 12, False, {CHILD}, ()),
    ],
)
def test_unexpected_signatures_are_listed_but_do_not_invalidate(
    part: StudyPart,
    age: int | None,
    one_parent: bool,
    extra: set[Signatory],
    unexpected: tuple[Signatory, ...],
) -> None:
    required = _required(part, age, one_parent)
    decision = assess_consent(
        make_facts(part, age, required | extra, only_one_parent_alive=one_parent)
    )
    assert decision.valid
    assert decision.unexpected == unexpected


@pytest.mark.parametrize(
    ("age", "with_child", "recommended_missing"),
    [(12, False, (CHILD,)), (12, True, ()), (7, False, (CHILD,)), (6, False, ()), (3, False, ())],
)
def test_prospective_child_assent_is_recommended_not_required(
    age: int, with_child: bool, recommended_missing: tuple[Signatory, ...]
) -> None:
    signed = {P1, P2, INV} | ({CHILD} if with_child else set())
    decision = assess_consent(make_facts(PROSP, age, signed))
    assert decision.valid
    assert decision.recommended_missing == recommended_missing


# --- properties ------------------------------------------------------------------------------

_DAYS = st.one_of(st.none(), st.dates(min_value=D(2023, 6, 1), max_value=D(2024, 12, 31)))


@given(
    part=st.sampled_from(StudyPart),
    regime=st.sampled_from(ConsentRegime),
    birth=st.tuples(st.integers(1950, 2024), st.integers(1, 12)),
    dates=st.fixed_dictionaries({who: _DAYS for who in Signatory}),
    consent_on=st.dates(min_value=D(2023, 6, 1), max_value=D(2024, 12, 31)),
    document_date=_DAYS,
    one_parent=st.booleans(),
    statement=st.one_of(st.none(), st.booleans()),
    withdrawn_on=_DAYS,
    choice=st.one_of(st.none(), st.sampled_from(WithdrawalDataChoice)),
    as_of=_DAYS,
)
def test_assess_consent_is_total_and_valid_means_complete(
    part: StudyPart,
    regime: ConsentRegime,
    birth: tuple[int, int],
    dates: dict[Signatory, dt.date | None],
    consent_on: dt.date,
    document_date: dt.date | None,
    one_parent: bool,
    statement: bool | None,
    withdrawn_on: dt.date | None,
    choice: WithdrawalDataChoice | None,
    as_of: dt.date | None,
) -> None:
    facts = ConsentFacts(
        part=part, regime=regime, consent_on=consent_on, birth_year=birth[0],
        birth_month=birth[1], today=TODAY, document_date=document_date,
        only_one_parent_alive=one_parent, minor_at_consent=statement,
        withdrawn_on=withdrawn_on, withdrawal_data_choice=choice, as_of=as_of,
    )  # fmt: skip
    signatures: dict[str, Any] = {FIELD[who]: day for who, day in dates.items()}
    facts = dataclasses.replace(facts, **signatures)
    try:
        decision = assess_consent(facts)
    except InvalidInput:
        return
    assert decision.valid is (not decision.missing and not decision.problems)
    missing = {m.signatory for m in decision.missing}
    assert missing <= decision.required
    if not decision.valid:
        return
    on = TODAY if as_of is None else as_of
    assert regime is expected_regime(part)
    for who in decision.required:
        day = dates[who]
        assert day is not None
        assert consent_on <= day <= on
        assert document_date is None or day >= document_date
    investigator = dates[INV]
    assert investigator is not None
    assert all(day is None or day <= investigator for day in dates.values())
    assert withdrawn_on is None or withdrawn_on > on
    assert consent_on <= on
