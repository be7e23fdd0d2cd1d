"""Withdrawal of consent and opposition, and who may therefore be analysed."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from trialdb.errors import InvalidInput
from trialdb.models import ConsentRecord, Participant
from trialdb.services import audit, records
from trialdb.services.actor import Actor, visible_participant
from trialdb.vocab import ParticipantStatus, WithdrawalDataChoice


def record_withdrawal(session: Session, actor: Actor, participant: Participant, *,
                      withdrawn_on: date, data_choice: WithdrawalDataChoice,
                      note: str | None = None, today: date | None = None) -> ConsentRecord:
    """Record the withdrawal on the participant's current consent and set the
    status; `data_choice` says whether data collected before it are kept."""
    visible_participant(session, actor, participant.id)
    consent = session.scalar(
        select(ConsentRecord)
        .where(ConsentRecord.participant_id == participant.id, ConsentRecord.is_deleted.is_(False))
        .order_by(ConsentRecord.id.desc()).limit(1))
    if consent is None:
        raise InvalidInput("There is no consent or non-opposition to withdraw.",
                           "Il n'y a pas de consentement ou de non-opposition à retirer.")
    if consent.withdrawn_on is not None:
        raise InvalidInput("The withdrawal is already recorded.",
                           "Le retrait est déjà enregistré.")
    if withdrawn_on > (today or date.today()):
        raise InvalidInput("The withdrawal date is in the future.",
                           "La date de retrait est dans le futur.", field="withdrawn_on")
    if withdrawn_on < consent.consent_on:
        raise InvalidInput("The withdrawal date is before the consent.",
                           "La date de retrait précède le consentement.", field="withdrawn_on")
    records.update_record(session, actor, consent, {
        "withdrawn_on": withdrawn_on, "withdrawal_data_choice": data_choice,
        "withdrawal_note": (note or "").strip() or None,
    }, reason="withdrawal of consent")
    old_status = participant.status
    participant.status = ParticipantStatus.WITHDRAWN
    session.flush()
    audit.record(session, actor, audit.Entry(
        action="update", entity="participant", entity_id=participant.id,
        study_number=participant.study_number, site_code=participant.site.code,
        changes={"status": [old_status, ParticipantStatus.WITHDRAWN]},
        reason=f"withdrawal, data {data_choice.value}",
    ))
    return consent


def excluded_from_analysis() -> Select[int]:
    """Ids of participants whose data must leave no export or report: those
    who withdrew asking for their data to be excluded."""
    return select(ConsentRecord.participant_id).where(
        ConsentRecord.withdrawal_data_choice == WithdrawalDataChoice.EXCLUDE,
        ConsentRecord.is_deleted.is_(False),
    )


def analysable(statement: Select[tuple[Participant]]) -> Select[tuple[Participant]]:
    """Narrow a query of participants to those whose data may be analysed."""
    return statement.where(Participant.id.not_in(excluded_from_analysis()))
