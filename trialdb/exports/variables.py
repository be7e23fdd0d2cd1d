"""Every exported variable, described once: names, labels, type, unit, codes.

The codebook, the SAS/Stata/SPSS labels, the Parquet metadata and the ODM
item definitions are all written from these descriptions. A dataset's
frame has exactly its variables' columns, in this order, plus one
``<name>_missing`` column after each variable whose missing values carry a
reason (``why=True``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final, Literal

from trialdb.study.endpoint_settings import STATUS_LABELS
from trialdb.vocab import (
    Antiviral,
    AntiviralIndication,
    AntiviralStopReason,
    CarTProduct,
    CmvDiseaseSite,
    CmvGene,
    ConsentRegime,
    DeathCause,
    DiagnosticCertainty,
    Disease,
    DiseaseStatus,
    GenotypeOutcome,
    LoadUnit,
    Lymphodepletion,
    ParticipantStatus,
    ResultState,
    SerologyResult,
    Sex,
    Specimen,
    StudyPart,
    Susceptibility,
    TargetAntigen,
    Virus,
    WithdrawalDataChoice,
)

Kind = Literal["int", "float", "str", "bool"]
Codes = type[enum.Enum] | dict[str, tuple[str, str]] | None

#: Reasons a value is missing, with their labels (en, fr).
MISSING_REASONS: Final[dict[str, tuple[str, str]]] = {
    "no_infusion": ("No infusion recorded: no D0", "Pas de perfusion saisie : pas de J0"),
    "not_recorded": ("Not recorded", "Non renseigné"),
    "not_applicable": ("Not applicable", "Sans objet"),
    "no_event": ("Event did not occur", "Événement non survenu"),
    "ongoing": ("Ongoing at data freeze", "En cours au gel des données"),
    "not_quantified": ("Result not quantified", "Résultat non quantifié"),
    "no_conversion_factor": ("Assay has no copies-per-IU factor", "Technique sans facteur copies/UI"),
    "assay_limit_unknown": ("Assay limit not recorded", "Limite de la technique non renseignée"),
    "not_analysed": ("Not in the analysis", "Hors analyse"),
    "no_participant": ("Not about a participant", "Ne concerne pas un participant"),
    "gene_not_sent": ("Gene not sequenced", "Gène non séquencé"),
    "drug_not_interpreted": ("Drug not interpreted", "Molécule non interprétée"),
}

MISSING_CODES: Final = {code: labels for code, labels in MISSING_REASONS.items()}


@dataclass(frozen=True)
class Variable:
    name: str
    short: str  # SAS transport name, at most 8 characters
    kind: Kind
    label_en: str  # at most 40 ASCII characters (SAS label)
    label_fr: str
    unit: str | None = None
    codes: Codes = None
    why: bool = False  # missing values carry a reason in <name>_missing

    @property
    def missing_name(self) -> str:
        return f"{self.name}_missing"

    @property
    def missing_short(self) -> str:
        return f"{self.short[:7]}M" if len(self.short) >= 7 else f"{self.short}M"

    def missing_variable(self) -> Variable:
        return Variable(self.missing_name, self.missing_short, "str",
                        f"Why missing: {self.label_en}"[:40],
                        f"Motif d'absence : {self.label_fr}", codes=MISSING_CODES)

    def code_labels(self) -> list[tuple[str, str, str]]:
        """(code, label en, label fr) of the variable's code list."""
        if self.codes is None:
            return []
        if isinstance(self.codes, dict):
            return [(code, en, fr) for code, (en, fr) in self.codes.items()]
        from trialdb.crf.definitions import code_label

        return [(str(m.value), code_label(self.codes, str(m.value), "en"),
                 code_label(self.codes, str(m.value), "fr")) for m in self.codes]


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    short: str  # SAS member name, at most 8 characters
    label_en: str
    label_fr: str
    variables: tuple[Variable, ...]

    def columns(self) -> list[Variable]:
        """The frame's columns in order, missing-reason columns included."""
        out: list[Variable] = []
        for variable in self.variables:
            out.append(variable)
            if variable.why:
                out.append(variable.missing_variable())
        return out


def V(name: str, short: str, kind: Kind, en: str, fr: str, unit: str | None = None,  # noqa: N802 - a table-like constructor reads better short
      codes: Codes = None, why: bool = False) -> Variable:
    return Variable(name, short, kind, en, fr, unit, codes, why)


YES_NO: Final = {"1": ("Yes", "Oui"), "0": ("No", "Non")}
AGE_GROUP: Final = {"paediatric": ("Paediatric (< 18 years)", "Pédiatrique (< 18 ans)"),
                    "adult": ("Adult (>= 18 years)", "Adulte (>= 18 ans)")}
POPULATION: Final = {
    "analysis_set": ("In the time-to-event analysis", "Dans l'analyse de survie"),
    "prevalent": ("Prevalent DNAemia at or before D0", "ADNémie prévalente à J0 ou avant"),
    "no_infusion": ("No infusion recorded", "Pas de perfusion saisie"),
    "not_analysed": ("Status outside the analysis", "Statut hors analyse"),
}
STATUS_CODES: Final = {str(code): (label, label) for code, label in STATUS_LABELS.items()}
DISEASE_GROUP: Final = {"ALL": ("B-cell ALL", "LAL B"), "lymphoma": ("B-cell lymphoma", "Lymphome B"),
                        "other": ("Other", "Autre")}

SUBJECT: Final = V("study_number", "SUBJID", "str", "Study number (pseudonym)",
                   "Numéro d'étude (pseudonyme)")
SITE: Final = V("site_code", "SITE", "str", "Site code", "Code du centre")

PARTICIPANTS: Final = DatasetSpec("participants", "PARTIC", "Participants, one row each",
                                  "Participants, une ligne chacun", (
    SUBJECT, SITE,
    V("part", "PART", "str", "Study part", "Partie de l'étude", codes=StudyPart),
    V("sex", "SEX", "str", "Sex", "Sexe", codes=Sex),
    V("status", "STATUS", "str", "Participant status", "Statut du participant",
      codes=ParticipantStatus),
    V("age_at_infusion", "AGE", "int", "Age at infusion (completed years)",
      "Âge à la perfusion (années révolues)", unit="years", why=True),
    V("age_group", "AGEGR", "str", "Age group at infusion", "Classe d'âge à la perfusion",
      codes=AGE_GROUP, why=True),
    V("screening_day", "SCRDY", "int", "Screening, study day", "Pré-inclusion, jour d'étude",
      unit="days from D0", why=True),
    V("inclusion_day", "INCDY", "int", "Inclusion, study day", "Inclusion, jour d'étude",
      unit="days from D0", why=True),
    V("consent_regime", "CONSREG", "str", "Consent or non-opposition",
      "Consentement ou non-opposition", codes=ConsentRegime, why=True),
    V("withdrawal_day", "WDDY", "int", "Consent withdrawn, study day",
      "Retrait du consentement, jour d'étude", unit="days from D0", why=True),
    V("withdrawal_data_choice", "WDDATA", "str", "Data after withdrawal",
      "Données après retrait", codes=WithdrawalDataChoice, why=True),
    V("cmv_igg", "CMVIGG", "str", "CMV IgG before infusion", "IgG CMV avant perfusion",
      codes=SerologyResult, why=True),
    V("product", "PRODUCT", "str", "CAR-T product", "Produit CAR-T", codes=CarTProduct, why=True),
    V("target_antigen", "TARGET", "str", "CAR target antigen", "Antigène cible",
      codes=TargetAntigen, why=True),
    V("disease", "DISEASE", "str", "Disease treated", "Maladie traitée", codes=Disease, why=True),
    V("disease_status", "DISSTAT", "str", "Disease status at infusion",
      "Statut de la maladie à la perfusion", codes=DiseaseStatus, why=True),
    V("prior_lines", "PRLINES", "int", "Prior lines of therapy", "Lignes de traitement antérieures",
      why=True),
    V("prior_allo_hsct", "PRALLO", "bool", "Allogeneic HSCT before CAR-T", "Allogreffe avant CAR-T",
      codes=YES_NO, why=True),
    V("prior_allo_hsct_day", "PRALLODY", "int", "Prior allogeneic HSCT, study day",
      "Allogreffe antérieure, jour d'étude", unit="days from D0", why=True),
    V("bridging_therapy", "BRIDGE", "bool", "Bridging therapy", "Traitement d'attente",
      codes=YES_NO, why=True),
    V("lymphodepletion", "LYMPHOD", "str", "Lymphodepletion regimen", "Lymphodéplétion",
      codes=Lymphodepletion, why=True),
    V("crs_grade", "CRSGR", "int", "Highest CRS grade (ASTCT)", "Grade maximal de SRC (ASTCT)",
      why=True),
    V("crs_onset_day", "CRSDY", "int", "CRS onset, study day", "Début du SRC, jour d'étude",
      unit="days from D0", why=True),
    V("icans_grade", "ICANSGR", "int", "Highest ICANS grade (ASTCT)", "Grade maximal d'ICANS (ASTCT)",
      why=True),
    V("icans_onset_day", "ICANSDY", "int", "ICANS onset, study day", "Début de l'ICANS, jour d'étude",
      unit="days from D0", why=True),
    V("tocilizumab", "TOCI", "bool", "Tocilizumab given", "Tocilizumab administré", codes=YES_NO,
      why=True),
    V("tocilizumab_doses", "TOCIN", "int", "Tocilizumab doses", "Doses de tocilizumab", why=True),
    V("ivig", "IVIG", "bool", "IV immunoglobulins given", "Immunoglobulines IV", codes=YES_NO,
      why=True),
    V("corticosteroid_courses", "CORTN", "int", "Corticosteroid courses recorded",
      "Cures de corticoïdes saisies"),
    V("last_contact_day", "LSTCDY", "int", "Last contact, study day", "Dernières nouvelles, jour d'étude",
      unit="days from D0", why=True),
    V("death_day", "DTHDY", "int", "Death, study day", "Décès, jour d'étude", unit="days from D0",
      why=True),
    V("death_cause", "DTHCAUS", "str", "Main cause of death", "Cause principale du décès",
      codes=DeathCause, why=True),
    V("relapse_day", "RELDY", "int", "Relapse or progression, study day",
      "Rechute ou progression, jour d'étude", unit="days from D0", why=True),
    V("later_allo_hsct_day", "ALLODY", "int", "Allogeneic HSCT after CAR-T, study day",
      "Allogreffe après CAR-T, jour d'étude", unit="days from D0", why=True),
    V("new_line_day", "NEWLDY", "int", "New line of therapy, study day",
      "Nouvelle ligne, jour d'étude", unit="days from D0", why=True),
    V("icu_admission", "ICU", "bool", "ICU admission after infusion", "Réanimation après perfusion",
      codes=YES_NO, why=True),
    V("lost_to_follow_up", "LOST", "bool", "Lost to follow-up", "Perdu de vue", codes=YES_NO, why=True),
    V("analysis_population", "POP", "str", "Place in the primary analysis",
      "Place dans l'analyse principale", codes=POPULATION),
    V("reactivation_day", "REACTDY", "int", "First CMV reactivation, study day",
      "Première réactivation CMV, jour d'étude", unit="days from D0", why=True),
    V("cscmvi_day", "CSCMVDY", "int", "Clinically significant CMV, study day",
      "Infection CMV cliniquement significative, jour", unit="days from D0", why=True),
    V("cscmvi_reason", "CSCMVRS", "str", "Why clinically significant",
      "Motif de significativité clinique", why=True),
    V("recurrences", "RECURN", "int", "CMV recurrences", "Récurrences CMV", why=True),
    V("refractory_status", "REFRACT", "str", "Worst refractory status", "Statut réfractaire le pire",
      why=True),
    V("clearance_days", "CLEARDY", "int", "Days from onset to clearance",
      "Jours du début à la clairance", unit="days", why=True),
    V("peak_log10_iu_plasma", "PKPLAS", "float", "Peak CMV load, plasma, log10 IU/mL",
      "Pic de charge CMV, plasma, log10 UI/mL", unit="log10 IU/mL", why=True),
    V("peak_log10_iu_blood", "PKWB", "float", "Peak CMV load, whole blood, log10 IU/mL",
      "Pic de charge CMV, sang total, log10 UI/mL", unit="log10 IU/mL", why=True),
))

VIRAL_LOADS: Final = DatasetSpec("viral_loads", "VLOADS", "Viral load results, long form",
                                 "Charges virales, format long", (
    SUBJECT,
    V("result_id", "RESID", "int", "Result identifier", "Identifiant du résultat"),
    V("study_day", "STUDYDY", "int", "Sampling, study day", "Prélèvement, jour d'étude",
      unit="days from D0", why=True),
    V("virus", "VIRUS", "str", "Virus", "Virus", codes=Virus),
    V("specimen", "SPEC", "str", "Specimen", "Prélèvement", codes=Specimen),
    V("state", "STATE", "str", "Result state", "État du résultat", codes=ResultState),
    V("reported_as", "REPORTED", "str", "Result as printed by the laboratory",
      "Résultat tel qu'imprimé", why=True),
    V("value", "VALUE", "float", "Quantified load, in unit", "Charge quantifiée, dans l'unité",
      why=True),
    V("unit", "UNIT", "str", "Unit of value", "Unité de la valeur", codes=LoadUnit),
    V("log10_value", "LOGVAL", "float", "log10 of value", "log10 de la valeur", why=True),
    V("iu_per_ml", "IUML", "float", "Load in IU/mL (assay factor)", "Charge en UI/mL (facteur)",
      unit="IU/mL", why=True),
    V("log10_iu_per_ml", "LOGIUML", "float", "log10 of load in IU/mL", "log10 de la charge en UI/mL",
      unit="log10 IU/mL", why=True),
    V("assay", "ASSAY", "str", "Assay", "Technique"),
    V("assay_lod", "LOD", "float", "Assay limit of detection", "Limite de détection", why=True),
    V("assay_lloq", "LLOQ", "float", "Assay lower limit of quantification",
      "Limite inférieure de quantification", why=True),
    V("assay_copies_per_iu", "CPIU", "float", "Assay copies per IU", "Copies par UI de la technique",
      why=True),
))

ANTIVIRALS: Final = DatasetSpec("antiviral_courses", "ANTIVIR", "Antiviral courses",
                                "Traitements antiviraux", (
    SUBJECT,
    V("course_id", "COURSEID", "int", "Course identifier", "Identifiant du traitement"),
    V("drug", "DRUG", "str", "Antiviral", "Antiviral", codes=Antiviral),
    V("indication", "INDIC", "str", "Indication", "Indication", codes=AntiviralIndication),
    V("start_day", "STARTDY", "int", "First day, study day", "Premier jour, jour d'étude",
      unit="days from D0", why=True),
    V("end_day", "ENDDY", "int", "Last day, study day", "Dernier jour, jour d'étude",
      unit="days from D0", why=True),
    V("duration_days", "DURDY", "int", "Duration (days, both ends counted)", "Durée (jours)",
      unit="days", why=True),
    V("dose_mg", "DOSEMG", "float", "Dose per administration", "Dose par administration", unit="mg",
      why=True),
    V("stop_reason", "STOPRS", "str", "Reason for stopping", "Motif d'arrêt", codes=AntiviralStopReason,
      why=True),
))

CMV_DISEASE: Final = DatasetSpec("cmv_disease", "CMVDIS", "CMV end-organ disease episodes",
                                 "Épisodes de maladie à CMV", (
    SUBJECT,
    V("episode_id", "EPISID", "int", "Episode identifier", "Identifiant de l'épisode"),
    V("diagnosis_day", "DIAGDY", "int", "Diagnosis, study day", "Diagnostic, jour d'étude",
      unit="days from D0", why=True),
    V("organ", "ORGAN", "str", "Organ involved", "Organe atteint", codes=CmvDiseaseSite),
    V("certainty", "CERTAIN", "str", "Diagnostic certainty", "Certitude diagnostique",
      codes=DiagnosticCertainty),
))

_GENE_COLUMNS: Final = tuple(
    V(f"gene_{g.value.lower()}", f"GENE{g.value[2:]}", "str", f"Gene {g.value}: outcome",
      f"Gène {g.value} : résultat", codes=GenotypeOutcome, why=True)
    for g in CmvGene
)
_DRUG_COLUMNS: Final = tuple(
    V(f"susc_{d.value}", f"S{d.value[:7].upper()}", "str", f"Susceptibility to {d.value}",
      f"Sensibilité : {d.value}", codes=Susceptibility, why=True)
    for d in Antiviral
)
GENOTYPES: Final = DatasetSpec("genotypes", "GENOTYP", "Resistance genotypings",
                               "Génotypages de résistance", (
    SUBJECT,
    V("genotype_id", "GENOID", "int", "Genotyping identifier", "Identifiant du génotypage"),
    V("sample_day", "SAMPDY", "int", "Sampling, study day", "Prélèvement, jour d'étude",
      unit="days from D0", why=True),
    V("specimen", "SPEC", "str", "Specimen", "Prélèvement", codes=Specimen),
    *_GENE_COLUMNS,
    *_DRUG_COLUMNS,
    V("mutations", "NMUT", "int", "Mutations found", "Mutations trouvées"),
))

MUTATIONS: Final = DatasetSpec("mutations", "MUTATION", "Resistance mutations, one row each",
                               "Mutations de résistance, une ligne chacune", (
    SUBJECT,
    V("genotype_id", "GENOID", "int", "Genotyping identifier", "Identifiant du génotypage"),
    V("sample_day", "SAMPDY", "int", "Sampling, study day", "Prélèvement, jour d'étude",
      unit="days from D0", why=True),
    V("gene", "GENE", "str", "Gene", "Gène", codes=CmvGene),
    V("amino_acid_change", "AACHANGE", "str", "Amino-acid change", "Substitution d'acide aminé"),
))

TIME_TO_EVENT: Final = DatasetSpec("time_to_event", "TTE", "Time to first CMV reactivation",
                                   "Délai jusqu'à la première réactivation CMV", (
    SUBJECT, SITE,
    V("time", "TIME", "int", "Days from D0 to event or censoring", "Jours de J0 à l'événement",
      unit="days"),
    V("status", "STATUS", "int", "Event status code", "Code d'événement", codes=STATUS_CODES),
    V("status_label", "STATUSL", "str", "Event status", "Événement", codes=STATUS_CODES),
    V("censoring_basis", "CNSRBAS", "str", "What the censoring is based on", "Base de la censure",
      why=True),
    V("source_result_ids", "SRCRES", "str", "Viral-load results behind the outcome",
      "Résultats à l'origine de l'issue"),
    V("age_at_d0", "AGE", "int", "Age at D0 (completed years)", "Âge à J0 (années révolues)",
      unit="years"),
    V("age_group", "AGEGR", "str", "Age group", "Classe d'âge", codes=AGE_GROUP),
    V("paediatric", "PAED", "float", "Paediatric (< 18 years)", "Pédiatrique (< 18 ans)", codes=YES_NO),
    V("disease", "DISEASE", "str", "Disease treated", "Maladie traitée", codes=Disease),
    V("disease_group", "DISGR", "str", "Disease group", "Groupe de maladie", codes=DISEASE_GROUP),
    V("disease_all", "DISALL", "float", "ALL (1) vs lymphoma (0)", "LAL (1) ou lymphome (0)",
      why=True),
    V("prior_allo_hsct", "PRALLO", "float", "Allogeneic HSCT before CAR-T", "Allogreffe avant CAR-T",
      codes=YES_NO),
    V("product", "PRODUCT", "str", "CAR-T product", "Produit CAR-T", codes=CarTProduct),
    V("target_antigen", "TARGET", "str", "CAR target antigen", "Antigène cible", codes=TargetAntigen),
    V("crs_grade", "CRSGR", "float", "Highest CRS grade", "Grade maximal de SRC", why=True),
    V("icans_grade", "ICANSGR", "float", "Highest ICANS grade", "Grade maximal d'ICANS", why=True),
    V("tocilizumab", "TOCI", "float", "Tocilizumab given", "Tocilizumab administré", codes=YES_NO,
      why=True),
    V("corticosteroids_any", "CORTANY", "float", "Corticosteroids, D-7 to outcome",
      "Corticoïdes de J-7 à l'issue", codes=YES_NO),
    V("corticosteroid_dose_pred_eq_mg", "CORTDOSE", "float", "Cumulative steroid dose, pred. eq.",
      "Dose cumulée de corticoïdes, éq. prednisone", unit="mg"),
    V("letermovir_prophylaxis", "LETPROPH", "float", "Letermovir prophylaxis by day 7",
      "Prophylaxie par letermovir à J7", codes=YES_NO),
    V("bridging", "BRIDGE", "float", "Bridging therapy", "Traitement d'attente", codes=YES_NO),
    V("lymphodepletion", "LYMPHOD", "str", "Lymphodepletion regimen", "Lymphodéplétion",
      codes=Lymphodepletion),
    V("prior_lines", "PRLINES", "float", "Prior lines of therapy", "Lignes antérieures"),
    V("lymphopenia", "LYMPHOP", "float", "Lymphopenia < 500/uL at baseline", "Lymphopénie < 500/µL",
      codes=YES_NO, why=True),
    V("hypogammaglobulinaemia", "HYPOGAM", "float", "IgG < 4 g/L at baseline", "IgG < 4 g/L à l'inclusion",
      codes=YES_NO, why=True),
    V("ttv_log10_baseline", "TTVBASE", "float", "Baseline TTV load, log10 copies/mL",
      "Charge TTV initiale, log10 copies/mL", unit="log10 copies/mL", why=True),
    V("reactivation_day", "REACTDY", "float", "First CMV reactivation, study day",
      "Première réactivation CMV, jour d'étude", unit="days from D0", why=True),
))

AUDIT_TRAIL: Final = DatasetSpec("audit_trail", "AUDIT", "Audit trail (pseudonymised)",
                                 "Piste d'audit (pseudonymisée)", (
    V("event_id", "EVENTID", "int", "Audit event number", "Numéro de l'événement"),
    V("event_day", "EVENTDY", "int", "Event, study day of the participant",
      "Événement, jour d'étude du participant", unit="days from D0", why=True),
    V("user_code", "USERCODE", "str", "Actor (pseudonymous code)", "Acteur (code pseudonyme)"),
    V("user_role", "USERROLE", "str", "Actor's role", "Rôle de l'acteur", why=True),
    V("site_code", "SITE", "str", "Site code", "Code du centre", why=True),
    V("action", "ACTION", "str", "Action", "Action"),
    V("entity", "ENTITY", "str", "Form or object", "Fiche ou objet", why=True),
    V("entity_id", "ENTITYID", "int", "Row id of the object", "Identifiant de l'objet", why=True),
    V("study_number", "SUBJID", "str", "Study number (pseudonym)", "Numéro d'étude (pseudonyme)",
      why=True),
    V("fields_changed", "FIELDS", "str", "Fields changed", "Champs modifiés", why=True),
    V("reason_given", "REASON", "bool", "A reason was given", "Un motif a été donné", codes=YES_NO),
))

DATASETS: Final = (PARTICIPANTS, VIRAL_LOADS, ANTIVIRALS, CMV_DISEASE, GENOTYPES, MUTATIONS,
                   TIME_TO_EVENT, AUDIT_TRAIL)
