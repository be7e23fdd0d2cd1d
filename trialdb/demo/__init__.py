"""The synthetic demo cohort: generated without a database, loaded through
the project's own write path (`trialdb.services.cohort`)."""

from trialdb.demo.digest import content_digest
from trialdb.demo.generate import DemoCohort, generate_cohort
from trialdb.demo.load import load_cohort, load_demo, load_reference_data
from trialdb.demo.reference import ACCOUNTS, ASSAYS, REFERENCE_DATE, SITES

__all__ = [
    "ACCOUNTS",
    "ASSAYS",
    "REFERENCE_DATE",
    "SITES",
    "DemoCohort",
    "content_digest",
    "generate_cohort",
    "load_cohort",
    "load_demo",
    "load_reference_data",
]
