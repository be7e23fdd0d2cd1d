"""Writing the demo into a database through the project's own services."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.engine import Engine
from tqdm import tqdm

from trialdb.db import make_session_factory, unit_of_work
from trialdb.demo.generate import DemoCohort, generate_cohort
from trialdb.demo.reference import ACCOUNTS, ASSAYS, REFERENCE_DATE, SITES
from trialdb.errors import Conflict
from trialdb.models import Site
from trialdb.services import accounts, cohort
from trialdb.services.actor import Actor

DEMO_ACTOR = Actor.system("demo generator")


def load_reference_data(engine: Engine) -> None:
    """Sites, assays and demo accounts, in one transaction; refuses a second demo."""
    factory = make_session_factory(engine)
    with unit_of_work(factory) as session:
        codes = [site.code for site in SITES]
        taken = list(session.scalars(select(Site.code).where(Site.code.in_(codes))))
        if taken:
            raise Conflict(
                f"This database already holds demo sites ({', '.join(sorted(taken))}): "
                "load the demo into an empty database.",
                f"Cette base contient déjà des centres de démonstration "
                f"({', '.join(sorted(taken))}) : chargez la démonstration dans une base vide.")
        for site in SITES:
            accounts.create_site(session, DEMO_ACTOR, code=site.code, name=site.name,
                                 city=site.city)
        for account in ACCOUNTS:
            accounts.create_user(session, DEMO_ACTOR, email=account.email,
                                 display_name=account.display_name, role=account.role,
                                 password=account.password, site_codes=list(account.site_codes))
        cohort.create_assays(session, DEMO_ACTOR, ASSAYS)


def load_cohort(engine: Engine, generated: DemoCohort, *,
                batch_size: int = cohort.DEFAULT_BATCH_SIZE,
                progress: Callable[[int], object] | None = None) -> cohort.LoadReport:
    """The generated participants, one transaction per batch."""
    factory = make_session_factory(engine)
    report = cohort.LoadReport()
    for batch in cohort.batched(generated.bundles, batch_size):
        with unit_of_work(factory) as session:
            report.add(cohort.load_participants(session, DEMO_ACTOR, batch,
                                                today=REFERENCE_DATE))
        if progress is not None:
            progress(len(batch))
    return report


def load_demo(engine: Engine, *, participants: int = 120, seed: int = 2024,
              progress: bool = False, batch_size: int = cohort.DEFAULT_BATCH_SIZE) -> str:
    """Fill a migrated, empty database with the demo; the summary to print."""
    if participants < 1:
        raise ValueError("at least one participant")
    load_reference_data(engine)  # first: refuses a database that already holds the demo
    with tqdm(total=participants, desc="generating", unit="participant",
              disable=not progress) as bar:
        generated = generate_cohort(participants, seed, progress=bar.update)
    with tqdm(total=participants, desc="loading", unit="participant",
              disable=not progress) as bar:
        report = load_cohort(engine, generated, batch_size=batch_size, progress=bar.update)
    return summary(generated, report)


def summary(generated: DemoCohort, report: cohort.LoadReport) -> str:
    lines = [f"Demo cohort loaded (seed {generated.seed}, data as of "
             f"{REFERENCE_DATE.isoformat()}):",
             f"  participants: {len(report.study_numbers)}"]
    lines += [f"    {status}: {count}" for status, count in sorted(report.statuses.items())]
    lines.append("  records:")
    lines += [f"    {table}: {count}" for table, count in sorted(report.records.items())]
    lines.append(f"  audit events: {report.audit_events}")
    drawn = {key: count for key, count in generated.facts.items() if key.startswith("scripted")}
    if drawn:
        lines.append("  scripted cases: " + ", ".join(
            f"{key.removeprefix('scripted: ')} x{count}" for key, count in sorted(drawn.items())))
    lines.append("  sites: " + ", ".join(f"{site.code} ({site.city})" for site in SITES))
    lines.append("Demo accounts (e-mail / password / role / sites):")
    width = max(len(account.email) for account in ACCOUNTS)
    for account in ACCOUNTS:
        sites = ",".join(account.site_codes) or "all"
        lines.append(f"  {account.email:<{width}}  {account.password:<22} "
                     f"{account.role.value:<13} {sites}")
    return "\n".join(lines)
