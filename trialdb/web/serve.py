"""`trialdb serve`: the development server, optionally on a fresh demo database.

Production runs the same factory under gunicorn, e.g.
`TRIALDB_DATABASE_URL=postgresql://... gunicorn -w 4 'trialdb.web:create_app()'`.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click

from trialdb import migrate
from trialdb.config import load_settings
from trialdb.db import make_engine
from trialdb.web.app import create_app


def fresh_sqlite(instance: Path, name: str = "demo.sqlite3") -> str:
    """The URL of an empty SQLite file in the instance folder (an old one is removed)."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / name
    for leftover in (path, path.with_name(name + "-wal"), path.with_name(name + "-shm")):
        leftover.unlink(missing_ok=True)
    return f"sqlite:///{path}"


def run(*, host: str, port: int, demo: bool, participants: int, seed: int) -> None:
    settings = load_settings()
    summary = None
    if demo:
        from trialdb.demo import load_demo

        settings = replace(settings, database_url=fresh_sqlite(settings.instance_path))
        engine = make_engine(settings.database_url)
        migrate.upgrade(engine)
        summary = load_demo(engine, participants=participants, seed=seed, progress=True)
    else:
        engine = make_engine(settings.database_url)
    app = create_app(settings, engine=engine)
    if summary:
        click.echo(summary)
    click.echo(f"trialdb is serving {engine.url.render_as_string(hide_password=True)} "
               f"at http://{host}:{port}/ (Ctrl+C to stop)")
    app.run(host=host, port=port, debug=False, use_reloader=False)
