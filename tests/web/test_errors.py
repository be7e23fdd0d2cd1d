"""Errors answer 4xx with a message in the user's language, never a 500."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from tests.web.conftest import World, csrf_token


def test_unknown_participant_is_404_in_french_then_english(client_a: FlaskClient) -> None:
    response = client_a.get("/participants/ZZ-9999")
    assert response.status_code == 404
    assert "Participant introuvable." in response.get_data(as_text=True)
    token = csrf_token(client_a, "/")
    client_a.post("/language", data={"lang": "en", "csrf_token": token})
    response = client_a.get("/participants/ZZ-9999")
    assert "No such participant." in response.get_data(as_text=True)


def test_unknown_page_and_method(client_a: FlaskClient) -> None:
    assert client_a.get("/no/such/page").status_code == 404
    response = client_a.delete("/participants/new")
    assert response.status_code in (400, 405)


def test_integrity_error_becomes_422(app: Flask, world: World) -> None:
    from sqlalchemy.exc import IntegrityError

    @app.route("/_test/integrity")
    def _integrity() -> str:
        raise IntegrityError("INSERT", {}, Exception("ck_violation"))

    with app.test_client() as client:
        from tests.web.conftest import sign_in

        sign_in(client, world.coordinator_a.email)
        response = client.get("/_test/integrity")
        assert response.status_code == 422
        assert "rien n&#39;a été enregistré" in response.get_data(as_text=True)
