"""All models, imported here so that metadata and Alembic see every table."""

from trialdb.db import Base
from trialdb.models._columns import FormRecordMixin
from trialdb.models.clinical import (
    CarTInfusion,
    ClinicalCourse,
    CorticosteroidCourse,
    ImmuneMeasurement,
    Serology,
)
from trialdb.models.governance import AuditEvent, DataSnapshot
from trialdb.models.interchange import ApiToken, ExportBundle, LabColumnMapping, LabImportBatch
from trialdb.models.outcomes import FollowUp, ProtocolDeviation
from trialdb.models.participants import ConsentRecord, EligibilityAssessment, Participant
from trialdb.models.people import Site, SiteMembership, User
from trialdb.models.review import DataQuery, QueryMessage, RecordReview, Signature
from trialdb.models.security import SignInFailure
from trialdb.models.virology import (
    AntiviralCourse,
    Assay,
    CmvDiseaseEpisode,
    DrugSusceptibility,
    GenotypeGene,
    GenotypeMutation,
    ResistanceGenotype,
    ViralLoadResult,
)

__all__ = [
    "AntiviralCourse",
    "ApiToken",
    "Assay",
    "AuditEvent",
    "Base",
    "CarTInfusion",
    "ClinicalCourse",
    "CmvDiseaseEpisode",
    "ConsentRecord",
    "CorticosteroidCourse",
    "DataQuery",
    "DataSnapshot",
    "DrugSusceptibility",
    "EligibilityAssessment",
    "ExportBundle",
    "FollowUp",
    "GenotypeGene",
    "GenotypeMutation",
    "ImmuneMeasurement",
    "LabColumnMapping",
    "LabImportBatch",
    "Participant",
    "ProtocolDeviation",
    "QueryMessage",
    "RecordReview",
    "ResistanceGenotype",
    "Serology",
    "SignInFailure",
    "Signature",
    "Site",
    "SiteMembership",
    "User",
    "ViralLoadResult",
]


def form_models() -> dict[str, type[FormRecordMixin]]:
    """Every case-report-form table by name (the tables that share FormRecordMixin)."""
    return {
        mapper.class_.__tablename__: mapper.class_
        for mapper in Base.registry.mappers
        if issubclass(mapper.class_, FormRecordMixin)
    }
