"""Follow-up, outcomes and protocol deviations."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Boolean, Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from trialdb.db import Base
from trialdb.models._columns import (
    FormRecordMixin,
    check,
    enum_type,
    form_table_args,
    participant_fk,
)
from trialdb.vocab import DeathCause, DeviationCategory


class FollowUp(FormRecordMixin, Base):
    """The end of each participant's story as far as the study knows it."""

    __tablename__ = "follow_up"
    __table_args__ = form_table_args(
        check("died_on IS NOT NULL OR death_cause IS NULL", "cause_needs_death"),
        check("died_on IS NULL OR last_contact_on IS NULL OR last_contact_on <= died_on",
              "contact_not_after_death"),
        check("icu_admission OR icu_admitted_on IS NULL", "icu_date_needs_icu"),
    )

    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participant.id", ondelete="RESTRICT"), unique=True,
        comment="The participant",
    )
    last_contact_on: Mapped[date | None] = mapped_column(Date, comment="Date last known alive")
    died_on: Mapped[date | None] = mapped_column(Date, comment="Date of death")
    death_cause: Mapped[DeathCause | None] = mapped_column(
        enum_type(DeathCause, "death_cause"), comment="Main cause of death"
    )
    relapse_on: Mapped[date | None] = mapped_column(
        Date, comment="Relapse or progression after CAR-T"
    )
    later_allo_hsct_on: Mapped[date | None] = mapped_column(
        Date, comment="Allogeneic transplant after CAR-T (competing event when set so)"
    )
    new_line_on: Mapped[date | None] = mapped_column(
        Date, comment="Start of a new line of therapy after CAR-T"
    )
    icu_admission: Mapped[bool] = mapped_column(
        Boolean, default=False, comment="Admitted to intensive care after infusion"
    )
    icu_admitted_on: Mapped[date | None] = mapped_column(Date, comment="ICU admission date")
    lost_to_follow_up: Mapped[bool] = mapped_column(
        Boolean, default=False, comment="No further contact possible"
    )


class ProtocolDeviation(FormRecordMixin, Base):
    __tablename__ = "protocol_deviation"
    __table_args__ = form_table_args(
        check("length(description) > 0", "has_description"),
    )

    participant_id: Mapped[int] = participant_fk()
    occurred_on: Mapped[date] = mapped_column(Date, comment="When the deviation happened")
    category: Mapped[DeviationCategory] = mapped_column(
        enum_type(DeviationCategory, "category"), comment="Kind of deviation"
    )
    description: Mapped[str] = mapped_column(Text, comment="What happened")
    is_major: Mapped[bool] = mapped_column(Boolean, default=False, comment="Major deviation")
    corrective_action: Mapped[str | None] = mapped_column(
        String(400), comment="What was done about it"
    )
