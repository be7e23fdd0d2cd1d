"""Participants, their eligibility and their consent or non-opposition.

Pseudonymised by design: no name, initials, full birth date or hospital
number has a column. The key to the patient stays at the site.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from trialdb.db import Base
from trialdb.models._columns import (
    FormRecordMixin,
    TimestampMixin,
    check,
    enum_type,
    form_table_args,
    participant_fk,
)
from trialdb.models.people import Site
from trialdb.vocab import (
    ConsentRegime,
    ParticipantStatus,
    Sex,
    StudyPart,
    WithdrawalDataChoice,
)


class Participant(TimestampMixin, Base):
    __tablename__ = "participant"
    __table_args__ = (
        check("birth_month BETWEEN 1 AND 12", "birth_month_range"),
        check("birth_year BETWEEN 1900 AND 2100", "birth_year_range"),
        check("length(study_number) BETWEEN 7 AND 11", "study_number_length"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, comment="Surrogate key")
    site_id: Mapped[int] = mapped_column(
        ForeignKey("site.id", ondelete="RESTRICT"), index=True, comment="Recruiting site"
    )
    study_number: Mapped[str] = mapped_column(
        String(11), unique=True,
        comment="Pseudonymous study number <site code>-<4 digits>, assigned by the system",
    )
    part: Mapped[StudyPart] = mapped_column(
        enum_type(StudyPart, "part"), comment="Retrospective (non-opposition) or prospective (consent)"
    )
    sex: Mapped[Sex] = mapped_column(enum_type(Sex, "sex"), comment="Sex")
    birth_year: Mapped[int] = mapped_column(SmallInteger, comment="Year of birth (no full date)")
    birth_month: Mapped[int] = mapped_column(SmallInteger, comment="Month of birth, 1-12")
    status: Mapped[ParticipantStatus] = mapped_column(
        enum_type(ParticipantStatus, "status"),
        default=ParticipantStatus.SCREENING, comment="Where the participant is in the study",
    )
    screened_on: Mapped[date] = mapped_column(Date, comment="Date of screening")
    included_on: Mapped[date | None] = mapped_column(Date, comment="Date of inclusion")
    row_version: Mapped[int] = mapped_column(
        Integer, nullable=False, default=1, comment="Optimistic-lock counter"
    )

    site: Mapped[Site] = relationship()
    eligibility: Mapped[EligibilityAssessment | None] = relationship(back_populates="participant")
    consents: Mapped[list[ConsentRecord]] = relationship(
        back_populates="participant", order_by="ConsentRecord.id"
    )

    __mapper_args__ = {"version_id_col": row_version}  # noqa: RUF012 - SQLAlchemy's declarative API


class EligibilityAssessment(FormRecordMixin, Base):
    """One criterion per column (None = not yet answered) and the decision
    computed from them by `trialdb.study.eligibility` when saved."""

    __tablename__ = "eligibility_assessment"
    __table_args__ = form_table_args(
        check("decision IN ('eligible', 'not_eligible', 'pending')", "decision_values"),
    )

    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participant.id", ondelete="RESTRICT"), unique=True,
        comment="The participant assessed",
    )
    assessed_on: Mapped[date] = mapped_column(Date, comment="Date of the assessment")
    car_t_for_refractory_disease: Mapped[bool | None] = mapped_column(
        Boolean,
        comment="Inclusion: receives CAR-T cells for refractory acute leukaemia or B-cell lymphoma",
    )
    cmv_igg_positive: Mapped[bool | None] = mapped_column(
        Boolean, comment="Inclusion: CMV IgG positive before infusion (False excludes)"
    )
    social_security_affiliation: Mapped[bool | None] = mapped_column(
        Boolean, comment="Affiliated to a social security scheme (False excludes)"
    )
    under_guardianship: Mapped[bool | None] = mapped_column(
        Boolean, comment="Exclusion: under guardianship or curatorship"
    )
    ame_beneficiary: Mapped[bool | None] = mapped_column(
        Boolean, comment="Exclusion: covered by AME (state medical aid)"
    )
    decision: Mapped[str] = mapped_column(
        String(12), comment="Computed at save: eligible, not_eligible or pending"
    )
    failed_criteria: Mapped[list[str]] = mapped_column(
        JSON, default=list, comment="Codes of the criteria that failed or are unanswered"
    )

    participant: Mapped[Participant] = relationship(back_populates="eligibility")


class ConsentRecord(FormRecordMixin, Base):
    """Written consent (prospective) or non-opposition (retrospective).

    Each signatory has a date; which ones are required follows the part and
    the participant's age at the date of consent (`trialdb.study.consent`).
    """

    __tablename__ = "consent_record"
    __table_args__ = form_table_args(
        check("withdrawn_on IS NULL OR withdrawal_data_choice IS NOT NULL", "withdrawal_choice"),
        check("withdrawn_on IS NULL OR withdrawn_on >= consent_on", "withdrawal_after_consent"),
    )

    participant_id: Mapped[int] = participant_fk()
    regime: Mapped[ConsentRegime] = mapped_column(
        enum_type(ConsentRegime, "regime"), comment="Written consent or non-opposition"
    )
    document_version: Mapped[str] = mapped_column(
        String(40), comment="Version of the information and consent document"
    )
    document_date: Mapped[date | None] = mapped_column(
        Date, comment="Date of that document version"
    )
    consent_on: Mapped[date] = mapped_column(
        Date, comment="Date of consent or non-opposition (age is judged on this date)"
    )
    only_one_parent_alive: Mapped[bool] = mapped_column(
        Boolean, default=False, comment="Minor with only one living parent: legal representative signs"
    )
    patient_signed_on: Mapped[date | None] = mapped_column(
        Date, comment="Adult patient's signature (consent or non-opposition)"
    )
    child_assent_on: Mapped[date | None] = mapped_column(
        Date, comment="Minor's own assent or non-opposition"
    )
    parent_1_signed_on: Mapped[date | None] = mapped_column(Date, comment="First parent's signature")
    parent_2_signed_on: Mapped[date | None] = mapped_column(
        Date, comment="Second parent's signature"
    )
    legal_representative_signed_on: Mapped[date | None] = mapped_column(
        Date, comment="Legal representative's signature (only one parent alive)"
    )
    investigator_signed_on: Mapped[date | None] = mapped_column(
        Date, comment="Investigator's signature"
    )
    minor_at_consent: Mapped[bool | None] = mapped_column(
        Boolean,
        comment="Investigator's statement, in the month of the 18th birthday, that the "
        "participant was a minor (True) or an adult (False) on the date of consent; "
        "NULL: not stated (a minor in doubt)",
    )
    is_valid: Mapped[bool] = mapped_column(
        Boolean, default=False, comment="Computed at save from the required signatories"
    )
    withdrawn_on: Mapped[date | None] = mapped_column(Date, comment="Date consent was withdrawn")
    withdrawal_data_choice: Mapped[WithdrawalDataChoice | None] = mapped_column(
        enum_type(WithdrawalDataChoice, "withdrawal_data_choice"),
        comment="Data collected before withdrawal: kept or excluded from analyses",
    )
    withdrawal_note: Mapped[str | None] = mapped_column(Text, comment="Circumstances of withdrawal")

    participant: Mapped[Participant] = relationship(back_populates="consents")
