"""Data coming in and going out: laboratory column mappings, import batches,
export bundles and personal API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from trialdb.db import Base, utcnow
from trialdb.models._columns import TimestampMixin, check


class LabColumnMapping(TimestampMixin, Base):
    """How one laboratory's result file is laid out.

    `columns` maps each field of the import (study_number, virus, specimen,
    sampled_on, result, unit, assay) to the header the laboratory prints;
    `defaults` gives a fixed value to a field the file does not carry (a CMV-only
    laboratory file has no virus column).
    """

    __tablename__ = "lab_column_mapping"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, comment="Surrogate key")
    code: Mapped[str] = mapped_column(
        String(60), unique=True, comment="Short code chosen for the layout, e.g. 'pitie-virologie'"
    )
    laboratory: Mapped[str] = mapped_column(String(200), comment="Laboratory producing the files")
    columns: Mapped[dict[str, Any]] = mapped_column(
        JSON, comment="Import field -> column header in the laboratory's file"
    )
    defaults: Mapped[dict[str, Any]] = mapped_column(
        JSON, default=dict, comment="Import field -> fixed value when the file has no such column"
    )
    delimiter: Mapped[str | None] = mapped_column(
        String(1), comment="Field separator; empty: detected from the header line"
    )
    encoding: Mapped[str | None] = mapped_column(
        String(20), comment="Text encoding; empty: UTF-8 (with or without BOM) or latin-1, detected"
    )


class LabImportBatch(Base):
    """One committed laboratory file: its hash and what it brought."""

    __tablename__ = "lab_import_batch"
    __table_args__ = (
        check("rows_total >= 0 AND rows_new >= 0 AND rows_duplicate >= 0", "counts_nonnegative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, comment="Surrogate key")
    imported_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, comment="When the file was committed (UTC)"
    )
    imported_by: Mapped[str] = mapped_column(String(200), comment="Printed name of the importer")
    source_file: Mapped[str] = mapped_column(String(255), comment="Name of the file as uploaded")
    file_sha256: Mapped[str] = mapped_column(
        String(64), index=True, comment="SHA-256 of the file's bytes"
    )
    mapping_code: Mapped[str | None] = mapped_column(
        String(60), comment="Column mapping used (empty: the default layout)"
    )
    rows_total: Mapped[int] = mapped_column(Integer, comment="Data rows in the file")
    rows_new: Mapped[int] = mapped_column(Integer, comment="Results added")
    rows_duplicate: Mapped[int] = mapped_column(
        Integer, comment="Rows already in the database (nothing added)"
    )


class ExportBundle(Base):
    """An export produced for a statistician: where its files are and their manifest."""

    __tablename__ = "export_bundle"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, comment="Export number")
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, comment="When the export was made (UTC)"
    )
    created_by_id: Mapped[int | None] = mapped_column(
        Integer, comment="User who asked for it (no foreign key: exports outlive accounts)"
    )
    created_by: Mapped[str] = mapped_column(String(200), comment="Printed name of who asked")
    snapshot_id: Mapped[int] = mapped_column(
        ForeignKey("data_snapshot.id", ondelete="RESTRICT"), comment="Snapshot exported"
    )
    formats: Mapped[list[str]] = mapped_column(JSON, comment="Formats written")
    directory: Mapped[str] = mapped_column(String(500), comment="Folder holding the bundle")
    manifest_sha256: Mapped[str] = mapped_column(
        String(64), comment="SHA-256 of the bundle's manifest.json"
    )


class ApiToken(Base):
    """A personal token for the REST API: only its SHA-256 is stored.

    The token acts as its owner, with the owner's current role and sites;
    revoking it, or deactivating the owner, ends it at once.
    """

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, comment="Surrogate key")
    user_id: Mapped[int] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), index=True, comment="Owner of the token"
    )
    label: Mapped[str] = mapped_column(String(100), comment="What the owner uses it for")
    token_sha256: Mapped[str] = mapped_column(
        String(64), unique=True, comment="SHA-256 of the token (the token itself is never stored)"
    )
    prefix: Mapped[str] = mapped_column(
        String(12), comment="First characters of the token, to recognise it in a list"
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, comment="When it was created (UTC)"
    )
    expires_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), comment="Refused after this time (UTC); empty: no expiry"
    )
    revoked_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), comment="When it was revoked (UTC)"
    )
    last_used_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), comment="Last request made with it (UTC)"
    )
