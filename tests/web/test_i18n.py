"""Every interface text used by a template exists in French and English."""

from __future__ import annotations

import re
from pathlib import Path

from trialdb.web import i18n

TEMPLATES = Path(i18n.__file__).parent / "templates"
PYTHON = Path(i18n.__file__).parent


def test_every_text_key_is_translated() -> None:
    used: set[str] = set()
    for path in [*TEMPLATES.glob("*.html"), *PYTHON.glob("*.py")]:
        used |= set(re.findall(r"""\bt\(\s*['"]([a-z0-9_]+)['"]\s*[,)]""", path.read_text()))
    # keys chosen at run time: statuses and flash messages
    used |= {"empty", "in_progress", "complete", "queried", "verified", "signed", "locked_form"}
    missing = sorted(used - i18n.keys())
    assert missing == []


def test_french_and_english_differ_where_they_should() -> None:
    from flask import Flask

    app = Flask(__name__)
    app.secret_key = "x"
    with app.test_request_context():
        from flask import session

        assert i18n.t("sign_in") == "Connexion"
        session["lang"] = "en"
        assert i18n.t("sign_in") == "Sign in"
        session["lang"] = "de"  # unknown language: French, the default
        assert i18n.t("sign_in") == "Connexion"
