"""Fuzz tests share the web tests' fixtures; hypothesis examples are bounded
so the whole set runs in well under two minutes."""

from __future__ import annotations

from tests.web.conftest import app, world  # noqa: F401 - fixtures
