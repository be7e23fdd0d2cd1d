"""The `trialdb` command: thin wrappers that parse arguments and call services."""

from __future__ import annotations

import csv
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from trialdb import backup, migrate
from trialdb.commandline import configured_engine, user_errors
from trialdb.db import make_session_factory, unit_of_work
from trialdb.services import accounts
from trialdb.services import audit as audit_service
from trialdb.services.actor import Actor
from trialdb.vocab import Role


@click.group()
def main() -> None:
    """trialdb: data management for the CMV-after-CAR-T cohort (NCT06058858)."""


@main.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply the migrations up to REVISION."""
    engine = configured_engine()
    migrate.upgrade(engine, revision)
    click.echo(f"database at {revision}: {engine.url.render_as_string(hide_password=True)}")


@db.command("check")
def db_check() -> None:
    """Fail when the models and the migrations disagree."""
    migrate.check(configured_engine())
    click.echo("models and migrations agree")


@main.command("create-site")
@click.option("--code", required=True)
@click.option("--name", required=True)
@click.option("--city")
@user_errors
def create_site(code: str, name: str, city: str | None) -> None:
    """Create an investigating site."""
    factory = make_session_factory(configured_engine())
    with unit_of_work(factory) as session:
        site = accounts.create_site(session, Actor.system("command line"), code=code,
                                    name=name, city=city)
        click.echo(f"site {site.code} created")


@main.command("create-user")
@click.option("--email", required=True)
@click.option("--role", required=True, type=click.Choice(Role.values()))
@click.option("--site", "sites", multiple=True, help="Site code (repeatable)")
@click.option("--password", required=True, prompt=True, hide_input=True)
@click.option("--name", help="Printed name (defaults to the e-mail address)")
@user_errors
def create_user(email: str, role: str, sites: tuple[str, ...], password: str,
                name: str | None) -> None:
    """Create a staff account."""
    factory = make_session_factory(configured_engine())
    with unit_of_work(factory) as session:
        user = accounts.create_user(session, Actor.system("command line"), email=email,
                                    display_name=name or email, role=Role(role),
                                    password=password, site_codes=list(sites))
        click.echo(f"user {user.email} ({user.role}) created")


@main.command("reset-second-factor")
@click.option("--email", required=True)
@click.option("--reason", required=True, help="Why (kept in the audit trail)")
@user_errors
def reset_second_factor(email: str, reason: str) -> None:
    """Remove a user's lost TOTP second factor; they enrol again at sign-in."""
    from trialdb.security import second_factor

    factory = make_session_factory(configured_engine())
    with unit_of_work(factory) as session:
        user = second_factor.reset_by_email(session, Actor.system("command line"), email, reason)
        click.echo(f"second factor of {user.email} removed")


@main.group()
def audit() -> None:
    """The audit trail."""


@audit.command("verify")
def audit_verify() -> None:
    """Exit 0 when the hash chain is intact, 1 naming the first broken row."""
    factory = make_session_factory(configured_engine(), write=False)
    with factory() as session:
        broken = audit_service.verify_chain(session)
    if broken is not None:
        click.echo(f"audit trail BROKEN at row {broken.event_id}: {broken.problem}", err=True)
        sys.exit(1)
    click.echo("audit trail intact")


@audit.command("export")
@click.option("--start", "start", required=True, type=click.DateTime(["%Y-%m-%d"]),
              help="First day (UTC), included")
@click.option("--end", "end", required=True, type=click.DateTime(["%Y-%m-%d"]),
              help="Last day (UTC), included")
@click.option("--out", required=True, type=click.Path(dir_okay=False, writable=True))
def audit_export(start: datetime, end: datetime, out: str) -> None:
    """Write the audit trail of a date range as CSV (one row per changed field)."""
    factory = make_session_factory(configured_engine())
    first, after_last = start.replace(tzinfo=UTC), end.replace(tzinfo=UTC) + timedelta(days=1)
    with factory() as session, open(out, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=audit_service.EXPORT_COLUMNS)
        writer.writeheader()
        count = 0
        for row in audit_service.export_rows(session, first, after_last):
            writer.writerow(row)
            count += 1
        audit_service.record(session, Actor.system("command line"), audit_service.Entry(
            action="export", entity="audit_event",
            reason=f"audit trail {start:%Y-%m-%d} to {end:%Y-%m-%d}, {count} rows"))
        session.commit()
    click.echo(f"{count} rows written to {out}")


@main.command("backup")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@user_errors
def backup_command(out: Path) -> None:
    """Back the database up to a new file (online: the system may keep running)."""
    backup.backup(configured_engine(), out)
    click.echo(f"backup written to {out}")


@main.command("restore")
@click.argument("source", type=click.Path(dir_okay=False, path_type=Path))
@user_errors
def restore_command(source: Path) -> None:
    """Restore a backup into the configured, empty database."""
    engine = configured_engine()
    backup.restore(engine, source)
    factory = make_session_factory(engine, write=False)
    with factory() as session:
        broken = audit_service.verify_chain(session)
    if broken is not None:
        click.echo(f"restored, but the audit trail is BROKEN at row {broken.event_id}", err=True)
        sys.exit(1)
    click.echo("restored; audit trail intact")


@main.command("demo")
@click.option("--participants", "count", default=120, show_default=True, type=int)
@click.option("--seed", default=2024, show_default=True, type=int)
@user_errors
def demo(count: int, seed: int) -> None:
    """Fill the configured database with a synthetic cohort and demo accounts."""
    from trialdb.demo import load_demo

    engine = configured_engine()
    migrate.upgrade(engine)
    summary = load_demo(engine, participants=count, seed=seed, progress=True)
    click.echo(summary)


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--demo", "demo_mode", is_flag=True,
              help="Serve a fresh SQLite demo database (instance/demo.sqlite3) with demo accounts.")
@click.option("--participants", "count", default=120, show_default=True, type=int,
              help="Demo cohort size (with --demo).")
@click.option("--seed", default=2024, show_default=True, type=int, help="Demo seed (with --demo).")
@user_errors
def serve(host: str, port: int, demo_mode: bool, count: int, seed: int) -> None:
    """Run the web application (development server; production: see README)."""
    from trialdb.web.serve import run

    run(host=host, port=port, demo=demo_mode, participants=count, seed=seed)


from trialdb.exports.commands import register as _register_interchange  # noqa: E402 - after main exists

_register_interchange(main)

from trialdb.analysis import cli as _analysis_cli  # noqa: E402 - after main exists

main.add_command(_analysis_cli.analyze)
main.add_command(_analysis_cli.stats)

from trialdb.reporting.cli import report as _report  # noqa: E402 - after main exists

main.add_command(_report)


if __name__ == "__main__":
    main()
