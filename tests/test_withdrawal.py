"""Withdrawal: the status changes and the data choice is honoured."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests import factories
from trialdb.errors import InvalidInput
from trialdb.models import ConsentRecord, Participant
from trialdb.services import records, withdrawal
from trialdb.vocab import ConsentRegime, ParticipantStatus, WithdrawalDataChoice

CONSENT = {"regime": ConsentRegime.CONSENT, "document_version": "v2.1",
           "consent_on": date(2024, 3, 2), "patient_signed_on": date(2024, 3, 2),
           "investigator_signed_on": date(2024, 3, 2), "is_valid": True}


def _consented(db: Session) -> Participant:
    participant = factories.participant(db, factories.site(db))
    records.create_record(db, factories.SYSTEM, participant, ConsentRecord, CONSENT,
                          complete=True)
    return participant


@pytest.mark.parametrize("choice", list(WithdrawalDataChoice))
def test_withdrawal_sets_status_and_choice(db: Session, choice: WithdrawalDataChoice) -> None:
    participant = _consented(db)
    kept = _consented(db)
    withdrawal.record_withdrawal(db, factories.SYSTEM, participant,
                                 withdrawn_on=date(2024, 6, 1), data_choice=choice)
    assert participant.status is ParticipantStatus.WITHDRAWN
    analysable = set(db.scalars(withdrawal.analysable(select(Participant))).all())
    assert kept in analysable
    assert (participant in analysable) is (choice is WithdrawalDataChoice.KEEP)


def test_withdrawal_dates_are_checked(db: Session) -> None:
    participant = _consented(db)
    with pytest.raises(InvalidInput):
        withdrawal.record_withdrawal(db, factories.SYSTEM, participant,
                                     withdrawn_on=date(2024, 3, 1),
                                     data_choice=WithdrawalDataChoice.KEEP)
    with pytest.raises(InvalidInput):
        withdrawal.record_withdrawal(db, factories.SYSTEM, participant,
                                     withdrawn_on=date(2030, 1, 1),
                                     data_choice=WithdrawalDataChoice.KEEP)
    assert participant.status is ParticipantStatus.SCREENING
