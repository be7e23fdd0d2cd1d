"""`trialdb report ...`: thin commands over trialdb.reporting.service."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click

from trialdb.errors import UserError


def _write(out: Path, pdf: bytes) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(pdf)
    click.echo(f"{out} ({len(pdf)} bytes)")


def _fail(error: UserError) -> None:
    click.echo(f"error: {error.message('en')}", err=True)
    sys.exit(2)


@click.group("report")
def report() -> None:
    """PDF documents: interim report, participant casebook, annotated blank CRF."""


_language = click.option("--language", type=click.Choice(["en", "fr"]), default="en",
                         show_default=True)
_by = click.option("--by", "generated_by", default="command line", show_default=True,
                   help="Printed name of who generates the document.")


@report.command("interim")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--snapshot", "snapshot_id", type=int, help="Snapshot id (default: live data).")
@click.option("--generated-at", type=click.DateTime(["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]),
              help="Time printed as generation time (default: the snapshot's, or now).")
@_language
@_by
def interim(out: Path, snapshot_id: int | None, generated_at: datetime | None, language: str,
            generated_by: str) -> None:
    """The interim report of the whole study (audited as an export)."""
    from trialdb.commandline import configured_engine
    from trialdb.db import make_session_factory, unit_of_work
    from trialdb.reporting import service
    from trialdb.services.actor import Actor

    engine = configured_engine()
    actor = Actor.system(generated_by)
    with click.progressbar(length=2, label="interim report", file=sys.stderr) as bar:
        try:
            with make_session_factory(engine, write=False)() as session:
                pdf = service.interim_report(session, actor, snapshot_id=snapshot_id,
                                             generated_at=generated_at, language=language)
            bar.update(1)
            with unit_of_work(make_session_factory(engine)) as session:
                service.record_export(session, actor, "interim", pdf, snapshot_id=snapshot_id,
                                      language=language)
        except UserError as error:
            _fail(error)
            return
        bar.update(1)
    _write(out, pdf)


@report.command("casebook")
@click.option("--participant", "study_number", required=True, help="Study number, e.g. PSL-0001")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--snapshot", "snapshot_id", type=int, help="Snapshot id (default: live data).")
@_language
@_by
def casebook(study_number: str, out: Path, snapshot_id: int | None, language: str,
             generated_by: str) -> None:
    """One participant's casebook (audited as an export)."""
    from trialdb.commandline import configured_engine
    from trialdb.db import make_session_factory, unit_of_work
    from trialdb.reporting import service
    from trialdb.services.actor import Actor

    engine = configured_engine()
    actor = Actor.system(generated_by)
    number = study_number.strip().upper()
    try:
        with make_session_factory(engine, write=False)() as session:
            pdf = service.casebook(session, actor, number, snapshot_id=snapshot_id,
                                   language=language)
        with unit_of_work(make_session_factory(engine)) as session:
            service.record_export(session, actor, "casebook", pdf, snapshot_id=snapshot_id,
                                  study_number=number, language=language)
    except UserError as error:
        _fail(error)
        return
    _write(out, pdf)


@report.command("blank-crf")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@_language
@_by
def blank_crf(out: Path, language: str, generated_by: str) -> None:
    """The annotated blank CRF from forms/ (audited as an export, as downloads
    from the Reports page are; its content reads no database)."""
    from trialdb.commandline import configured_engine
    from trialdb.db import make_session_factory, unit_of_work
    from trialdb.reporting import service
    from trialdb.services.actor import Actor

    actor = Actor.system(generated_by)
    pdf = service.blank_crf(actor, language=language)
    try:
        with unit_of_work(make_session_factory(configured_engine())) as session:
            service.record_export(session, actor, "blank-crf", pdf, language=language)
    except UserError as error:
        _fail(error)
        return
    _write(out, pdf)
