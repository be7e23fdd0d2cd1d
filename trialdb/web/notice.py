"""The one-line notice a page shows after a redirect ("Saved.", "Participant
created: ..."), carried by a short cookie of its own.

It used to live in the signed session cookie, so every save re-signed that
cookie and the page after it re-signed it again to remove the notice. The
notice needs no signature: it names a message of the catalogue and a few short
values, shown only to the browser that holds it, escaped like any page text; a
forged one can only show its own holder a wrong confirmation.
"""

from __future__ import annotations

import base64
import binascii
import json

from flask import Flask, current_app, g, request
from werkzeug.wrappers import Response

from trialdb.web.i18n import keys, t

COOKIE = "trialdb_notice"
#: Longest value a notice may carry (a study number, a count).
_LONGEST_VALUE = 40


def notify(key: str, **values: str | int) -> None:
    """Show the message `key` on the next page this browser gets."""
    g.notice = (key, values)


def _encoded(key: str, values: dict[str, str | int]) -> str:
    return base64.urlsafe_b64encode(json.dumps([key, values]).encode()).decode()


def _decoded(raw: str) -> tuple[str, dict[str, str | int]] | None:
    try:
        key, values = json.loads(base64.urlsafe_b64decode(raw.encode()))
    except (ValueError, TypeError, binascii.Error):
        return None
    if not isinstance(key, str) or key not in keys() or not isinstance(values, dict):
        return None
    if not all(isinstance(v, int | str) and len(str(v)) <= _LONGEST_VALUE
               for v in values.values()):
        return None
    return key, values


def pending_text() -> str | None:
    """The notice to show on this page, in the user's language; once shown it is
    removed. One set during this request (a page rendered without a redirect)
    comes first."""
    notice = g.pop("notice", None)
    if notice is None:
        raw = request.cookies.get(COOKIE)
        if raw is None:
            return None
        g.notice_shown = True
        notice = _decoded(raw)
        if notice is None:
            return None
    key, values = notice
    try:  # formatted here even without values: a message may lack the ones it needs
        return t(key).format(**values)
    except (KeyError, IndexError, ValueError):  # values that do not fit the message
        return None


def _carry(response: Response) -> Response:
    notice = g.get("notice")
    if notice is not None:
        secure = current_app.session_interface.get_cookie_secure(current_app)
        response.set_cookie(COOKIE, _encoded(*notice), httponly=True, samesite="Lax",
                            secure=secure)
    elif g.get("notice_shown"):
        response.delete_cookie(COOKIE)
    return response


def install(app: Flask) -> None:
    app.after_request(_carry)
