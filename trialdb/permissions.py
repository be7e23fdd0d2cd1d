"""Who may do what: the permission matrix of every route, as data.

trialdb/permissions.txt (the table) is the documentation of access control
and the expectation of tests/web/test_permissions.py, which requests every route of the
application as every role, for an object of the user's own site and of
another site, and fails when an answer differs from the table or when a
route exists that the table does not list (so a new route must be added
here, with its answers decided).

How to read a row::

    endpoint  METHOD  path  | own site: 6 answers | other site: 6 answers or - | anonymous

The six answers are, in this order, for: coordinator, investigator,
monitor, data-manager, statistician, admin (`ROLES`). Coordinators,
investigators and monitors work for their sites; data managers,
statisticians and administrators are study-wide (`services.accounts.
STUDY_WIDE_ROLES`), so for them another site's object is still theirs to see.
"Other site" applies to routes that name a participant or an object of a
site; ``-`` marks routes that name none.

Answers (HTTP status):

* 200, 201: the page or the result; 302: done, or sent on to the right page;
* 400, 422: the role may do this, but the probe's deliberately empty input
  is refused (POSTs are probed with a valid CSRF token and no data, so that
  nothing is written; a refused POST must write nothing);
* 403: the role may not do this (a message says so);
* 404: the object is hidden (another site's participant, record or query);
* 401: the API without a valid token; 302 in the anonymous column: sent to
  the sign-in page.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from trialdb.vocab import Role

ROLES: tuple[Role, ...] = (Role.COORDINATOR, Role.INVESTIGATOR, Role.MONITOR,
                           Role.DATA_MANAGER, Role.STATISTICIAN, Role.ADMIN)

#: The table itself, a data file beside this module.
MATRIX_FILE = Path(__file__).with_name("permissions.txt")


@dataclass(frozen=True)
class Rule:
    """The expected answers of one route and method."""

    endpoint: str
    method: str
    path: str
    own: dict[Role, int]
    other: dict[Role, int] | None
    anonymous: int

    @property
    def key(self) -> tuple[str, str]:
        return self.endpoint, self.method


def _answers(words: list[str]) -> dict[Role, int]:
    if len(words) != len(ROLES) or not all(w.isdigit() for w in words):
        raise ValueError(f"expected {len(ROLES)} status codes, got {words}")
    return dict(zip(ROLES, (int(w) for w in words), strict=True))


def parse(text: str | None = None) -> dict[tuple[str, str], Rule]:
    """The table's rows by (endpoint, method); a malformed row raises ValueError."""
    if text is None:
        text = MATRIX_FILE.read_text(encoding="utf-8")
    rules: dict[tuple[str, str], Rule] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        try:
            endpoint, method, path, *codes = words
            own = _answers(codes[:6])
            other = None if codes[6] == "-" else _answers(codes[6:12])
            anonymous = int(codes[7] if other is None else codes[12])
            if len(codes) != (8 if other is None else 13):
                raise ValueError("too many columns")
        except (ValueError, IndexError) as error:
            raise ValueError(f"permission matrix line {number}: {error}: {line!r}") from error
        rule = Rule(endpoint, method.upper(), path, own, other, anonymous)
        if rule.key in rules:
            raise ValueError(f"permission matrix line {number}: {rule.key} twice")
        rules[rule.key] = rule
    return rules


def as_markdown(rules: dict[tuple[str, str], Rule] | None = None) -> str:
    """The table for people (docs/permissions.md is written from it)."""
    rules = rules if rules is not None else parse()
    head = ["Route", "Method", *[r.value for r in ROLES], "Other site", "Anonymous"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for rule in rules.values():
        other = "—" if rule.other is None else " ".join(str(rule.other[r]) for r in ROLES)
        lines.append("| " + " | ".join([f"`{rule.path}`", rule.method,
                                        *[str(rule.own[r]) for r in ROLES], other,
                                        str(rule.anonymous)]) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # python -m trialdb.permissions > docs/permissions.md
    print("# Who may do what (generated from trialdb/permissions.py)\n")
    print(__doc__.replace("::", ":"), end="\n")
    print(as_markdown(), end="")
