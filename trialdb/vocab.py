"""The study's controlled vocabularies.

Models store these as short strings guarded by named CHECK constraints; the
study rules, forms and exports use the same enums, so one list is the truth.
"""

from __future__ import annotations

import enum


class StrEnum(enum.StrEnum):
    """String enum whose value is what the database stores."""

    @classmethod
    def values(cls) -> list[str]:
        return [member.value for member in cls]


class Role(StrEnum):
    COORDINATOR = "coordinator"
    INVESTIGATOR = "investigator"
    MONITOR = "monitor"
    DATA_MANAGER = "data-manager"
    STATISTICIAN = "statistician"
    ADMIN = "admin"


class StudyPart(StrEnum):
    RETROSPECTIVE = "retrospective"
    PROSPECTIVE = "prospective"


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"


class ParticipantStatus(StrEnum):
    SCREENING = "screening"
    INCLUDED = "included"
    SCREEN_FAILURE = "screen_failure"
    WITHDRAWN = "withdrawn"
    COMPLETED = "completed"
    DIED = "died"
    LOST_TO_FOLLOW_UP = "lost_to_follow_up"


class ConsentRegime(StrEnum):
    """Non-opposition (MR-004, retrospective) or written consent (MR-001, prospective)."""

    NON_OPPOSITION = "non_opposition"
    CONSENT = "consent"


class WithdrawalDataChoice(StrEnum):
    """What happens to data collected before a withdrawal."""

    KEEP = "keep"
    EXCLUDE = "exclude"


class Disease(StrEnum):
    ALL = "ALL"  # B-cell acute lymphoblastic leukaemia
    LBCL = "LBCL"  # large B-cell lymphoma
    FL = "FL"  # follicular lymphoma
    MCL = "MCL"  # mantle-cell lymphoma
    OTHER_B_LYMPHOMA = "other_b_lymphoma"
    AML = "AML"
    OTHER = "other"


class CarTProduct(StrEnum):
    TISAGENLECLEUCEL = "tisagenlecleucel"  # Kymriah, CD19
    AXICABTAGENE = "axicabtagene_ciloleucel"  # Yescarta, CD19
    BREXUCABTAGENE = "brexucabtagene_autoleucel"  # Tecartus, CD19
    LISOCABTAGENE = "lisocabtagene_maraleucel"  # Breyanzi, CD19
    OBECABTAGENE = "obecabtagene_autoleucel"  # Aucatzyl, CD19
    ACADEMIC = "academic"
    OTHER = "other"


class TargetAntigen(StrEnum):
    CD19 = "CD19"
    CD22 = "CD22"
    CD19_CD22 = "CD19_CD22"
    CD7 = "CD7"
    OTHER = "other"


class DiseaseStatus(StrEnum):
    """Disease status at infusion."""

    COMPLETE_REMISSION = "complete_remission"
    PARTIAL_RESPONSE = "partial_response"
    STABLE = "stable"
    PROGRESSIVE = "progressive"
    RELAPSE = "relapse"
    UNKNOWN = "unknown"


class Lymphodepletion(StrEnum):
    FLU_CY = "flu_cy"
    BENDAMUSTINE = "bendamustine"
    OTHER = "other"
    NONE = "none"


class SerologyResult(StrEnum):
    POSITIVE = "positive"
    NEGATIVE = "negative"
    EQUIVOCAL = "equivocal"


class Virus(StrEnum):
    CMV = "CMV"
    TTV = "TTV"
    REDONDOVIRUS = "redondovirus"
    PEGIVIRUS = "pegivirus"
    EBV = "EBV"
    HHV6 = "HHV-6"
    ADENOVIRUS = "adenovirus"


class Specimen(StrEnum):
    PLASMA = "plasma"
    WHOLE_BLOOD = "whole_blood"
    STOOL = "stool"
    OTHER = "other"


class LoadUnit(StrEnum):
    IU_PER_ML = "IU/mL"
    COPIES_PER_ML = "copies/mL"


class ResultState(StrEnum):
    NOT_DETECTED = "not_detected"
    BELOW_LLOQ = "below_lloq"
    QUANTIFIED = "quantified"


class Antiviral(StrEnum):
    LETERMOVIR = "letermovir"
    GANCICLOVIR = "ganciclovir"
    VALGANCICLOVIR = "valganciclovir"
    FOSCARNET = "foscarnet"
    CIDOFOVIR = "cidofovir"
    MARIBAVIR = "maribavir"


class AntiviralIndication(StrEnum):
    PROPHYLAXIS = "prophylaxis"
    PRE_EMPTIVE = "pre_emptive"
    DISEASE_TREATMENT = "disease_treatment"


class AntiviralStopReason(StrEnum):
    CLEARANCE = "clearance"
    FAILURE = "failure"
    HAEMATOLOGICAL_TOXICITY = "haematological_toxicity"
    RENAL_TOXICITY = "renal_toxicity"
    OTHER_TOXICITY = "other_toxicity"
    END_OF_PROPHYLAXIS = "end_of_prophylaxis"
    RESISTANCE = "resistance"
    DEATH = "death"
    OTHER = "other"


class CmvDiseaseSite(StrEnum):
    GASTROINTESTINAL = "gastrointestinal"
    PNEUMONIA = "pneumonia"
    HEPATITIS = "hepatitis"
    RETINITIS = "retinitis"
    CNS = "cns"
    OTHER = "other"


class DiagnosticCertainty(StrEnum):
    PROVEN = "proven"
    PROBABLE = "probable"
    POSSIBLE = "possible"


class CmvGene(StrEnum):
    UL97 = "UL97"
    UL54 = "UL54"
    UL56 = "UL56"
    UL89 = "UL89"
    UL51 = "UL51"
    UL27 = "UL27"


class GenotypeOutcome(StrEnum):
    SEQUENCED = "sequenced"
    AMPLIFICATION_FAILED = "amplification_failed"


class Susceptibility(StrEnum):
    SUSCEPTIBLE = "susceptible"
    RESISTANT = "resistant"
    LOW_LEVEL_RESISTANT = "low_level_resistant"
    NOT_INTERPRETABLE = "not_interpretable"


class Corticosteroid(StrEnum):
    DEXAMETHASONE = "dexamethasone"
    METHYLPREDNISOLONE = "methylprednisolone"
    PREDNISONE = "prednisone"
    PREDNISOLONE = "prednisolone"
    HYDROCORTISONE = "hydrocortisone"


class DeathCause(StrEnum):
    DISEASE_PROGRESSION = "disease_progression"
    INFECTION = "infection"
    CMV_DISEASE = "cmv_disease"
    CAR_T_TOXICITY = "car_t_toxicity"
    OTHER = "other"
    UNKNOWN = "unknown"


class DeviationCategory(StrEnum):
    ELIGIBILITY = "eligibility"
    CONSENT = "consent"
    MISSED_VISIT = "missed_visit"
    SAMPLE_OUT_OF_WINDOW = "sample_out_of_window"
    OTHER = "other"


class QueryStatus(StrEnum):
    OPEN = "open"
    ANSWERED = "answered"
    CLOSED = "closed"


class SignatureMeaning(StrEnum):
    """The fixed meanings an investigator can give a signature (21 CFR 11.50)."""

    REVIEWED_AND_APPROVED = "reviewed_and_approved"
    AUTHOR = "author"
    RESPONSIBILITY = "responsibility"
