"""Assays, serial viral loads, antivirals, CMV disease and resistance genotypes."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, Float, ForeignKey, Integer, String, Text
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
from trialdb.vocab import (
    Antiviral,
    AntiviralIndication,
    AntiviralStopReason,
    CmvDiseaseSite,
    CmvGene,
    DiagnosticCertainty,
    GenotypeOutcome,
    LoadUnit,
    ResultState,
    Specimen,
    Susceptibility,
    Virus,
)


class Assay(TimestampMixin, Base):
    """A laboratory's quantitative PCR for one virus in one specimen type.

    The copies-per-IU factor is the assay's own: copies/mL become IU/mL only
    through it, never through a constant.
    """

    __tablename__ = "assay"
    __table_args__ = (
        check("limit_of_detection IS NULL OR limit_of_detection > 0", "lod_positive"),
        check("lloq IS NULL OR lloq > 0", "lloq_positive"),
        check("limit_of_detection IS NULL OR lloq IS NULL OR limit_of_detection <= lloq",
              "lod_not_above_lloq"),
        check("copies_per_iu IS NULL OR (copies_per_iu > 0.1 AND copies_per_iu < 10)",
              "copies_per_iu_plausible"),
        check("copies_per_iu IS NULL OR virus = 'CMV'", "factor_only_for_cmv"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, comment="Surrogate key")
    name: Mapped[str] = mapped_column(
        String(120), unique=True, comment="Assay name as printed, e.g. 'Abbott RealTime CMV'"
    )
    virus: Mapped[Virus] = mapped_column(enum_type(Virus, "virus"), comment="Target virus")
    specimen: Mapped[Specimen] = mapped_column(
        enum_type(Specimen, "specimen"), comment="Specimen type the assay is run on"
    )
    unit: Mapped[LoadUnit] = mapped_column(
        enum_type(LoadUnit, "unit"), comment="Unit in which the assay reports"
    )
    limit_of_detection: Mapped[float | None] = mapped_column(
        Float, comment="Limit of detection, in the assay's unit"
    )
    lloq: Mapped[float | None] = mapped_column(
        Float, comment="Lower limit of quantification, in the assay's unit"
    )
    copies_per_iu: Mapped[float | None] = mapped_column(
        Float, comment="Copies per international unit for this assay (CMV only)"
    )


class ViralLoadResult(FormRecordMixin, Base):
    """One PCR result. log10 is derived (trialdb.study), never stored."""

    __tablename__ = "viral_load_result"
    __table_args__ = form_table_args(
        check("(state = 'quantified') = (value IS NOT NULL)", "value_iff_quantified"),
        check("value IS NULL OR value > 0", "value_positive"),
        check("value IS NULL OR value < 1e12", "value_plausible"),
    )

    participant_id: Mapped[int] = participant_fk()
    virus: Mapped[Virus] = mapped_column(enum_type(Virus, "virus"), comment="Virus measured")
    specimen: Mapped[Specimen] = mapped_column(
        enum_type(Specimen, "specimen"), comment="Specimen: plasma, whole blood, stool, other"
    )
    sampled_on: Mapped[date] = mapped_column(Date, index=True, comment="Sampling date")
    assay_id: Mapped[int] = mapped_column(
        ForeignKey("assay.id", ondelete="RESTRICT"), comment="Assay used"
    )
    state: Mapped[ResultState] = mapped_column(
        enum_type(ResultState, "state"),
        comment="not_detected, below_lloq (detected, not quantifiable) or quantified",
    )
    value: Mapped[float | None] = mapped_column(
        Float, comment="Quantified load in `unit` (only when state is quantified)"
    )
    unit: Mapped[LoadUnit] = mapped_column(enum_type(LoadUnit, "unit"), comment="Unit of value")
    reported_as: Mapped[str | None] = mapped_column(
        String(60), comment="The result as the laboratory printed it, e.g. '<62'"
    )

    assay: Mapped[Assay] = relationship()


class AntiviralCourse(FormRecordMixin, Base):
    __tablename__ = "antiviral_course"
    __table_args__ = form_table_args(
        check("ended_on IS NULL OR ended_on >= started_on", "ends_after_start"),
        check("dose_mg IS NULL OR (dose_mg > 0 AND dose_mg <= 20000)", "dose_range"),
        check("ended_on IS NOT NULL OR stop_reason IS NULL", "stop_reason_needs_end"),
    )

    participant_id: Mapped[int] = participant_fk()
    drug: Mapped[Antiviral] = mapped_column(enum_type(Antiviral, "drug"), comment="Antiviral")
    indication: Mapped[AntiviralIndication] = mapped_column(
        enum_type(AntiviralIndication, "indication"),
        comment="Prophylaxis, pre-emptive therapy or treatment of CMV disease",
    )
    started_on: Mapped[date] = mapped_column(Date, comment="First day")
    ended_on: Mapped[date | None] = mapped_column(Date, comment="Last day (empty: ongoing)")
    dose_mg: Mapped[float | None] = mapped_column(Float, comment="Dose per administration, mg")
    dose_schedule: Mapped[str | None] = mapped_column(
        String(60), comment="Schedule as prescribed, e.g. '5 mg/kg x2/j'"
    )
    stop_reason: Mapped[AntiviralStopReason | None] = mapped_column(
        enum_type(AntiviralStopReason, "stop_reason"), comment="Why the course stopped"
    )


class CmvDiseaseEpisode(FormRecordMixin, Base):
    """End-organ CMV disease (Ljungman definitions)."""

    __tablename__ = "cmv_disease_episode"
    __table_args__ = form_table_args()

    participant_id: Mapped[int] = participant_fk()
    diagnosed_on: Mapped[date] = mapped_column(Date, comment="Date of diagnosis")
    organ: Mapped[CmvDiseaseSite] = mapped_column(
        enum_type(CmvDiseaseSite, "organ"), comment="Organ involved"
    )
    certainty: Mapped[DiagnosticCertainty] = mapped_column(
        enum_type(DiagnosticCertainty, "certainty"), comment="Proven, probable or possible"
    )


class ResistanceGenotype(FormRecordMixin, Base):
    """A resistance genotyping: the genes sequenced, mutations and the
    laboratory's interpretation per drug. A failed amplification is a result."""

    __tablename__ = "resistance_genotype"
    __table_args__ = form_table_args()

    participant_id: Mapped[int] = participant_fk()
    sampled_on: Mapped[date] = mapped_column(Date, comment="Sampling date")
    specimen: Mapped[Specimen] = mapped_column(
        enum_type(Specimen, "specimen"), comment="Specimen sequenced"
    )
    comment_text: Mapped[str | None] = mapped_column(
        Text, comment="Laboratory conclusion as written"
    )

    genes: Mapped[list[GenotypeGene]] = relationship(
        cascade="all, delete-orphan", order_by="GenotypeGene.gene"
    )
    mutations: Mapped[list[GenotypeMutation]] = relationship(
        cascade="all, delete-orphan", order_by="GenotypeMutation.id"
    )
    susceptibilities: Mapped[list[DrugSusceptibility]] = relationship(
        cascade="all, delete-orphan", order_by="DrugSusceptibility.drug"
    )


class GenotypeGene(Base):
    __tablename__ = "genotype_gene"

    genotype_id: Mapped[int] = mapped_column(
        ForeignKey("resistance_genotype.id", ondelete="CASCADE"), primary_key=True,
        comment="The genotyping",
    )
    gene: Mapped[CmvGene] = mapped_column(
        enum_type(CmvGene, "gene"), primary_key=True, comment="Gene sent for sequencing"
    )
    outcome: Mapped[GenotypeOutcome] = mapped_column(
        enum_type(GenotypeOutcome, "outcome"), comment="Sequenced, or amplification failed"
    )


class GenotypeMutation(Base):
    __tablename__ = "genotype_mutation"
    __table_args__ = (
        check("length(amino_acid_change) BETWEEN 3 AND 20", "change_length"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, comment="Surrogate key")
    genotype_id: Mapped[int] = mapped_column(
        ForeignKey("resistance_genotype.id", ondelete="CASCADE"), index=True,
        comment="The genotyping",
    )
    gene: Mapped[CmvGene] = mapped_column(enum_type(CmvGene, "gene"), comment="Gene")
    amino_acid_change: Mapped[str] = mapped_column(
        String(20), comment="Amino-acid change, e.g. G841A or E756Q"
    )


class DrugSusceptibility(Base):
    __tablename__ = "drug_susceptibility"

    genotype_id: Mapped[int] = mapped_column(
        ForeignKey("resistance_genotype.id", ondelete="CASCADE"), primary_key=True,
        comment="The genotyping",
    )
    drug: Mapped[Antiviral] = mapped_column(
        enum_type(Antiviral, "drug"), primary_key=True, comment="Antiviral interpreted"
    )
    susceptibility: Mapped[Susceptibility] = mapped_column(
        enum_type(Susceptibility, "susceptibility"), comment="Interpreted susceptibility"
    )
