"""Commands for data going in and out: `import-labs`, `lab-mapping`, `export`, `api-token`.

Thin wrappers, registered on the `trialdb` group by `register(main)`; each
parses its arguments, runs one service in one unit of work and prints.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import Session
from tqdm import tqdm

from trialdb.commandline import configured_engine, user_errors
from trialdb.db import make_session_factory, unit_of_work
from trialdb.errors import NotFound
from trialdb.models import User
from trialdb.services import lab_import
from trialdb.services.actor import Actor, require_entry
from trialdb.services.lab_import import ROW_KIND_LABELS, RowKind, RowOutcome


def _factory(write: bool = True) -> Any:
    return make_session_factory(configured_engine(), write=write)


def acting_user(session: Session, email: str | None, what: str) -> Actor:
    """The account a command acts as (its role and sites apply), or the operator."""
    if not email:
        return Actor.system(f"command line ({what})")
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None or not user.is_active:
        raise NotFound(f"No active account {email}.", f"Aucun compte actif {email}.", field="as")
    return Actor.of(user)


# --- laboratory import ---------------------------------------------------------------------------


@click.command("import-labs")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Classify the rows and write nothing.")
@click.option("--mapping", help="Saved column mapping of the laboratory (default layout if absent).")
@click.option("--as", "as_email", help="Act as this account (its sites limit the import).")
@click.option("--lang", type=click.Choice(["en", "fr"]), default="en", show_default=True)
@click.option("--show", type=click.Choice(["all", "problems", "none"]),
              help="Rows to list (default: all for a dry run, problems otherwise).")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path),
              help="Write every row's outcome to this CSV file.")
@user_errors
def import_labs(file: Path, dry_run: bool, mapping: str | None, as_email: str | None, lang: str,
                show: str | None, report: Path | None) -> None:
    """Import a laboratory's viral-load results from FILE (CSV)."""
    show = show or ("all" if dry_run else "problems")
    index = 0 if lang == "en" else 1
    with unit_of_work(_factory()) as session:
        actor = acting_user(session, as_email, "laboratory import")
        # the web's rule, checked before the report file is created: a refusal leaves nothing
        require_entry(actor)
        report_file = report.open("w", newline="", encoding="utf-8") if report else None
        writer = csv.writer(report_file) if report_file else None
        if writer:
            writer.writerow(["line", "outcome", "study_number", "row", "field", "reason_en", "reason_fr"])
        bar = tqdm(unit=" rows", desc="rows read", disable=None, file=sys.stderr)

        def on_row(outcome: RowOutcome) -> None:
            if writer:
                writer.writerow([outcome.line, outcome.kind.value, outcome.study_number, outcome.summary,
                                 outcome.field or "", outcome.reason_en, outcome.reason_fr])
            if show == "all" or (show == "problems" and outcome.kind is not RowKind.NEW):
                label = ROW_KIND_LABELS[outcome.kind][index]
                reason = outcome.reason(lang)
                tqdm.write(f"line {outcome.line:>6}  {label:<11}  {outcome.summary}"
                           + (f"  -- {reason}" if reason else ""), file=sys.stdout)
            bar.update(1)

        try:
            with file.open("rb") as stream:
                summary = lab_import.import_lab_file(session, actor, stream, file_name=file.name,
                                                     mapping=mapping, dry_run=dry_run, on_row=on_row)
        finally:
            bar.close()
            if report_file:
                report_file.close()
    counts = ", ".join(f"{summary.counts[kind]} {ROW_KIND_LABELS[kind][index]}" for kind in RowKind)
    click.echo(f"{file.name} (SHA-256 {summary.file_sha256}): {summary.rows_total} rows: {counts}")
    if summary.already_imported_batch is not None:
        click.echo(f"note: this file was already imported (batch {summary.already_imported_batch}).")
    if dry_run:
        click.echo("dry run: nothing written." if lang == "en" else "essai à blanc : rien n'est écrit.")
        return
    if not summary.committed:
        raise lab_import.refusal(summary)
    click.echo(f"imported: {summary.counts[RowKind.NEW]} new result(s), batch {summary.batch_id}.")


@click.group("lab-mapping")
def lab_mapping() -> None:
    """Saved column mappings of the laboratories' result files."""


@lab_mapping.command("save")
@click.argument("code")
@click.option("--laboratory", required=True, help="Name of the laboratory.")
@click.option("--column", "columns", multiple=True, metavar="FIELD=HEADER",
              help=f"Where a field is in the file; fields: {', '.join(lab_import.FIELDS)}.")
@click.option("--default", "defaults", multiple=True, metavar="FIELD=VALUE",
              help="A fixed value for a field the file does not carry (e.g. virus=CMV).")
@click.option("--delimiter", help="Field separator (detected when absent).")
@click.option("--encoding", help="Text encoding (UTF-8 or latin-1 detected when absent).")
@user_errors
def lab_mapping_save(code: str, laboratory: str, columns: tuple[str, ...], defaults: tuple[str, ...],
                     delimiter: str | None, encoding: str | None) -> None:
    """Create or replace the column mapping CODE."""
    def pairs(items: tuple[str, ...], option: str) -> dict[str, str]:
        result = {}
        for item in items:
            name, sep, value = item.partition("=")
            if not sep:
                raise click.BadParameter(f"expected FIELD=VALUE, got {item!r}", param_hint=option)
            result[name.strip()] = value.strip()
        return result

    if delimiter == "\\t":
        delimiter = "\t"
    with unit_of_work(_factory()) as session:
        mapping = lab_import.save_mapping(
            session, Actor.system("command line"), code=code, laboratory=laboratory,
            columns=pairs(columns, "--column"), defaults=pairs(defaults, "--default"),
            delimiter=delimiter, encoding=encoding)
        click.echo(f"mapping {mapping.code} saved")


@lab_mapping.command("list")
def lab_mapping_list() -> None:
    """List the saved column mappings."""
    with _factory(write=False)() as session:
        for mapping in lab_import.list_mappings(session):
            columns = ", ".join(f"{k}={v}" for k, v in mapping.columns.items())
            defaults = ", ".join(f"{k}={v}" for k, v in (mapping.defaults or {}).items())
            click.echo(f"{mapping.code}\t{mapping.laboratory}\t{columns}"
                       + (f"\tdefaults: {defaults}" if defaults else ""))


# --- exports ------------------------------------------------------------------------------------------


@click.command("export")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder in which the bundle's folder is created.")
@click.option("--format", "formats", default="csv,parquet,dta,sav,odm", show_default=True,
              help="Comma-separated formats among csv, parquet, xpt, dta, sav, odm "
                   "(xpt refuses non-ASCII text unless --xpt-ascii transliterate).")
@click.option("--xpt-ascii", type=click.Choice(["refuse", "transliterate"]), default="refuse",
              show_default=True,
              help="Non-ASCII text in xpt files: refuse the export, or transliterate it "
                   "(Unicode NFKD, accents removed: 'Non détecté' -> 'Non detecte'; recorded in the "
                   "manifest; text with no ASCII equivalent is still refused). Other formats keep the text.")
@click.option("--snapshot", "snapshot_id", type=int,
              help="Export this snapshot (default: freeze the data now).")
@click.option("--as", "as_email", help="Act as this account (statistician or data manager).")
@user_errors
def export(out: Path, formats: str, xpt_ascii: str, snapshot_id: int | None, as_email: str | None) -> None:
    """Export the pseudonymised analysis datasets as one bundle with its manifest."""
    from trialdb.exports import bundle
    from trialdb.exports.formats import parse_formats

    chosen = parse_formats(formats)
    with tqdm(total=bundle.steps_for(chosen), desc="export", unit=" step", disable=None,
              file=sys.stderr) as bar:
        def progress(name: str) -> None:
            bar.set_postfix_str(name)
            bar.update(1)

        with unit_of_work(_factory()) as session:
            actor = acting_user(session, as_email, "export")
            result = bundle.run_export(session, actor, out, chosen, snapshot_id=snapshot_id,
                                       progress=progress, xpt_ascii=xpt_ascii)
    rows = ", ".join(f"{name} {count}" for name, count in result.manifest["datasets"].items())
    click.echo(f"export {result.bundle_id}: {result.directory}")
    click.echo(f"snapshot {result.snapshot_id} ({result.manifest['snapshot']['content_hash']}), "
               f"settings {result.manifest['endpoint_settings']['hash'][:12]}; rows: {rows}")


# --- API tokens -----------------------------------------------------------------------------------


@click.group("api-token")
def api_token() -> None:
    """Personal tokens for the REST API (stored hashed, revocable)."""


@api_token.command("create")
@click.option("--email", required=True, help="Owner of the token (it acts with their role and sites).")
@click.option("--label", default="API", show_default=True, help="What the token is for.")
@click.option("--days", "valid_days", type=int, help="Valid for this many days (default: no expiry).")
@user_errors
def api_token_create(email: str, label: str, valid_days: int | None) -> None:
    """Create a token and print it (it is shown this once only)."""
    from trialdb.api import tokens

    with unit_of_work(_factory()) as session:
        owner = session.scalar(select(User).where(User.email == email.strip().lower()))
        if owner is None:
            raise NotFound(f"No account {email}.", f"Aucun compte {email}.", field="email")
        row, token = tokens.create_token(session, Actor.system("command line"), owner, label, valid_days)
        click.echo(f"token {row.id} for {owner.email} ({owner.role}): {token}")
        click.echo("Keep it secret: only its SHA-256 is stored, it cannot be shown again.")


@api_token.command("list")
@click.option("--email", required=True)
@user_errors
def api_token_list(email: str) -> None:
    """List a user's tokens (prefix, label, state)."""
    from trialdb.api import tokens

    with _factory(write=False)() as session:
        owner = session.scalar(select(User).where(User.email == email.strip().lower()))
        if owner is None:
            raise NotFound(f"No account {email}.", f"Aucun compte {email}.", field="email")
        for row in tokens.tokens_of(session, owner):
            state = "revoked" if row.revoked_at else "active"
            click.echo(f"{row.id}\t{row.prefix}…\t{row.label}\t{state}\tcreated {row.created_at:%Y-%m-%d}")


@api_token.command("revoke")
@click.argument("token_id", type=int)
@user_errors
def api_token_revoke(token_id: int) -> None:
    """Revoke token TOKEN_ID at once."""
    from trialdb.api import tokens

    with unit_of_work(_factory()) as session:
        tokens.revoke_token(session, Actor.system("command line"), token_id)
        click.echo(f"token {token_id} revoked")


def register(group: click.Group) -> None:
    """Add these commands to the `trialdb` command group."""
    for command in (import_labs, lab_mapping, export, api_token):
        group.add_command(command)
