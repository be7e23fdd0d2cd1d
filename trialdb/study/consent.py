"""Consent (prospective part) and non-opposition (retrospective part).

Who must sign, as STUDY.md states it (inclusion criteria 3 and 4):

============  =====  ==================  ==============================================
part          minor  only one parent     required
============  =====  ==================  ==============================================
retrospective no     (irrelevant)        patient, investigator
retrospective yes    no                  parent 1, parent 2, child*, investigator
retrospective yes    yes                 child*, legal representative, investigator
prospective   no     (irrelevant)        patient, investigator
prospective   yes    no                  parent 1, parent 2, investigator (child**)
prospective   yes    yes                 legal representative, investigator (child**)
============  =====  ==================  ==============================================

Decisions
---------
* \\* The child's own non-opposition is "age-appropriate" from
  `CHILD_EXPRESSION_AGE` (7, the age from which French information notices
  for children are usually given); it is required at that age in both
  retrospective minor rows, and the age used is the oldest the child can be
  (`timeline.age_at`), so that in doubt the child is asked.
* \\** In the prospective part the protocol requires no signature of the
  child: from the same age the child's assent is *recommended*
  (`ConsentDecision.recommended_missing`), never a cause of invalidity.
* Minor or adult is judged on the date of consent with `timeline.is_minor_at`
  (adult only once 18 is certain). In the month of the 18th birthday the
  investigator, who holds the full date of birth at the site, may state it in
  `minor_at_consent`; a statement contradicting the birth month is refused.
* Dates: the consent date and every signature must not be in the future nor
  before the document version's date; no signature may precede the consent
  date; the investigator signs on or after every other signatory.
* Signatures dated after `as_of` do not count yet (validity on a past date).
* A withdrawn consent is not valid from the withdrawal date on (inclusive);
  the withdrawal needs the choice made for the data already collected.
* A signature nobody requires (a parent for an adult, ...) does not make the
  record invalid; it is listed in `unexpected` for the monitor. The child's
  own expression is never unexpected for a minor.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

from trialdb.errors import InvalidInput
from trialdb.study.reasons import Bilingual, fr_date
from trialdb.study.timeline import AGE_OF_MAJORITY, age_at, minimum_age_at
from trialdb.vocab import ConsentRegime, StrEnum, StudyPart, WithdrawalDataChoice

#: From this age the child's own non-opposition (retrospective) is required
#: and its assent (prospective) recommended.
CHILD_EXPRESSION_AGE: Final = 7


class Signatory(StrEnum):
    PATIENT = "patient"  # an adult patient
    CHILD_ASSENT = "child_assent"  # a minor's own non-opposition or assent
    PARENT_1 = "parent_1"
    PARENT_2 = "parent_2"
    LEGAL_REPRESENTATIVE = "legal_representative"
    INVESTIGATOR = "investigator"


class ConsentProblemCode(StrEnum):
    WRONG_REGIME = "wrong_regime"
    CONSENT_IN_FUTURE = "consent_in_future"
    CONSENT_BEFORE_DOCUMENT = "consent_before_document"
    NOT_YET_GIVEN = "not_yet_given"
    SIGNATURE_IN_FUTURE = "signature_in_future"
    SIGNATURE_BEFORE_DOCUMENT = "signature_before_document"
    SIGNATURE_BEFORE_CONSENT = "signature_before_consent"
    INVESTIGATOR_BEFORE_OTHERS = "investigator_before_others"
    WITHDRAWN = "withdrawn"
    WITHDRAWAL_IN_FUTURE = "withdrawal_in_future"
    WITHDRAWAL_BEFORE_CONSENT = "withdrawal_before_consent"
    WITHDRAWAL_DATA_CHOICE_MISSING = "withdrawal_data_choice_missing"
    DATA_CHOICE_WITHOUT_WITHDRAWAL = "data_choice_without_withdrawal"


# (English "of ...", French "de ...") for each signatory.
_OF: Final[dict[Signatory, tuple[str, str]]] = {
    Signatory.PATIENT: ("the patient", "du patient"),
    Signatory.CHILD_ASSENT: ("the child", "de l'enfant"),
    Signatory.PARENT_1: ("the first parent", "du premier parent"),
    Signatory.PARENT_2: ("the second parent", "du second parent"),
    Signatory.LEGAL_REPRESENTATIVE: ("the legal representative", "du représentant légal"),
    Signatory.INVESTIGATOR: ("the investigator", "de l'investigateur"),
}


@dataclass(frozen=True)
class MissingSignature(Bilingual):
    signatory: Signatory
    en: str
    fr: str


@dataclass(frozen=True)
class ConsentProblem(Bilingual):
    code: ConsentProblemCode
    en: str
    fr: str
    signatory: Signatory | None = None


@dataclass(frozen=True)
class ConsentFacts:
    """A consent or non-opposition record (fields as in `ConsentRecord`).

    `today` is the system's date; `as_of` the date on which validity is asked
    (default: today). `minor_at_consent` is only read when the birth month
    leaves minority uncertain.
    """

    part: StudyPart
    regime: ConsentRegime
    consent_on: dt.date
    birth_year: int
    birth_month: int
    today: dt.date
    document_date: dt.date | None = None
    only_one_parent_alive: bool = False
    patient_signed_on: dt.date | None = None
    child_assent_on: dt.date | None = None
    parent_1_signed_on: dt.date | None = None
    parent_2_signed_on: dt.date | None = None
    legal_representative_signed_on: dt.date | None = None
    investigator_signed_on: dt.date | None = None
    minor_at_consent: bool | None = None
    withdrawn_on: dt.date | None = None
    withdrawal_data_choice: WithdrawalDataChoice | None = None
    as_of: dt.date | None = None

    def signatures(self) -> dict[Signatory, dt.date]:
        """The dated signatures present, whatever their date."""
        dated = {
            Signatory.PATIENT: self.patient_signed_on,
            Signatory.CHILD_ASSENT: self.child_assent_on,
            Signatory.PARENT_1: self.parent_1_signed_on,
            Signatory.PARENT_2: self.parent_2_signed_on,
            Signatory.LEGAL_REPRESENTATIVE: self.legal_representative_signed_on,
            Signatory.INVESTIGATOR: self.investigator_signed_on,
        }
        return {who: day for who, day in dated.items() if day is not None}


@dataclass(frozen=True)
class ConsentDecision:
    valid: bool
    regime_expected: ConsentRegime
    minor: bool
    required: frozenset[Signatory]
    missing: tuple[MissingSignature, ...]
    problems: tuple[ConsentProblem, ...]
    recommended_missing: tuple[Signatory, ...] = ()
    unexpected: tuple[Signatory, ...] = ()

    @property
    def withdrawn(self) -> bool:
        return any(p.code is ConsentProblemCode.WITHDRAWN for p in self.problems)


def expected_regime(part: StudyPart) -> ConsentRegime:
    """Non-opposition for the retrospective part, written consent for the prospective."""
    if part is StudyPart.RETROSPECTIVE:
        return ConsentRegime.NON_OPPOSITION
    return ConsentRegime.CONSENT


def _child_is_asked(child_age_years: int | None) -> bool:
    return child_age_years is None or child_age_years >= CHILD_EXPRESSION_AGE


def required_signatories(
    part: StudyPart,
    minor: bool,
    only_one_parent_alive: bool,
    *,
    child_age_years: int | None = None,
) -> frozenset[Signatory]:
    """Who must sign (see the module's table). An unknown child age asks the child."""
    if not minor:
        return frozenset({Signatory.PATIENT, Signatory.INVESTIGATOR})
    if only_one_parent_alive:
        signers = {Signatory.LEGAL_REPRESENTATIVE, Signatory.INVESTIGATOR}
    else:
        signers = {Signatory.PARENT_1, Signatory.PARENT_2, Signatory.INVESTIGATOR}
    if part is StudyPart.RETROSPECTIVE and _child_is_asked(child_age_years):
        signers.add(Signatory.CHILD_ASSENT)
    return frozenset(signers)


def recommended_signatories(
    part: StudyPart, minor: bool, *, child_age_years: int | None = None
) -> frozenset[Signatory]:
    """Signatures worth recording that the protocol does not require."""
    if minor and part is StudyPart.PROSPECTIVE and _child_is_asked(child_age_years):
        return frozenset({Signatory.CHILD_ASSENT})
    return frozenset()


def minor_on_consent(facts: ConsentFacts) -> bool:
    """Whether the participant counts as a minor on the date of consent."""
    youngest = minimum_age_at(facts.birth_year, facts.birth_month, facts.consent_on)
    oldest = age_at(facts.birth_year, facts.birth_month, facts.consent_on)
    certain: bool | None = None
    if oldest < AGE_OF_MAJORITY:
        certain = True
    elif youngest >= AGE_OF_MAJORITY:
        certain = False
    if certain is None:
        return True if facts.minor_at_consent is None else facts.minor_at_consent
    if facts.minor_at_consent is not None and facts.minor_at_consent is not certain:
        state_en, state_fr = ("a minor", "mineur") if certain else ("an adult", "majeur")
        raise InvalidInput(
            en=f"Born in {facts.birth_month:02d}/{facts.birth_year}, the participant was "
            f"{state_en} on {facts.consent_on.isoformat()}: the statement contradicts it.",
            fr=f"Né(e) en {facts.birth_month:02d}/{facts.birth_year}, le participant était "
            f"{state_fr} le {fr_date(facts.consent_on)} : la déclaration le contredit.",
            field="minor_at_consent",
        )
    return certain


def _missing(signatory: Signatory, regime: ConsentRegime) -> MissingSignature:
    of_en, of_fr = _OF[signatory]
    if signatory is Signatory.INVESTIGATOR:
        en, fr = f"Missing: signature of {of_en}.", f"Manquant : signature {of_fr}."
    elif regime is ConsentRegime.NON_OPPOSITION:
        en, fr = f"Missing: non-opposition of {of_en}.", f"Manquant : non-opposition {of_fr}."
    else:
        en = f"Missing: signature of {of_en} on the consent form."
        fr = f"Manquant : signature {of_fr} sur le formulaire de consentement."
    return MissingSignature(signatory, en, fr)


def _regime_problem(part: StudyPart, regime: ConsentRegime) -> ConsentProblem | None:
    if regime is expected_regime(part):
        return None
    if part is StudyPart.RETROSPECTIVE:
        en = "Retrospective participant: a non-opposition is expected, not a written consent."
        fr = (
            "Participant de la partie rétrospective : une non-opposition est attendue, "
            "pas un consentement écrit."
        )
    else:
        en = "Prospective participant: a written consent is expected, not a non-opposition."
        fr = (
            "Participant de la partie prospective : un consentement écrit est attendu, "
            "pas une non-opposition."
        )
    return ConsentProblem(ConsentProblemCode.WRONG_REGIME, en, fr)


def _consent_date_problems(facts: ConsentFacts, as_of: dt.date) -> list[ConsentProblem]:
    problems: list[ConsentProblem] = []
    day = facts.consent_on
    if day > facts.today:
        problems.append(ConsentProblem(
            ConsentProblemCode.CONSENT_IN_FUTURE,
            f"The date of consent {day.isoformat()} is in the future.",
            f"La date de consentement {fr_date(day)} est dans le futur.",
        ))
    elif day > as_of:
        problems.append(ConsentProblem(
            ConsentProblemCode.NOT_YET_GIVEN,
            f"On {as_of.isoformat()} the consent (given on {day.isoformat()}) did not exist yet.",
            f"Au {fr_date(as_of)}, le consentement (donné le {fr_date(day)}) n'existait pas encore.",
        ))
    if facts.document_date is not None and day < facts.document_date:
        problems.append(ConsentProblem(
            ConsentProblemCode.CONSENT_BEFORE_DOCUMENT,
            f"The date of consent {day.isoformat()} precedes the document version's date "
            f"{facts.document_date.isoformat()}.",
            f"La date de consentement {fr_date(day)} précède la date de la version du document "
            f"{fr_date(facts.document_date)}.",
        ))
    return problems


def _signature_problems(
    facts: ConsentFacts, signed: dict[Signatory, dt.date]
) -> list[ConsentProblem]:
    problems: list[ConsentProblem] = []
    for who, day in signed.items():
        of_en, of_fr = _OF[who]
        if day > facts.today:
            problems.append(ConsentProblem(
                ConsentProblemCode.SIGNATURE_IN_FUTURE,
                f"The signature of {of_en} is dated in the future ({day.isoformat()}).",
                f"La signature {of_fr} est datée dans le futur ({fr_date(day)}).",
                who,
            ))
        if facts.document_date is not None and day < facts.document_date:
            problems.append(ConsentProblem(
                ConsentProblemCode.SIGNATURE_BEFORE_DOCUMENT,
                f"The signature of {of_en} ({day.isoformat()}) precedes the document "
                f"version's date ({facts.document_date.isoformat()}).",
                f"La signature {of_fr} ({fr_date(day)}) précède la date de la version du "
                f"document ({fr_date(facts.document_date)}).",
                who,
            ))
        if day < facts.consent_on:
            problems.append(ConsentProblem(
                ConsentProblemCode.SIGNATURE_BEFORE_CONSENT,
                f"The signature of {of_en} ({day.isoformat()}) precedes the date of consent "
                f"({facts.consent_on.isoformat()}).",
                f"La signature {of_fr} ({fr_date(day)}) précède la date de consentement "
                f"({fr_date(facts.consent_on)}).",
                who,
            ))
    investigator = signed.get(Signatory.INVESTIGATOR)
    others = [day for who, day in signed.items() if who is not Signatory.INVESTIGATOR]
    if investigator is not None and others and investigator < max(others):
        problems.append(ConsentProblem(
            ConsentProblemCode.INVESTIGATOR_BEFORE_OTHERS,
            f"The investigator signed ({investigator.isoformat()}) before another signatory "
            f"({max(others).isoformat()}): the investigator signs last.",
            f"L'investigateur a signé ({fr_date(investigator)}) avant un autre signataire "
            f"({fr_date(max(others))}) : l'investigateur signe en dernier.",
            Signatory.INVESTIGATOR,
        ))
    return problems


def _withdrawal_problems(facts: ConsentFacts, as_of: dt.date) -> list[ConsentProblem]:
    withdrawn_on = facts.withdrawn_on
    if withdrawn_on is None:
        if facts.withdrawal_data_choice is None:
            return []
        return [ConsentProblem(
            ConsentProblemCode.DATA_CHOICE_WITHOUT_WITHDRAWAL,
            "A choice about collected data is recorded without a withdrawal date.",
            "Un choix sur les données recueillies est saisi sans date de retrait.",
        )]
    problems: list[ConsentProblem] = []
    if facts.withdrawal_data_choice is None:
        problems.append(ConsentProblem(
            ConsentProblemCode.WITHDRAWAL_DATA_CHOICE_MISSING,
            "Withdrawal: record whether the data already collected are kept or excluded.",
            "Retrait : indiquez si les données déjà recueillies sont conservées ou exclues.",
        ))
    if withdrawn_on > facts.today:
        problems.append(ConsentProblem(
            ConsentProblemCode.WITHDRAWAL_IN_FUTURE,
            f"The withdrawal date {withdrawn_on.isoformat()} is in the future.",
            f"La date de retrait {fr_date(withdrawn_on)} est dans le futur.",
        ))
    elif withdrawn_on <= as_of:
        problems.append(ConsentProblem(
            ConsentProblemCode.WITHDRAWN,
            f"Consent withdrawn on {withdrawn_on.isoformat()}.",
            f"Consentement retiré le {fr_date(withdrawn_on)}.",
        ))
    if withdrawn_on < facts.consent_on:
        problems.append(ConsentProblem(
            ConsentProblemCode.WITHDRAWAL_BEFORE_CONSENT,
            f"The withdrawal date {withdrawn_on.isoformat()} precedes the date of consent "
            f"{facts.consent_on.isoformat()}.",
            f"La date de retrait {fr_date(withdrawn_on)} précède la date de consentement "
            f"{fr_date(facts.consent_on)}.",
        ))
    return problems


def assess_consent(facts: ConsentFacts) -> ConsentDecision:
    """Whether the record makes a valid consent or non-opposition on `as_of`.

    Valid means: the regime matches the part, every required signatory has
    signed by `as_of`, no date rule is broken and no withdrawal is in force.
    """
    as_of = facts.today if facts.as_of is None else facts.as_of
    if as_of > facts.today:
        raise InvalidInput(
            en=f"Consent validity cannot be judged on a future date ({as_of.isoformat()}).",
            fr=f"La validité du consentement ne peut être jugée à une date future ({fr_date(as_of)}).",
            field="as_of",
        )
    minor = minor_on_consent(facts)
    child_age = age_at(facts.birth_year, facts.birth_month, facts.consent_on) if minor else None
    required = required_signatories(
        facts.part, minor, facts.only_one_parent_alive, child_age_years=child_age
    )
    recommended = recommended_signatories(facts.part, minor, child_age_years=child_age)
    signed = facts.signatures()
    counted = {who for who, day in signed.items() if day <= as_of}

    regime_problem = _regime_problem(facts.part, facts.regime)
    problems = [
        *([] if regime_problem is None else [regime_problem]),
        *_consent_date_problems(facts, as_of),
        *_signature_problems(facts, signed),
        *_withdrawal_problems(facts, as_of),
    ]
    regime = expected_regime(facts.part)
    missing = tuple(_missing(who, regime) for who in Signatory if who in required - counted)
    tolerated = required | recommended | ({Signatory.CHILD_ASSENT} if minor else set())
    return ConsentDecision(
        valid=not missing and not problems,
        regime_expected=regime,
        minor=minor,
        required=required,
        missing=missing,
        problems=tuple(problems),
        recommended_missing=tuple(who for who in Signatory if who in recommended - counted),
        unexpected=tuple(who for who in Signatory if who in counted - tolerated),
    )
