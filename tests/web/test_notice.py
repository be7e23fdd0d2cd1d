"""The notice shown after a redirect ("Enregistré.") travels in a cookie of its
own: a save leaves the signed session cookie as it was, the next page shows the
notice once, and a forged or broken notice cookie shows nothing."""

from __future__ import annotations

import base64
import json
from datetime import date, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy.engine import Engine

from tests.web.conftest import World, new_participant, post
from trialdb.web.notice import COOKIE

NOTICE_HTML = '<div class="notice success" role="status">'


def _save_measurement(client: FlaskClient, study_number: str):  # type: ignore[no-untyped-def]
    return post(client, f"/participants/{study_number}/forms/immune_measurements/new",
                {"measured_on": (date.today() - timedelta(days=1)).isoformat(),
                 "lymphocytes_per_ul": "450"}, token_page=f"/participants/{study_number}")


def _set_cookies(response) -> list[str]:  # type: ignore[no-untyped-def]
    return response.headers.getlist("Set-Cookie")


def test_a_save_leaves_the_session_cookie_and_the_next_page_shows_the_notice_once(
        client_a: FlaskClient, engine: Engine, world: World) -> None:
    number = new_participant(engine, world.site_a).study_number
    session_before = client_a.get_cookie("session")
    assert session_before is not None
    response = _save_measurement(client_a, number)
    assert response.status_code == 302
    written = _set_cookies(response)
    assert [c for c in written if c.startswith(f"{COOKIE}=")], written
    assert not [c for c in written if c.startswith("session=")], written
    notice_cookie = next(c for c in written if c.startswith(f"{COOKIE}="))
    assert "HttpOnly" in notice_cookie and "SameSite=Lax" in notice_cookie

    page = client_a.get(f"/participants/{number}")
    assert f"{NOTICE_HTML}Enregistré.</div>" in page.get_data(as_text=True)
    assert not [c for c in _set_cookies(page) if c.startswith("session=")]
    assert client_a.get_cookie(COOKIE) is None  # removed once shown
    assert NOTICE_HTML not in client_a.get(f"/participants/{number}").get_data(as_text=True)


def test_a_notice_with_values_is_shown_in_the_users_language(
        client_a: FlaskClient, engine: Engine, world: World) -> None:
    number = new_participant(engine, world.site_a).study_number
    post(client_a, "/language", {"lang": "en", "next": "/"}, token_page=f"/participants/{number}")
    client_a.set_cookie(COOKIE, base64.urlsafe_b64encode(
        json.dumps(["loads_saved", {"count": 3}]).encode()).decode())
    page = client_a.get(f"/participants/{number}").get_data(as_text=True)
    assert f"{NOTICE_HTML}3 result(s) saved.</div>" in page


def _encoded(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


@pytest.mark.parametrize("raw", [
    "not base64 at all!",
    base64.urlsafe_b64encode(b"{not json").decode(),
    _encoded(["no_such_message", {}]),
    _encoded(["loads_saved", {"count": "x" * 41}]),  # a value too long to be a count
    _encoded(["loads_saved", {"count": {"nested": 1}}]),
    _encoded(["created_number", {}]),  # a value the message needs is missing
    _encoded("saved"),
])
def test_a_broken_or_forged_notice_shows_nothing(client_a: FlaskClient, engine: Engine,
                                                 world: World, raw: str) -> None:
    number = new_participant(engine, world.site_a).study_number
    client_a.set_cookie(COOKIE, raw)
    response = client_a.get(f"/participants/{number}")
    assert response.status_code == 200
    assert NOTICE_HTML not in response.get_data(as_text=True)
    assert client_a.get_cookie(COOKIE) is None
