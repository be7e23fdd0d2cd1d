"""The consent form's statement of minor or adult on the date of consent (month
of the 18th birthday): the signatories panel follows it, a statement the birth
month contradicts is refused next to its field and nothing is saved."""

from __future__ import annotations

import html
import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from tests.web.conftest import World, csrf_token, post
from trialdb.db import make_session_factory
from trialdb.models import ConsentRecord, Participant

# Born June 2006: 18 in June 2024, so on 10 June 2024 minor or adult is not known.
CONSENT = {"document_version": "v2.1", "document_date": "2024-01-10",
           "consent_on": "2024-06-10", "patient_signed_on": "2024-06-10",
           "investigator_signed_on": "2024-06-10"}


def _create(client: FlaskClient, world: World) -> str:
    response = post(client, "/participants/new", {
        "site": world.site_a.code, "part": "prospective", "sex": "male", "birth_year": "2006",
        "birth_month": "6", "screened_on": "2024-05-02"})
    assert response.status_code == 302
    match = re.match(r"/participants/([A-Z0-9]+-\d{4})/", response.headers["Location"])
    assert match is not None
    return match.group(1)


def _required(page: str) -> list[str]:
    return sorted(re.findall(r'<li class="required" data-signatory="([a-z_0-9]+)"', page))


def _errors(page: str, field: str) -> list[str]:
    return [html.unescape(m) for m in
            re.findall(rf'<p class="error" data-field="{field}">([^<]*)</p>', page)]


def _consent(engine: Engine, number: str) -> ConsentRecord | None:
    with make_session_factory(engine, write=False)() as session:
        return session.scalar(select(ConsentRecord).join(Participant).where(
            Participant.study_number == number))


def test_birthday_month_minor_by_default_adult_when_stated(client_a: FlaskClient, world: World,
                                                           engine: Engine) -> None:
    number = _create(client_a, world)
    url = f"/participants/{number}/screening/consent"
    # not stated: a minor, the parents sign; the patient's signature does not make it valid
    response = post(client_a, url, CONSENT)
    assert response.status_code == 302
    page = client_a.get(url).get_data(as_text=True)
    assert _required(page) == ["investigator", "parent_1", "parent_2"]
    assert 'id="birthday-month" data-stated="no"' in page
    assert "mineur faute de déclaration" in html.unescape(page)
    assert "Consentement incomplet ou non valide" in page
    assert 'name="minor_at_consent"' in page
    record = _consent(engine, number)
    assert record is not None and record.minor_at_consent is None and not record.is_valid
    # stated adult: the patient signs, and the consent is valid with that signature
    response = post(client_a, url, {**CONSENT, "minor_at_consent": "no",
                                     "row_version": str(record.row_version),
                                     "reason": "full date of birth checked"})
    assert response.status_code == 302
    page = client_a.get(url).get_data(as_text=True)
    assert _required(page) == ["investigator", "patient"]
    assert 'id="birthday-month" data-stated="yes"' in page
    assert "Majeur à la date du consentement" in page and "Consentement valide" in page
    assert re.search(r'<input checked [^>]*name="minor_at_consent" type="radio" value="no">', page)
    record = _consent(engine, number)
    assert record is not None and record.minor_at_consent is False and record.is_valid


@pytest.mark.parametrize(("consent_on", "statement", "french", "english"), [
    ("2024-07-01", "yes", "majeur le 01/07/2024", "an adult on 2024-07-01"),
    ("2024-05-31", "no", "mineur le 31/05/2024", "a minor on 2024-05-31"),
])
def test_contradicting_statement_is_refused_next_to_its_field(
        client_a: FlaskClient, world: World, engine: Engine, consent_on: str, statement: str,
        french: str, english: str) -> None:
    number = _create(client_a, world)
    url = f"/participants/{number}/screening/consent"
    data = {**CONSENT, "consent_on": consent_on, "patient_signed_on": consent_on,
            "investigator_signed_on": consent_on, "minor_at_consent": statement}
    response = post(client_a, url, data)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    errors = _errors(page, "minor_at_consent")
    assert len(errors) == 1 and french in errors[0] and "la déclaration le contredit" in errors[0]
    # the panel shows what the birth month makes certain, not the refused statement
    adult = consent_on == "2024-07-01"
    assert _required(page) == (["investigator", "patient"] if adult
                               else ["investigator", "parent_1", "parent_2"])
    assert 'id="birthday-month"' not in page
    with make_session_factory(engine, write=False)() as session:
        assert session.scalar(select(func.count()).select_from(ConsentRecord)
                              .join(Participant)
                              .where(Participant.study_number == number)) == 0
    client_a.post("/language", data={"lang": "en", "csrf_token": csrf_token(client_a, "/")})
    response = post(client_a, url, data)
    assert response.status_code == 422
    errors = _errors(response.get_data(as_text=True), "minor_at_consent")
    assert len(errors) == 1 and english in errors[0] and "the statement contradicts it" in errors[0]


def _radios(page: str, field: str) -> list[tuple[str, str]]:
    """(value, label) of a radio question, in order."""
    return [(value, html.unescape(label)) for value, label in re.findall(
        rf'<input [^>]*name="{field}" type="radio" value="([^"]*)"> <span>([^<]*)</span>', page)]


def test_statement_reads_minor_or_adult_in_both_languages(client_a: FlaskClient, world: World,
                                                          engine: Engine) -> None:
    number = _create(client_a, world)
    url = f"/participants/{number}/screening/consent"
    page = client_a.get(url).get_data(as_text=True)
    assert _radios(page, "minor_at_consent") == [
        ("yes", "Mineur(e) à la date du consentement"),
        ("no", "Majeur(e) à la date du consentement"), ("", "Non renseigné")]
    assert "Mineur(e) ou majeur(e) à la date du consentement" in html.unescape(page)
    # the stored value is still a boolean
    response = post(client_a, url, {**CONSENT, "minor_at_consent": "yes"})
    assert response.status_code == 302
    record = _consent(engine, number)
    assert record is not None and record.minor_at_consent is True
    client_a.post("/language", data={"lang": "en", "csrf_token": csrf_token(client_a, "/")})
    page = client_a.get(url).get_data(as_text=True)
    assert _radios(page, "minor_at_consent") == [
        ("yes", "Minor on the date of consent"), ("no", "Adult on the date of consent"),
        ("", "Not stated")]
    assert re.search(r'<input checked [^>]*name="minor_at_consent" type="radio" value="yes">', page)
    # the data dictionary, page and CSV, gives both languages' labels
    expected = ("true = Minor on the date of consent / Mineur(e) à la date du consentement; "
                "false = Adult on the date of consent / Majeur(e) à la date du consentement; "
                "NULL = Not stated / Non renseigné")
    assert expected in html.unescape(client_a.get("/dictionary").get_data(as_text=True))
    assert expected in client_a.get("/dictionary.csv").get_data(as_text=True)
