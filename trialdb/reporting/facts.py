"""Descriptive facts of the study read from a Session (live or a snapshot).

Plain queries returning plain values: no rendering here. Each function reads
what it needs as tuples (never whole ORM objects) in a constant number of
queries, so the cost grows linearly with the number of participants. A
`Scope` limits everything to some sites (a site investigator's report).
"""

from __future__ import annotations

import functools
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar, cast

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from trialdb.models import (
    AntiviralCourse,
    Assay,
    CarTInfusion,
    ClinicalCourse,
    CmvDiseaseEpisode,
    DataQuery,
    DrugSusceptibility,
    EligibilityAssessment,
    FollowUp,
    GenotypeGene,
    GenotypeMutation,
    Participant,
    RecordReview,
    ResistanceGenotype,
    Signature,
    Site,
    ViralLoadResult,
)
from trialdb.services.withdrawal import excluded_from_analysis
from trialdb.study.timeline import age_at, study_day
from trialdb.study.viral_load import log10_load
from trialdb.vocab import (
    Antiviral,
    AntiviralIndication,
    AntiviralStopReason,
    Disease,
    GenotypeOutcome,
    ParticipantStatus,
    QueryStatus,
    ResultState,
    StudyPart,
    Susceptibility,
    Virus,
)

#: Statuses that mean the participant was included at some point.
Q = TypeVar("Q")

INCLUDED_STATUSES = frozenset({
    ParticipantStatus.INCLUDED, ParticipantStatus.COMPLETED, ParticipantStatus.DIED,
    ParticipantStatus.WITHDRAWN, ParticipantStatus.LOST_TO_FOLLOW_UP,
})
LYMPHOMAS = frozenset({Disease.LBCL, Disease.FL, Disease.MCL, Disease.OTHER_B_LYMPHOMA})
ADULT_AGE = 18


@dataclass(frozen=True)
class Scope:
    """Which sites a report covers: None is the whole study."""

    site_ids: frozenset[int] | None = None
    label: str | None = None

    def filter(self, query: Q, column: Any) -> Q:
        """`query` restricted to rows whose `column` (a site id) is in scope."""
        if self.site_ids is None:
            return query
        statement: Any = query
        return cast(Q, statement.where(column.in_(sorted(self.site_ids))))


def disease_group(disease: Disease | None) -> str:
    """ALL, lymphoma or other: the disease subgroups of the analysis plan."""
    if disease is Disease.ALL:
        return "ALL"
    if disease in LYMPHOMAS:
        return "lymphoma"
    return "other"


# --- participants and recruitment ----------------------------------------------------------

@dataclass(frozen=True)
class ParticipantFacts:
    id: int
    study_number: str
    site_code: str
    part: StudyPart
    status: ParticipantStatus
    sex: str
    birth_year: int
    birth_month: int
    screened_on: date
    included_on: date | None
    decision: str | None
    failed_criteria: tuple[str, ...]
    data_excluded: bool = False  # withdrew asking that their data be excluded

    @property
    def was_included(self) -> bool:
        return self.included_on is not None or self.status in INCLUDED_STATUSES

    @property
    def analysable(self) -> bool:
        """Included, and their data may appear in analyses and reports."""
        return self.was_included and not self.data_excluded


def participants(session: Session, scope: Scope) -> list[ParticipantFacts]:
    query = scope.filter(
        select(Participant.id, Participant.study_number, Site.code, Participant.part,
               Participant.status, Participant.sex, Participant.birth_year,
               Participant.birth_month, Participant.screened_on, Participant.included_on,
               EligibilityAssessment.decision, EligibilityAssessment.failed_criteria)
        .join(Site, Site.id == Participant.site_id)
        .outerjoin(EligibilityAssessment,
                   (EligibilityAssessment.participant_id == Participant.id)
                   & EligibilityAssessment.is_deleted.is_(False))
        .order_by(Participant.id),
        Participant.site_id,
    )
    excluded = set(session.scalars(excluded_from_analysis()))
    return [
        ParticipantFacts(
            id=row[0], study_number=row[1], site_code=row[2], part=StudyPart(row[3]),
            status=ParticipantStatus(row[4]), sex=str(row[5]), birth_year=row[6],
            birth_month=row[7], screened_on=row[8], included_on=row[9], decision=row[10],
            failed_criteria=tuple(str(c) for c in (row[11] or ())),
            data_excluded=row[0] in excluded,
        )
        for row in session.execute(query)
    ]


@dataclass
class Recruitment:
    screened: int = 0
    eligible: int = 0
    not_eligible: int = 0
    eligibility_pending: int = 0
    included: int = 0
    screen_failures: int = 0
    still_screening: int = 0
    withdrawn: int = 0
    data_excluded: int = 0
    analysable: int = 0
    eligible_not_consented: int = 0
    failure_reasons: Counter[str] = field(default_factory=Counter)
    inclusions_by_site: dict[str, list[date]] = field(default_factory=dict)
    included_by_part: Counter[str] = field(default_factory=Counter)
    included_by_site_part: dict[str, Counter[str]] = field(default_factory=dict)
    first_screening: date | None = None
    last_inclusion: date | None = None


def recruitment(people: Sequence[ParticipantFacts]) -> Recruitment:
    out = Recruitment(screened=len(people))
    by_site: dict[str, list[date]] = defaultdict(list)
    by_site_part: dict[str, Counter[str]] = defaultdict(Counter)
    for person in people:
        if person.decision == "eligible":
            out.eligible += 1
        elif person.decision == "not_eligible":
            out.not_eligible += 1
        else:
            out.eligibility_pending += 1
        if person.status is ParticipantStatus.SCREEN_FAILURE:
            out.screen_failures += 1
            out.failure_reasons.update(person.failed_criteria or ("unspecified",))
            if person.decision == "eligible":
                out.eligible_not_consented += 1
        elif person.status is ParticipantStatus.SCREENING:
            out.still_screening += 1
        if person.status is ParticipantStatus.WITHDRAWN:
            out.withdrawn += 1
        if person.was_included and person.data_excluded:
            out.data_excluded += 1
        if person.was_included:
            out.included += 1
        if person.analysable:
            out.analysable += 1
            out.included_by_part[person.part.value] += 1
            by_site_part[person.site_code][person.part.value] += 1
            if person.included_on is not None:
                by_site[person.site_code].append(person.included_on)
    out.inclusions_by_site = {code: sorted(days) for code, days in sorted(by_site.items())}
    out.included_by_site_part = dict(sorted(by_site_part.items()))
    screened = [p.screened_on for p in people]
    included = [d for days in by_site.values() for d in days]
    out.first_screening = min(screened) if screened else None
    out.last_inclusion = max(included) if included else None
    return out


# --- baseline ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Baseline:
    """One included participant's characteristics at infusion."""

    participant_id: int
    site_code: str
    part: str
    sex: str
    age: int | None
    paediatric: bool | None
    disease: str | None
    disease_group: str
    product: str | None
    target: str | None
    disease_status: str | None
    prior_lines: int | None
    prior_allo_hsct: bool | None
    bridging: bool | None
    lymphodepletion: str | None
    crs_grade: int | None
    icans_grade: int | None
    tocilizumab: bool | None
    infused_on: date | None


def baselines(session: Session, people: Sequence[ParticipantFacts],
              scope: Scope) -> list[Baseline]:
    infusion = {
        row[0]: row[1:] for row in session.execute(scope.filter(
            select(CarTInfusion.participant_id, CarTInfusion.infused_on, CarTInfusion.disease,
                   CarTInfusion.product, CarTInfusion.target_antigen,
                   CarTInfusion.disease_status, CarTInfusion.prior_lines,
                   CarTInfusion.prior_allo_hsct, CarTInfusion.bridging_therapy,
                   CarTInfusion.lymphodepletion)
            .join(Participant, Participant.id == CarTInfusion.participant_id)
            .where(CarTInfusion.is_deleted.is_(False)), Participant.site_id))
    }
    course = {
        row[0]: row[1:] for row in session.execute(scope.filter(
            select(ClinicalCourse.participant_id, ClinicalCourse.crs_grade,
                   ClinicalCourse.icans_grade, ClinicalCourse.tocilizumab)
            .join(Participant, Participant.id == ClinicalCourse.participant_id)
            .where(ClinicalCourse.is_deleted.is_(False)), Participant.site_id))
    }
    out = []
    for person in people:
        if not person.analysable:
            continue
        inf = infusion.get(person.id)
        cc = course.get(person.id)
        infused_on = inf[0] if inf else None
        age = age_at(person.birth_year, person.birth_month, infused_on) if infused_on else None
        disease = Disease(inf[1]) if inf else None
        out.append(Baseline(
            participant_id=person.id, site_code=person.site_code, part=person.part.value,
            sex=person.sex, age=age, paediatric=None if age is None else age < ADULT_AGE,
            disease=None if disease is None else disease.value,
            disease_group=disease_group(disease),
            product=str(inf[2]) if inf else None, target=str(inf[3]) if inf else None,
            disease_status=str(inf[4]) if inf else None,
            prior_lines=inf[5] if inf else None, prior_allo_hsct=inf[6] if inf else None,
            bridging=inf[7] if inf else None, lymphodepletion=str(inf[8]) if inf else None,
            crs_grade=cc[0] if cc else None, icans_grade=cc[1] if cc else None,
            tocilizumab=cc[2] if cc else None, infused_on=infused_on,
        ))
    return out


def median_iqr(values: Iterable[float]) -> tuple[float, float, float] | None:
    """Median and quartiles (R's default type 7, as `quantile()`), None when empty."""
    data = sorted(values)
    if not data:
        return None
    if len(data) == 1:
        return data[0], data[0], data[0]
    q1, q2, q3 = statistics.quantiles(data, n=4, method="inclusive")
    return q2, q1, q3


# --- completeness and queries --------------------------------------------------------------

@dataclass
class SiteQuality:
    site_code: str
    included: int = 0
    with_infusion: int = 0
    with_clinical_course: int = 0
    with_follow_up: int = 0
    cmv_tests: int = 0
    records: int = 0
    records_complete: int = 0
    records_verified: int = 0
    queries_open: int = 0
    queries_answered: int = 0
    queries_closed: int = 0
    days_to_close: list[float] = field(default_factory=list)
    casebooks_signed: int = 0


def _count_by_site(session: Session, model: Any, scope: Scope, *conditions: Any) -> Counter[str]:
    query = scope.filter(
        select(Site.code, func.count())
        .select_from(model)
        .join(Participant, Participant.id == model.participant_id)
        .join(Site, Site.id == Participant.site_id)
        .where(*conditions)
        .group_by(Site.code), Participant.site_id)
    return Counter({code: int(n) for code, n in session.execute(query)})


def site_quality(session: Session, people: Sequence[ParticipantFacts], scope: Scope,
                 record_models: Sequence[Any]) -> list[SiteQuality]:
    """Completeness, verification, query and signature metrics per site."""
    sites: dict[str, SiteQuality] = {}
    included_ids: dict[int, str] = {}
    for person in people:
        sites.setdefault(person.site_code, SiteQuality(person.site_code))
        if person.analysable:
            sites[person.site_code].included += 1
            included_ids[person.id] = person.site_code
    for model, attribute in ((CarTInfusion, "with_infusion"),
                             (ClinicalCourse, "with_clinical_course"),
                             (FollowUp, "with_follow_up")):
        rows = session.execute(scope.filter(
            select(model.participant_id).join(Participant, Participant.id == model.participant_id)
            .where(model.is_deleted.is_(False)), Participant.site_id))
        for (pid,) in rows:
            if pid in included_ids:
                quality = sites[included_ids[pid]]
                setattr(quality, attribute, getattr(quality, attribute) + 1)
    for code, n in _count_by_site(session, ViralLoadResult, scope,
                                  ViralLoadResult.virus == Virus.CMV,
                                  ViralLoadResult.is_deleted.is_(False)).items():
        sites.setdefault(code, SiteQuality(code)).cmv_tests = n
    for model in record_models:
        alive = model.is_deleted.is_(False)
        for code, n in _count_by_site(session, model, scope, alive).items():
            sites.setdefault(code, SiteQuality(code)).records += n
        for code, n in _count_by_site(session, model, scope, alive,
                                      model.is_complete.is_(True)).items():
            sites[code].records_complete += n
    for code, n in _count_by_site(session, RecordReview, scope,
                                  RecordReview.verified_at.is_not(None),
                                  RecordReview.entity != "participant").items():
        sites.setdefault(code, SiteQuality(code)).records_verified = n
    queries = session.execute(scope.filter(
        select(Site.code, DataQuery.status, DataQuery.raised_at, DataQuery.closed_at)
        .join(Participant, Participant.id == DataQuery.participant_id)
        .join(Site, Site.id == Participant.site_id), Participant.site_id))
    for code, status, raised_at, closed_at in queries:
        quality = sites.setdefault(code, SiteQuality(code))
        state = QueryStatus(status)
        if state is QueryStatus.OPEN:
            quality.queries_open += 1
        elif state is QueryStatus.ANSWERED:
            quality.queries_answered += 1
        else:
            quality.queries_closed += 1
            if closed_at is not None and raised_at is not None:
                quality.days_to_close.append((closed_at - raised_at).total_seconds() / 86400)
    for code, n in _count_by_site(session, Signature, scope, Signature.entity == "participant",
                                  Signature.invalidated_at.is_(None)).items():
        sites.setdefault(code, SiteQuality(code)).casebooks_signed = n
    return [sites[code] for code in sorted(sites)]


# --- viral loads ---------------------------------------------------------------------------

@dataclass(frozen=True)
class LoadFact:
    participant_id: int
    virus: str
    specimen: str
    day: int
    state: ResultState
    log10: float | None


@functools.lru_cache(maxsize=1 << 16)
def _log10(value: Any) -> float:
    """`log10_load` as a float, remembered (the exact Decimal logarithm is costly
    and loads recur; equal values give equal logarithms)."""
    return float(log10_load(value))


def loads_by_study_day(session: Session, scope: Scope, viruses: Sequence[Virus],
                       d0: dict[int, date]) -> list[LoadFact]:
    """Results of `viruses` with their study day (participants with a D0 only).

    log10 is derived by `trialdb.study.viral_load.log10_load` from the value
    in the result's own unit (TTV, redondovirus and pegivirus: copies/mL).
    """
    query = scope.filter(
        select(ViralLoadResult.participant_id, ViralLoadResult.virus,
               ViralLoadResult.specimen, ViralLoadResult.sampled_on, ViralLoadResult.state,
               ViralLoadResult.value)
        .join(Participant, Participant.id == ViralLoadResult.participant_id)
        .where(ViralLoadResult.virus.in_([v.value for v in viruses]),
               ViralLoadResult.is_deleted.is_(False))
        .order_by(ViralLoadResult.participant_id, ViralLoadResult.sampled_on,
                  ViralLoadResult.id),
        Participant.site_id)
    out = []
    for pid, virus, specimen, sampled_on, state, value in session.execute(query):
        if pid not in d0:
            continue
        result_state = ResultState(state)
        log10 = (_log10(value) if result_state is ResultState.QUANTIFIED
                 and value is not None else None)
        out.append(LoadFact(pid, str(virus), str(specimen), study_day(d0[pid], sampled_on),
                            result_state, log10))
    return out


def d0_by_participant(baseline: Sequence[Baseline]) -> dict[int, date]:
    return {b.participant_id: b.infused_on for b in baseline if b.infused_on is not None}


# --- antivirals, CMV disease, resistance ---------------------------------------------------

@dataclass
class AntiviralSummary:
    drug: str
    indication: str
    participants: set[int] = field(default_factory=set)
    courses: int = 0
    durations: list[int] = field(default_factory=list)
    stop_reasons: Counter[str] = field(default_factory=Counter)


def antiviral_summary(session: Session, scope: Scope,
                      included: set[int]) -> list[AntiviralSummary]:
    query = scope.filter(
        select(AntiviralCourse.participant_id, AntiviralCourse.drug, AntiviralCourse.indication,
               AntiviralCourse.started_on, AntiviralCourse.ended_on, AntiviralCourse.stop_reason)
        .join(Participant, Participant.id == AntiviralCourse.participant_id)
        .where(AntiviralCourse.is_deleted.is_(False)), Participant.site_id)
    groups: dict[tuple[str, str], AntiviralSummary] = {}
    for pid, drug, indication, started, ended, reason in session.execute(query):
        if pid not in included:
            continue
        key = (str(drug), str(indication))
        summary = groups.setdefault(key, AntiviralSummary(*key))
        summary.participants.add(pid)
        summary.courses += 1
        if ended is not None:
            summary.durations.append((ended - started).days + 1)
        if reason is not None:
            summary.stop_reasons[str(reason)] += 1
    drug_order = {d.value: i for i, d in enumerate(Antiviral)}
    indication_order = {d.value: i for i, d in enumerate(AntiviralIndication)}
    return sorted(groups.values(), key=lambda s: (drug_order.get(s.drug, 99),
                                                  indication_order.get(s.indication, 99)))


TOXICITY_REASONS = frozenset({AntiviralStopReason.HAEMATOLOGICAL_TOXICITY.value,
                              AntiviralStopReason.RENAL_TOXICITY.value,
                              AntiviralStopReason.OTHER_TOXICITY.value})


def cmv_disease_counts(session: Session, scope: Scope,
                       included: set[int]) -> Counter[tuple[str, str]]:
    query = scope.filter(
        select(CmvDiseaseEpisode.participant_id, CmvDiseaseEpisode.organ,
               CmvDiseaseEpisode.certainty)
        .join(Participant, Participant.id == CmvDiseaseEpisode.participant_id)
        .where(CmvDiseaseEpisode.is_deleted.is_(False)), Participant.site_id)
    return Counter((str(organ), str(certainty)) for pid, organ, certainty in session.execute(query)
                   if pid in included)


@dataclass
class ResistanceSummary:
    genotypings: int = 0
    participants: set[int] = field(default_factory=set)
    failed_amplifications: int = 0
    mutations: dict[tuple[str, str], set[int]] = field(default_factory=dict)
    resistant: dict[str, set[int]] = field(default_factory=dict)


def resistance_summary(session: Session, scope: Scope, included: set[int]) -> ResistanceSummary:
    out = ResistanceSummary()
    genotypes = {
        gid: pid for gid, pid in session.execute(scope.filter(
            select(ResistanceGenotype.id, ResistanceGenotype.participant_id)
            .join(Participant, Participant.id == ResistanceGenotype.participant_id)
            .where(ResistanceGenotype.is_deleted.is_(False)), Participant.site_id))
        if pid in included
    }
    out.genotypings = len(genotypes)
    out.participants = set(genotypes.values())
    if not genotypes:
        return out
    def detail(*columns: Any) -> Select[Any]:
        return scope.filter(
            select(*columns)
            .join(ResistanceGenotype, ResistanceGenotype.id == columns[0])
            .join(Participant, Participant.id == ResistanceGenotype.participant_id)
            .where(ResistanceGenotype.is_deleted.is_(False)), Participant.site_id)

    for gid, outcome in session.execute(detail(GenotypeGene.genotype_id, GenotypeGene.outcome)):
        if gid in genotypes and GenotypeOutcome(outcome) is GenotypeOutcome.AMPLIFICATION_FAILED:
            out.failed_amplifications += 1
    for gid, gene, change in session.execute(detail(
            GenotypeMutation.genotype_id, GenotypeMutation.gene,
            GenotypeMutation.amino_acid_change)):
        if gid in genotypes:
            out.mutations.setdefault((str(gene), change), set()).add(genotypes[gid])
    for gid, drug, susceptibility in session.execute(detail(
            DrugSusceptibility.genotype_id, DrugSusceptibility.drug,
            DrugSusceptibility.susceptibility)):
        if gid in genotypes and Susceptibility(susceptibility) in (
                Susceptibility.RESISTANT, Susceptibility.LOW_LEVEL_RESISTANT):
            out.resistant.setdefault(str(drug), set()).add(genotypes[gid])
    return out


def assay_names(session: Session) -> dict[int, str]:
    return {i: n for i, n in session.execute(select(Assay.id, Assay.name))}
