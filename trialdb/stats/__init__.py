"""Competing-risks statistics for the CMV-after-CAR-T cohort (exact to R)."""

from trialdb.stats.cif import (
    cumulative_incidence,
    cumulative_incidence_by_group,
    kaplan_meier_complement,
)

__all__ = [
    "cumulative_incidence",
    "cumulative_incidence_by_group",
    "kaplan_meier_complement",
]
