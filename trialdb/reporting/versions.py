"""Software versions printed on reports (the methods appendix and the cover)."""

from __future__ import annotations

import platform
import tomllib
from functools import cache
from importlib import metadata
from pathlib import Path

#: Libraries whose versions can change a number or a page of a report.
LIBRARIES = ("numpy", "scipy", "pandas", "lifelines", "SQLAlchemy", "reportlab", "PyYAML")


@cache
def trialdb_version() -> str:
    """The installed distribution's version, or the source tree's pyproject version."""
    try:
        return metadata.version("trialdb")
    except metadata.PackageNotFoundError:
        pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
        if pyproject.is_file():
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
            return str(data["project"]["version"])
        return "unknown"


@cache
def software_versions() -> list[tuple[str, str]]:
    """(name, version) of trialdb, Python and the libraries that shape a report."""
    rows = [("trialdb", trialdb_version()), ("Python", platform.python_version())]
    for name in LIBRARIES:
        try:
            rows.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            rows.append((name, "not installed"))
    return rows
