"""`trialdb analyze` and `trialdb stats cif`: thin commands over trialdb.analysis and
trialdb.stats. Heavy libraries are imported inside the commands, so that the rest
of the `trialdb` command starts fast."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from sqlalchemy.exc import SQLAlchemyError

from trialdb.errors import InvalidInput, UserError


def _fail(error: UserError) -> None:
    click.echo(f"error: {error.message('en')}", err=True)
    sys.exit(2)


@click.command("analyze")
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of text.")
def analyze(as_json: bool) -> None:
    """Day-90 cumulative incidence of CMV reactivation, Gray's tests and risk-factor models
    on the configured database."""
    from trialdb.analysis.day90 import run_day90_analysis
    from trialdb.config import load_settings
    from trialdb.db import make_engine, make_session_factory
    from trialdb.study.endpoint_settings import load_endpoint_settings

    try:
        settings = load_endpoint_settings()
        engine = make_engine(load_settings().database_url)
        factory = make_session_factory(engine, write=False)
        with factory() as session:
            result = run_day90_analysis(session, settings)
        engine.dispose()
    except UserError as error:
        _fail(error)
        return
    except SQLAlchemyError as error:
        click.echo(f"error: cannot read the database ({type(error).__name__}); is it reachable and "
                   "migrated? (trialdb db upgrade)", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, sort_keys=False))
    else:
        click.echo(result.render_text())


@click.group("stats")
def stats() -> None:
    """Statistics on any CSV file (e.g. an exported analysis dataset)."""


def _parse_times(text: str) -> list[float]:
    try:
        times = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise InvalidInput(
            en=f"--at must be days separated by commas (e.g. 30,60,90), not {text!r}.",
            fr=f"--at doit être une liste de jours séparés par des virgules (ex. 30,60,90), "
               f"pas {text!r}.", field="at") from None
    if not times or any(t < 0 for t in times) or times != sorted(times):
        raise InvalidInput(
            en="--at must list non-negative days in increasing order.",
            fr="--at doit lister des jours positifs ou nuls en ordre croissant.", field="at")
    return times


def _number(value: Any) -> float | None:
    number = float(value)
    return number if number == number and abs(number) != float("inf") else None


def cif_table(csv: Path, time: str, event: str, event_of_interest: int, at: str,
              group: str | None, variance: str) -> dict[str, Any]:
    """Read the CSV and run the estimator; raises InvalidInput for a person's mistakes."""
    import pandas as pd

    from trialdb.stats import cumulative_incidence, cumulative_incidence_by_group, grays_test

    times = _parse_times(at)
    try:
        frame = pd.read_csv(csv)
    except (OSError, ValueError, pd.errors.ParserError) as error:
        raise InvalidInput(en=f"Cannot read {csv}: {error}", fr=f"Lecture de {csv} impossible : {error}",
                           field="csv") from None
    missing = [c for c in (time, event, group) if c is not None and c not in frame.columns]
    if missing:
        raise InvalidInput(
            en=f"Column(s) not in {csv.name}: {', '.join(missing)}. "
               f"Columns: {', '.join(map(str, frame.columns))}.",
            fr=f"Colonne(s) absente(s) de {csv.name} : {', '.join(missing)}. "
               f"Colonnes : {', '.join(map(str, frame.columns))}.", field="csv")
    used = [c for c in (time, event, group) if c is not None]
    dropped = int(frame[used].isna().any(axis=1).sum())
    frame = frame.dropna(subset=used)
    try:
        durations, events = frame[time].to_numpy(dtype=float), frame[event].to_numpy(dtype=float)
        if group is None:
            table = cumulative_incidence(durations, events, event_of_interest=event_of_interest,
                                         times=times, variance=variance)  # type: ignore[arg-type]
            tables = {"all": table}
            test = None
        else:
            labels = frame[group].astype(str).to_numpy()
            by_group = cumulative_incidence_by_group(durations, events, labels,
                                                     event_of_interest=event_of_interest, times=times,
                                                     variance=variance)  # type: ignore[arg-type]
            tables = {str(g): by_group.loc[g] for g in by_group.index.unique(level="group")}
            test = grays_test(durations, events, labels, event_of_interest=event_of_interest)
    except ValueError as error:
        raise InvalidInput(en=f"Cannot estimate: {error}", fr=f"Estimation impossible : {error}") from None
    out: dict[str, Any] = {
        "csv": str(csv), "n": len(frame), "rows_with_missing_values_dropped": dropped,
        "event_of_interest": event_of_interest, "variance": variance,
        "groups": {
            label: [{"time": _number(t), "at_risk": int(row["at_risk"]),
                     **{c: _number(row[c]) for c in ("estimate", "std_err", "lower", "upper")}}
                    for t, row in table.iterrows()]
            for label, table in tables.items()
        },
    }
    if test is not None:
        out["grays_test"] = {"statistic": _number(test.statistic), "p_value": _number(test.p_value),
                             "df": test.df}
    return out


def _fmt(value: float | None, digits: int = 4) -> str:
    return "NA" if value is None else f"{value:.{digits}f}"


@stats.command("cif")
@click.option("--csv", "csv", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="CSV file with one row per subject.")
@click.option("--time", "time", required=True, help="Column of follow-up times.")
@click.option("--event", "event", required=True, help="Column of event codes (0 = censored).")
@click.option("--event-of-interest", default=1, show_default=True, type=int)
@click.option("--at", "at", default="30,60,90", show_default=True, help="Times, comma-separated.")
@click.option("--group", "group", help="Column to estimate by, with Gray's test.")
@click.option("--variance", type=click.Choice(["aalen", "delta"]), default="aalen", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of a table.")
def cif(csv: Path, time: str, event: str, event_of_interest: int, at: str, group: str | None,
        variance: str, as_json: bool) -> None:
    """Aalen–Johansen cumulative incidence (95% CI, log-log) of one cause in a CSV file."""
    try:
        result = cif_table(csv, time, event, event_of_interest, at, group, variance)
    except UserError as error:
        _fail(error)
        return
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    click.echo(f"{csv.name}: n {result['n']}, cumulative incidence of event {event_of_interest} "
               f"({variance} variance, 95% CI log-log)")
    if result["rows_with_missing_values_dropped"]:
        click.echo(f"rows with missing values left out: {result['rows_with_missing_values_dropped']}")
    click.echo(f"{'group':<16} {'time':>8} {'at risk':>8} {'CIF':>8} {'lower':>8} {'upper':>8}")
    for label, rows in result["groups"].items():
        for row in rows:
            click.echo(f"{label:<16} {_fmt(row['time'], 1):>8} {row['at_risk']:>8} "
                       f"{_fmt(row['estimate']):>8} {_fmt(row['lower']):>8} {_fmt(row['upper']):>8}")
    if "grays_test" in result:
        t = result["grays_test"]
        click.echo(f"Gray's test by {group}: chi2 {_fmt(t['statistic'])}, df {t['df']}, "
                   f"p {_fmt(t['p_value'])}")
