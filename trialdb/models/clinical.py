"""The CAR-T infusion (D0), serology and the clinical course after it."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Boolean, Date, Float, ForeignKey, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from trialdb.db import Base
from trialdb.models._columns import (
    FormRecordMixin,
    check,
    enum_type,
    form_table_args,
    participant_fk,
)
from trialdb.vocab import (
    CarTProduct,
    Corticosteroid,
    Disease,
    DiseaseStatus,
    Lymphodepletion,
    SerologyResult,
    TargetAntigen,
    Virus,
)


class CarTInfusion(FormRecordMixin, Base):
    """The infusion day is D0, time zero of every endpoint."""

    __tablename__ = "car_t_infusion"
    __table_args__ = form_table_args(
        check("prior_lines BETWEEN 0 AND 20", "prior_lines_range"),
        check("prior_allo_hsct OR prior_allo_hsct_on IS NULL", "allo_date_needs_allo"),
        check("prior_allo_hsct_on IS NULL OR prior_allo_hsct_on < infused_on", "allo_before_d0"),
    )

    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participant.id", ondelete="RESTRICT"), unique=True,
        comment="The participant infused",
    )
    infused_on: Mapped[date] = mapped_column(Date, comment="Infusion date: D0")
    product: Mapped[CarTProduct] = mapped_column(
        enum_type(CarTProduct, "product"), comment="CAR-T product"
    )
    target_antigen: Mapped[TargetAntigen] = mapped_column(
        enum_type(TargetAntigen, "target_antigen"), comment="Antigen targeted by the CAR"
    )
    disease: Mapped[Disease] = mapped_column(
        enum_type(Disease, "disease"), comment="Indication: the disease treated"
    )
    disease_status: Mapped[DiseaseStatus] = mapped_column(
        enum_type(DiseaseStatus, "disease_status"), comment="Disease status at infusion"
    )
    prior_lines: Mapped[int] = mapped_column(
        SmallInteger, comment="Number of prior lines of therapy"
    )
    prior_allo_hsct: Mapped[bool] = mapped_column(
        Boolean, comment="Allogeneic haematopoietic stem-cell transplant before CAR-T"
    )
    prior_allo_hsct_on: Mapped[date | None] = mapped_column(
        Date, comment="Date of the prior allogeneic transplant"
    )
    bridging_therapy: Mapped[bool] = mapped_column(Boolean, comment="Bridging therapy given")
    bridging_regimen: Mapped[str | None] = mapped_column(
        String(200), comment="Bridging regimen, free text"
    )
    lymphodepletion: Mapped[Lymphodepletion] = mapped_column(
        enum_type(Lymphodepletion, "lymphodepletion"), comment="Lymphodepleting regimen"
    )


class Serology(FormRecordMixin, Base):
    """Serostatus before infusion (CMV IgG for eligibility)."""

    __tablename__ = "serology"
    __table_args__ = form_table_args()

    participant_id: Mapped[int] = participant_fk()
    virus: Mapped[Virus] = mapped_column(enum_type(Virus, "virus"), comment="Virus tested")
    sampled_on: Mapped[date] = mapped_column(Date, comment="Sampling date")
    result: Mapped[SerologyResult] = mapped_column(
        enum_type(SerologyResult, "result"), comment="IgG result"
    )


class ClinicalCourse(FormRecordMixin, Base):
    """Toxicities and immune status after infusion."""

    __tablename__ = "clinical_course"
    __table_args__ = form_table_args(
        check("crs_grade BETWEEN 0 AND 5", "crs_grade_range"),
        check("icans_grade BETWEEN 0 AND 5", "icans_grade_range"),
        check("crs_grade > 0 OR crs_onset_on IS NULL", "crs_onset_needs_crs"),
        check("icans_grade > 0 OR icans_onset_on IS NULL", "icans_onset_needs_icans"),
        check("tocilizumab_doses IS NULL OR tocilizumab_doses BETWEEN 0 AND 10", "toci_doses"),
    )

    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participant.id", ondelete="RESTRICT"), unique=True,
        comment="The participant",
    )
    crs_grade: Mapped[int] = mapped_column(
        SmallInteger, comment="Highest cytokine release syndrome grade (ASTCT, 0 = none)"
    )
    crs_onset_on: Mapped[date | None] = mapped_column(Date, comment="CRS onset date")
    icans_grade: Mapped[int] = mapped_column(
        SmallInteger, comment="Highest ICANS grade (ASTCT, 0 = none)"
    )
    icans_onset_on: Mapped[date | None] = mapped_column(Date, comment="ICANS onset date")
    tocilizumab: Mapped[bool] = mapped_column(Boolean, comment="Tocilizumab given")
    tocilizumab_doses: Mapped[int | None] = mapped_column(
        SmallInteger, comment="Number of tocilizumab doses"
    )
    ivig: Mapped[bool] = mapped_column(Boolean, comment="Intravenous immunoglobulins given")


class CorticosteroidCourse(FormRecordMixin, Base):
    __tablename__ = "corticosteroid_course"
    __table_args__ = form_table_args(
        check("daily_dose_mg > 0 AND daily_dose_mg <= 2000", "dose_range"),
        check("ended_on IS NULL OR ended_on >= started_on", "ends_after_start"),
    )

    participant_id: Mapped[int] = participant_fk()
    drug: Mapped[Corticosteroid] = mapped_column(
        enum_type(Corticosteroid, "drug"), comment="Corticosteroid"
    )
    daily_dose_mg: Mapped[float] = mapped_column(Float, comment="Daily dose in mg")
    started_on: Mapped[date] = mapped_column(Date, comment="First day")
    ended_on: Mapped[date | None] = mapped_column(Date, comment="Last day (empty: ongoing)")
    indication: Mapped[str | None] = mapped_column(
        String(40), comment="Why: CRS, ICANS, other (free text)"
    )


class ImmuneMeasurement(FormRecordMixin, Base):
    """Lymphocyte count and IgG level at a date."""

    __tablename__ = "immune_measurement"
    __table_args__ = form_table_args(
        check("lymphocytes_per_ul IS NULL OR lymphocytes_per_ul BETWEEN 0 AND 500000", "lympho"),
        check("igg_g_per_l IS NULL OR igg_g_per_l BETWEEN 0 AND 100", "igg_range"),
        check("lymphocytes_per_ul IS NOT NULL OR igg_g_per_l IS NOT NULL", "something_measured"),
    )

    participant_id: Mapped[int] = participant_fk()
    measured_on: Mapped[date] = mapped_column(Date, comment="Sampling date")
    lymphocytes_per_ul: Mapped[float | None] = mapped_column(
        Float, comment="Total lymphocytes per microlitre"
    )
    igg_g_per_l: Mapped[float | None] = mapped_column(Float, comment="Serum IgG in g/L")
    note: Mapped[str | None] = mapped_column(Text, comment="Free-text remark")
