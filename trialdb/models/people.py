"""Sites and the staff who use the system (never patients)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from trialdb.db import Base
from trialdb.models._columns import TimestampMixin, check, enum_type
from trialdb.vocab import Role


class Site(TimestampMixin, Base):
    """An investigating centre; its code prefixes its participants' study numbers."""

    __tablename__ = "site"
    __table_args__ = (check("length(code) BETWEEN 2 AND 6 AND upper(code) = code", "code_format"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, comment="Surrogate key")
    code: Mapped[str] = mapped_column(
        String(6), unique=True, comment="Short upper-case site code, prefix of study numbers"
    )
    name: Mapped[str] = mapped_column(String(200), comment="Name of the centre")
    city: Mapped[str | None] = mapped_column(String(100), comment="City of the centre")
    is_active: Mapped[bool] = mapped_column(
        Boolean, default=True, comment="Inactive sites keep their data but recruit no more"
    )
    requires_second_factor: Mapped[bool] = mapped_column(
        Boolean, default=False,
        comment="Site policy: investigators, data managers and admins must use TOTP",
    )


class User(TimestampMixin, Base):
    """A member of staff. Accounts are deactivated, never deleted."""

    __tablename__ = "app_user"
    __table_args__ = (
        check("email = lower(email) AND email LIKE '%_@_%'", "email_format"),
        check("failed_logins >= 0", "failed_logins_nonnegative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, comment="Surrogate key")
    email: Mapped[str] = mapped_column(
        String(254), unique=True, comment="Sign-in name, stored lower-case"
    )
    display_name: Mapped[str] = mapped_column(
        String(200), comment="Printed name shown on audit rows and signatures"
    )
    role: Mapped[Role] = mapped_column(enum_type(Role, "role"), comment="What the user may do")
    password_hash: Mapped[str] = mapped_column(Text, comment="argon2id hash of the password")
    is_active: Mapped[bool] = mapped_column(
        Boolean, default=True, comment="Deactivated accounts cannot sign in"
    )
    all_sites: Mapped[bool] = mapped_column(
        Boolean, default=False,
        comment="Study-wide access (coordinating investigator, data managers, statisticians)",
    )
    failed_logins: Mapped[int] = mapped_column(
        Integer, default=0, comment="Consecutive failed sign-ins since the last success"
    )
    locked_until: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), comment="Sign-in refused until this time (UTC) after failures"
    )
    last_login_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), comment="Last successful sign-in (UTC)"
    )
    totp_secret: Mapped[str | None] = mapped_column(
        String(64), comment="Base32 TOTP secret when a second factor is enrolled"
    )
    totp_last_step: Mapped[int | None] = mapped_column(
        Integer, comment="Time step (Unix time / 30 s) of the last TOTP code accepted: "
                         "a code is accepted only for a later step (no replay)"
    )
    session_epoch: Mapped[int] = mapped_column(
        Integer, default=0, server_default="0",
        comment="Generation of the user's web sessions, carried in each session cookie: "
                "raised at sign-out and on access or second-factor changes, which ends "
                "every session signed in before",
    )

    memberships: Mapped[list[SiteMembership]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )


class SiteMembership(Base):
    """Which sites a user works for."""

    __tablename__ = "site_membership"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True, comment="The user"
    )
    site_id: Mapped[int] = mapped_column(
        ForeignKey("site.id", ondelete="RESTRICT"), primary_key=True, comment="The site"
    )

    user: Mapped[User] = relationship(back_populates="memberships")
    site: Mapped[Site] = relationship()
