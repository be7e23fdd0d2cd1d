"""What the sign-in protections keep between requests, shared by every worker."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from trialdb.db import Base


class SignInFailure(Base):
    """One failed sign-in step (password or second factor) from one client
    address, for one account, counted by `security.throttle`. Only the
    throttle's window is kept: older rows are deleted as it slides."""

    __tablename__ = "sign_in_failure"
    __table_args__ = (Index("ix_sign_in_failure_client_digest", "client_digest", "failed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, comment="Surrogate key")
    client_digest: Mapped[str] = mapped_column(
        String(64),
        comment="HMAC-SHA256 (keyed with the application's secret key) of the client's IP "
                "address: the throttle only needs to recognise an address, not to read it",
    )
    account_digest: Mapped[str | None] = mapped_column(
        String(64), nullable=True,
        comment="HMAC-SHA256 (keyed likewise) of the e-mail address the attempt named: a "
                "successful sign-in forgets that account's failures from the address only",
    )
    failed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), index=True,
        comment="When the attempt failed (UTC); rows older than the throttle's window are "
                "deleted",
    )
