"""Errors a person can cause, carrying their message in French and English.

Views turn these into a 4xx answer in the user's language; the CLI prints the
English text (the French with a command's --lang fr). Nothing that raises one
may have written anything.
"""

from __future__ import annotations

from typing import Literal

Language = Literal["fr", "en"]


class UserError(Exception):
    """Bad input, a forbidden action, a conflict: something the user can fix."""

    status = 400

    def __init__(self, en: str, fr: str, *, field: str | None = None) -> None:
        super().__init__(en)
        self.messages: dict[str, str] = {"en": en, "fr": fr}
        self.field = field

    def message(self, language: str = "fr") -> str:
        return self.messages.get(language, self.messages["en"])


class InvalidInput(UserError):
    status = 422


class NotFound(UserError):
    status = 404


class Forbidden(UserError):
    status = 403


class Conflict(UserError):
    status = 409


class Unavailable(UserError):
    """The database is busy or unreachable: nothing was saved, try again."""

    status = 503

    def __init__(self) -> None:
        super().__init__(
            "The database is busy or unreachable: nothing was saved. Try again in a moment.",
            "La base de données est occupée ou injoignable : rien n'a été enregistré. "
            "Réessayez dans un instant.",
        )
