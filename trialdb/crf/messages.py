"""Messages of form validation in French and English."""

from __future__ import annotations

from typing import Any

_MESSAGES: dict[str, tuple[str, str]] = {
    # key: (French, English)
    "required": ("Ce champ est obligatoire.", "This field is required."),
    "yes": ("Oui", "Yes"),
    "no": ("Non", "No"),
    "unknown": ("Non renseigné", "Not answered"),
    "min_inclusive": ("La valeur doit être au moins {limit}.", "The value must be at least {limit}."),
    "min_exclusive": ("La valeur doit être supérieure à {limit}.",
                      "The value must be greater than {limit}."),
    "max_inclusive": ("La valeur doit être au plus {limit}.", "The value must be at most {limit}."),
    "max_exclusive": ("La valeur doit être inférieure à {limit}.",
                      "The value must be less than {limit}."),
    "too_long": ("{limit} caractères au plus.", "At most {limit} characters."),
    "soft_above": ("Valeur inhabituelle (au-dessus de {limit}) : vérifiez-la, puis cochez la "
                   "confirmation.", "Unusual value (above {limit}): check it, then tick the "
                   "confirmation."),
    "soft_below": ("Valeur inhabituelle (en dessous de {limit}) : vérifiez-la, puis cochez la "
                   "confirmation.", "Unusual value (below {limit}): check it, then tick the "
                   "confirmation."),
    "mark_complete": ("Fiche complète", "Form complete"),
    "confirm_soft": ("Je confirme les valeurs inhabituelles signalées",
                     "I confirm the unusual values flagged"),
    "reason": ("Motif de la modification", "Reason for the change"),
    "date_future": ("Cette date est dans le futur.", "This date is in the future."),
    "date_before_birth": ("Cette date précède la naissance ({when}).",
                          "This date is before birth ({when})."),
    "date_before_d0": ("Cette date précède l'infusion (J0, {when}).",
                       "This date is before the infusion (D0, {when})."),
    "date_before_field": ("Cette date précède « {other} » ({when}).",
                          "This date is before '{other}' ({when})."),
    "date_after_field": ("Cette date doit précéder « {other} » ({when}).",
                         "This date must be before '{other}' ({when})."),
    "needs_d0": ("Saisissez d'abord l'infusion (J0) : cette date ne peut pas la précéder.",
                 "Enter the infusion (D0) first: this date cannot precede it."),
}

# WTForms' own messages, for the French user.
_WTFORMS_FR = {
    "Not a valid date value.": "Date invalide (jj/mm/aaaa).",
    "Not a valid integer value.": "Nombre entier attendu.",
    "Not a valid float value.": "Nombre attendu (ex. 1,5).",
    "Not a valid decimal value.": "Nombre attendu (ex. 1,5).",
    "Not a valid choice.": "Choix invalide.",
    "This field is required.": "Ce champ est obligatoire.",
    "The CSRF token is missing.": "Le jeton de sécurité manque : rechargez la page.",
    "The CSRF token has expired.": "Le jeton de sécurité a expiré : rechargez la page.",
    "The CSRF token is invalid.": "Le jeton de sécurité est invalide : rechargez la page.",
    "The CSRF tokens do not match.": "Le jeton de sécurité est invalide : rechargez la page.",
}


def message(key: str, language: str, **values: Any) -> str:
    fr, en = _MESSAGES[key]
    return (fr if language == "fr" else en).format(**values)


def bilingual(key: str, **values: Any) -> tuple[str, str]:
    """(English, French) of a message, in the order UserError takes them."""
    fr, en = _MESSAGES[key]
    return en.format(**values), fr.format(**values)


class _Translations:
    def __init__(self, language: str) -> None:
        self.table = _WTFORMS_FR if language == "fr" else {}

    def gettext(self, text: str) -> str:
        return self.table.get(text, text)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.gettext(singular if n == 1 else plural)


def wtforms_translations(language: str) -> _Translations:
    return _Translations(language)


def translated_meta(language: str) -> type:
    """A form's `Meta` giving WTForms' own messages (not a number, not a date...)
    in `language`."""

    class Meta:
        def get_translations(self, form: Any) -> Any:
            return wtforms_translations(language)

    return Meta
