"""Loading many participants at once: the bulk, audited write path.

Used by the demo generator and by imports of existing cohorts. A batch is
validated whole with the study's rules before anything is written; then
every table receives one bulk INSERT (SQLAlchemy 2 ORM bulk insert, batched
by insertmanyvalues) and the audit trail one row per created record, chained
in the same transaction. The caller commits, once per batch.

Each participant arrives as a `ParticipantBundle`: what the screening and
case-report forms would hold. Study numbers, the eligibility decision, the
validity of the consent, the participant's status and the state and value
of each viral load are computed here, never taken from the bundle.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from trialdb.db import insert_rows, reserve_ids, utcnow
from trialdb.errors import InvalidInput, NotFound, UserError
from trialdb.models import (
    AntiviralCourse,
    Assay,
    CarTInfusion,
    ClinicalCourse,
    CmvDiseaseEpisode,
    ConsentRecord,
    CorticosteroidCourse,
    DrugSusceptibility,
    EligibilityAssessment,
    FollowUp,
    GenotypeGene,
    GenotypeMutation,
    ImmuneMeasurement,
    Participant,
    ProtocolDeviation,
    ResistanceGenotype,
    Serology,
    Site,
    ViralLoadResult,
)
from trialdb.services import audit
from trialdb.services.actor import Actor
from trialdb.services.participants import MAX_PER_SITE, next_study_number
from trialdb.study.consent import ConsentFacts, assess_consent, expected_regime
from trialdb.study.eligibility import EligibilityDecision, EligibilityFacts, assess_eligibility
from trialdb.study.timeline import validate_birth_month
from trialdb.study.viral_load import ParsedLoad, parse_lab_result, validate_copies_per_iu
from trialdb.vocab import (
    Antiviral,
    CmvGene,
    GenotypeOutcome,
    LoadUnit,
    ParticipantStatus,
    Sex,
    Specimen,
    StudyPart,
    Susceptibility,
    Virus,
    WithdrawalDataChoice,
)

#: Values of one case-report form, keyed by the model's column names.
FormValues = Mapping[str, Any]

#: Participants per transaction recommended to callers (see `batched`).
DEFAULT_BATCH_SIZE = 200


# --- what a caller hands in -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AssaySpec:
    """A laboratory assay to create (see `trialdb.models.Assay`)."""

    name: str
    virus: Virus
    specimen: Specimen
    unit: LoadUnit
    limit_of_detection: float | None = None
    lloq: float | None = None
    copies_per_iu: float | None = None


@dataclass(frozen=True, slots=True)
class EligibilityAnswers:
    """The screening form's answers; None = not answered."""

    assessed_on: date
    car_t_for_refractory_disease: bool | None
    cmv_igg_positive: bool | None
    social_security_affiliation: bool | None
    under_guardianship: bool | None
    ame_beneficiary: bool | None


@dataclass(frozen=True, slots=True)
class ConsentForm:
    """The consent (prospective) or non-opposition (retrospective) form.

    The regime follows the participant's part; validity is computed."""

    consent_on: date
    document_version: str
    document_date: date | None = None
    only_one_parent_alive: bool = False
    patient_signed_on: date | None = None
    child_assent_on: date | None = None
    parent_1_signed_on: date | None = None
    parent_2_signed_on: date | None = None
    legal_representative_signed_on: date | None = None
    investigator_signed_on: date | None = None
    #: The investigator's statement of minor (True) or adult (False) on the date
    #: of consent, read only in the month of the 18th birthday.
    minor_at_consent: bool | None = None
    withdrawn_on: date | None = None
    withdrawal_data_choice: WithdrawalDataChoice | None = None
    withdrawal_note: str | None = None


@dataclass(frozen=True, slots=True)
class LabResult:
    """A viral load as the laboratory printed it, e.g. '<35', 'Non détecté', '1 360'.

    Virus, specimen and unit are the assay's; the state and value are parsed."""

    assay: str
    sampled_on: date
    reported_as: str


@dataclass(frozen=True, slots=True)
class GenotypeReport:
    """A resistance genotyping with its genes, mutations and interpretation."""

    sampled_on: date
    specimen: Specimen
    genes: Mapping[CmvGene, GenotypeOutcome]
    mutations: tuple[tuple[CmvGene, str], ...] = ()
    susceptibilities: Mapping[Antiviral, Susceptibility] = field(default_factory=dict)
    comment_text: str | None = None


@dataclass(frozen=True, slots=True)
class ParticipantBundle:
    """Everything known about one participant, as the forms would hold it.

    The clinical forms are given as `FormValues` keyed by column name; the
    participant's study number, status and every derived value are computed.
    """

    site_code: str
    part: StudyPart
    sex: Sex
    birth_year: int
    birth_month: int
    screened_on: date
    eligibility: EligibilityAnswers
    consent: ConsentForm | None = None
    serologies: tuple[FormValues, ...] = ()
    infusion: FormValues | None = None
    clinical_course: FormValues | None = None
    corticosteroids: tuple[FormValues, ...] = ()
    immune_measurements: tuple[FormValues, ...] = ()
    viral_loads: tuple[LabResult, ...] = ()
    antivirals: tuple[FormValues, ...] = ()
    cmv_disease: tuple[FormValues, ...] = ()
    genotypes: tuple[GenotypeReport, ...] = ()
    follow_up: FormValues | None = None
    deviations: tuple[FormValues, ...] = ()


@dataclass
class LoadReport:
    """What one or more batches created."""

    study_numbers: list[str] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    records: Counter[str] = field(default_factory=Counter)
    audit_events: int = 0

    def add(self, other: LoadReport) -> None:
        self.study_numbers.extend(other.study_numbers)
        self.statuses.update(other.statuses)
        self.records.update(other.records)
        self.audit_events += other.audit_events

    @property
    def rows(self) -> int:
        """Rows written, audit rows included."""
        return sum(self.records.values()) + self.audit_events


def batched(bundles: Sequence[ParticipantBundle],
            size: int = DEFAULT_BATCH_SIZE) -> Iterable[Sequence[ParticipantBundle]]:
    """Consecutive slices of at most `size` bundles, one transaction each."""
    if size < 1:
        raise ValueError("batch size must be positive")
    for start in range(0, len(bundles), size):
        yield bundles[start:start + size]


# --- reference data -------------------------------------------------------------------


def create_assays(session: Session, actor: Actor, specs: Sequence[AssaySpec]) -> list[Assay]:
    """Create laboratory assays, one audit row each. Refuses a name already used."""
    names = [spec.name.strip() for spec in specs]
    if len(set(names)) != len(names):
        raise InvalidInput("Two assays have the same name.", "Deux techniques ont le même nom.",
                           field="name")
    taken = set(session.scalars(select(Assay.name).where(Assay.name.in_(names))))
    if taken:
        listed = ", ".join(sorted(taken))
        raise InvalidInput(f"Assays already exist: {listed}.",
                           f"Ces techniques existent déjà : {listed}.", field="name")
    assays = []
    for spec, name in zip(specs, names, strict=True):
        if spec.copies_per_iu is not None:
            if spec.virus is not Virus.CMV:
                raise InvalidInput(
                    f"Assay {name}: a copies-per-IU factor exists only for CMV.",
                    f"Technique {name} : un facteur copies par UI n'existe que pour le CMV.",
                    field="copies_per_iu")
            validate_copies_per_iu(spec.copies_per_iu)
        if spec.unit is LoadUnit.IU_PER_ML and spec.virus is not Virus.CMV:
            raise InvalidInput(
                f"Assay {name}: only CMV has an international unit; use copies/mL.",
                f"Technique {name} : seul le CMV a une unité internationale ; "
                "utilisez copies/mL.", field="unit")
        lod, lloq = spec.limit_of_detection, spec.lloq
        if (lod is not None and lod <= 0) or (lloq is not None and lloq <= 0) or (
                lod is not None and lloq is not None and lod > lloq):
            raise InvalidInput(
                f"Assay {name}: limits must be positive, detection not above quantification.",
                f"Technique {name} : les limites doivent être positives, la limite de "
                "détection au plus égale à la limite de quantification.", field="lloq")
        assays.append(Assay(name=name, virus=spec.virus, specimen=spec.specimen,
                            unit=spec.unit, limit_of_detection=lod, lloq=lloq,
                            copies_per_iu=spec.copies_per_iu))
    session.add_all(assays)
    session.flush()
    audit.record_many(session, actor, [
        audit.Entry(action="create", entity="assay", entity_id=assay.id,
                    changes=_created(spec_values(spec)))
        for assay, spec in zip(assays, specs, strict=True)
    ])
    return assays


def spec_values(spec: AssaySpec) -> dict[str, Any]:
    return {"name": spec.name.strip(), "virus": spec.virus, "specimen": spec.specimen,
            "unit": spec.unit, "limit_of_detection": spec.limit_of_detection,
            "lloq": spec.lloq, "copies_per_iu": spec.copies_per_iu}


# --- validation -----------------------------------------------------------------------

# Columns a form may not set: keys, bookkeeping and what this module computes.
_NOT_GIVEN = frozenset({
    "id", "participant_id", "row_version", "is_complete", "is_deleted", "deletion_reason",
    "created_at", "updated_at",
})
_CHILD_MODELS: tuple[type[Any], ...] = (
    Serology, CarTInfusion, ClinicalCourse, CorticosteroidCourse, ImmuneMeasurement,
    AntiviralCourse, CmvDiseaseEpisode, FollowUp, ProtocolDeviation,
)
_GIVEN_COLUMNS: dict[type[Any], frozenset[str]] = {
    model: frozenset(model.__table__.columns.keys()) - _NOT_GIVEN for model in _CHILD_MODELS
}
# Forms that only an included participant has (screening forms excepted).
_FOLLOW_UP_FORMS = ("infusion", "clinical_course", "corticosteroids", "immune_measurements",
                    "viral_loads", "antivirals", "cmv_disease", "genotypes", "follow_up")
_DATE_FIELDS: dict[type[Any], tuple[str, ...]] = {
    model: tuple(name for name, column in model.__table__.columns.items()
                 if name not in _NOT_GIVEN and column.type.python_type is date)
    for model in _CHILD_MODELS
}
_EDITABLE_PARTICIPANT = ("part", "sex", "birth_year", "birth_month", "screened_on")


def _item_error(index: int, error: UserError) -> UserError:
    """The same kind of error, saying which bundle of the batch it is about."""
    return type(error)(f"Participant {index + 1} of the batch: {error.message('en')}",
                        f"Participant {index + 1} du lot : {error.message('fr')}",
                        field=error.field)


def _check_form(model: type[Any], values: FormValues, today: date,
                birth: tuple[int, int]) -> None:
    unknown = set(values) - _GIVEN_COLUMNS[model]
    if unknown:
        listed = ", ".join(sorted(unknown))
        raise InvalidInput(f"{model.__tablename__}: unknown or computed fields: {listed}.",
                           f"{model.__tablename__} : champs inconnus ou calculés : {listed}.")
    for name in _DATE_FIELDS[model]:
        day = values.get(name)
        if day is None:
            continue
        if day > today:
            raise InvalidInput(f"{model.__tablename__}.{name}: {day.isoformat()} is in the future.",
                               f"{model.__tablename__}.{name} : le {day:%d/%m/%Y} est dans le "
                               "futur.", field=name)
        if (day.year, day.month) < birth:
            raise InvalidInput(f"{model.__tablename__}.{name}: {day.isoformat()} is before birth.",
                               f"{model.__tablename__}.{name} : le {day:%d/%m/%Y} précède la "
                               "naissance.", field=name)


@lru_cache(maxsize=65536)
def _parse(text: str, unit: LoadUnit, lloq: float | None) -> ParsedLoad:
    """The study's parser, remembered: laboratories print the same few texts often."""
    return parse_lab_result(text, unit, lloq=lloq)


def _eligibility_decision(decision: EligibilityDecision) -> str:
    if decision.eligible:
        return "eligible"
    return "pending" if decision.pending else "not_eligible"


def _status(decision: EligibilityDecision, bundle: ParticipantBundle,
            consent_withdrawn: bool) -> ParticipantStatus:
    """Where the participant stands: screening rules first, then the follow-up form."""
    status = decision.status
    if consent_withdrawn:
        return ParticipantStatus.WITHDRAWN
    if status is not ParticipantStatus.INCLUDED or bundle.follow_up is None:
        return status
    follow_up = bundle.follow_up
    if follow_up.get("died_on") is not None:
        return ParticipantStatus.DIED
    if follow_up.get("lost_to_follow_up"):
        return ParticipantStatus.LOST_TO_FOLLOW_UP
    infusion = bundle.infusion
    last = follow_up.get("last_contact_on")
    if infusion is not None and last is not None and (last - infusion["infused_on"]).days >= 90:
        return ParticipantStatus.COMPLETED
    return status


@dataclass(slots=True)
class _Prepared:
    """One bundle validated: its rows, waiting for the participant's id."""

    bundle: ParticipantBundle
    site: Site
    participant: dict[str, Any]
    eligibility: dict[str, Any]
    consent: dict[str, Any] | None
    children: list[tuple[type[Any], dict[str, Any]]]
    genotypes: list[tuple[dict[str, Any], GenotypeReport]]


def _prepare(bundle: ParticipantBundle, site: Site, assays: Mapping[str, Assay],
             today: date) -> _Prepared:
    validate_birth_month(bundle.birth_year, bundle.birth_month, today)
    birth = (bundle.birth_year, bundle.birth_month)
    if bundle.screened_on > today:
        raise InvalidInput("The screening date is in the future.",
                           "La date de pré-inclusion est dans le futur.", field="screened_on")
    if (bundle.screened_on.year, bundle.screened_on.month) < birth:
        raise InvalidInput("The screening date is before birth.",
                           "La date de pré-inclusion précède la naissance.", field="screened_on")
    answers = bundle.eligibility
    if answers.assessed_on > today:
        raise InvalidInput("The eligibility assessment date is in the future.",
                           "La date d'évaluation de l'éligibilité est dans le futur.",
                           field="assessed_on")

    consent_row: dict[str, Any] | None = None
    consent_at_inclusion = None
    withdrawn = False
    form = bundle.consent
    if form is not None:
        regime = expected_regime(bundle.part)
        facts = ConsentFacts(
            part=bundle.part, regime=regime, consent_on=form.consent_on,
            birth_year=bundle.birth_year, birth_month=bundle.birth_month, today=today,
            document_date=form.document_date, only_one_parent_alive=form.only_one_parent_alive,
            patient_signed_on=form.patient_signed_on, child_assent_on=form.child_assent_on,
            parent_1_signed_on=form.parent_1_signed_on,
            parent_2_signed_on=form.parent_2_signed_on,
            legal_representative_signed_on=form.legal_representative_signed_on,
            investigator_signed_on=form.investigator_signed_on,
            minor_at_consent=form.minor_at_consent,
            withdrawn_on=form.withdrawn_on, withdrawal_data_choice=form.withdrawal_data_choice,
        )
        consent_decision = assess_consent(facts)
        withdrawn = consent_decision.withdrawn
        consent_at_inclusion = consent_decision
        if withdrawn and form.withdrawn_on is not None and form.withdrawn_on > form.consent_on:
            # Inclusion is judged on the day before the withdrawal, when the consent held.
            consent_at_inclusion = assess_consent(
                replace(facts, as_of=form.withdrawn_on - timedelta(days=1)))
        consent_row = {
            "regime": regime, "document_version": form.document_version,
            "document_date": form.document_date, "consent_on": form.consent_on,
            "only_one_parent_alive": form.only_one_parent_alive,
            "patient_signed_on": form.patient_signed_on,
            "child_assent_on": form.child_assent_on,
            "parent_1_signed_on": form.parent_1_signed_on,
            "parent_2_signed_on": form.parent_2_signed_on,
            "legal_representative_signed_on": form.legal_representative_signed_on,
            "investigator_signed_on": form.investigator_signed_on,
            "minor_at_consent": form.minor_at_consent,
            "is_valid": consent_decision.valid,
            "withdrawn_on": form.withdrawn_on,
            "withdrawal_data_choice": form.withdrawal_data_choice,
            "withdrawal_note": form.withdrawal_note,
        }

    infusion = bundle.infusion
    decision = assess_eligibility(EligibilityFacts(
        birth_year=bundle.birth_year, birth_month=bundle.birth_month,
        reference_date=infusion["infused_on"] if infusion is not None else bundle.screened_on,
        car_t_for_refractory_all_or_b_lymphoma=answers.car_t_for_refractory_disease,
        cmv_igg_positive=answers.cmv_igg_positive,
        social_security_affiliation=answers.social_security_affiliation,
        under_guardianship_or_curatorship=answers.under_guardianship,
        ame_beneficiary=answers.ame_beneficiary,
        consent=consent_at_inclusion,
    ))
    status = _status(decision, bundle, withdrawn)
    included = decision.included_allowed
    if not included:
        present = [name for name in _FOLLOW_UP_FORMS if getattr(bundle, name)]
        if present:
            raise InvalidInput(
                "A participant who is not included has no follow-up data "
                f"({', '.join(present)}).",
                "Un participant non inclus n'a pas de données de suivi "
                f"({', '.join(present)}).")
    elif infusion is None:
        raise InvalidInput("An included participant needs the infusion form (D0).",
                           "Un participant inclus doit avoir la fiche de perfusion (J0).",
                           field="infused_on")

    included_on = None
    if included and form is not None:
        signed = [day for day in (form.consent_on, form.investigator_signed_on, form.patient_signed_on,
                                  form.parent_1_signed_on, form.parent_2_signed_on,
                                  form.legal_representative_signed_on, form.child_assent_on)
                  if day is not None]
        included_on = max([answers.assessed_on, *signed])

    children: list[tuple[type[Any], dict[str, Any]]] = []

    def add(model: type[Any], values: FormValues) -> None:
        _check_form(model, values, today, birth)
        children.append((model, dict(values)))

    for values in bundle.serologies:
        add(Serology, values)
    if infusion is not None:
        add(CarTInfusion, infusion)
    if bundle.clinical_course is not None:
        add(ClinicalCourse, bundle.clinical_course)
    for values in bundle.corticosteroids:
        add(CorticosteroidCourse, values)
    for values in bundle.immune_measurements:
        add(ImmuneMeasurement, values)
    for result in bundle.viral_loads:
        children.append((ViralLoadResult, _viral_load_row(result, assays, today, birth)))
    for values in bundle.antivirals:
        add(AntiviralCourse, values)
    for values in bundle.cmv_disease:
        add(CmvDiseaseEpisode, values)
    if bundle.follow_up is not None:
        add(FollowUp, bundle.follow_up)
    for values in bundle.deviations:
        add(ProtocolDeviation, values)
    genotypes = []
    for report in bundle.genotypes:
        if report.sampled_on > today:
            raise InvalidInput("The genotyping date is in the future.",
                               "La date du génotypage est dans le futur.", field="sampled_on")
        genes = {gene for gene, _ in report.mutations}
        if not genes <= set(report.genes):
            raise InvalidInput("A mutation is reported in a gene that was not sequenced.",
                               "Une mutation est rapportée dans un gène non séquencé.",
                               field="mutations")
        genotypes.append(({"sampled_on": report.sampled_on, "specimen": report.specimen,
                           "comment_text": report.comment_text}, report))

    return _Prepared(
        bundle=bundle, site=site,
        participant={"site_id": site.id, "part": bundle.part, "sex": bundle.sex,
                     "birth_year": bundle.birth_year, "birth_month": bundle.birth_month,
                     "screened_on": bundle.screened_on, "status": status,
                     "included_on": included_on},
        eligibility={"assessed_on": answers.assessed_on,
                     "car_t_for_refractory_disease": answers.car_t_for_refractory_disease,
                     "cmv_igg_positive": answers.cmv_igg_positive,
                     "social_security_affiliation": answers.social_security_affiliation,
                     "under_guardianship": answers.under_guardianship,
                     "ame_beneficiary": answers.ame_beneficiary,
                     "decision": _eligibility_decision(decision),
                     "failed_criteria": [c.value for c in decision.failed_criteria]},
        consent=consent_row, children=children, genotypes=genotypes,
    )


def _viral_load_row(result: LabResult, assays: Mapping[str, Assay], today: date,
                    birth: tuple[int, int]) -> dict[str, Any]:
    assay = assays.get(result.assay)
    if assay is None:
        raise NotFound(f"There is no assay named {result.assay!r}.",
                       f"Aucune technique ne s'appelle {result.assay!r}.", field="assay")
    day = result.sampled_on
    if day > today or (day.year, day.month) < birth:
        raise InvalidInput(f"Viral load sampled on {day.isoformat()}: impossible date.",
                           f"Charge virale prélevée le {day:%d/%m/%Y} : date impossible.",
                           field="sampled_on")
    parsed = _parse(result.reported_as, assay.unit, assay.lloq)
    value = parsed.quantified_value
    return {"virus": assay.virus, "specimen": assay.specimen, "sampled_on": day,
            "assay_id": assay.id, "state": parsed.state,
            "value": None if value is None else float(value), "unit": assay.unit,
            "reported_as": result.reported_as}


# --- writing --------------------------------------------------------------------------


def _created(values: Mapping[str, Any]) -> dict[str, list[Any]]:
    """An audit row's changes for a new record: every field set, from nothing.

    Dates are written as the trail keeps them (ISO text) here, which spares
    the serialiser a call back per date."""
    return {name: [None, value.isoformat() if type(value) is date else value]
            for name, value in values.items() if value is not None}


def _insert_with_ids(session: Session, model: type[Any],
                     rows: list[dict[str, Any]]) -> list[int]:
    """Bulk INSERT of `rows` under ids reserved first; the ids in the order of `rows`."""
    if not rows:
        return []
    ids = reserve_ids(session, model.__table__, len(rows))
    for row, new_id in zip(rows, ids, strict=True):
        row["id"] = new_id
    insert_rows(session, cast(Table, model.__table__), rows)
    return ids


def load_participants(session: Session, actor: Actor, batch: Sequence[ParticipantBundle], *,
                      today: date | None = None) -> LoadReport:
    """Validate and write a batch of participants with every form they carry.

    Nothing is written unless every bundle is valid (InvalidInput names the
    first faulty one). Study numbers follow `participants.next_study_number`
    for each site. The caller's unit of work commits.
    """
    today = today or date.today()
    report = LoadReport()
    if not batch:
        return report
    codes = {bundle.site_code.strip().upper() for bundle in batch}
    sites = {site.code: site for site in session.scalars(select(Site).where(Site.code.in_(codes)))}
    names = {result.assay for bundle in batch for result in bundle.viral_loads}
    assays = {assay.name: assay
              for assay in session.scalars(select(Assay).where(Assay.name.in_(names)))}

    prepared: list[_Prepared] = []
    for index, bundle in enumerate(batch):
        site = sites.get(bundle.site_code.strip().upper())
        try:
            if site is None or not actor.may_see_site(site.id):
                raise NotFound(f"There is no site {bundle.site_code}.",
                               f"Le centre {bundle.site_code} n'existe pas.", field="site")
            if not site.is_active:
                raise InvalidInput(f"Site {site.code} no longer recruits.",
                                   f"Le centre {site.code} ne recrute plus.", field="site")
            prepared.append(_prepare(bundle, site, assays, today))
        except UserError as error:
            raise _item_error(index, error) from error

    # Study numbers: the site's next number, then the following ones in batch order.
    numbers: dict[int, int] = {}
    for item in prepared:
        site = item.site
        if site.id not in numbers:
            numbers[site.id] = int(next_study_number(session, site).rsplit("-", 1)[1])
        number = numbers[site.id]
        if number > MAX_PER_SITE:
            raise InvalidInput(f"Site {site.code} has used all its study numbers.",
                               f"Le centre {site.code} a épuisé ses numéros d'inclusion.")
        numbers[site.id] = number + 1
        item.participant["study_number"] = f"{site.code}-{number:04d}"

    now = utcnow()
    stamp = {"created_at": now, "updated_at": now}
    form_stamp = {**stamp, "row_version": 1, "is_complete": True, "is_deleted": False}
    participant_ids = _insert_with_ids(
        session, Participant, [{**item.participant, **stamp, "row_version": 1}
                               for item in prepared])

    entries: list[audit.Entry] = []
    pending: dict[type[Any], list[tuple[dict[str, Any], _Prepared, dict[str, Any]]]] = {}
    genotype_rows: list[tuple[dict[str, Any], _Prepared, dict[str, Any], GenotypeReport]] = []

    def queue(model: type[Any], item: _Prepared, pid: int, values: dict[str, Any]) -> None:
        row = {**values, **form_stamp, "participant_id": pid}
        pending.setdefault(model, []).append((row, item, values))

    for item, pid in zip(prepared, participant_ids, strict=True):
        number = item.participant["study_number"]
        entries.append(audit.Entry(
            action="create", entity="participant", entity_id=pid, study_number=number,
            site_code=item.site.code,
            changes_json=audit.canonical_json(
                _created({name: item.participant[name] for name in _EDITABLE_PARTICIPANT}
                         | {"status": item.participant["status"]})),
        ))
        report.study_numbers.append(number)
        report.statuses[str(item.participant["status"])] += 1
        queue(EligibilityAssessment, item, pid, item.eligibility)
        if item.consent is not None:
            queue(ConsentRecord, item, pid, item.consent)
        for model, values in item.children:
            queue(model, item, pid, values)
        for values, genotype in item.genotypes:
            genotype_rows.append(({**values, **form_stamp, "participant_id": pid}, item,
                                  values, genotype))
    report.records["participant"] += len(participant_ids)

    for model, queued in pending.items():
        ids = _insert_with_ids(session, model, [row for row, _, _ in queued])
        table = model.__tablename__
        report.records[table] += len(ids)
        for (_row, item, values), record_id in zip(queued, ids, strict=True):
            changes = _created(values)
            changes["is_complete"] = [None, True]
            # Keys are column names: the one-pass canonical serialisation applies.
            entries.append(audit.Entry(
                action="create", entity=table, entity_id=record_id,
                study_number=item.participant["study_number"], site_code=item.site.code,
                changes_json=audit.canonical_json(changes),
            ))
    if genotype_rows:
        ids = _insert_with_ids(session, ResistanceGenotype,
                                    [row for row, _, _, _ in genotype_rows])
        report.records[ResistanceGenotype.__tablename__] += len(ids)
        for (_row, item, values, genotype), record_id in zip(genotype_rows, ids, strict=True):
            entries.append(audit.Entry(
                action="create", entity=ResistanceGenotype.__tablename__, entity_id=record_id,
                study_number=item.participant["study_number"], site_code=item.site.code,
                changes_json=audit.canonical_json(
                    _created(values) | {"is_complete": [None, True]}
                    | _genotype_changes(genotype)),
            ))
        _insert_genotype_details(session, ids, [g for _, _, _, g in genotype_rows], report)

    audit.record_many(session, actor, entries)
    report.audit_events += len(entries)
    return report


def _genotype_changes(report: GenotypeReport) -> dict[str, list[Any]]:
    return {
        "genes": [None, {gene.value: outcome.value for gene, outcome in report.genes.items()}],
        "mutations": [None, [f"{gene.value} {change}" for gene, change in report.mutations]],
        "susceptibilities": [None, {drug.value: value.value
                                    for drug, value in report.susceptibilities.items()}],
    }


def _insert_genotype_details(session: Session, ids: list[int], reports: list[GenotypeReport],
                             report: LoadReport) -> None:
    genes = [{"genotype_id": gid, "gene": gene, "outcome": outcome}
             for gid, genotype in zip(ids, reports, strict=True)
             for gene, outcome in genotype.genes.items()]
    mutations = [{"genotype_id": gid, "gene": gene, "amino_acid_change": change}
                 for gid, genotype in zip(ids, reports, strict=True)
                 for gene, change in genotype.mutations]
    drugs = [{"genotype_id": gid, "drug": drug, "susceptibility": value}
             for gid, genotype in zip(ids, reports, strict=True)
             for drug, value in genotype.susceptibilities.items()]
    for model, rows in ((GenotypeGene, genes), (GenotypeMutation, mutations),
                        (DrugSusceptibility, drugs)):
        if rows:
            insert_rows(session, cast(Table, model.__table__), rows)
            report.records[model.__tablename__] += len(rows)

