"""Analysis datasets and the primary analysis, from the database to numbers.

* :func:`trialdb.analysis.loading.load_cohort` reads each analysed
  participant's data in a few queries;
* :func:`trialdb.analysis.dataset.build_time_to_event` derives the endpoints
  and the time-to-event dataset (one row per participant, settings hash
  recorded); :func:`trialdb.analysis.dataset.long_data` gives the
  counting-process data of the time-varying covariates;
* :func:`trialdb.analysis.day90.run_day90_analysis` runs the day-90
  cumulative incidence, Gray's tests and the regression models.

Kept empty of imports so that the ``trialdb`` command starts without loading
pandas and lifelines.
"""
