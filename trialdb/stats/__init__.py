"""Competing-risks statistics for the CMV-after-CAR-T cohort, exact to R.

* :func:`cumulative_incidence` / :func:`cumulative_incidence_by_group` –
  Aalen–Johansen cumulative incidence with ``cmprsk::cuminc``'s variance
  (``variance="aalen"``) or ``survival::survfit``'s (``variance="delta"``).
* :func:`grays_test` – Gray's k-sample test (``cuminc(...)$Tests``).
* :func:`fine_gray` – Fine–Gray model (``cmprsk::crr``).
* :func:`cause_specific_cox`, :func:`time_varying_cause_specific_cox` –
  cause-specific Cox models (lifelines, Efron ties = ``coxph`` default).
* :func:`kaplan_meier_complement` – 1 − Kaplan–Meier, for comparison only.

The reference values the test-suite checks against are produced by
``tests/r/reference.R``.
"""

from trialdb.stats._models import LowEventsPerVariableWarning
from trialdb.stats.cif import (
    cumulative_incidence,
    cumulative_incidence_by_group,
    kaplan_meier_complement,
)
from trialdb.stats.cox import cause_specific_cox, time_varying_cause_specific_cox
from trialdb.stats.finegray import fine_gray
from trialdb.stats.grays import GraysTestResult, grays_test

__all__ = [
    "GraysTestResult",
    "LowEventsPerVariableWarning",
    "cause_specific_cox",
    "cumulative_incidence",
    "cumulative_incidence_by_group",
    "fine_gray",
    "grays_test",
    "kaplan_meier_complement",
    "time_varying_cause_specific_cox",
]
