"""Each participant's analysis inputs, read from the database in a few queries.

One query per table for the whole cohort (participants with their site, then
consents, infusions, clinical courses, follow-up, viral loads with their
assay, antiviral courses, CMV disease, corticosteroids, immune measurements),
grouped by participant in Python: the cost does not grow with the number of
participants. Soft-deleted records are left out. Only participants whose
status makes them part of the analysis are read (included, completed, died,
lost to follow-up, withdrawn), and never those who withdrew asking for their
data to be excluded (:func:`trialdb.services.withdrawal.excluded_from_analysis`:
their data are not even read; :func:`count_withdrawn_data_excluded` counts
them). Everything returned is plain values, detached from the session.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final, TypeVar

from sqlalchemy import func, select, true
from sqlalchemy.orm import Session

from trialdb.models import (
    AntiviralCourse,
    Assay,
    CarTInfusion,
    ClinicalCourse,
    CmvDiseaseEpisode,
    ConsentRecord,
    CorticosteroidCourse,
    FollowUp,
    ImmuneMeasurement,
    Participant,
    Site,
    ViralLoadResult,
)
from trialdb.services.withdrawal import excluded_from_analysis
from trialdb.study.endpoints import DiseaseEpisode, FollowUpFacts, LoadResult, TherapyCourse
from trialdb.vocab import (
    CarTProduct,
    Corticosteroid,
    Disease,
    Lymphodepletion,
    ParticipantStatus,
    TargetAntigen,
    Virus,
    WithdrawalDataChoice,
)

#: Statuses that put a participant in the analysis (withdrawn: only with data kept).
ANALYSED_STATUSES: Final = (
    ParticipantStatus.INCLUDED,
    ParticipantStatus.COMPLETED,
    ParticipantStatus.DIED,
    ParticipantStatus.LOST_TO_FOLLOW_UP,
    ParticipantStatus.WITHDRAWN,
)


#: The viruses whose results the endpoints (CMV) and covariates (TTV) read.
ENDPOINT_VIRUSES: Final = (Virus.CMV, Virus.TTV)

_S = TypeVar("_S")


@dataclass(frozen=True)
class InfusionFacts:
    d0: date
    product: CarTProduct
    target_antigen: TargetAntigen
    disease: Disease
    prior_lines: int
    prior_allo_hsct: bool
    bridging_therapy: bool
    lymphodepletion: Lymphodepletion


@dataclass(frozen=True)
class ClinicalFacts:
    crs_grade: int
    icans_grade: int
    tocilizumab: bool


@dataclass(frozen=True)
class SteroidCourse:
    id: int
    drug: Corticosteroid
    daily_dose_mg: float
    started_on: date
    ended_on: date | None


@dataclass(frozen=True)
class ImmuneValue:
    id: int
    measured_on: date
    lymphocytes_per_ul: float | None
    igg_g_per_l: float | None


@dataclass(frozen=True)
class ParticipantData:
    """Everything the derived datasets need about one participant."""

    participant_id: int
    study_number: str
    site_code: str
    status: ParticipantStatus
    birth_year: int
    birth_month: int
    withdrawn_on: date | None
    data_excluded: bool  # consent withdrawn with data excluded from analyses
    infusion: InfusionFacts | None
    clinical: ClinicalFacts | None
    follow_up: FollowUpFacts
    results: tuple[LoadResult, ...]
    courses: tuple[TherapyCourse, ...]
    disease_episodes: tuple[DiseaseEpisode, ...]
    steroids: tuple[SteroidCourse, ...]
    immune: tuple[ImmuneValue, ...]


def _live(model: Any, stmt: _S, ids: Any) -> _S:
    """The statement restricted to the chosen participants' records not deleted."""
    return stmt.where(model.participant_id.in_(ids), model.is_deleted.is_(False))  # type: ignore[attr-defined, no-any-return]


def _grouped(rows: Iterable[tuple[int, Any]]) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = defaultdict(list)
    for participant_id, item in rows:
        out[participant_id].append(item)
    return out


def count_withdrawn_data_excluded(session: Session) -> int:
    """How many participants withdrew with their data excluded (counted, never listed)."""
    return int(session.scalar(
        select(func.count(func.distinct(Participant.id)))
        .where(Participant.id.in_(excluded_from_analysis()))) or 0)


def load_cohort(session: Session, participant_ids: Sequence[int] | None = None,
                viruses: Collection[Virus] | None = None) -> list[ParticipantData]:
    """The analysed participants (optionally only those ids), ordered by study number.

    `viruses` limits the viral-load results read (default: every virus); the
    endpoints and covariates need only :data:`ENDPOINT_VIRUSES`.
    """
    chosen = select(Participant.id).where(Participant.status.in_(ANALYSED_STATUSES),
                                          Participant.id.not_in(excluded_from_analysis()))
    if participant_ids is not None:
        chosen = chosen.where(Participant.id.in_(list(participant_ids)))
    ids = chosen.scalar_subquery()

    people = session.execute(
        select(Participant.id, Participant.study_number, Site.code, Participant.status,
               Participant.birth_year, Participant.birth_month)
        .join(Site, Site.id == Participant.site_id)
        .where(Participant.id.in_(ids))
        .order_by(Participant.study_number)
    ).all()

    consents = _grouped(
        (row.participant_id, (row.withdrawn_on, row.withdrawal_data_choice))
        for row in session.execute(_live(ConsentRecord, select(
            ConsentRecord.participant_id, ConsentRecord.withdrawn_on,
            ConsentRecord.withdrawal_data_choice), ids))
    )
    infusions = {
        row.participant_id: InfusionFacts(
            row.infused_on, row.product, row.target_antigen, row.disease, row.prior_lines,
            row.prior_allo_hsct, row.bridging_therapy, row.lymphodepletion)
        for row in session.execute(_live(CarTInfusion, select(
            CarTInfusion.participant_id, CarTInfusion.infused_on, CarTInfusion.product,
            CarTInfusion.target_antigen, CarTInfusion.disease, CarTInfusion.prior_lines,
            CarTInfusion.prior_allo_hsct, CarTInfusion.bridging_therapy,
            CarTInfusion.lymphodepletion), ids))
    }
    clinical = {
        row.participant_id: ClinicalFacts(row.crs_grade, row.icans_grade, row.tocilizumab)
        for row in session.execute(_live(ClinicalCourse, select(
            ClinicalCourse.participant_id, ClinicalCourse.crs_grade, ClinicalCourse.icans_grade,
            ClinicalCourse.tocilizumab), ids))
    }
    follow_ups = {
        row.participant_id: row
        for row in session.execute(_live(FollowUp, select(
            FollowUp.participant_id, FollowUp.last_contact_on, FollowUp.died_on,
            FollowUp.later_allo_hsct_on, FollowUp.new_line_on), ids))
    }
    # the columns after participant_id are LoadResult's fields, in order (the
    # largest table: positional construction, no per-attribute row lookups)
    results = _grouped(
        (row[0], LoadResult(*row[1:]))
        for row in session.execute(_live(ViralLoadResult, select(
            ViralLoadResult.participant_id, ViralLoadResult.id, ViralLoadResult.virus,
            ViralLoadResult.specimen, ViralLoadResult.sampled_on, ViralLoadResult.assay_id,
            ViralLoadResult.state, ViralLoadResult.value, ViralLoadResult.unit, Assay.lloq,
            Assay.copies_per_iu).join(Assay, Assay.id == ViralLoadResult.assay_id), ids)
            .where(ViralLoadResult.virus.in_([Virus(v).value for v in viruses])
                   if viruses is not None else true())
            .order_by(ViralLoadResult.sampled_on, ViralLoadResult.id))
    )
    courses = _grouped(
        (row.participant_id, TherapyCourse(row.id, row.drug, row.indication, row.started_on,
                                           row.ended_on))
        for row in session.execute(_live(AntiviralCourse, select(
            AntiviralCourse.participant_id, AntiviralCourse.id, AntiviralCourse.drug,
            AntiviralCourse.indication, AntiviralCourse.started_on, AntiviralCourse.ended_on), ids))
    )
    episodes = _grouped(
        (row.participant_id, DiseaseEpisode(row.id, row.diagnosed_on, row.organ, row.certainty))
        for row in session.execute(_live(CmvDiseaseEpisode, select(
            CmvDiseaseEpisode.participant_id, CmvDiseaseEpisode.id, CmvDiseaseEpisode.diagnosed_on,
            CmvDiseaseEpisode.organ, CmvDiseaseEpisode.certainty), ids))
    )
    steroids = _grouped(
        (row.participant_id, SteroidCourse(row.id, row.drug, row.daily_dose_mg, row.started_on,
                                           row.ended_on))
        for row in session.execute(_live(CorticosteroidCourse, select(
            CorticosteroidCourse.participant_id, CorticosteroidCourse.id, CorticosteroidCourse.drug,
            CorticosteroidCourse.daily_dose_mg, CorticosteroidCourse.started_on,
            CorticosteroidCourse.ended_on), ids))
    )
    immune = _grouped(
        (row.participant_id, ImmuneValue(row.id, row.measured_on, row.lymphocytes_per_ul,
                                         row.igg_g_per_l))
        for row in session.execute(_live(ImmuneMeasurement, select(
            ImmuneMeasurement.participant_id, ImmuneMeasurement.id, ImmuneMeasurement.measured_on,
            ImmuneMeasurement.lymphocytes_per_ul, ImmuneMeasurement.igg_g_per_l), ids))
    )

    cohort: list[ParticipantData] = []
    for person in people:
        pid = person.id
        withdrawals = [c for c in consents.get(pid, []) if c[0] is not None]
        withdrawn_on = min((c[0] for c in withdrawals), default=None)
        excluded = any(c[1] is WithdrawalDataChoice.EXCLUDE for c in withdrawals)
        fu = follow_ups.get(pid)
        facts = FollowUpFacts(
            last_contact_on=None if fu is None else fu.last_contact_on,
            died_on=None if fu is None else fu.died_on,
            later_allo_hsct_on=None if fu is None else fu.later_allo_hsct_on,
            new_line_on=None if fu is None else fu.new_line_on,
            withdrawn_on=withdrawn_on,
        )
        cohort.append(ParticipantData(
            participant_id=pid, study_number=person.study_number, site_code=person.code,
            status=person.status, birth_year=person.birth_year, birth_month=person.birth_month,
            withdrawn_on=withdrawn_on, data_excluded=excluded, infusion=infusions.get(pid),
            clinical=clinical.get(pid), follow_up=facts,
            results=tuple(results.get(pid, [])),
            courses=tuple(sorted(courses.get(pid, []), key=lambda c: (c.started_on, c.id))),
            disease_episodes=tuple(sorted(episodes.get(pid, []), key=lambda e: (e.diagnosed_on, e.id))),
            steroids=tuple(sorted(steroids.get(pid, []), key=lambda s: (s.started_on, s.id))),
            immune=tuple(sorted(immune.get(pid, []), key=lambda m: (m.measured_on, m.id))),
        ))
    return cohort
