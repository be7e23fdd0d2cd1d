"""Backups and restores of the whole database.

SQLite uses the online backup API (consistent while the application runs);
PostgreSQL uses pg_dump's custom format and pg_restore in one transaction.
A restore goes only into an empty database, so nothing is ever merged.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.engine import Engine, make_url

from trialdb.errors import InvalidInput

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"


def _libpq_url(engine: Engine) -> str:
    url = make_url(engine.url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _sqlite_path(engine: Engine) -> str:
    database = engine.url.database
    if not database or database == ":memory:":
        raise InvalidInput("An in-memory database cannot be backed up.",
                           "Une base en mémoire ne peut pas être sauvegardée.")
    return database


def backup(engine: Engine, out: Path) -> None:
    if out.exists():
        raise InvalidInput(f"{out} already exists: choose a new file.",
                           f"{out} existe déjà : choisissez un nouveau fichier.")
    if engine.dialect.name == "sqlite":
        with sqlite3.connect(_sqlite_path(engine)) as source, sqlite3.connect(out) as target:
            source.backup(target)
        return
    _run(["pg_dump", "--format=custom", "--no-owner", f"--file={out}", _libpq_url(engine)])


def restore(engine: Engine, source: Path) -> None:
    if not source.is_file():
        raise InvalidInput(f"There is no file {source}.", f"Le fichier {source} n'existe pas.")
    if inspect(engine).get_table_names():
        raise InvalidInput("The target database is not empty: restore into an empty one.",
                           "La base cible n'est pas vide : restaurez dans une base vide.")
    magic = source.read_bytes()[:16]
    if engine.dialect.name == "sqlite":
        if not magic.startswith(SQLITE_MAGIC):
            raise InvalidInput("This file is not an SQLite backup.",
                               "Ce fichier n'est pas une sauvegarde SQLite.")
        engine.dispose()
        with sqlite3.connect(source) as backup_db, \
                sqlite3.connect(_sqlite_path(engine)) as target:
            backup_db.backup(target)
        return
    if not magic.startswith(PG_DUMP_MAGIC):
        raise InvalidInput("This file is not a PostgreSQL backup (pg_dump custom format).",
                           "Ce fichier n'est pas une sauvegarde PostgreSQL (pg_dump).")
    _run(["pg_restore", "--no-owner", "--single-transaction", "--exit-on-error",
          f"--dbname={_libpq_url(engine)}", str(source)])


def _run(command: list[str]) -> None:
    if shutil.which(command[0]) is None:
        raise InvalidInput(f"{command[0]} is not installed on this machine.",
                           f"{command[0]} n'est pas installé sur cette machine.")
    finished = subprocess.run(command, capture_output=True, text=True, check=False)
    if finished.returncode != 0:
        raise InvalidInput(f"{command[0]} failed: {finished.stderr.strip()}",
                           f"{command[0]} a échoué : {finished.stderr.strip()}")
