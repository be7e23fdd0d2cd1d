"""Writing and verifying the hash-chained audit trail."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, cast

import psycopg
import psycopg.sql
from sqlalchemy import JSON, Table, TypeDecorator, bindparam, insert, select
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import Session

from trialdb.db import reserve_ids, utcnow
from trialdb.models import AuditEvent
from trialdb.services.actor import Actor

GENESIS_HASH = "0" * 64
_CHAIN_LOCK_KEY = 7_406_318  # arbitrary constant naming the audit chain's advisory lock


_AUDIT_TABLE = cast(Table, AuditEvent.__table__)
_PLAIN_TYPES = frozenset({str, int, float, bool, type(None)})


def jsonable(value: Any) -> Any:
    """A value as it is kept in the trail: JSON types only, dates as ISO text."""
    kind = type(value)
    # The common shapes first, without a call per leaf (bulk loads audit many rows).
    if kind in _PLAIN_TYPES:
        return value
    if kind is dict:
        return {key if type(key) is str else str(key):
                item if type(item) in _PLAIN_TYPES else jsonable(item)
                for key, item in value.items()}
    if kind is list:
        return [item if type(item) in _PLAIN_TYPES else jsonable(item) for item in value]
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return _utc_text(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return str(value)


def _utc_text(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="microseconds")


def content_hash(event: AuditEvent) -> str:
    """SHA-256 over the row's content and the previous row's hash."""
    return _hash({
        "occurred_at": _utc_text(event.occurred_at),
        "user_id": event.user_id,
        "user_name": event.user_name,
        "user_role": event.user_role,
        "site_code": event.site_code,
        "action": event.action,
        "entity": event.entity,
        "entity_id": event.entity_id,
        "study_number": event.study_number,
        "changes": event.changes,
        "reason": event.reason,
        "previous_hash": event.previous_hash,
    })


def _hash(content: dict[str, Any]) -> str:
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


_TIP = select(_AUDIT_TABLE.c.row_hash).order_by(_AUDIT_TABLE.c.id.desc()).limit(1)
# Two statements sent at once: psycopg sends a query without parameters as a simple
# query, whose statements each take their own snapshot, so the second one sees the tip
# committed by the writer the first one waited for. One round trip instead of two.
_PG_LOCK_THEN_TIP = (f"SELECT pg_advisory_xact_lock({_CHAIN_LOCK_KEY}); "
                     "SELECT row_hash FROM audit_event ORDER BY id DESC LIMIT 1")


def _chain_tip(connection: Connection) -> str:
    """The last row's hash, holding the chain's lock until commit.

    PostgreSQL serialises appenders with a transaction-level advisory lock;
    on SQLite the writer already holds the database's write lock.
    """
    if connection.dialect.name == "postgresql":
        result = connection.exec_driver_sql(_PG_LOCK_THEN_TIP,
                                            execution_options={"no_parameters": True})
        cursor = result.cursor
        row = cursor.fetchone() if cursor.nextset() else None
        result.close()
        last = row[0] if row else None
    else:
        last = connection.execute(_TIP).scalar()
    return last or GENESIS_HASH


@dataclass(frozen=True)
class Entry:
    """What happened, before it is chained."""

    action: str
    entity: str | None = None
    entity_id: int | None = None
    study_number: str | None = None
    site_code: str | None = None
    changes: dict[str, list[Any]] | None = None
    reason: str | None = None
    #: Bulk writers may give the changes already serialised by `canonical_json`
    #: (instead of `changes`), which spares a second pass over every value.
    changes_json: str | None = None


def record(session: Session, actor: Actor, entry: Entry) -> AuditEvent:
    """Append one entry; the event returned is a detached copy of the row written."""
    row = _append(session, actor, [entry])[-1]
    text_form = row.pop("changes_text")
    return AuditEvent(**row, changes=None if text_form is None else json.loads(text_form))


def record_many(session: Session, actor: Actor, entries: Iterable[Entry]) -> int:
    """Append entries to the trail in order, in the caller's transaction; how many.

    The chain is computed in one pass and written with one bulk INSERT under
    ids reserved first, so a bulk load pays one statement, not one per row.
    """
    return len(_append(session, actor, entries))


class _SerialisedJSON(TypeDecorator[str]):
    """A JSON column's value already serialised: written as it is."""

    impl = JSON
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> None:
        return None


# The changes are serialised once, canonically: that text is both hashed and stored.
_INSERT = insert(_AUDIT_TABLE).values(
    changes=bindparam("changes_text", type_=_SerialisedJSON()))


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _canonical(value: Any) -> str:
    return _ENCODER.encode(value)


def _json_default(value: Any) -> Any:
    if type(value) is date:  # the usual case in form values
        return value.isoformat()
    return jsonable(value)


_encode_text = json.encoder.encode_basestring  # the C encoder's own, with ensure_ascii=False


def _scalar(value: Any) -> str:
    """A scalar written exactly as `_canonical` writes it."""
    if value is None:
        return "null"
    kind = type(value)
    if kind is str:
        return _encode_text(value)
    if kind is int:
        return int.__repr__(value)
    return _canonical(value)


_CHANGES_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                                    default=_json_default)


def canonical_json(changes: dict[str, Any]) -> str:
    """The canonical text of changes whose dict keys are all strings, at every level.

    Equal to what `record_many` computes from `Entry.changes`, in one pass of
    the C encoder: values it cannot encode (dates, enumerations, decimals)
    go through `jsonable`.
    """
    return _CHANGES_ENCODER.encode(changes)


def _append(session: Session, actor: Actor, entries: Iterable[Entry]) -> list[dict[str, Any]]:
    session.flush()  # ids of new objects must exist before they are named
    connection = session.connection()
    batch = list(entries)
    now = utcnow()
    parts = _Parts(actor, now)
    if len(batch) == 1 and connection.dialect.name == "postgresql":
        return [_append_one_postgresql(connection, parts, batch[0])]
    previous = _chain_tip(connection)
    rows: list[dict[str, Any]] = []
    for entry in batch:
        head, changes, tail = parts.around_link(entry)
        link = previous
        previous = hashlib.sha256(f"{head}{_scalar(link)}{tail}".encode()).hexdigest()
        rows.append(parts.row(entry, changes, link, previous))
    if len(rows) == 1:
        # One row on SQLite (every CRF save): the database numbers it after the highest
        # id, in the INSERT itself, so the chain's order and the ids' order still agree
        # (the write lock is held) and no statement reserves the id first.
        rows[0]["id"] = _insert(connection, rows, now)
    elif rows:
        # Several rows: a multi-row INSERT numbers them in no promised order, so the
        # ids are reserved first, ascending in the chain's order.
        ids = reserve_ids(session, _AUDIT_TABLE, len(rows))
        for row, new_id in zip(rows, ids, strict=True):
            row["id"] = new_id
        _insert(connection, rows, now)
    return rows


class _Parts:
    """The canonical text of rows written by one actor at one moment.

    `content_hash` hashes `_canonical()` of the whole content; the same text is
    written out here field by field, keys in sorted order, and the parts shared
    by a batch are encoded once.
    """

    def __init__(self, actor: Actor, now: datetime) -> None:
        self.actor = actor
        self.now = now
        self.user_role = actor.role.value if actor.role else None
        self.occurred = _scalar(_utc_text(now))
        self.tail = (f'"user_id":{_scalar(actor.user_id)},"user_name":{_scalar(actor.name)},'
                     f'"user_role":{_scalar(self.user_role)}}}')

    def around_link(self, entry: Entry) -> tuple[str, str | None, str]:
        """(text before the previous hash, the changes' text, text after it)."""
        changes = entry.changes_json
        if changes is None and entry.changes is not None:
            changes = _canonical(jsonable(entry.changes))
        head = (f'{{"action":{_scalar(entry.action)},"changes":{changes or "null"},'
                f'"entity":{_scalar(entry.entity)},"entity_id":{_scalar(entry.entity_id)},'
                f'"occurred_at":{self.occurred},"previous_hash":')
        tail = (f',"reason":{_scalar(entry.reason)},"site_code":{_scalar(entry.site_code)},'
                f'"study_number":{_scalar(entry.study_number)},{self.tail}')
        return head, changes, tail

    def row(self, entry: Entry, changes: str | None, link: str | None,
            row_hash: str | None) -> dict[str, Any]:
        return {
            "occurred_at": self.now, "user_id": self.actor.user_id, "user_name": self.actor.name,
            "user_role": self.user_role, "site_code": entry.site_code, "action": entry.action,
            "entity": entry.entity, "entity_id": entry.entity_id,
            "study_number": entry.study_number, "changes_text": changes,
            "reason": entry.reason, "previous_hash": link, "row_hash": row_hash,
        }


# The chain's lock, then the row, in one round trip: two statements of one simple
# query, so the INSERT takes its snapshot after the lock is granted and reads the tip
# committed by the writer it waited for. PostgreSQL hashes the text around that tip,
# as `_Parts` writes it; `content_hash` checks the result.
_PG_LOCK_THEN_INSERT = psycopg.sql.SQL(
    f"SELECT pg_advisory_xact_lock({_CHAIN_LOCK_KEY}); "
    "INSERT INTO audit_event (occurred_at, user_id, user_name, user_role, site_code, action, "
    "entity, entity_id, study_number, changes, reason, previous_hash, row_hash) "
    "SELECT {occurred_at}::timestamptz, {user_id}::integer, {user_name}::text, "
    "{user_role}::text, {site_code}::text, {action}::text, {entity}::text, "
    "{entity_id}::integer, {study_number}::text, {changes_text}::json, {reason}::text, "
    "tip.hash, encode(sha256(convert_to({head}::text || '\"' || tip.hash || '\"' || "
    "{tail}::text, 'UTF8')), 'hex') "
    "FROM (SELECT coalesce((SELECT row_hash FROM audit_event ORDER BY id DESC LIMIT 1), "
    f"'{GENESIS_HASH}') AS hash) AS tip "
    "RETURNING id, previous_hash, row_hash")


def _append_one_postgresql(connection: Connection, parts: _Parts, entry: Entry) -> dict[str, Any]:
    """One row (every CRF save) in one round trip: the chain's lock is then held for
    that round trip and the COMMIT only, where every other save waits for it."""
    head, changes, tail = parts.around_link(entry)
    row = parts.row(entry, changes, None, None)
    driver = cast("psycopg.Connection[Any]", connection.connection.driver_connection)
    # A simple query takes no parameters: psycopg quotes the values into the text.
    statement = _PG_LOCK_THEN_INSERT.format(**{
        name: psycopg.sql.Literal(value)
        for name, value in {**row, "head": head, "tail": tail}.items()
        if name not in ("previous_hash", "row_hash")}).as_string(driver)
    result = connection.exec_driver_sql(statement, execution_options={"no_parameters": True})
    cursor = result.cursor
    written = cursor.fetchone() if cursor is not None and cursor.nextset() else None
    result.close()
    assert written is not None  # INSERT ... SELECT of one row, RETURNING it
    row["id"], row["previous_hash"], row["row_hash"] = written
    return row


def _insert(connection: Connection, rows: list[dict[str, Any]], now: datetime) -> int | None:
    """Write the rows, under their reserved ids or (a single row on SQLite) under
    none; the id the database gave that single row."""
    if connection.dialect.name == "sqlite":
        # Straight to the driver, values as SQLAlchemy's SQLite types store them (naive
        # UTC timestamp text, the changes' canonical text as it is): per-parameter
        # processing costs more than the rest of a bulk append (laboratory import).
        stamp = now.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
        result = connection.exec_driver_sql(_SQLITE_INSERT, [
            (row.get("id"), stamp, row["user_id"], row["user_name"], row["user_role"],
             row["site_code"], row["action"], row["entity"], row["entity_id"],
             row["study_number"], row["changes_text"], row["reason"], row["previous_hash"],
             row["row_hash"]) for row in rows])
        return result.lastrowid if len(rows) == 1 else None
    # PostgreSQL, under reserved ids (a lone row goes through _append_one_postgresql)
    connection.execute(_INSERT, rows)
    return None


_SQLITE_INSERT = (
    "INSERT INTO audit_event (id, occurred_at, user_id, user_name, user_role, site_code, action, "
    "entity, entity_id, study_number, changes, reason, previous_hash, row_hash) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")


@dataclass(frozen=True)
class ChainBreak:
    event_id: int
    problem: str


def verify_chain(session: Session, batch: int = 5000) -> ChainBreak | None:
    """The first row whose hash or link is wrong, or None for an intact trail."""
    previous = GENESIS_HASH
    for event in _in_order(session, batch):
        if event.previous_hash != previous:
            return ChainBreak(event.id, "link to the previous row is broken (row removed or inserted)")
        if content_hash(event) != event.row_hash:
            return ChainBreak(event.id, "content does not match its hash (row altered)")
        previous = event.row_hash
    return None


def _in_order(session: Session, batch: int) -> Iterator[AuditEvent]:
    """Rows as detached objects, read in pages so memory stays flat."""
    table = AuditEvent.__table__
    last_id = 0
    while True:
        rows = session.execute(
            select(table).where(table.c.id > last_id).order_by(table.c.id).limit(batch)
        ).all()
        if not rows:
            return
        for row in rows:
            yield AuditEvent(**row._mapping)
        last_id = rows[-1].id


# --- reading the trail ----------------------------------------------------------

@dataclass(frozen=True)
class FieldChange:
    occurred_at: datetime
    user_name: str
    user_role: str | None
    action: str
    old: Any
    new: Any
    reason: str | None


def field_history(session: Session, entity: str, entity_id: int,
                  field: str) -> list[FieldChange]:
    """Every value one field of one record has had, oldest first."""
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.entity == entity, AuditEvent.entity_id == entity_id)
        .order_by(AuditEvent.id)
    )
    return [
        FieldChange(e.occurred_at, e.user_name, e.user_role, e.action,
                    e.changes[field][0], e.changes[field][1], e.reason)
        for e in events if e.changes and field in e.changes
    ]


def participant_trail(session: Session, study_number: str) -> list[AuditEvent]:
    return list(session.scalars(
        select(AuditEvent).where(AuditEvent.study_number == study_number)
        .order_by(AuditEvent.id)
    ))


EXPORT_COLUMNS = ("id", "occurred_at", "user_id", "user_name", "user_role", "site_code",
                  "action", "entity", "entity_id", "study_number", "field", "old_value",
                  "new_value", "reason", "row_hash")


def export_rows(session: Session, start: datetime, end: datetime,
                site_codes: frozenset[str] | None = None) -> Iterator[dict[str, Any]]:
    """The trail between two UTC instants, one row per changed field, for CSV.

    `site_codes` restricts to those sites' items (None: the whole study).
    """
    statement = (select(AuditEvent)
                 .where(AuditEvent.occurred_at >= start, AuditEvent.occurred_at < end)
                 .order_by(AuditEvent.id))
    if site_codes is not None:
        statement = statement.where(AuditEvent.site_code.in_(site_codes))
    for event in session.scalars(statement):
        base = {"id": event.id, "occurred_at": _utc_text(event.occurred_at) + "Z",
                "user_id": event.user_id, "user_name": event.user_name,
                "user_role": event.user_role, "site_code": event.site_code,
                "action": event.action, "entity": event.entity, "entity_id": event.entity_id,
                "study_number": event.study_number, "reason": event.reason,
                "row_hash": event.row_hash}
        for field, (old, new) in (event.changes or {"": [None, None]}).items():
            yield {**base, "field": field or None,
                   "old_value": _cell(old), "new_value": _cell(new)}


def _cell(value: Any) -> Any:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, list | dict) else value
