"""A digest of a database's study content, blind to what differs between two
identical loads: creation times, password salts, audit times and hashes."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from trialdb.db import Base

# Columns that legitimately differ between two loads of the same data.
_VOLATILE = frozenset({"created_at", "updated_at", "password_hash", "occurred_at",
                       "previous_hash", "row_hash", "last_login_at"})


def _text(value: Any) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    if hasattr(value, "value"):  # enumerations
        return str(value.value)
    return repr(value)


def content_digest(engine: Engine, tables: list[str] | None = None) -> str:
    """SHA-256 over every table's rows in key order, volatile columns left out."""
    digest = hashlib.sha256()
    with engine.connect() as connection:
        for table in sorted(Base.metadata.sorted_tables, key=lambda t: t.name):
            if tables is not None and table.name not in tables:
                continue
            columns = [c for c in table.columns if c.name not in _VOLATILE]
            order = list(table.primary_key.columns) or columns
            digest.update(f"\n#{table.name}:{','.join(c.name for c in columns)}\n".encode())
            for row in connection.execute(select(*columns).order_by(*order)):
                digest.update(("|".join(_text(v) for v in row) + "\n").encode())
    return digest.hexdigest()
