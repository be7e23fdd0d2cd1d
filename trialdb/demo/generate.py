"""A realistic synthetic cohort, generated without touching a database.

Everything is drawn from `random.Random(seed)`, and every date is counted
from fixed dates (`REFERENCE_DATE`, `STUDY_OPENED`), so one seed always
gives the same cohort. The shape follows the published series the study
cites (STUDY.md): about 27-30 % CMV reactivation by day 90 with a median
onset near day 19-20 and a median peak near 127 IU/mL (Kampouri 2024, Lin
2024), dexamethasone and prior allogeneic transplant as risk factors
(Márquez-Algaba 2022), letermovir prophylaxis protecting while it is taken,
TTV rising before CMV in part of those who reactivate.

The output is a list of `ParticipantBundle`: what the forms would hold,
with viral loads as the laboratories print them. Study numbers, decisions
and derived values are left to the write path (`services.cohort`).
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Final, TypeVar

from trialdb.demo.reference import (
    ASSAY_BY_NAME,
    CMV_WHOLE_BLOOD,
    PEGI_PLASMA,
    REDONDO_PLASMA,
    REFERENCE_DATE,
    SITES,
    STUDY_OPENED,
    TTV_PLASMA,
    DemoSite,
)
from trialdb.services.cohort import (
    ConsentForm,
    EligibilityAnswers,
    GenotypeReport,
    LabResult,
    ParticipantBundle,
)
from trialdb.study.consent import Signatory, recommended_signatories, required_signatories
from trialdb.study.timeline import age_at, is_minor_at
from trialdb.vocab import (
    Antiviral,
    AntiviralIndication,
    AntiviralStopReason,
    CarTProduct,
    CmvDiseaseSite,
    CmvGene,
    Corticosteroid,
    DeathCause,
    DeviationCategory,
    DiagnosticCertainty,
    Disease,
    DiseaseStatus,
    GenotypeOutcome,
    Lymphodepletion,
    SerologyResult,
    Sex,
    Specimen,
    StudyPart,
    Susceptibility,
    TargetAntigen,
    Virus,
    WithdrawalDataChoice,
)

T = TypeVar("T")

#: Weekly CMV and TTV samples from D0 to D90.
WEEKLY_DAYS: Final = (0, 7, 14, 21, 28, 35, 42, 49, 56, 63, 70, 77, 84, 90)
#: Redondovirus and pegivirus are measured at fewer time points.
SPARSE_DAYS: Final = (0, 28, 90)
PREEMPTIVE_THRESHOLD_IU: Final = 1000.0
CHILD_SHARE: Final = 0.15
SCREEN_FAILURE_SHARE: Final = 0.11

# Whole blood carries more CMV DNA than plasma (cell-associated virus).
_WHOLE_BLOOD_OVER_PLASMA: Final = 2.5
_LOG_CMV_PLASMA_LOD: Final = math.log10(21.0)
# Baseline log-odds of reactivation by day 90, set so that about 30 % of the
# included participants show CMV DNAemia after D0 (deaths and missed samples
# included).
_BASE_LOG_ODDS: Final = -1.3

_FIRST_DOCUMENT: Final = ("v1.0", date(2023, 9, 15))
_SECOND_DOCUMENT: Final = ("v2.0", date(2025, 1, 10))
_NON_OPPOSITION_DOCUMENT: Final = ("NO-v1.0", date(2023, 9, 15))

_BRIDGING: Final[dict[Disease, tuple[str, ...]]] = {
    Disease.ALL: ("Vincristine-dexaméthasone", "Inotuzumab ozogamicine", "Blinatumomab",
                  "Chimiothérapie intrathécale"),
    Disease.LBCL: ("R-GemOx", "Polatuzumab-bendamustine-rituximab", "Radiothérapie", "R-DHAP",
                   "Corticothérapie seule"),
    Disease.FL: ("Rituximab-bendamustine", "Radiothérapie"),
    Disease.MCL: ("Ibrutinib", "R-BAC", "Radiothérapie"),
}


@dataclass
class DemoCohort:
    """The generated participants, in screening order, and what was drawn."""

    seed: int
    bundles: list[ParticipantBundle]
    facts: Counter[str] = field(default_factory=Counter)


# --- small drawing helpers ------------------------------------------------------------


def _pick(rng: random.Random, options: Sequence[T], weights: Sequence[float]) -> T:
    return rng.choices(options, weights=weights, k=1)[0]


def _day(d0: date, n: int) -> date:
    return d0 + timedelta(days=n)


def _between(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randint(0, (last - first).days))


def _printed(value: float, style: str) -> str:
    """A quantity as the site's laboratory prints it: three significant digits."""
    number = round(value)
    if number >= 1000:
        number = round(number, 2 - len(str(number)) + 1)
    if style == "scientific":
        return f"{number:.2E}".replace(".", ",")
    if style == "grouped" and number >= 1000:
        return f"{number:,}".replace(",", " ")
    return str(number)


_NOT_DETECTED_TEXT: Final = {"grouped": "Non détecté", "plain": "ND", "scientific": "Négatif"}


def _lab_text(value: float | None, lod: float, lloq: float, style: str) -> str:
    """How a load of `value` (None: no virus) comes back from the laboratory."""
    if value is None or value < lod:
        return _NOT_DETECTED_TEXT[style]
    if value < lloq:
        return "Détecté <LLOQ" if style == "plain" else f"<{lloq:g}"
    number = max(round(value), math.ceil(lloq))
    if style == "scientific":
        shown = float(f"{number:.2E}")
        if shown < lloq:
            number = math.ceil(lloq)
    return _printed(number, style)


# --- the patient as drawn -------------------------------------------------------------


@dataclass
class _Patient:
    """Everything drawn for one patient before the forms are written."""

    index: int
    site: DemoSite
    part: StudyPart
    sex: Sex
    child: bool
    age: int
    birth_year: int
    birth_month: int
    disease: Disease
    product: CarTProduct
    d0: date
    screened_on: date
    failure: str | None = None  # screen-failure reason, "pending" for consent in progress
    # Clinical course.
    crs: int = 0
    icans: int = 0
    tocilizumab: bool = False
    dexamethasone: bool = False
    methylprednisolone: bool = False
    prior_allo: bool = False
    letermovir: bool = False
    letermovir_end: int = 0
    # Outcomes, in days from D0 (None: did not happen before the reference date).
    death_day: int | None = None
    death_cause: DeathCause | None = None
    withdrawn_day: int | None = None
    lost_day: int | None = None
    # CMV, in days from D0.
    cmv_onset: float | None = None
    cmv_peak_log: float = 0.0
    cmv_rise_days: int = 7
    cmv_decline: float = 0.08
    prevalent: bool = False
    ttv_before_cmv: bool = False
    script: str | None = None  # "refractory", "disease:<organ>", "amplification_failed"
    deviation: DeviationCategory | None = None

    @property
    def stop_day(self) -> int:
        """Last day on which this participant can be sampled."""
        limits = [(REFERENCE_DATE - self.d0).days]
        for day in (self.death_day, self.withdrawn_day, self.lost_day):
            if day is not None:
                limits.append(day)
        return min(limits)


def _draw_patient(rng: random.Random, index: int) -> _Patient:
    child = rng.random() < CHILD_SHARE
    site = _pick(rng, SITES, [s.child_weight if child else s.weight for s in SITES])
    part = StudyPart.RETROSPECTIVE if rng.random() < 0.55 else StudyPart.PROSPECTIVE
    if part is StudyPart.RETROSPECTIVE:
        d0 = _between(rng, date(2021, 1, 4), date(2023, 10, 27))
        screened_on = _between(rng, STUDY_OPENED, date(2025, 6, 30))
    else:
        d0 = _between(rng, date(2023, 12, 4), date(2026, 8, 28))
        screened_on = _day(d0, -rng.randint(7, 21))

    if child:
        age = rng.choice((1, 2, 3, 3, 4, 4, 5, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17))
        disease = Disease.LBCL if age >= 12 and rng.random() < 0.05 else Disease.ALL
    else:
        disease = _pick(rng, (Disease.LBCL, Disease.MCL, Disease.FL, Disease.ALL),
                        (0.60, 0.14, 0.12, 0.14))
        low, high, mode = {Disease.ALL: (18, 72, 35), Disease.LBCL: (22, 80, 64),
                           Disease.FL: (35, 80, 60), Disease.MCL: (45, 80, 68)}[disease]
        age = min(80, max(18, round(rng.triangular(low, high, mode))))
    # A birth month other than D0's month makes the age at D0 certain.
    birth_month = rng.choice([m for m in range(1, 13) if m != d0.month])
    birth_year = d0.year - age - (1 if d0.month < birth_month else 0)

    if disease is Disease.ALL:
        if age <= 25:
            product = CarTProduct.TISAGENLECLEUCEL if age < 18 or rng.random() < 0.7 \
                else CarTProduct.BREXUCABTAGENE
        elif d0 >= date(2025, 1, 1) and rng.random() < 0.35:
            product = CarTProduct.OBECABTAGENE
        else:
            product = CarTProduct.BREXUCABTAGENE
    elif disease is Disease.LBCL:
        product = _pick(rng, (CarTProduct.AXICABTAGENE, CarTProduct.TISAGENLECLEUCEL,
                              CarTProduct.LISOCABTAGENE), (0.5, 0.2, 0.3))
    elif disease is Disease.FL:
        product = rng.choice((CarTProduct.TISAGENLECLEUCEL, CarTProduct.AXICABTAGENE))
    else:
        product = _pick(rng, (CarTProduct.BREXUCABTAGENE, CarTProduct.LISOCABTAGENE),
                        (0.8, 0.2))

    patient = _Patient(index=index, site=site, part=part,
                       sex=Sex.MALE if rng.random() < 0.58 else Sex.FEMALE, child=child,
                       age=age, birth_year=birth_year, birth_month=birth_month,
                       disease=disease, product=product, d0=d0, screened_on=screened_on)
    if rng.random() < SCREEN_FAILURE_SHARE:
        patient.failure = _pick(
            rng, ("cmv_seronegative", "no_social_security", "ame", "guardianship",
                  "not_refractory", "pending"),
            (0.50, 0.16, 0.10, 0.05, 0.09, 0.10))
        if patient.failure == "pending":
            # Consent still being collected: a prospective patient screened lately.
            patient.part = StudyPart.PROSPECTIVE
            patient.screened_on = _between(rng, date(2026, 9, 14), REFERENCE_DATE)
            patient.d0 = _day(patient.screened_on, rng.randint(10, 25))
        return patient
    _draw_course(rng, patient)
    _draw_outcomes(rng, patient)
    _draw_cmv(rng, patient)
    return patient


def _draw_course(rng: random.Random, p: _Patient) -> None:
    strong = p.product in (CarTProduct.AXICABTAGENE, CarTProduct.BREXUCABTAGENE)
    p.crs = _pick(rng, range(5), (0.10, 0.45, 0.33, 0.08, 0.04) if strong
                  else (0.35, 0.40, 0.18, 0.05, 0.02))
    p.icans = _pick(rng, range(5), (0.40, 0.15, 0.20, 0.17, 0.08) if strong
                    else (0.75, 0.10, 0.08, 0.05, 0.02))
    p.tocilizumab = rng.random() < (0.85 if p.crs >= 2 else 0.25 if p.crs == 1 else 0.0)
    p.dexamethasone = (
        rng.random() < (0.9 if p.icans >= 2 else 0.3 if p.icans == 1 else 0.0)
        or rng.random() < (0.8 if p.crs >= 3 else 0.2 if p.crs == 2 else 0.0))
    p.methylprednisolone = p.icans >= 3 and rng.random() < 0.6
    allo_risk = (0.30 if p.child else 0.45) if p.disease is Disease.ALL else 0.04
    p.prior_allo = rng.random() < allo_risk
    p.letermovir = rng.random() < (0.35 if p.prior_allo else 0.06)
    p.letermovir_end = rng.randint(84, 100)


def _draw_outcomes(rng: random.Random, p: _Patient) -> None:
    horizon = (REFERENCE_DATE - p.d0).days
    # Retrospective participants were alive when they gave their non-opposition.
    earliest = (p.screened_on - p.d0).days + 21 if p.part is StudyPart.RETROSPECTIVE else 1
    severe = p.icans >= 3 or p.crs >= 3
    if p.part is StudyPart.PROSPECTIVE and rng.random() < (0.16 if severe else 0.08):
        day = rng.randint(6, 89)
        p.death_day = day
        if day < 30:
            p.death_cause = _pick(rng, (DeathCause.CAR_T_TOXICITY, DeathCause.INFECTION,
                                        DeathCause.DISEASE_PROGRESSION), (0.45, 0.30, 0.25))
        else:
            p.death_cause = _pick(rng, (DeathCause.DISEASE_PROGRESSION, DeathCause.INFECTION,
                                        DeathCause.OTHER), (0.6, 0.3, 0.1))
    else:
        # Later deaths, mostly from progression: about 15 % a year after day 90.
        day = max(earliest, 91) + int(rng.expovariate(0.15 / 365))
        if day <= horizon:
            p.death_day = day
            p.death_cause = _pick(rng, (DeathCause.DISEASE_PROGRESSION, DeathCause.INFECTION,
                                        DeathCause.OTHER, DeathCause.UNKNOWN),
                                  (0.7, 0.15, 0.1, 0.05))
    if p.death_day is not None and p.death_day > horizon:
        p.death_day, p.death_cause = None, None  # not yet happened on the reference date
    if p.death_day is None and rng.random() < 0.02:
        p.lost_day = max(earliest, rng.randint(40, 300))


def _draw_cmv(rng: random.Random, p: _Patient) -> None:
    if rng.random() < 0.03:
        p.prevalent = True
        return
    log_odds = (_BASE_LOG_ODDS + 0.9 * p.dexamethasone + 0.5 * p.methylprednisolone
                + 0.5 * p.prior_allo + 0.3 * p.tocilizumab + 0.3 * (p.crs >= 3)
                + 0.3 * (p.disease is Disease.ALL) - 0.3 * p.child)
    if rng.random() >= 1 / (1 + math.exp(-log_odds)):
        return
    if p.letermovir:
        # Protected while taking it; some reactivate once prophylaxis stops.
        if rng.random() < 0.6:
            return
        onset = p.letermovir_end + rng.uniform(5, 40)
    else:
        onset = min(86.0, max(4.0, rng.lognormvariate(math.log(15.5), 0.45)))
    p.cmv_onset = onset
    p.cmv_peak_log = min(5.3, max(1.45, rng.gauss(2.25, 0.7)))
    p.cmv_rise_days = rng.randint(5, 14)
    p.cmv_decline = rng.uniform(0.05, 0.12)
    p.ttv_before_cmv = rng.random() < 0.6


# --- scripted cases -------------------------------------------------------------------


def _assign_scripts(patients: list[_Patient], rng: random.Random) -> None:
    """The rare stories a demo must show, a few of each whatever the size."""
    included = [p for p in patients if p.failure is None]
    n = len(patients)
    early = [p for p in included if p.cmv_onset is not None and p.cmv_onset < 40
             and p.death_day is None and p.stop_day > 120 and p.lost_day is None]
    refractory = max(1, round(n * 0.004))
    disease = max(1, round(n * 0.008)) if n >= 40 else 1
    queue = list(early)
    for p in queue[:refractory]:
        p.script = "refractory"
        p.cmv_onset = min(p.cmv_onset or 12.0, 16.0)
        p.cmv_peak_log = 3.6
        p.cmv_rise_days = 8
    for i, p in enumerate(queue[refractory:refractory + disease]):
        p.script = "disease:" + (CmvDiseaseSite.GASTROINTESTINAL if i % 2 == 0
                                 else CmvDiseaseSite.PNEUMONIA)
        p.cmv_peak_log = max(p.cmv_peak_log, 4.2)
    for p in queue[refractory + disease:refractory + disease + 1]:
        p.script = "amplification_failed"
        p.cmv_peak_log = 3.15
    # Withdrawals and deviations among prospective participants still followed.
    followed = [p for p in included if p.part is StudyPart.PROSPECTIVE and p.script is None
                and p.death_day is None and p.lost_day is None and p.stop_day > 100]
    rng.shuffle(followed)
    withdrawals = max(1, round(n * 0.006))
    for p in followed[:withdrawals]:
        p.withdrawn_day = rng.randint(35, 70)
    deviations = max(2, round(len(included) * 0.02))
    categories = (DeviationCategory.MISSED_VISIT, DeviationCategory.SAMPLE_OUT_OF_WINDOW)
    for i, p in enumerate(followed[withdrawals:withdrawals + deviations]):
        p.deviation = categories[i % 2]


# --- the forms ------------------------------------------------------------------------


def _consent(rng: random.Random, p: _Patient, *, complete: bool) -> ConsentForm:
    if p.part is StudyPart.PROSPECTIVE:
        consent_on = _day(p.screened_on, rng.randint(0, 3))
        version, document_date = (_SECOND_DOCUMENT if consent_on >= date(2025, 2, 1)
                                  else _FIRST_DOCUMENT)
    else:
        consent_on = min(_day(p.screened_on, rng.randint(0, 20)), REFERENCE_DATE)
        version, document_date = _NON_OPPOSITION_DOCUMENT
    minor = is_minor_at(p.birth_year, p.birth_month, consent_on)
    child_age = age_at(p.birth_year, p.birth_month, consent_on) if minor else None
    one_parent = minor and rng.random() < 0.08
    required = set(required_signatories(p.part, minor, one_parent, child_age_years=child_age))
    wanted = required | {who for who in recommended_signatories(p.part, minor,
                                                                child_age_years=child_age)
                         if rng.random() < 0.7}
    if not complete:
        # Still collecting: the second signature and the investigator's are awaited.
        wanted -= {Signatory.INVESTIGATOR, Signatory.PARENT_2, Signatory.LEGAL_REPRESENTATIVE,
                   Signatory.PATIENT}
    latest = REFERENCE_DATE
    if p.part is StudyPart.PROSPECTIVE and complete:
        latest = min(latest, _day(p.d0, -1))
    signed: dict[Signatory, date] = {}
    for who in wanted - {Signatory.INVESTIGATOR}:
        signed[who] = min(_day(consent_on, rng.choice((0, 0, 0, 1, 2))), latest)
    if Signatory.INVESTIGATOR in wanted:
        last_other = max(signed.values(), default=consent_on)
        signed[Signatory.INVESTIGATOR] = min(_day(last_other, rng.choice((0, 0, 1, 3))), latest)
        if signed[Signatory.INVESTIGATOR] < last_other:
            signed[Signatory.INVESTIGATOR] = last_other
    withdrawn_on = None if p.withdrawn_day is None else _day(p.d0, p.withdrawn_day)
    choice = None
    if withdrawn_on is not None:
        choice = WithdrawalDataChoice.EXCLUDE if p.index % 3 == 0 else WithdrawalDataChoice.KEEP
    return ConsentForm(
        consent_on=consent_on, document_version=version, document_date=document_date,
        only_one_parent_alive=one_parent,
        patient_signed_on=signed.get(Signatory.PATIENT),
        child_assent_on=signed.get(Signatory.CHILD_ASSENT),
        parent_1_signed_on=signed.get(Signatory.PARENT_1),
        parent_2_signed_on=signed.get(Signatory.PARENT_2),
        legal_representative_signed_on=signed.get(Signatory.LEGAL_REPRESENTATIVE),
        investigator_signed_on=signed.get(Signatory.INVESTIGATOR),
        withdrawn_on=withdrawn_on, withdrawal_data_choice=choice,
        withdrawal_note=None if withdrawn_on is None
        else "Retrait du consentement à la demande du participant",
    )


def _screening(rng: random.Random, p: _Patient) -> dict[str, Any]:
    failure = p.failure
    answers = EligibilityAnswers(
        assessed_on=p.screened_on,
        car_t_for_refractory_disease=failure != "not_refractory",
        cmv_igg_positive=failure != "cmv_seronegative",
        social_security_affiliation=failure != "no_social_security",
        under_guardianship=failure == "guardianship",
        ame_beneficiary=failure == "ame",
    )
    if p.part is StudyPart.PROSPECTIVE:
        serology_on = _day(p.screened_on, -rng.randint(0, 20))
    else:
        serology_on = _day(p.d0, -rng.randint(7, 60))
    serology = {"virus": Virus.CMV, "sampled_on": serology_on,
                "result": SerologyResult.NEGATIVE if failure == "cmv_seronegative"
                else SerologyResult.POSITIVE}
    # Some patients failing screening were never asked for consent.
    approached = failure is None or failure == "pending" or rng.random() < 0.6
    consent = _consent(rng, p, complete=failure != "pending") if approached else None
    return {"eligibility": answers, "consent": consent, "serologies": (serology,)}


def _infusion(rng: random.Random, p: _Patient) -> dict[str, Any]:
    if p.disease is Disease.ALL:
        status = _pick(rng, (DiseaseStatus.COMPLETE_REMISSION, DiseaseStatus.RELAPSE,
                             DiseaseStatus.PROGRESSIVE), (0.45, 0.40, 0.15))
        lines = rng.randint(2, 4)
    else:
        status = _pick(rng, (DiseaseStatus.PROGRESSIVE, DiseaseStatus.STABLE,
                             DiseaseStatus.PARTIAL_RESPONSE, DiseaseStatus.COMPLETE_REMISSION),
                       (0.45, 0.15, 0.30, 0.10))
        second_line = (p.disease is Disease.LBCL and p.product in (
            CarTProduct.AXICABTAGENE, CarTProduct.LISOCABTAGENE) and rng.random() < 0.25)
        lines = 1 if second_line else rng.randint(2, 6 if p.disease is Disease.FL else 4)
    bridging = rng.random() < 0.65
    lymphodepletion = Lymphodepletion.FLU_CY
    if p.product is CarTProduct.TISAGENLECLEUCEL and p.disease is not Disease.ALL \
            and rng.random() < 0.3:
        lymphodepletion = Lymphodepletion.BENDAMUSTINE
    return {
        "infused_on": p.d0, "product": p.product, "target_antigen": TargetAntigen.CD19,
        "disease": p.disease, "disease_status": status, "prior_lines": lines,
        "prior_allo_hsct": p.prior_allo,
        "prior_allo_hsct_on": _day(p.d0, -rng.randint(180, max(181, min(1500, p.age * 365 - 30))))
        if p.prior_allo else None,
        "bridging_therapy": bridging,
        "bridging_regimen": rng.choice(_BRIDGING[p.disease]) if bridging else None,
        "lymphodepletion": lymphodepletion,
    }


def _clinical(rng: random.Random, p: _Patient) -> dict[str, Any]:
    alive = p.stop_day
    crs_onset = rng.randint(1, 7)
    icans_onset = rng.randint(3, 10)
    course: dict[str, Any] = {
        "clinical_course": {
            "crs_grade": p.crs,
            "crs_onset_on": _day(p.d0, crs_onset) if p.crs else None,
            "icans_grade": p.icans,
            "icans_onset_on": _day(p.d0, icans_onset) if p.icans else None,
            "tocilizumab": p.tocilizumab,
            "tocilizumab_doses": (rng.randint(2, 4) if p.crs >= 3 else rng.randint(1, 2))
            if p.tocilizumab else None,
            "ivig": rng.random() < (0.6 if p.child else 0.3),
        }}
    steroids: list[dict[str, Any]] = []
    if p.dexamethasone:
        start = (icans_onset if p.icans >= 1 else crs_onset) + rng.randint(0, 1)
        dose = rng.choice((10.0, 15.0)) if p.child else rng.choice((20.0, 30.0, 40.0))
        steroids.append({"drug": Corticosteroid.DEXAMETHASONE, "daily_dose_mg": dose,
                         "started_on": _day(p.d0, start),
                         "ended_on": _day(p.d0, min(alive, start + rng.randint(2, 8))),
                         "indication": "ICANS" if p.icans >= 1 else "CRS"})
    if p.methylprednisolone:
        start = icans_onset + rng.randint(1, 3)
        steroids.append({"drug": Corticosteroid.METHYLPREDNISOLONE,
                         "daily_dose_mg": 500.0 if p.child else 1000.0,
                         "started_on": _day(p.d0, start),
                         "ended_on": _day(p.d0, min(alive, start + 2)),
                         "indication": "ICANS"})
    course["corticosteroids"] = tuple(s for s in steroids if s["started_on"] <= _day(p.d0, alive))
    measurements = []
    for day, lymphocytes in ((0, 80.0), (28, 400.0), (90, 700.0)):
        if day > alive:
            break
        igg = max(1.5, rng.gauss(4.0 if p.disease is Disease.ALL else 5.5, 1.6))
        measurements.append({
            "measured_on": _day(p.d0, day),
            "lymphocytes_per_ul": float(round(rng.lognormvariate(math.log(lymphocytes), 0.6))),
            "igg_g_per_l": round(igg, 1)})
    course["immune_measurements"] = tuple(measurements)
    return course


def _follow_up(rng: random.Random, p: _Patient) -> dict[str, Any]:
    horizon = (REFERENCE_DATE - p.d0).days
    last = p.stop_day if p.death_day is None else p.death_day
    if p.death_day is None and p.withdrawn_day is None and p.lost_day is None:
        last = max(1, horizon - rng.randint(0, 60))
    relapse = None
    if p.death_cause is DeathCause.DISEASE_PROGRESSION and p.death_day is not None:
        relapse = max(1, p.death_day - rng.randint(10, 60))
    elif rng.random() < 0.35:
        day = rng.randint(60, 540)
        relapse = day if day < last else None
    allo = None
    if relapse is None and rng.random() < (0.25 if p.disease is Disease.ALL else 0.02):
        day = rng.randint(45, 150)
        allo = day if day < last else None
    new_line = None
    if relapse is not None:
        day = relapse + rng.randint(7, 40)
        new_line = day if day <= last else None
    icu = rng.random() < (0.6 if p.crs >= 3 or p.icans >= 3 else 0.08)
    icu_day = min(last, rng.randint(2, 10))
    return {
        "last_contact_on": _day(p.d0, last),
        "died_on": _day(p.d0, p.death_day) if p.death_day is not None else None,
        "death_cause": p.death_cause,
        "relapse_on": _day(p.d0, relapse) if relapse is not None else None,
        "later_allo_hsct_on": _day(p.d0, allo) if allo is not None else None,
        "new_line_on": _day(p.d0, new_line) if new_line is not None else None,
        "icu_admission": icu,
        "icu_admitted_on": _day(p.d0, icu_day) if icu else None,
        "lost_to_follow_up": p.lost_day is not None,
    }


# --- viral loads and antivirals -------------------------------------------------------


@dataclass
class _Therapy:
    drug: Antiviral
    indication: AntiviralIndication
    start: int
    end: int | None = None
    stop: AntiviralStopReason | None = None


def _dose(drug: Antiviral, child: bool) -> tuple[float, str]:
    if drug is Antiviral.VALGANCICLOVIR:
        return 900.0, "900 mg x2/j"
    if drug is Antiviral.GANCICLOVIR:
        return (100.0 if child else 350.0), "5 mg/kg x2/j"
    if drug is Antiviral.FOSCARNET:
        return (1800.0 if child else 6000.0), "90 mg/kg x2/j"
    return 480.0, "480 mg/j"


def _cmv_log(p: _Patient, t: float, therapies: list[_Therapy]) -> float | None:
    """The latent plasma CMV load (log10 IU/mL) on day t, None when no virus."""
    onset = p.cmv_onset
    if onset is None or t < onset:
        return None
    peak_day = onset + p.cmv_rise_days
    if t <= peak_day:
        return _LOG_CMV_PLASMA_LOD + (p.cmv_peak_log - _LOG_CMV_PLASMA_LOD) * (t - onset) / (
            p.cmv_rise_days)
    level = p.cmv_peak_log
    day = peak_day
    if p.script == "refractory":
        therapy = therapies[0].start if therapies else None
        switch = therapies[1].start if len(therapies) > 1 else None
        if therapy is not None and t > therapy and (switch is None or t <= switch):
            return level + 0.09 * (t - max(therapy, peak_day))
        if switch is not None and t > switch:
            top = level + 0.09 * (switch - max(therapy or switch, peak_day))
            return top - 0.16 * (t - switch)
        return level
    effective = [th.start for th in therapies if th.indication is not AntiviralIndication.PROPHYLAXIS]
    start = min(effective) if effective else None
    if start is not None and start < t:
        if start > day:
            level -= p.cmv_decline * (start - day)
            day = start
        return level - 0.17 * (t - day)
    return level - p.cmv_decline * (t - day)


def _sample_days(rng: random.Random, p: _Patient, days: Sequence[int],
                 miss: float) -> list[tuple[int, int]]:
    """(scheduled day, actual day) of the samples taken."""
    taken = []
    for scheduled in days:
        if scheduled == 0:
            actual = _pick(rng, (0, -1, -2), (0.85, 0.10, 0.05))
        elif scheduled == 90:
            actual = 90 + rng.randint(-3, 3)
        else:
            actual = scheduled + rng.choice((-1, 0, 0, 0, 1))
        if scheduled and rng.random() < miss:
            continue
        if p.deviation is DeviationCategory.MISSED_VISIT and scheduled == 14:
            continue
        if p.deviation is DeviationCategory.SAMPLE_OUT_OF_WINDOW and scheduled == 28:
            actual = 33
        if actual > p.stop_day:
            break
        taken.append((scheduled, actual))
    return taken


def _virology(rng: random.Random, p: _Patient) -> dict[str, Any]:
    style = p.site.number_style
    cmv_assay = ASSAY_BY_NAME[p.site.cmv_assay]
    whole_blood = p.site.cmv_assay == CMV_WHOLE_BLOOD
    miss = 0.07 if p.part is StudyPart.RETROSPECTIVE else 0.03
    weekly = _sample_days(rng, p, WEEKLY_DAYS, miss)
    therapies: list[_Therapy] = []
    if p.letermovir:
        end = min(p.letermovir_end, p.stop_day)
        therapies.append(_Therapy(
            Antiviral.LETERMOVIR, AntiviralIndication.PROPHYLAXIS, rng.randint(0, 5), end,
            AntiviralStopReason.DEATH if p.death_day == end
            else AntiviralStopReason.END_OF_PROPHYLAXIS if end == p.letermovir_end
            else AntiviralStopReason.OTHER))
    treatments: list[_Therapy] = []
    results: list[LabResult] = []
    genotypes: list[GenotypeReport] = []
    episodes: list[dict[str, Any]] = []
    ttv_base = rng.gauss(3.2, 0.8)
    ttv_slope = max(0.0, rng.gauss(0.025, 0.01))
    ttv_negative = rng.random() < 0.05
    surge = rng.uniform(1.0, 2.0)
    refractory_checked = False
    for scheduled, day in weekly:
        # CMV.
        if p.prevalent and scheduled <= 7:
            log_iu: float | None = rng.uniform(1.2, 2.6) if scheduled == 0 else (
                rng.uniform(1.2, 1.5) if rng.random() < 0.5 else None)
        else:
            log_iu = _cmv_log(p, day, treatments)
        value = None
        if log_iu is not None:
            value = 10 ** (log_iu + rng.gauss(0, 0.12))
            if whole_blood:
                value *= (cmv_assay.copies_per_iu or 1.0) * _WHOLE_BLOOD_OVER_PLASMA
        assert cmv_assay.limit_of_detection is not None and cmv_assay.lloq is not None
        results.append(LabResult(cmv_assay.name, _day(p.d0, day),
                                 _lab_text(value, cmv_assay.limit_of_detection,
                                           cmv_assay.lloq, style)))
        iu = None if value is None else (
            value / ((cmv_assay.copies_per_iu or 1.0) * _WHOLE_BLOOD_OVER_PLASMA)
            if whole_blood else value)
        # Treatment decisions follow the result.
        if iu is not None and iu >= PREEMPTIVE_THRESHOLD_IU and not treatments and scheduled:
            _start_treatment(rng, p, day, treatments, episodes)
        if (p.script == "refractory" and treatments and not refractory_checked
                and day >= treatments[0].start + 14):
            refractory_checked = True
            _resistance(rng, p, day, treatments, genotypes)
        if (p.script == "amplification_failed" and treatments and not genotypes
                and day >= treatments[0].start + 14):
            genotypes.append(GenotypeReport(
                sampled_on=_day(p.d0, day), specimen=cmv_assay.specimen,
                genes={CmvGene.UL97: GenotypeOutcome.AMPLIFICATION_FAILED,
                       CmvGene.UL54: GenotypeOutcome.AMPLIFICATION_FAILED},
                comment_text="Échec d'amplification : charge virale insuffisante"))
        # TTV, from the same blood draw.
        if rng.random() < 0.05:
            continue
        ttv_log = None if ttv_negative else ttv_base + ttv_slope * min(day, 60)
        if ttv_log is not None and p.ttv_before_cmv and p.cmv_onset is not None:
            lead_start = p.cmv_onset - 14
            if day >= lead_start:
                ttv_log += surge * min(1.0, (day - lead_start) / 11)
        ttv = ASSAY_BY_NAME[TTV_PLASMA]
        assert ttv.limit_of_detection is not None and ttv.lloq is not None
        results.append(LabResult(ttv.name, _day(p.d0, day), _lab_text(
            None if ttv_log is None else 10 ** (ttv_log + rng.gauss(0, 0.2)),
            ttv.limit_of_detection, ttv.lloq, style)))
    _close_treatments(rng, p, treatments, weekly)
    for name, prevalence, centre in ((REDONDO_PLASMA, 0.30, 3.5), (PEGI_PLASMA, 0.12, 4.5)):
        assay = ASSAY_BY_NAME[name]
        assert assay.limit_of_detection is not None and assay.lloq is not None
        positive = rng.random() < prevalence
        level = rng.gauss(centre, 0.9)
        for _scheduled, day in _sample_days(rng, p, SPARSE_DAYS, 0.1):
            load = 10 ** (level + rng.gauss(0, 0.3)) if positive else None
            results.append(LabResult(assay.name, _day(p.d0, day),
                                     _lab_text(load, assay.limit_of_detection, assay.lloq,
                                               style)))
    antivirals = []
    for therapy in [*therapies, *treatments]:
        dose, schedule = _dose(therapy.drug, p.child)
        ended = therapy.end if therapy.end is not None and therapy.end <= p.stop_day else None
        antivirals.append({
            "drug": therapy.drug, "indication": therapy.indication,
            "started_on": _day(p.d0, therapy.start),
            "ended_on": None if ended is None else _day(p.d0, ended),
            "dose_mg": dose, "dose_schedule": schedule,
            "stop_reason": therapy.stop if ended is not None else None})
    return {"viral_loads": tuple(results), "antivirals": tuple(antivirals),
            "genotypes": tuple(genotypes), "cmv_disease": tuple(episodes)}


def _start_treatment(rng: random.Random, p: _Patient, day: int, treatments: list[_Therapy],
                     episodes: list[dict[str, Any]]) -> None:
    start = day + rng.randint(1, 3)
    if p.script is not None and p.script.startswith("disease:"):
        organ = CmvDiseaseSite(p.script.split(":", 1)[1])
        proven = organ is CmvDiseaseSite.GASTROINTESTINAL
        episodes.append({"diagnosed_on": _day(p.d0, start), "organ": organ,
                         "certainty": DiagnosticCertainty.PROVEN if proven
                         else DiagnosticCertainty.PROBABLE})
        treatments.append(_Therapy(Antiviral.GANCICLOVIR, AntiviralIndication.DISEASE_TREATMENT,
                                   start))
        return
    if p.script == "refractory":
        drug = Antiviral.VALGANCICLOVIR
    elif p.child:
        drug = Antiviral.GANCICLOVIR
    else:
        drug = _pick(rng, (Antiviral.VALGANCICLOVIR, Antiviral.GANCICLOVIR), (0.7, 0.3))
    treatments.append(_Therapy(drug, AntiviralIndication.PRE_EMPTIVE, start))


def _resistance(rng: random.Random, p: _Patient, day: int, treatments: list[_Therapy],
                genotypes: list[GenotypeReport]) -> None:
    """Load up more than 1 log10 after two weeks: genotype, then switch to foscarnet."""
    genotypes.append(GenotypeReport(
        sampled_on=_day(p.d0, day), specimen=Specimen.PLASMA,
        genes={CmvGene.UL97: GenotypeOutcome.SEQUENCED, CmvGene.UL54: GenotypeOutcome.SEQUENCED},
        mutations=((CmvGene.UL97, "A594V"), (CmvGene.UL54, "G841A")),
        susceptibilities={Antiviral.GANCICLOVIR: Susceptibility.RESISTANT,
                          Antiviral.CIDOFOVIR: Susceptibility.RESISTANT,
                          Antiviral.FOSCARNET: Susceptibility.SUSCEPTIBLE,
                          Antiviral.MARIBAVIR: Susceptibility.SUSCEPTIBLE,
                          Antiviral.LETERMOVIR: Susceptibility.NOT_INTERPRETABLE},
        comment_text="Mutations UL97 A594V et UL54 G841A : résistance au ganciclovir et au "
                     "cidofovir ; foscarnet actif"))
    switch = day + rng.randint(1, 2)
    first = treatments[0]
    first.end = switch - 1
    first.stop = AntiviralStopReason.RESISTANCE
    treatments.append(_Therapy(Antiviral.FOSCARNET, AntiviralIndication.PRE_EMPTIVE, switch))


def _close_treatments(rng: random.Random, p: _Patient, treatments: list[_Therapy],
                      weekly: list[tuple[int, int]]) -> None:
    """End each course at clearance (two weeks at least), toxicity, or death."""
    for therapy in treatments:
        if therapy.end is not None:
            continue
        cleared = therapy.start + 14
        while (_cmv_log(p, cleared, treatments) or 0.0) >= math.log10(35.0) and cleared < 200:
            cleared += 1
        end = max(therapy.start + 14, cleared) + rng.randint(0, 5)
        stop = AntiviralStopReason.CLEARANCE
        if therapy.drug is Antiviral.GANCICLOVIR and rng.random() < 0.2:
            end = therapy.start + rng.randint(8, 13)
            stop = AntiviralStopReason.HAEMATOLOGICAL_TOXICITY
        elif therapy.drug is Antiviral.FOSCARNET and rng.random() < 0.2:
            stop = AntiviralStopReason.RENAL_TOXICITY
        if p.death_day is not None and end >= p.death_day:
            end, stop = p.death_day, AntiviralStopReason.DEATH
        therapy.end, therapy.stop = end, stop


def _deviation(p: _Patient) -> tuple[dict[str, Any], ...]:
    if p.deviation is DeviationCategory.MISSED_VISIT:
        return ({"occurred_on": _day(p.d0, 14), "category": p.deviation,
                 "description": "Prélèvement J14 non réalisé (patient non venu)",
                 "is_major": False,
                 "corrective_action": "Rappel du calendrier des prélèvements au patient"},)
    if p.deviation is DeviationCategory.SAMPLE_OUT_OF_WINDOW:
        return ({"occurred_on": _day(p.d0, 33), "category": p.deviation,
                 "description": "Prélèvement J28 réalisé à J33 (hors fenêtre de ±3 jours)",
                 "is_major": False,
                 "corrective_action": "Rappel des fenêtres de visite à l'équipe du centre"},)
    return ()


def _bundle(rng: random.Random, p: _Patient) -> ParticipantBundle:
    base = dict(site_code=p.site.code, part=p.part, sex=p.sex, birth_year=p.birth_year,
                birth_month=p.birth_month, screened_on=p.screened_on, **_screening(rng, p))
    if p.failure is not None:
        return ParticipantBundle(**base)
    return ParticipantBundle(
        **base, infusion=_infusion(rng, p), **_clinical(rng, p), **_virology(rng, p),
        follow_up=_follow_up(rng, p), deviations=_deviation(p))


def generate_cohort(participants: int, seed: int,
                    progress: Callable[[int], object] | None = None) -> DemoCohort:
    """`participants` synthetic bundles, the same for the same seed."""
    if participants < 1:
        raise ValueError("at least one participant")
    rng = random.Random(seed)
    patients = [_draw_patient(rng, i) for i in range(participants)]
    _assign_scripts(patients, random.Random(f"{seed}/scripts"))
    patients.sort(key=lambda p: (p.screened_on, p.index))
    render = random.Random(f"{seed}/forms")
    bundles = []
    facts: Counter[str] = Counter()
    for p in patients:
        bundles.append(_bundle(render, p))
        facts["screen failure: " + p.failure if p.failure else "included"] += 1
        facts["child"] += p.child
        if p.script:
            facts["scripted: " + p.script] += 1
        if progress is not None:
            progress(1)
    return DemoCohort(seed=seed, bundles=bundles, facts=facts)
