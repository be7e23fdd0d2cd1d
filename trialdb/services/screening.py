"""Screening: eligibility, consent or non-opposition, and inclusion.

The decisions come from `trialdb.study` (eligibility and consent rules);
these use cases gather the facts from the records, store the computed
decision beside the answers and keep the participant's status in step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from trialdb.crf.definitions import FormSpec
from trialdb.errors import Conflict, InvalidInput
from trialdb.models import ConsentRecord, EligibilityAssessment, Participant
from trialdb.services import audit, form_entry
from trialdb.services.actor import Actor
from trialdb.study.consent import (
    ConsentDecision,
    ConsentFacts,
    Signatory,
    assess_consent,
    expected_regime,
    minor_on_consent,
    recommended_signatories,
    required_signatories,
)
from trialdb.study.eligibility import EligibilityDecision, EligibilityFacts, assess_eligibility
from trialdb.study.timeline import AGE_OF_MAJORITY, age_at, minimum_age_at
from trialdb.vocab import ParticipantStatus

#: Which ConsentRecord column holds each signatory's date.
SIGNATURE_FIELDS: dict[Signatory, str] = {
    Signatory.PATIENT: "patient_signed_on",
    Signatory.CHILD_ASSENT: "child_assent_on",
    Signatory.PARENT_1: "parent_1_signed_on",
    Signatory.PARENT_2: "parent_2_signed_on",
    Signatory.LEGAL_REPRESENTATIVE: "legal_representative_signed_on",
    Signatory.INVESTIGATOR: "investigator_signed_on",
}


@dataclass(frozen=True)
class Signatories:
    minor: bool
    required: frozenset[Signatory]
    recommended: frozenset[Signatory]
    #: Consent in the month of the 18th birthday: minor or adult is the
    #: investigator's statement, or minor when none is given.
    birthday_month: bool = False
    stated: bool = False

    def fields(self, which: frozenset[Signatory]) -> list[str]:
        return [SIGNATURE_FIELDS[s] for s in Signatory if s in which]


@dataclass(frozen=True)
class ScreeningState:
    eligibility: EligibilityAssessment | None
    consent: ConsentRecord | None
    consent_decision: ConsentDecision | None
    decision: EligibilityDecision

    @property
    def may_include(self) -> bool:
        return self.decision.included_allowed


def signatories_for(participant: Participant, consent_on: date, only_one_parent_alive: bool,
                    minor_at_consent: bool | None = None) -> Signatories:
    """Who must sign on that date, from the part, the age and the investigator's
    statement of minor or adult (trialdb.study.consent).

    A statement contradicting the birth month is left out here (the save refuses
    it with a message on its field), so the page can still show who signs.
    """
    year, month = participant.birth_year, participant.birth_month
    if (consent_on.year, consent_on.month) < (year, month):
        consent_on = date(year, month, 1)
    birthday_month = minimum_age_at(year, month, consent_on) < AGE_OF_MAJORITY <= age_at(
        year, month, consent_on)
    stated = birthday_month and minor_at_consent is not None
    minor = minor_on_consent(ConsentFacts(
        part=participant.part, regime=expected_regime(participant.part), consent_on=consent_on,
        birth_year=year, birth_month=month, today=consent_on,
        minor_at_consent=minor_at_consent if stated else None))
    child_age = age_at(year, month, consent_on) if minor else None
    return Signatories(
        minor=minor,
        required=required_signatories(participant.part, minor, only_one_parent_alive,
                                      child_age_years=child_age),
        recommended=recommended_signatories(participant.part, minor, child_age_years=child_age),
        birthday_month=birthday_month,
        stated=stated,
    )


def _consent_record(session: Session, participant_id: int) -> ConsentRecord | None:
    return session.scalar(select(ConsentRecord).where(
        ConsentRecord.participant_id == participant_id, ConsentRecord.is_deleted.is_(False)
    ).order_by(ConsentRecord.id.desc()).limit(1))


def _eligibility_record(session: Session, participant_id: int) -> EligibilityAssessment | None:
    return session.scalar(select(EligibilityAssessment).where(
        EligibilityAssessment.participant_id == participant_id,
        EligibilityAssessment.is_deleted.is_(False)))


def consent_decision(participant: Participant, values: Mapping[str, Any],
                     today: date) -> ConsentDecision:
    return assess_consent(ConsentFacts(
        part=participant.part,
        regime=expected_regime(participant.part),
        consent_on=values["consent_on"],
        birth_year=participant.birth_year,
        birth_month=participant.birth_month,
        today=today,
        document_date=values.get("document_date"),
        only_one_parent_alive=bool(values.get("only_one_parent_alive")),
        patient_signed_on=values.get("patient_signed_on"),
        child_assent_on=values.get("child_assent_on"),
        parent_1_signed_on=values.get("parent_1_signed_on"),
        parent_2_signed_on=values.get("parent_2_signed_on"),
        legal_representative_signed_on=values.get("legal_representative_signed_on"),
        investigator_signed_on=values.get("investigator_signed_on"),
        minor_at_consent=values.get("minor_at_consent"),
        withdrawn_on=values.get("withdrawn_on"),
        withdrawal_data_choice=values.get("withdrawal_data_choice"),
    ))


def _record_values(record: Any, names: list[str]) -> dict[str, Any]:
    return {name: getattr(record, name) for name in names}


_CONSENT_FIELDS = ["consent_on", "document_date", "only_one_parent_alive", *SIGNATURE_FIELDS.values(),
                   "minor_at_consent", "withdrawn_on", "withdrawal_data_choice"]


def eligibility_decision(participant: Participant, answers: EligibilityAssessment | None,
                         consent: ConsentDecision | None,
                         values: Mapping[str, Any] | None = None) -> EligibilityDecision:
    source: Mapping[str, Any] = values if values is not None else (
        _record_values(answers, ["assessed_on", "car_t_for_refractory_disease", "cmv_igg_positive",
                                 "social_security_affiliation", "under_guardianship",
                                 "ame_beneficiary"]) if answers is not None else {})
    reference = source.get("assessed_on") or participant.screened_on
    return assess_eligibility(EligibilityFacts(
        birth_year=participant.birth_year,
        birth_month=participant.birth_month,
        reference_date=reference,
        car_t_for_refractory_all_or_b_lymphoma=source.get("car_t_for_refractory_disease"),
        cmv_igg_positive=source.get("cmv_igg_positive"),
        social_security_affiliation=source.get("social_security_affiliation"),
        under_guardianship_or_curatorship=source.get("under_guardianship"),
        ame_beneficiary=source.get("ame_beneficiary"),
        consent=consent,
    ))


def screening_state(session: Session, participant: Participant,
                    today: date | None = None) -> ScreeningState:
    today = today or date.today()
    answers = _eligibility_record(session, participant.id)
    consent = _consent_record(session, participant.id)
    decision_of_consent = (consent_decision(participant, _record_values(consent, _CONSENT_FIELDS),
                                            today) if consent is not None else None)
    return ScreeningState(answers, consent, decision_of_consent,
                          eligibility_decision(participant, answers, decision_of_consent))


def _stored_decision(decision: EligibilityDecision) -> str:
    if decision.pending:
        return "pending"
    return "eligible" if decision.eligible else "not_eligible"


def _sync_status(session: Session, actor: Actor, participant: Participant,
                 decision: EligibilityDecision) -> None:
    """Screening <-> screen failure follow the decision; inclusion stays explicit."""
    if participant.status not in (ParticipantStatus.SCREENING, ParticipantStatus.SCREEN_FAILURE):
        return
    failed_for_good = not decision.pending and not decision.included_allowed
    new = ParticipantStatus.SCREEN_FAILURE if failed_for_good else ParticipantStatus.SCREENING
    if new is participant.status:
        return
    old = participant.status
    participant.status = new
    session.flush()
    audit.record(session, actor, audit.Entry(
        action="update", entity="participant", entity_id=participant.id,
        study_number=participant.study_number, site_code=participant.site.code,
        changes={"status": [old, new]},
        reason="; ".join(f.en for f in decision.failures) or None,
    ))


def save_eligibility(session: Session, actor: Actor, participant: Participant, form: FormSpec,
                     save: form_entry.FormSave, today: date | None = None) -> EligibilityDecision:
    today = today or date.today()
    form_entry.check_form(session, form, participant, save, today)
    state = screening_state(session, participant, today)
    decision = eligibility_decision(participant, None, state.consent_decision, save.values)
    values = {**save.values, "decision": _stored_decision(decision),
              "failed_criteria": [str(c) for c in decision.failed_criteria]}
    _save(session, actor, participant, form, state.eligibility, save, values)
    _sync_status(session, actor, participant, decision)
    return decision


def save_consent(session: Session, actor: Actor, participant: Participant, form: FormSpec,
                 save: form_entry.FormSave, today: date | None = None) -> ConsentDecision:
    today = today or date.today()
    form_entry.check_form(session, form, participant, save, today)
    decision = consent_decision(participant, save.values, today)
    values = {**save.values, "regime": expected_regime(participant.part),
              "is_valid": decision.valid}
    state = screening_state(session, participant, today)
    _save(session, actor, participant, form, state.consent, save, values)
    _sync_status(session, actor, participant,
                 eligibility_decision(participant, state.eligibility, decision))
    if decision.withdrawn and participant.status is ParticipantStatus.INCLUDED:
        _set_status(session, actor, participant, ParticipantStatus.WITHDRAWN,
                    "consent withdrawn")
    return decision


def _save(session: Session, actor: Actor, participant: Participant, form: FormSpec,
          record: Any, save: form_entry.FormSave, values: Mapping[str, Any]) -> None:
    from trialdb.services import records

    if record is None:
        records.create_record(session, actor, participant, form.model, values,
                              complete=save.complete)
    else:
        records.update_record(session, actor, record, values,
                              expected_version=save.expected_version, reason=save.reason,
                              complete=save.complete)


def _set_status(session: Session, actor: Actor, participant: Participant,
                status: ParticipantStatus, reason: str, **extra: Any) -> None:
    changes: dict[str, list[Any]] = {"status": [participant.status, status]}
    participant.status = status
    for name, value in extra.items():
        changes[name] = [getattr(participant, name), value]
        setattr(participant, name, value)
    session.flush()
    audit.record(session, actor, audit.Entry(
        action="update", entity="participant", entity_id=participant.id,
        study_number=participant.study_number, site_code=participant.site.code,
        changes=changes, reason=reason,
    ))


def include(session: Session, actor: Actor, participant: Participant, included_on: date,
            today: date | None = None) -> None:
    """Include the participant: only when eligibility and consent both allow it."""
    today = today or date.today()
    if participant.status is ParticipantStatus.INCLUDED:
        raise Conflict("The participant is already included.", "Le participant est déjà inclus.")
    if included_on > today:
        raise InvalidInput("The inclusion date is in the future.",
                           "La date d'inclusion est dans le futur.", field="included_on")
    if included_on < participant.screened_on:
        raise InvalidInput("The inclusion date is before screening.",
                           "La date d'inclusion précède la pré-inclusion.", field="included_on")
    state = screening_state(session, participant, today)
    if not state.may_include:
        raise Conflict(
            "Inclusion is not possible yet: " + " ".join(f.en for f in state.decision.failures),
            "Inclusion impossible pour l'instant : "
            + " ".join(f.fr for f in state.decision.failures),
        )
    _set_status(session, actor, participant, ParticipantStatus.INCLUDED, "inclusion",
                included_on=included_on)
