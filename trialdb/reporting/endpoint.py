"""Sections of the interim report built on the analysis: the primary endpoint
(cumulative incidence, subgroups, Gray's test), the risk-factor models, the
refractory-infection counts and the endpoint settings.

Every number comes from `trialdb.analysis` (the dataset and the day-90
analysis that `trialdb analyze --json` prints) and `trialdb.stats`; nothing
is re-derived here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
import pandas as pd
from reportlab.lib.units import mm
from reportlab.platypus import CondPageBreak, Flowable, KeepTogether, PageBreak
from sqlalchemy import select

from trialdb.analysis.dataset import TimeToEventDataset, build_time_to_event, long_data
from trialdb.analysis.day90 import Day90Analysis, GroupComparison, ModelResult, day90_analysis
from trialdb.analysis.loading import (
    ENDPOINT_VIRUSES,
    count_withdrawn_data_excluded,
    load_cohort,
)
from trialdb.crf.definitions import code_label
from trialdb.models import Site
from trialdb.reporting import charts, labels
from trialdb.reporting.context import ReportContext
from trialdb.reporting.definitions import SectionDefinition, text
from trialdb.reporting.sections import section
from trialdb.reporting.styles import CMV, DEATH, FRAME_WIDTH, NAVY, SERIES
from trialdb.reporting.tables import data_table, markup, n_percent, p, p_value, percent, percent_ci
from trialdb.stats import cumulative_incidence
from trialdb.stats.grays import grays_test
from trialdb.study.endpoint_settings import (
    STATUS_CENSORED,
    STATUS_LABELS,
    STATUS_REACTIVATION,
    CompetingEvent,
    load_endpoint_settings,
)
from trialdb.study.endpoints import RefractoryStatus


@dataclass(frozen=True)
class Day90:
    """The primary estimate: cumulative incidence at the horizon with its 95% CI."""

    horizon: int
    estimate: float
    lower: float
    upper: float
    n: int
    events: int


def day90_estimate(data: pd.DataFrame, horizon: int) -> Day90:
    """Cumulative incidence of CMV reactivation at the horizon within a subgroup."""
    table = cumulative_incidence(data["time"].to_numpy(), data["status"].to_numpy(),
                                 event_of_interest=STATUS_REACTIVATION, times=[horizon])
    row = table.iloc[0]
    return Day90(horizon, float(row["estimate"]), float(row["lower"]), float(row["upper"]),
                 len(data), int((data["status"] == STATUS_REACTIVATION).sum()))


@dataclass
class EndpointData:
    dataset: TimeToEventDataset
    analysis: Day90Analysis  # what `trialdb analyze --json` prints, on the report's scope
    day90: Day90 | None

    @property
    def data(self) -> pd.DataFrame:
        return self.dataset.data

    @property
    def prevalent(self) -> pd.DataFrame:
        return self.dataset.prevalent

    @property
    def settings_hash(self) -> str:
        return self.dataset.settings_hash


def _in_sites(frame: pd.DataFrame, codes: set[str]) -> pd.DataFrame:
    if not len(frame):
        return frame
    kept = frame[frame["site_code"].isin(sorted(codes))].reset_index(drop=True)
    kept.attrs.update(frame.attrs)
    return kept


def endpoint_data(ctx: ReportContext) -> EndpointData | None:
    """The primary analysis for the report's scope (computed once per report).

    The same calls as `trialdb.analysis.day90.run_day90_analysis`, so the
    whole-study report prints the numbers of `trialdb analyze --json`; a site
    report runs the same analysis on its site's rows.
    """
    if "endpoint" in ctx.cache:
        return ctx.cache["endpoint"]  # type: ignore[no-any-return]
    settings = load_endpoint_settings()
    cohort = load_cohort(ctx.session, viruses=ENDPOINT_VIRUSES)
    dataset = build_time_to_event(
        cohort, settings, withdrawn_data_excluded=count_withdrawn_data_excluded(ctx.session))
    if ctx.scope.site_ids is not None:
        codes = set(ctx.session.scalars(select(Site.code).where(
            Site.id.in_(sorted(ctx.scope.site_ids)))))
        dataset = replace(dataset, data=_in_sites(dataset.data, codes),
                          prevalent=_in_sites(dataset.prevalent, codes))
    analysis = day90_analysis(dataset, long_data(cohort, dataset))
    d90 = analysis.d90
    day90 = None
    if d90.get("estimate") is not None:
        day90 = Day90(analysis.horizon_days, float(d90["estimate"] or 0.0),
                      math.nan if d90["lower"] is None else float(d90["lower"]),
                      math.nan if d90["upper"] is None else float(d90["upper"]),
                      analysis.n, analysis.events.get(STATUS_LABELS[STATUS_REACTIVATION], 0))
    result = EndpointData(dataset, analysis, day90)
    ctx.cache["endpoint"] = result
    return result


def reactivated_ids(ctx: ReportContext) -> set[int]:
    endpoint = endpoint_data(ctx)
    if endpoint is None or not len(endpoint.data):
        return set()
    data = endpoint.data
    return {int(i) for i in data.loc[data["status"] == STATUS_REACTIVATION, "participant_id"]}


def _group_labels(ctx: ReportContext, variable: dict[str, Any]) -> dict[str, str]:
    return {str(k): text(v, f"subgroups.{variable['column']}.{k}").get(ctx.language)
            for k, v in (variable.get("levels") or {}).items()}


def _level(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if value.is_integer():
            return str(int(value))
    return str(value)


# --- primary endpoint ----------------------------------------------------------------------

def _curve(data: pd.DataFrame, cause: int, label: str, colour: Any,
           dashed: bool = False) -> charts.StepCurve:
    table = cumulative_incidence(data["time"].to_numpy(), data["status"].to_numpy(),
                                 event_of_interest=cause)
    times = table.index.to_numpy(dtype=float)
    estimate = table["estimate"].to_numpy()
    lower = np.nan_to_num(table["lower"].to_numpy(), nan=0.0)
    upper = table["upper"].to_numpy()
    upper = np.where(np.isnan(upper), estimate, upper)
    return charts.StepCurve(label, list(times), list(estimate), colour, list(lower), list(upper),
                            dashed=dashed)


def _at_risk(data: pd.DataFrame, days: Sequence[int]) -> list[int]:
    time = data["time"].to_numpy()
    return [int((time >= day).sum()) for day in days]


@section("primary_endpoint")
def primary_endpoint(ctx: ReportContext, definition: SectionDefinition) -> list[Flowable]:
    endpoint = endpoint_data(ctx)
    title = p(ctx.text(definition.title, "Primary endpoint", "Critère principal"), "h1")
    if endpoint is None or endpoint.day90 is None:
        return [title, p(ctx.t("No participant is in the analysis set yet.",
                               "Aucun participant n'est encore dans la population d'analyse.")),
                PageBreak()]
    data, settings, d90 = endpoint.data, endpoint.dataset.settings, endpoint.day90
    horizon = settings.horizon_days
    days = [int(d) for d in definition.params.get("at_risk_days", [0, 15, 30, 45, 60, 75, 90])]
    counts = data["status"].value_counts()
    competing = {event.status: int(counts.get(event.status, 0))
                 for event in settings.competing_events}
    reactivation_label = ctx.t("CMV reactivation", "Réactivation du CMV")
    death_label = ctx.t("Death without reactivation (competing)",
                        "Décès sans réactivation (compétitif)")
    curves = [_curve(data, STATUS_REACTIVATION, reactivation_label, CMV)]
    death_code = CompetingEvent.DEATH.status
    if competing.get(death_code):
        curves.append(_curve(data, death_code, death_label, DEATH, dashed=True))
    chart = charts.cumulative_incidence_chart(
        curves, horizon=horizon, x_label=ctx.t("Days after CAR-T infusion (D0)",
                                               "Jours après la perfusion de CAR-T (J0)"),
        y_label=ctx.t("Cumulative incidence", "Incidence cumulée"),
        at_risk_times=days,
        at_risk=[charts.AtRiskRow(ctx.t("All participants", "Tous"), NAVY, _at_risk(data, days))],
        at_risk_title=ctx.t("Number at risk", "Nombre à risque"))
    headline = ctx.t(
        f"Cumulative incidence of CMV reactivation at day {horizon}: "
        f"<b>{percent_ci(d90.estimate, d90.lower, d90.upper)}</b> (95% CI), "
        f"{d90.events} reactivations among {d90.n} participants.",
        f"Incidence cumulée de la réactivation du CMV à J{horizon} : "
        f"<b>{percent_ci(d90.estimate, d90.lower, d90.upper, 'à')}</b> (IC 95 %), "
        f"{d90.events} réactivations parmi {d90.n} participants.")
    status_rows = [[ctx.t("CMV reactivation", "Réactivation du CMV"),
                    n_percent(d90.events, d90.n)]]
    for code, n in competing.items():
        status_rows.append([_status_name(ctx, code), n_percent(n, d90.n)])
    status_rows.append([ctx.t(f"Censored (before or at day {horizon})",
                              f"Censurés (avant ou à J{horizon})"),
                        n_percent(int(counts.get(STATUS_CENSORED, 0)), d90.n)])
    prevalent = len(endpoint.prevalent)
    exclusions = endpoint.dataset.exclusion_counts()
    table_times = [int(d) for d in definition.params.get("table_days", [14, 28, 60, 90])]
    to = ctx.t("to", "à")
    ci_rows = []
    for cause, name in [(STATUS_REACTIVATION, reactivation_label)] + [
            (code, _status_name(ctx, code)) for code, n in competing.items() if n]:
        frame = cumulative_incidence(data["time"].to_numpy(), data["status"].to_numpy(),
                                     event_of_interest=cause, times=table_times)
        ci_rows.append([name, *[percent_ci(float(e), float(lo), float(hi), to) for e, lo, hi in
                                frame[["estimate", "lower", "upper"]].to_numpy()]])
    story: list[Flowable] = [
        title,
        markup(headline, "body"),
        KeepTogether([chart, p(ctx.t(
            "Figure. Aalen–Johansen cumulative incidence of CMV reactivation (solid) and of death "
            "without reactivation (dashed) with pointwise 95% confidence bands (log-log); numbers "
            "at risk below the axis.",
            "Figure. Incidence cumulée (Aalen–Johansen) de la réactivation du CMV (trait plein) et "
            "du décès sans réactivation (tirets), bandes de confiance ponctuelles à 95 % "
            "(log-log) ; nombres à risque sous l'axe."), "caption")]),
        data_table([ctx.t("Event", "Événement"),
                    *[ctx.t(f"Day {d}", f"J{d}") for d in table_times]], ci_rows,
                   widths=[38 * mm] + [(FRAME_WIDTH - 38 * mm) / len(table_times)] * len(table_times),
                   font_size=7.0),
        p(ctx.t("Cumulative incidence (95% CI).", "Incidence cumulée (IC 95 %)."), "caption"),
        data_table([ctx.t("First event by day 90", "Premier événement à J90"),
                    ctx.t(f"Participants (n = {d90.n})", f"Participants (n = {d90.n})")],
                   status_rows, widths=[FRAME_WIDTH * 0.65, FRAME_WIDTH * 0.35]),
        p(ctx.t(f"Prevalent DNAemia at or before D0 (reported apart, not in the analysis set): "
                f"{prevalent}. Left out: ",
                f"ADNémie prévalente à J0 ou avant (rapportée à part, hors population "
                f"d'analyse) : {prevalent}. Exclus : ")
          + (", ".join(f"{labels.label(labels.EXCLUSION_REASONS, k, ctx.language)} {v}"
                       for k, v in sorted(exclusions.items())) or ctx.t("none", "aucun")) + ".",
          "caption"),
    ]
    story += _subgroups(ctx, definition, data, horizon, endpoint.analysis.group_tests)
    story.append(PageBreak())
    return story


def _status_name(ctx: ReportContext, code: int) -> str:
    names = {
        CompetingEvent.DEATH.status: ctx.t("Death without reactivation", "Décès sans réactivation"),
        CompetingEvent.LATER_ALLO_HSCT.status: ctx.t("Allogeneic HSCT after CAR-T",
                                                     "Allogreffe après CAR-T"),
        CompetingEvent.NEW_LINE.status: ctx.t("New line of therapy", "Nouvelle ligne de traitement"),
    }
    return names.get(code, STATUS_LABELS.get(code, str(code)))


def _subgroups(ctx: ReportContext, definition: SectionDefinition, data: pd.DataFrame,
               horizon: int, endpoint_tests: Sequence[GroupComparison]) -> list[Flowable]:
    variables = definition.params.get("subgroups", [])
    if not variables:
        return []
    rows: list[list[str]] = []
    section_rows: list[int] = []
    figures: list[Flowable] = []
    for variable in variables:
        column = str(variable["column"])
        if column not in data.columns:
            continue
        labels = _group_labels(ctx, variable)
        levels = data[column].map(_level)
        known = levels != "nan"
        subset, groups = data[known], levels[known]
        name = text(variable["title"], f"subgroups.{column}").get(ctx.language)
        distinct = sorted(groups.unique(), key=lambda v: list(labels).index(v)
                          if v in labels else len(labels))
        test_text = "–"
        known_test = next((g for g in endpoint_tests if g.variable == column), None)
        if known_test is not None and known_test.p_value is not None:
            test_text = ctx.t(f"Gray's test p = {p_value(known_test.p_value)}",
                              f"test de Gray p = {p_value(known_test.p_value)}")
        elif len(distinct) >= 2 and int((subset["status"] == STATUS_REACTIVATION).sum()) > 0:
            result = grays_test(subset["time"].to_numpy(), subset["status"].to_numpy(),
                                groups.to_numpy(), event_of_interest=STATUS_REACTIVATION)
            test_text = ctx.t(f"Gray's test p = {p_value(result.p_value)}",
                              f"test de Gray p = {p_value(result.p_value)}")
        section_rows.append(len(rows))
        rows.append([f"{name} — {test_text}", "", "", ""])
        curves, at_risk = [], []
        days = [int(d) for d in definition.params.get("at_risk_days", [0, 30, 60, 90])]
        for index, level in enumerate(distinct):
            part = subset[groups == level]
            colour = SERIES[index % len(SERIES)]
            estimate = day90_estimate(part, horizon)
            level_name = labels.get(level, level)
            rows.append([f"   {level_name}", str(estimate.n), str(estimate.events),
                         percent_ci(estimate.estimate, estimate.lower, estimate.upper,
                                    ctx.t("to", "à"))])
            if variable.get("figure"):
                curves.append(_curve(part, STATUS_REACTIVATION, level_name, colour))
                at_risk.append(charts.AtRiskRow(level_name, colour, _at_risk(part, days)))
        if curves:
            figures.append(KeepTogether([
                p(ctx.t(f"By {name.lower()}", f"Selon {name.lower()}"), "h2"),
                charts.cumulative_incidence_chart(
                    curves, horizon=horizon,
                    x_label=ctx.t("Days after CAR-T infusion", "Jours après la perfusion"),
                    y_label=ctx.t("Cumulative incidence", "Incidence cumulée"),
                    at_risk_times=days, at_risk=at_risk,
                    at_risk_title=ctx.t("Number at risk", "Nombre à risque"), plot_height=130),
                p(ctx.t(f"CMV reactivation by {name.lower()}; {test_text}.",
                        f"Réactivation du CMV selon {name.lower()} ; {test_text}."), "caption"),
            ]))
    return [
        CondPageBreak(70 * mm),
        p(ctx.t("Subgroups", "Sous-groupes"), "h2"),
        data_table([ctx.t("Subgroup", "Sous-groupe"), "n", ctx.t("Events", "Événements"),
                    ctx.t(f"Day {horizon} (95% CI)", f"J{horizon} (IC 95 %)")], rows,
                   widths=[FRAME_WIDTH * 0.44, FRAME_WIDTH * 0.09, FRAME_WIDTH * 0.15,
                           FRAME_WIDTH * 0.32], section_rows=section_rows),
        p(ctx.t("Cumulative incidence of CMV reactivation at the horizon by subgroup; Gray's test "
                "compares the whole curves. Participants with the variable missing are left out "
                "of its comparison.",
                "Incidence cumulée de la réactivation du CMV à l'horizon par sous-groupe ; le test "
                "de Gray compare les courbes entières. Les participants sans valeur pour la "
                "variable sont exclus de sa comparaison."), "caption"),
        *figures,
    ]


# --- risk factors --------------------------------------------------------------------------

def _hr(table: pd.DataFrame | None, covariate: str
        ) -> tuple[str, str, tuple[float, float, float] | None]:
    if table is None or covariate not in table.index:
        return "–", "–", None
    hr, lower, upper, p = (float(v) for v in
                           table.loc[covariate, ["hr", "lower", "upper", "p"]].to_numpy())
    values = (hr, lower, upper)
    if not all(math.isfinite(v) and 1e-6 < v < 1e6 for v in values):
        return "n.e.", "–", None
    return f"{hr:.2f} ({lower:.2f}–{upper:.2f})", p_value(p), values


def _model(analysis: Day90Analysis, name: str) -> ModelResult | None:
    return next((m for m in analysis.models if m.name == name), None)


@section("risk_factors")
def risk_factors(ctx: ReportContext, definition: SectionDefinition) -> list[Flowable]:
    endpoint = endpoint_data(ctx)
    title = p(ctx.text(definition.title, "Risk factors", "Facteurs de risque"), "h1")
    if endpoint is None or not len(endpoint.data):
        return [title, p(ctx.t("No data.", "Pas de données.")), PageBreak()]
    names = {str(c["column"]): text(c["label"], f"covariates.{c['column']}").get(ctx.language)
             for c in definition.params.get("covariates", [])}
    cox = _model(endpoint.analysis, "cause_specific_cox")
    fg = _model(endpoint.analysis, "fine_gray")
    tv = _model(endpoint.analysis, "time_varying_cause_specific_cox")
    story: list[Flowable] = [title]
    if cox is None or fg is None:
        return [*story, p(ctx.t("The models were not run.", "Les modèles n'ont pas été ajustés.")),
                PageBreak()]
    used = cox.covariates
    epv = cox.n_events / len(used) if used else 0.0
    story.append(p(ctx.t(
        f"Multivariable models of CMV reactivation on {cox.n} participants with every covariate "
        f"recorded ({len(endpoint.data) - cox.n} left out for a missing value), {cox.n_events} "
        f"reactivations, {len(used)} covariates.",
        f"Modèles multivariables de la réactivation du CMV sur {cox.n} participants dont toutes "
        f"les covariables sont renseignées ({len(endpoint.data) - cox.n} exclus pour une valeur "
        f"manquante), {cox.n_events} réactivations, {len(used)} covariables.")))
    if used and epv < 10:
        story.append(p(ctx.t(
            f"Caution: {epv:.1f} events per variable (fewer than 10). Estimates may be biased "
            "and their intervals unreliable; read them as exploratory.",
            f"Attention : {epv:.1f} événements par variable (moins de 10). Les estimations "
            "peuvent être biaisées et leurs intervalles peu fiables : à lire comme "
            "exploratoires."), "caveat"))
    for model in (cox, fg, tv):
        if model is not None and model.error:
            name = labels.label(labels.MODEL_NAMES, model.name, ctx.language)
            story.append(p(ctx.t(f"{name}: not estimable ({model.error}).",
                                 f"{name} : non estimable ({model.error})."), "caveat"))
    dropped = sorted(set(cox.dropped) | set(fg.dropped))
    if dropped:
        story.append(p(ctx.t("Left out (no variation): ", "Exclues (sans variation) : ")
                       + ", ".join(names.get(c, c) for c in dropped) + ".", "caption"))
    rows, forest = [], []
    for covariate in used:
        cox_text, cox_p, cox_values = _hr(cox.table, covariate)
        fg_text, fg_p, fg_values = _hr(fg.table, covariate)
        label = names.get(covariate, covariate)
        rows.append([label, cox_text, cox_p, fg_text, fg_p])
        for suffix, values, colour in (("CS", cox_values, CMV), ("FG", fg_values, NAVY)):
            estimate, low, high = values or (None, None, None)
            forest.append(charts.ForestRow(f"{label} — {suffix}", estimate, low, high, colour))
    story += [
        data_table([ctx.t("Covariate", "Covariable"),
                    ctx.t("Cause-specific HR (95% CI)", "HR cause-spécifique (IC 95 %)"), "p",
                    ctx.t("Subdistribution HR (95% CI)", "HR de sous-distribution (IC 95 %)"),
                    "p"], rows,
                   widths=[FRAME_WIDTH * 0.34, FRAME_WIDTH * 0.22, FRAME_WIDTH * 0.11,
                           FRAME_WIDTH * 0.22, FRAME_WIDTH * 0.11], font_size=7.4),
        p(ctx.t("Cause-specific Cox model (Efron ties; competing events censored) and Fine–Gray "
                "subdistribution hazards model, same covariates and participants. n.e.: not "
                "estimable (no event in a category, or an unbounded interval).",
                "Modèle de Cox cause-spécifique (ex aequo d'Efron ; événements compétitifs "
                "censurés) et modèle de Fine–Gray, mêmes covariables et participants. n.e. : non "
                "estimable (aucun événement dans une catégorie, ou intervalle non borné)."),
          "caption"),
    ]
    if forest:
        story += [
            CondPageBreak(len(forest) * 13 + 60),
            charts.forest_plot(forest, x_label=ctx.t(
                "Hazard ratio (log scale); CS cause-specific, FG Fine–Gray",
                "Rapport de risques (échelle log) ; CS cause-spécifique, FG Fine–Gray")),
            p(ctx.t("Figure. Forest plot of both models (squares: estimates; lines: 95% CI).",
                    "Figure. Forest plot des deux modèles (carrés : estimations ; traits : "
                    "IC 95 %)."), "caption"),
        ]
    if tv is not None and tv.table is not None:
        tv_rows = []
        for covariate in tv.covariates:
            hr_text, hr_p, _ = _hr(tv.table, covariate)
            tv_rows.append([names.get(covariate, covariate), hr_text, hr_p])
        story += [
            p(ctx.t("TTV load as a time-varying covariate", "Charge TTV en covariable dépendant "
                    "du temps"), "h2"),
            data_table([ctx.t("Covariate", "Covariable"),
                        ctx.t("Cause-specific HR (95% CI)", "HR cause-spécifique (IC 95 %)"), "p"],
                       tv_rows, widths=[FRAME_WIDTH * 0.5, FRAME_WIDTH * 0.3, FRAME_WIDTH * 0.2]),
            p(ctx.t(f"Cause-specific Cox model on counting-process data: {tv.n} participants, "
                    f"{tv.n_events} reactivations; TTV log10 lagged by "
                    f"{endpoint.dataset.settings.ttv_lag_days} days.",
                    f"Modèle de Cox cause-spécifique sur données en processus de comptage : "
                    f"{tv.n} participants, {tv.n_events} réactivations ; log10 TTV décalé de "
                    f"{endpoint.dataset.settings.ttv_lag_days} jours."), "caption"),
        ]
    story.append(PageBreak())
    return story


# --- refractory infections and settings (used by other sections) --------------------------

def refractory_table(ctx: ReportContext) -> list[Flowable]:
    endpoint = endpoint_data(ctx)
    if endpoint is None or not len(endpoint.data):
        return []
    data = endpoint.data
    total = len(data)
    statuses = data["refractory_status"].dropna().value_counts() \
        if "refractory_status" in data.columns else pd.Series(dtype=int)
    cscmvi = int(data["cscmvi_day"].notna().sum()) if "cscmvi_day" in data.columns else 0
    recurrences = int((data["recurrences"] > 0).sum()) if "recurrences" in data.columns else 0
    rows = [[ctx.t("Clinically significant CMV infection", "Infection à CMV cliniquement "
                   "significative"), n_percent(cscmvi, total)],
            [ctx.t("Recurrent infection", "Infection récidivante"), n_percent(recurrences, total)]]
    for status, n in sorted(statuses.items()):
        rows.append([ctx.t("Therapy assessment: ", "Évaluation du traitement : ")
                     + code_label(RefractoryStatus, str(status), ctx.language),
                     n_percent(int(n), total)])
    return [
        p(ctx.t("Clinically significant, recurrent and refractory infections",
                "Infections cliniquement significatives, récidivantes et réfractaires"), "h2"),
        data_table([ctx.t("Derived endpoint", "Critère dérivé"),
                    ctx.t(f"Participants (n = {total})", f"Participants (n = {total})")],
                   rows, widths=[FRAME_WIDTH * 0.65, FRAME_WIDTH * 0.35]),
        p(ctx.t("Derived by trialdb.study.endpoints under the settings of the methods appendix "
                "(worst assessment per participant).",
                "Dérivés par trialdb.study.endpoints selon les paramètres de l'annexe "
                "méthodologique (pire évaluation par participant)."), "caption"),
    ]


def _plain(value: Any) -> str:
    """A setting as typed in forms/study.yaml (1000, not 1E+3)."""
    if isinstance(value, str):
        try:
            return format(Decimal(value), "f")
        except InvalidOperation:
            return value
    return str(value)


def settings_table(ctx: ReportContext) -> list[Flowable]:
    endpoint = endpoint_data(ctx)
    settings = endpoint.dataset.settings if endpoint else load_endpoint_settings()
    rows = []
    for key, value in settings.as_json_dict().items():
        shown = ", ".join(str(v) for v in value) if isinstance(value, list) else _plain(value)
        rows.append([key, shown])
    return [
        p(ctx.t("Endpoint settings", "Paramètres du critère"), "h2"),
        p(ctx.t(f"From forms/study.yaml; settings hash {settings.settings_hash}.",
                f"Issus de forms/study.yaml ; empreinte {settings.settings_hash}."), "small"),
        data_table([ctx.t("Setting", "Paramètre"), ctx.t("Value", "Valeur")], rows,
                   widths=[FRAME_WIDTH * 0.45, FRAME_WIDTH * 0.55], numeric_from=2),
    ]


__all__ = ["Day90", "EndpointData", "endpoint_data", "percent"]
