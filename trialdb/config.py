"""Settings, read when the application or a command starts, never at import.

`TRIALDB_DATABASE_URL` names the database; without it trialdb uses an SQLite
file in the instance folder (`TRIALDB_INSTANCE_PATH`, default `./instance`).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path


def default_instance_path() -> Path:
    return Path(os.environ.get("TRIALDB_INSTANCE_PATH", "instance")).resolve()


@dataclass(frozen=True)
class Settings:
    database_url: str
    instance_path: Path
    secret_key: str = field(repr=False)
    session_idle_minutes: int = 30

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ) if environ is None else environ
    instance = Path(env.get("TRIALDB_INSTANCE_PATH", "instance")).resolve()
    url = env.get("TRIALDB_DATABASE_URL") or f"sqlite:///{instance / 'trialdb.sqlite3'}"
    if url.startswith("postgresql://"):
        # psycopg 3 is the driver; plain postgresql:// would ask for psycopg2.
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    secret = env.get("TRIALDB_SECRET_KEY") or _instance_secret(instance)
    idle = int(env.get("TRIALDB_SESSION_IDLE_MINUTES", "30"))
    return Settings(database_url=url, instance_path=instance, secret_key=secret,
                    session_idle_minutes=idle)


def _instance_secret(instance: Path) -> str:
    """A per-installation secret kept in the instance folder, created once."""
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key
