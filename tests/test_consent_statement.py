"""Minor or adult on the date of consent in the month of the 18th birthday: the
investigator's statement (consent_record.minor_at_consent) through the
screening service and the bulk load, on both databases."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests import factories
from trialdb.crf.definitions import load_forms
from trialdb.crf.dictionary import data_dictionary
from trialdb.errors import InvalidInput
from trialdb.exports.scanner import scan_frame
from trialdb.models import ConsentRecord, Participant
from trialdb.services import cohort, screening
from trialdb.services.form_entry import FormSave
from trialdb.study.consent import Signatory
from trialdb.vocab import Sex, StudyPart

TODAY = date(2026, 11, 21)
BIRTH = (2006, 6)  # 18 in June 2024: on 10 June 2024 minor or adult is not known
BIRTHDAY_MONTH = date(2024, 6, 10)
CERTAINLY_ADULT = date(2024, 7, 1)
CERTAINLY_MINOR = date(2024, 5, 31)
PARENTS = frozenset({Signatory.PARENT_1, Signatory.PARENT_2, Signatory.INVESTIGATOR})
ADULT = frozenset({Signatory.PATIENT, Signatory.INVESTIGATOR})


def _participant(db: Session) -> Participant:
    return factories.participant(db, factories.site(db), birth=BIRTH,
                                 screened_on=date(2024, 5, 2))


def _values(consent_on: date, statement: bool | None, *signed: Signatory) -> dict[str, Any]:
    values: dict[str, Any] = {f.name: None for f in load_forms()["consent"].fields}
    values.update(document_version="v2.1", document_date=date(2024, 1, 10),
                  consent_on=consent_on, only_one_parent_alive=False,
                  minor_at_consent=statement)
    for who in signed:
        values[screening.SIGNATURE_FIELDS[who]] = consent_on
    return values


def _save(db: Session, participant: Participant, values: dict[str, Any]) -> Any:
    return screening.save_consent(db, factories.SYSTEM, participant, load_forms()["consent"],
                                  FormSave(values=values, complete=True), today=TODAY)


def _consents(db: Session, participant: Participant) -> int:
    return db.scalar(select(func.count()).select_from(ConsentRecord).where(
        ConsentRecord.participant_id == participant.id)) or 0


def test_not_stated_in_the_birthday_month_is_a_minor(db: Session) -> None:
    participant = _participant(db)
    signers = screening.signatories_for(participant, BIRTHDAY_MONTH, False)
    assert signers.minor and signers.birthday_month and not signers.stated
    assert signers.required == PARENTS
    decision = _save(db, participant, _values(BIRTHDAY_MONTH, None, *ADULT))
    assert decision.minor and not decision.valid
    assert {m.signatory for m in decision.missing} == {Signatory.PARENT_1, Signatory.PARENT_2}
    record = db.scalars(select(ConsentRecord).where(
        ConsentRecord.participant_id == participant.id)).one()
    assert record.minor_at_consent is None and record.is_valid is False


def test_stated_adult_needs_the_patient_and_is_valid_with_it(db: Session) -> None:
    participant = _participant(db)
    signers = screening.signatories_for(participant, BIRTHDAY_MONTH, False, False)
    assert not signers.minor and signers.stated and signers.required == ADULT
    without_patient = _save(db, participant,
                            _values(BIRTHDAY_MONTH, False, Signatory.INVESTIGATOR))
    assert not without_patient.valid
    assert [m.signatory for m in without_patient.missing] == [Signatory.PATIENT]
    record = db.scalars(select(ConsentRecord).where(
        ConsentRecord.participant_id == participant.id)).one()
    values = _values(BIRTHDAY_MONTH, False, *ADULT)
    decision = screening.save_consent(
        db, factories.SYSTEM, participant, load_forms()["consent"],
        FormSave(values=values, complete=True, expected_version=record.row_version,
                 reason="patient's signature found"), today=TODAY)
    assert decision.valid and not decision.minor
    db.refresh(record)
    assert record.minor_at_consent is False and record.is_valid is True
    # the statement is read back from the record, not only from the form just saved
    state = screening.screening_state(db, participant, TODAY)
    assert state.consent_decision is not None and state.consent_decision.valid


def test_stated_minor_in_the_birthday_month_needs_the_parents(db: Session) -> None:
    participant = _participant(db)
    decision = _save(db, participant, _values(BIRTHDAY_MONTH, True, *PARENTS))
    assert decision.valid and decision.minor


@pytest.mark.parametrize(("consent_on", "statement"), [(CERTAINLY_ADULT, True),
                                                        (CERTAINLY_MINOR, False)])
def test_statement_contradicting_the_birth_month_is_refused(db: Session, consent_on: date,
                                                            statement: bool) -> None:
    participant = _participant(db)
    with pytest.raises(InvalidInput) as refused:
        _save(db, participant, _values(consent_on, statement, *ADULT, *PARENTS))
    assert refused.value.field == "minor_at_consent"
    assert "contradicts" in refused.value.message("en")
    assert "contredit" in refused.value.message("fr")
    assert _consents(db, participant) == 0
    # the panel still answers, with what the birth month makes certain
    signers = screening.signatories_for(participant, consent_on, False, statement)
    assert signers.minor is (not statement) and not signers.birthday_month
    assert not signers.stated


def test_agreeing_statement_outside_the_birthday_month_is_accepted(db: Session) -> None:
    participant = _participant(db)
    decision = _save(db, participant, _values(CERTAINLY_ADULT, False, *ADULT))
    assert decision.valid and not decision.minor


def _bundle(statement: bool | None, consent_on: date = BIRTHDAY_MONTH) -> cohort.ParticipantBundle:
    """Consented, eligibility pending (so not included and no follow-up needed)."""
    return cohort.ParticipantBundle(
        site_code="STM", part=StudyPart.PROSPECTIVE, sex=Sex.MALE, birth_year=BIRTH[0],
        birth_month=BIRTH[1], screened_on=date(2024, 5, 2),
        eligibility=cohort.EligibilityAnswers(date(2024, 5, 2), None, None, None, None, None),
        consent=cohort.ConsentForm(
            consent_on=consent_on, document_version="v2.1", document_date=date(2024, 1, 10),
            patient_signed_on=consent_on, investigator_signed_on=consent_on,
            minor_at_consent=statement))


def test_bulk_load_honours_and_checks_the_statement(db: Session) -> None:
    factories.site(db, "STM")
    report = cohort.load_participants(db, factories.SYSTEM, [_bundle(None), _bundle(False)],
                                      today=TODAY)
    stored = [db.scalars(select(ConsentRecord).join(Participant).where(
        Participant.study_number == number)).one() for number in report.study_numbers]
    assert [(r.minor_at_consent, r.is_valid) for r in stored] == [(None, False), (False, True)]
    with pytest.raises(InvalidInput) as refused:
        cohort.load_participants(db, factories.SYSTEM, [_bundle(True, CERTAINLY_ADULT)],
                                 today=TODAY)
    assert refused.value.field == "minor_at_consent"


def test_statement_reaches_the_data_dictionary_and_passes_the_export_scanner() -> None:
    (row,) = [r for r in data_dictionary() if (r.form, r.field) == ("consent", "minor_at_consent")]
    assert row.type == "boolean (nullable)" and not row.required
    assert "18" in row.label_fr and "18th" in row.label_en and "NULL" in row.description
    frame = pd.DataFrame({"minor_at_consent": [True, False, None]})
    assert scan_frame("consent", frame) == []
