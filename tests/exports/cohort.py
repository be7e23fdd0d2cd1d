"""A small cohort with every kind of record, for the export and API tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.orm import Session

from tests import factories
from trialdb.models import (
    AntiviralCourse,
    Assay,
    CarTInfusion,
    ClinicalCourse,
    CmvDiseaseEpisode,
    ConsentRecord,
    DrugSusceptibility,
    FollowUp,
    GenotypeGene,
    GenotypeMutation,
    Participant,
    ResistanceGenotype,
    Serology,
    Site,
    ViralLoadResult,
)
from trialdb.services import records
from trialdb.vocab import (
    Antiviral,
    AntiviralIndication,
    AntiviralStopReason,
    CarTProduct,
    CmvDiseaseSite,
    CmvGene,
    ConsentRegime,
    DiagnosticCertainty,
    Disease,
    DiseaseStatus,
    GenotypeOutcome,
    LoadUnit,
    Lymphodepletion,
    ParticipantStatus,
    ResultState,
    SerologyResult,
    Specimen,
    Susceptibility,
    TargetAntigen,
    Virus,
    WithdrawalDataChoice,
)

D0 = date(2026, 3, 10)


@dataclass
class Cohort:
    site: Site
    other_site: Site
    reactivated: Participant  # CMV 5951 copies/mL at day 14 (factor 1.6)
    child: Participant  # 9 years old at D0, ND results, TTV
    excluded: Participant  # withdrew with data excluded
    never_consented: Participant  # no valid consent
    no_infusion: Participant  # included, no CAR-T infusion yet
    elsewhere: Participant  # at the other site
    cmv_copies: Assay
    ttv: Assay


def _consent(db: Session, p: Participant, *, valid: bool = True,
             withdrawn: WithdrawalDataChoice | None = None) -> None:
    db.add(ConsentRecord(participant_id=p.id, regime=ConsentRegime.CONSENT, document_version="v2",
                         consent_on=date(2026, 2, 20), patient_signed_on=date(2026, 2, 20),
                         investigator_signed_on=date(2026, 2, 20), is_valid=valid,
                         withdrawn_on=None if withdrawn is None else date(2026, 4, 1),
                         withdrawal_data_choice=withdrawn))


def _infusion(db: Session, p: Participant, disease: Disease = Disease.LBCL) -> None:
    db.add(CarTInfusion(participant_id=p.id, infused_on=D0, product=CarTProduct.AXICABTAGENE,
                        target_antigen=TargetAntigen.CD19, disease=disease,
                        disease_status=DiseaseStatus.PROGRESSIVE, prior_lines=2, prior_allo_hsct=False,
                        bridging_therapy=True, bridging_regimen="R-GemOx",
                        lymphodepletion=Lymphodepletion.FLU_CY))


def _load(db: Session, p: Participant, assay: Assay, day: int, state: ResultState,
          value: float | None, reported: str) -> ViralLoadResult:
    result = ViralLoadResult(participant_id=p.id, virus=assay.virus, specimen=assay.specimen,
                             sampled_on=D0 + timedelta(days=day), assay_id=assay.id, state=state,
                             value=value, unit=assay.unit, reported_as=reported, is_complete=True)
    db.add(result)
    return result


def build_cohort(db: Session) -> Cohort:
    site, other_site = factories.site(db), factories.site(db)
    cmv = Assay(name="Abbott RealTime CMV (test)", virus=Virus.CMV, specimen=Specimen.PLASMA,
                unit=LoadUnit.COPIES_PER_ML, limit_of_detection=20, lloq=62, copies_per_iu=1.6)
    ttv = Assay(name="TTV R-GENE (test)", virus=Virus.TTV, specimen=Specimen.PLASMA,
                unit=LoadUnit.COPIES_PER_ML, lloq=250)
    db.add_all([cmv, ttv])
    people = {
        "reactivated": factories.participant(db, site, birth=(1970, 5)),
        "child": factories.participant(db, site, birth=(2016, 9)),
        "excluded": factories.participant(db, site),
        "never_consented": factories.participant(db, site),
        "no_infusion": factories.participant(db, site),
        "elsewhere": factories.participant(db, other_site),
    }
    for name, p in people.items():
        p.status = ParticipantStatus.SCREENING if name == "never_consented" else ParticipantStatus.INCLUDED
        p.included_on = date(2026, 3, 1)
    db.flush()
    for name, p in people.items():
        _consent(db, p, valid=name != "never_consented",
                 withdrawn=WithdrawalDataChoice.EXCLUDE if name == "excluded" else None)
        if name != "no_infusion":
            _infusion(db, p, Disease.ALL if name == "child" else Disease.LBCL)
        db.add(Serology(participant_id=p.id, virus=Virus.CMV, sampled_on=date(2026, 2, 25),
                        result=SerologyResult.POSITIVE))
    db.flush()
    r, child = people["reactivated"], people["child"]
    _load(db, r, cmv, 0, ResultState.NOT_DETECTED, None, "ND")
    _load(db, r, cmv, 7, ResultState.BELOW_LLOQ, None, "<62")
    _load(db, r, cmv, 14, ResultState.QUANTIFIED, 5951.0, "5951")
    _load(db, r, cmv, 21, ResultState.QUANTIFIED, 12000.0, "1,2E+04")
    _load(db, r, ttv, 0, ResultState.QUANTIFIED, 3_400_000.0, "3 400 000")
    _load(db, child, cmv, 0, ResultState.NOT_DETECTED, None, "Non détecté")
    _load(db, child, cmv, 30, ResultState.NOT_DETECTED, None, "ND")
    _load(db, people["excluded"], cmv, 10, ResultState.QUANTIFIED, 800.0, "800")
    _load(db, people["elsewhere"], cmv, 5, ResultState.NOT_DETECTED, None, "ND")
    db.add(ClinicalCourse(participant_id=r.id, crs_grade=2, crs_onset_on=D0 + timedelta(days=2),
                          icans_grade=0, tocilizumab=True, tocilizumab_doses=2, ivig=False))
    db.add(AntiviralCourse(participant_id=r.id, drug=Antiviral.VALGANCICLOVIR,
                           indication=AntiviralIndication.PRE_EMPTIVE, started_on=D0 + timedelta(days=15),
                           ended_on=D0 + timedelta(days=35), dose_mg=900,
                           stop_reason=AntiviralStopReason.CLEARANCE))
    db.add(AntiviralCourse(participant_id=child.id, drug=Antiviral.LETERMOVIR,
                           indication=AntiviralIndication.PROPHYLAXIS, started_on=D0))
    records.create_record(db, factories.SYSTEM, r, CmvDiseaseEpisode, {  # audited, as from a form
        "diagnosed_on": D0 + timedelta(days=40), "organ": CmvDiseaseSite.GASTROINTESTINAL,
        "certainty": DiagnosticCertainty.PROBABLE})
    genotype = ResistanceGenotype(participant_id=r.id, sampled_on=D0 + timedelta(days=36),
                                  specimen=Specimen.PLASMA, comment_text="Résistance au ganciclovir")
    genotype.genes = [GenotypeGene(gene=CmvGene.UL97, outcome=GenotypeOutcome.SEQUENCED),
                      GenotypeGene(gene=CmvGene.UL54, outcome=GenotypeOutcome.AMPLIFICATION_FAILED)]
    genotype.mutations = [GenotypeMutation(gene=CmvGene.UL97, amino_acid_change="M460V")]
    genotype.susceptibilities = [
        DrugSusceptibility(drug=Antiviral.GANCICLOVIR, susceptibility=Susceptibility.RESISTANT),
        DrugSusceptibility(drug=Antiviral.FOSCARNET, susceptibility=Susceptibility.SUSCEPTIBLE)]
    db.add(genotype)
    db.add(FollowUp(participant_id=r.id, last_contact_on=D0 + timedelta(days=120), icu_admission=False,
                    lost_to_follow_up=False))
    db.add(FollowUp(participant_id=child.id, last_contact_on=D0 + timedelta(days=95),
                    died_on=D0 + timedelta(days=95), icu_admission=False, lost_to_follow_up=False))
    db.flush()
    return Cohort(site=site, other_site=other_site, cmv_copies=cmv, ttv=ttv, **people)
