"""Freezing the study's data, and reopening a frozen copy to read it.

A snapshot serialises every clinical table to canonical JSON; its SHA-256 is
the content hash that reports and exports print. `open_snapshot` rebuilds
the snapshot as an in-memory SQLite database with the same schema, so every
read-side function that takes a Session (analysis, reports, exports) works
unchanged on frozen data.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, DateTime, Table, func, insert, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from trialdb import migrate
from trialdb.db import Base, make_engine, make_session_factory, utcnow
from trialdb.errors import NotFound
from trialdb.models import DataSnapshot, Participant
from trialdb.services import audit
from trialdb.services.actor import Actor

# Staff accounts, memberships and earlier snapshots are not study data.
EXCLUDED_TABLES = frozenset({"app_user", "site_membership", "data_snapshot",
                             # interchange bookkeeping: tokens, exports, import batches
                             "api_token", "export_bundle", "lab_column_mapping",
                             "lab_import_batch",
                             # the sign-in throttle's counts (security.throttle)
                             "sign_in_failure"})


def _tables() -> list[Table]:
    return [t for t in Base.metadata.sorted_tables if t.name not in EXCLUDED_TABLES]


def _content(session: Session) -> dict[str, Any]:
    tables: dict[str, Any] = {}
    for table in _tables():
        columns = [c.name for c in table.columns]
        order = list(table.primary_key.columns)
        rows = session.execute(select(table).order_by(*order)).all()
        tables[table.name] = {
            "columns": columns,
            "rows": [[audit.jsonable(value) for value in row] for row in rows],
        }
    return {"schema_revision": migrate.heads()[0], "tables": tables}


def _canonical(content: dict[str, Any]) -> bytes:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def freeze(session: Session, actor: Actor, label: str) -> DataSnapshot:
    """Freeze the current data under a new snapshot id (audited as 'lock')."""
    content = _content(session)
    canonical = _canonical(content)
    snapshot = DataSnapshot(
        created_at=utcnow(),
        created_by=actor.name,
        label=label.strip() or "snapshot",
        content_hash=hashlib.sha256(canonical).hexdigest(),
        participant_count=session.scalar(select(func.count(Participant.id))) or 0,
        schema_revision=content["schema_revision"],
        payload=gzip.compress(canonical, mtime=0),
    )
    session.add(snapshot)
    session.flush()
    audit.record(session, actor, audit.Entry(
        action="lock", entity="data_snapshot", entity_id=snapshot.id,
        changes={"content_hash": [None, snapshot.content_hash]}, reason=snapshot.label,
    ))
    return snapshot


def get(session: Session, snapshot_id: int) -> DataSnapshot:
    snapshot = session.get(DataSnapshot, snapshot_id)
    if snapshot is None:
        raise NotFound(f"There is no snapshot {snapshot_id}.",
                       f"L'instantané {snapshot_id} n'existe pas.")
    return snapshot


def latest(session: Session) -> DataSnapshot | None:
    return session.scalar(select(DataSnapshot).order_by(DataSnapshot.id.desc()).limit(1))


def _typed_rows(table: Table, columns: list[str], rows: list[list[Any]]) -> list[dict[str, Any]]:
    """The rows as dicts, dates and times read back from their ISO text.

    Which positions hold a date or a time is worked out once per table, not
    once per row and column: reopening costs one pass over the values.
    """
    parsers: list[tuple[int, Callable[[str], Any]]] = []
    for index, name in enumerate(columns):
        column = table.columns.get(name)
        if column is None:
            continue
        if isinstance(column.type, DateTime):
            parsers.append((index, datetime.fromisoformat))
        elif isinstance(column.type, Date):
            parsers.append((index, date.fromisoformat))
    typed = []
    for row in rows:
        values = list(row)
        for index, parse in parsers:
            value = values[index]
            if isinstance(value, str):
                values[index] = parse(value)
        typed.append(dict(zip(columns, values, strict=True)))
    return typed


@contextmanager
def open_snapshot(session: Session, snapshot_id: int) -> Iterator[Session]:
    """A read-only session over the frozen data of snapshot `snapshot_id`."""
    snapshot = get(session, snapshot_id)
    content = json.loads(gzip.decompress(snapshot.payload))
    engine = make_engine("sqlite://", poolclass=StaticPool,
                         connect_args={"check_same_thread": False})
    try:
        migrate.upgrade(engine, content["schema_revision"])
        # Frozen rows may name staff accounts (signatures, queries), which are not
        # study data and stay out of snapshots: no foreign-key checks on this copy.
        raw = engine.raw_connection()
        raw.cursor().execute("PRAGMA foreign_keys=OFF")
        raw.close()
        with engine.begin() as connection:
            for table in _tables():
                data = content["tables"].get(table.name)
                if data and data["rows"]:
                    connection.execute(
                        insert(table), _typed_rows(table, data["columns"], data["rows"]))
        with make_session_factory(engine, write=False)() as frozen:
            yield frozen
    finally:
        engine.dispose()
