"""A yes/no field's own answer labels (`choices` in a form definition): loaded
and checked with the definition, shown by the entry form, the read-only
display and the data dictionary; the stored values stay True, False, None."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from trialdb.crf.definitions import (
    Bilingual,
    DefinitionError,
    code_label,
    load_forms,
    parse_definition,
)
from trialdb.crf.dictionary import data_dictionary
from trialdb.crf.forms import (
    NO,
    UNKNOWN,
    YES,
    answer_label,
    audited_value,
    display_value,
    form_class,
)
from trialdb.vocab import CarTProduct

MINOR = {"fr": "Mineur(e) à la date du consentement", "en": "Minor on the date of consent"}
ADULT = {"fr": "Majeur(e) à la date du consentement", "en": "Adult on the date of consent"}
NOT_STATED = {"fr": "Non renseigné", "en": "Not stated"}


def _definition(name: str, choices: Any, model: str = "ConsentRecord") -> dict[str, Any]:
    return {"form": "x", "model": model, "title": {"fr": "x", "en": "x"},
            "sections": [{"title": {"fr": "s", "en": "s"}, "fields": [
                {"name": name, "label": {"fr": "a", "en": "a"}, "choices": choices}]}]}


def test_choices_load_from_yaml_by_stored_value(tmp_path: Path) -> None:
    raw = yaml.safe_load("""
form: x
model: ConsentRecord
title: {fr: x, en: x}
sections:
  - title: {fr: s, en: s}
    fields:
      - name: minor_at_consent
        label: {fr: a, en: a}
        choices:
          true: {fr: "Mineur(e) à la date du consentement", en: Minor on the date of consent}
          false: {fr: "Majeur(e) à la date du consentement", en: Adult on the date of consent}
          null: {fr: Non renseigné, en: Not stated}
""")
    spec = parse_definition(raw, tmp_path / "x.yaml").field("minor_at_consent")
    assert spec.kind == "tristate"
    assert spec.choices == ((True, Bilingual(**MINOR)), (False, Bilingual(**ADULT)),
                            (None, Bilingual(**NOT_STATED)))
    assert spec.choice_label(None) == Bilingual(**NOT_STATED)
    assert spec.choice_label(1) is None and spec.choice_label("") is None


def test_the_consent_definition_names_minor_and_adult() -> None:
    spec = load_forms()["consent"].field("minor_at_consent")
    assert [(value, label.fr, label.en) for value, label in spec.choices] == [
        (True, MINOR["fr"], MINOR["en"]), (False, ADULT["fr"], ADULT["en"]),
        (None, NOT_STATED["fr"], NOT_STATED["en"])]
    assert "Oui" not in spec.help.fr and "Yes" not in spec.help.en  # type: ignore[union-attr]
    # every other yes/no field keeps the shared labels
    others = [f for form in load_forms().values() for f in form.fields if f.choices]
    assert [f.name for f in others] == ["minor_at_consent"]


@pytest.mark.parametrize(("name", "choices", "error"), [
    # a tristate needs all three stored values, a yes/no field only true and false
    ("minor_at_consent", {True: MINOR, False: ADULT},
     r"minor_at_consent\.choices: expected the keys true, false, null \(the stored values\), "
     r"got true, false"),
    ("minor_at_consent", {True: MINOR, False: ADULT, None: NOT_STATED, "maybe": MINOR},
     r"got true, false, null, 'maybe'"),
    ("minor_at_consent", {"yes": MINOR, "no": ADULT, "unknown": NOT_STATED},
     r"expected the keys true, false, null .* got 'yes', 'no', 'unknown'"),
    ("minor_at_consent", {1: MINOR, 0: ADULT, None: NOT_STATED}, r"got 1, 0, null"),
    ("minor_at_consent", [MINOR, ADULT, NOT_STATED], r"expected the keys true, false, null"),
    ("minor_at_consent", {True: MINOR, False: {"fr": "Majeur(e)"}, None: NOT_STATED},
     r"minor_at_consent\.choices\.false: expected \{fr: \.\.\., en: \.\.\.\}"),
    ("minor_at_consent", {True: MINOR, False: ADULT, None: {"fr": "x", "en": "x", "de": "x"}},
     r"choices\.null: expected \{fr: \.\.\., en: \.\.\.\}"),
    ("consent_on", {True: MINOR, False: ADULT},
     r"consent_on\.choices: choices are for yes/no fields only, not date"),
])
def test_choices_that_do_not_fit_the_field_are_refused(tmp_path: Path, name: str,
                                                        choices: Any, error: str) -> None:
    with pytest.raises(DefinitionError, match=error):
        parse_definition(_definition(name, choices), tmp_path / "x.yaml")


def test_a_yes_no_field_takes_only_true_and_false(tmp_path: Path) -> None:
    raw = _definition("tocilizumab", {True: MINOR, False: ADULT, None: NOT_STATED},
                      model="ClinicalCourse")
    with pytest.raises(DefinitionError, match=r"expected the keys true, false \("):
        parse_definition(raw, tmp_path / "x.yaml")
    raw = _definition("tocilizumab", {True: MINOR, False: ADULT}, model="ClinicalCourse")
    spec = parse_definition(raw, tmp_path / "x.yaml").field("tocilizumab")
    assert spec.kind == "yesno" and [value for value, _ in spec.choices] == [True, False]
    assert answer_label(spec, True, "en") == MINOR["en"]
    assert answer_label(spec, False, "fr") == ADULT["fr"]


@pytest.mark.parametrize("language", ["fr", "en"])
def test_entry_form_offers_the_fields_own_labels_on_unchanged_values(language: str) -> None:
    consent = load_forms()["consent"]
    field = form_class(consent, language).minor_at_consent
    assert [(c.value, c.label) for c in field.kwargs["choices"]] == [
        (YES, MINOR[language]), (NO, ADULT[language]), (UNKNOWN, NOT_STATED[language])]
    # a tristate without its own labels keeps the shared ones
    eligibility = load_forms()["eligibility"]
    shared = form_class(eligibility, language).cmv_igg_positive
    assert [c.label for c in shared.kwargs["choices"]] == (
        ["Oui", "Non", "Non renseigné"] if language == "fr" else ["Yes", "No", "Not answered"])


@pytest.mark.parametrize("language", ["fr", "en"])
def test_display_value_reads_the_fields_own_labels(language: str) -> None:
    spec = load_forms()["consent"].field("minor_at_consent")
    assert display_value(spec, True, language) == MINOR[language]
    assert display_value(spec, False, language) == ADULT[language]
    assert display_value(spec, None, language) == NOT_STATED[language]
    shared = load_forms()["eligibility"].field("cmv_igg_positive")
    assert display_value(shared, True, language) == ("Oui" if language == "fr" else "Yes")
    assert display_value(shared, None, language) == "—"


def test_data_dictionary_lists_the_answers_in_both_languages() -> None:
    rows = {(r.form, r.field): r for r in data_dictionary()}
    minor = rows["consent", "minor_at_consent"]
    assert minor.type == "boolean (nullable)"
    assert minor.codes == (f"true = {MINOR['en']} / {MINOR['fr']}; "
                           f"false = {ADULT['en']} / {ADULT['fr']}; "
                           f"NULL = {NOT_STATED['en']} / {NOT_STATED['fr']}")
    assert rows["eligibility", "cmv_igg_positive"].codes == ""


def test_audited_values_read_as_the_form_shows_them() -> None:
    forms = load_forms()
    infusion = {f.name: f for f in forms["infusion"].fields}
    consent = {f.name: f for f in forms["consent"].fields}
    assert audited_value(infusion["product"], "tisagenlecleucel", "fr") == code_label(
        CarTProduct, "tisagenlecleucel", "fr")
    assert audited_value(infusion["infused_on"], "2024-03-10", "fr") == "10/03/2024"
    assert audited_value(infusion["infused_on"], "2024-03-10", "en") == "2024-03-10"
    assert audited_value(infusion["prior_allo_hsct"], True, "en") == "Yes"
    assert audited_value(consent["minor_at_consent"], None, "fr") == "Non renseigné"
    # a code an older definition allowed is shown as the trail keeps it
    assert audited_value(infusion["product"], "withdrawn_product", "fr") == "withdrawn_product"
    # columns no form shows
    assert audited_value(None, True, "fr") == "Oui"
    assert audited_value(None, None, "fr") == "—"
    assert audited_value(None, 3, "fr") == "3"
