"""Eligibility: the protocol's inclusion and exclusion criteria.

Every criterion is judged on its own; an unanswered one (None) is a failure
of its own kind, *pending*, so that an assessment still being filled in is
not taken for a screen failure.

Decisions
---------
* Age: 1 year and older (paediatric 1-18 or adult, no upper limit). A given
  age in completed years is used as is; from a birth year and month the age
  must be *certain* on the reference date (`timeline.minimum_age_at`). Both
  given must agree, otherwise InvalidInput.
* CMV IgG negative fails inclusion criterion 2 and meets exclusion criterion
  1: both are reported, as the screening form has a line for each.
* `eligible` reads the medical and administrative criteria; `included_allowed`
  also needs a valid consent or non-opposition for the participant's part.
* Consent not yet recorded, or recorded with signatures still missing and
  nothing wrong, is pending; a withdrawn, wrong-regime or wrongly dated
  record is a failure to correct.
* `pending` is true when nothing fails for good but something is still
  unanswered: the assessment can still end in an inclusion.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

from trialdb.errors import InvalidInput
from trialdb.study.consent import ConsentDecision
from trialdb.study.reasons import Bilingual, fr_date
from trialdb.study.timeline import age_at, certain_from, minimum_age_at
from trialdb.vocab import ParticipantStatus, StrEnum

MINIMUM_AGE: Final = 1
_MAX_AGE: Final = 130


class Criterion(StrEnum):
    INCLUSION_AGE = "inclusion_age"
    INCLUSION_INDICATION = "inclusion_indication"
    INCLUSION_CMV_SEROPOSITIVE = "inclusion_cmv_seropositive"
    INCLUSION_CONSENT = "inclusion_consent"
    EXCLUSION_CMV_SERONEGATIVE = "exclusion_cmv_seronegative"
    EXCLUSION_NO_SOCIAL_SECURITY = "exclusion_no_social_security"
    EXCLUSION_GUARDIANSHIP = "exclusion_guardianship"
    EXCLUSION_AME = "exclusion_ame"


@dataclass(frozen=True)
class EligibilityFacts:
    """The answers of the screening form; None means not yet answered.

    The age is either `age_years` (completed years at infusion or screening)
    or `birth_year`, `birth_month` and `reference_date` (infusion or
    screening date). `consent` is the assessment of the consent record.
    """

    age_years: int | None = None
    birth_year: int | None = None
    birth_month: int | None = None
    reference_date: dt.date | None = None
    car_t_for_refractory_all_or_b_lymphoma: bool | None = None
    cmv_igg_positive: bool | None = None
    social_security_affiliation: bool | None = None
    under_guardianship_or_curatorship: bool | None = None
    ame_beneficiary: bool | None = None
    consent: ConsentDecision | None = None


@dataclass(frozen=True)
class CriterionFailure(Bilingual):
    criterion: Criterion
    en: str
    fr: str
    pending: bool = False  # not yet answered, rather than failed


@dataclass(frozen=True)
class EligibilityDecision:
    eligible: bool
    included_allowed: bool
    pending: bool
    failures: tuple[CriterionFailure, ...]

    @property
    def failed_criteria(self) -> tuple[Criterion, ...]:
        return tuple(failure.criterion for failure in self.failures)

    @property
    def status(self) -> ParticipantStatus:
        """Where the assessment leaves the participant."""
        if self.included_allowed:
            return ParticipantStatus.INCLUDED
        return ParticipantStatus.SCREENING if self.pending else ParticipantStatus.SCREEN_FAILURE


def _unanswered(criterion: Criterion, en: str, fr: str) -> CriterionFailure:
    return CriterionFailure(
        criterion, f"Not yet answered: {en}", f"Pas encore renseigné : {fr}", pending=True
    )


def _check_age_years(facts: EligibilityFacts) -> None:
    age = facts.age_years
    if age is not None and (isinstance(age, bool) or not 0 <= age <= _MAX_AGE):
        raise InvalidInput(
            en=f"Age {age!r} is not plausible: enter completed years, 0 to {_MAX_AGE}.",
            fr=f"L'âge {age!r} n'est pas plausible : saisissez les années révolues, 0 à {_MAX_AGE}.",
            field="age_years",
        )


def _age_failure(facts: EligibilityFacts) -> CriterionFailure | None:
    _check_age_years(facts)
    year, month, on = facts.birth_year, facts.birth_month, facts.reference_date
    birth_known = year is not None and month is not None and on is not None
    if facts.age_years is None and not birth_known:
        return _unanswered(
            Criterion.INCLUSION_AGE,
            "age in completed years, or birth year and month with the infusion or "
            "screening date.",
            "âge en années révolues, ou année et mois de naissance avec la date de "
            "perfusion ou de sélection.",
        )
    certain = facts.age_years
    if year is not None and month is not None and on is not None:
        youngest, oldest = minimum_age_at(year, month, on), age_at(year, month, on)
        if certain is not None and not youngest <= certain <= oldest:
            raise InvalidInput(
                en=f"Age {certain} does not match a birth in {month:02d}/{year} "
                f"on {on.isoformat()}.",
                fr=f"L'âge {certain} ne correspond pas à une naissance en {month:02d}/{year} "
                f"au {fr_date(on)}.",
                field="age_years",
            )
        if certain is None:
            certain = youngest
            if youngest < MINIMUM_AGE <= oldest:
                since = certain_from(year, month, MINIMUM_AGE)
                return CriterionFailure(
                    Criterion.INCLUSION_AGE,
                    f"Age of 1 year not certain on {on.isoformat()} from the birth month "
                    f"{month:02d}/{year} (certain from {since.isoformat()}): enter the age in "
                    "completed years from the source documents.",
                    f"Âge d'un an non certain au {fr_date(on)} d'après le mois de "
                    f"naissance {month:02d}/{year} (certain à partir du "
                    f"{fr_date(since)}) : saisissez l'âge en années révolues "
                    "d'après les documents sources.",
                )
    if certain is not None and certain < MINIMUM_AGE:
        return CriterionFailure(
            Criterion.INCLUSION_AGE,
            f"Age under 1 year ({certain}): the study includes patients aged 1 year and older.",
            f"Âge inférieur à un an ({certain}) : l'étude inclut les patients âgés d'un an "
            "et plus.",
        )
    return None


def _consent_failure(consent: ConsentDecision | None) -> CriterionFailure | None:
    if consent is None:
        return _unanswered(
            Criterion.INCLUSION_CONSENT,
            "consent or non-opposition not recorded.",
            "consentement ou non-opposition non saisi.",
        )
    if consent.valid:
        return None
    if consent.problems:
        return CriterionFailure(
            Criterion.INCLUSION_CONSENT,
            " ".join(["Consent or non-opposition not valid:", *(p.en for p in consent.problems)]),
            " ".join(["Consentement ou non-opposition non valide :",
                      *(p.fr for p in consent.problems)]),
        )
    return CriterionFailure(
        Criterion.INCLUSION_CONSENT,
        " ".join(["Consent or non-opposition incomplete:", *(m.en for m in consent.missing)]),
        " ".join(["Consentement ou non-opposition incomplet :", *(m.fr for m in consent.missing)]),
        pending=True,
    )


def _judge(
    answer: bool | None,
    fails_on: bool,
    criterion: Criterion,
    question: tuple[str, str],
    failure: tuple[str, str],
) -> CriterionFailure | None:
    """A yes/no criterion: pending when unanswered, failed when `answer` is `fails_on`."""
    if answer is None:
        return _unanswered(criterion, *question)
    return CriterionFailure(criterion, *failure) if answer is fails_on else None


def assess_eligibility(facts: EligibilityFacts) -> EligibilityDecision:
    """Judge every criterion; see the module's decisions."""
    judged = [
        _age_failure(facts),
        _judge(
            facts.car_t_for_refractory_all_or_b_lymphoma,
            False,
            Criterion.INCLUSION_INDICATION,
            (
                "CAR-T cells for refractory acute leukaemia or B-cell lymphoma?",
                "cellules CAR-T pour une leucémie aiguë ou un lymphome B réfractaire ?",
            ),
            (
                "The patient does not receive CAR-T cells for a refractory acute leukaemia or "
                "B-cell lymphoma (inclusion criterion 1).",
                "Le patient ne reçoit pas de cellules CAR-T pour une leucémie aiguë ou un "
                "lymphome B réfractaire (critère d'inclusion 1).",
            ),
        ),
        _judge(
            facts.cmv_igg_positive,
            False,
            Criterion.INCLUSION_CMV_SEROPOSITIVE,
            ("CMV IgG serology before infusion.", "sérologie CMV IgG avant la perfusion."),
            (
                "CMV IgG not positive before infusion: the study includes CMV-seropositive "
                "patients only (inclusion criterion 2).",
                "IgG CMV non positives avant la perfusion : l'étude n'inclut que des patients "
                "séropositifs pour le CMV (critère d'inclusion 2).",
            ),
        ),
        _consent_failure(facts.consent),
        None
        if facts.cmv_igg_positive is not False
        else CriterionFailure(
            Criterion.EXCLUSION_CMV_SERONEGATIVE,
            "CMV-seronegative patient (exclusion criterion).",
            "Patient séronégatif pour le CMV (critère d'exclusion).",
        ),
        _judge(
            facts.social_security_affiliation,
            False,
            Criterion.EXCLUSION_NO_SOCIAL_SECURITY,
            (
                "affiliation to a social security scheme (as beneficiary or assignee).",
                "affiliation à un régime de sécurité sociale (bénéficiaire ou ayant droit).",
            ),
            (
                "Not affiliated to a social security scheme (exclusion criterion).",
                "Non affilié à un régime de sécurité sociale (critère d'exclusion).",
            ),
        ),
        _judge(
            facts.under_guardianship_or_curatorship,
            True,
            Criterion.EXCLUSION_GUARDIANSHIP,
            ("under guardianship or curatorship?", "sous tutelle ou curatelle ?"),
            (
                "Patient under guardianship or curatorship (exclusion criterion).",
                "Patient sous tutelle ou curatelle (critère d'exclusion).",
            ),
        ),
        _judge(
            facts.ame_beneficiary,
            True,
            Criterion.EXCLUSION_AME,
            (
                "covered by AME (state medical aid)?",
                "bénéficiaire de l'AME (aide médicale de l'État) ?",
            ),
            (
                "Patient covered by AME, state medical aid (exclusion criterion).",
                "Patient bénéficiaire de l'AME, aide médicale de l'État (critère d'exclusion).",
            ),
        ),
    ]
    failures = tuple(failure for failure in judged if failure is not None)
    return EligibilityDecision(
        eligible=all(f.criterion is Criterion.INCLUSION_CONSENT for f in failures),
        included_allowed=not failures,
        pending=bool(failures) and all(f.pending for f in failures),
        failures=failures,
    )
