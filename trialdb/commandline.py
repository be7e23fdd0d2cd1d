"""What every `trialdb` command shares: the configured engine and how a
person's mistake is reported (one line on stderr, in English unless the
command's --lang says otherwise; exit status 2)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click
from sqlalchemy.engine import Engine

from trialdb.config import load_settings
from trialdb.db import make_engine
from trialdb.errors import UserError

F = TypeVar("F", bound=Callable[..., Any])


def configured_engine() -> Engine:
    return make_engine(load_settings().database_url)


def user_errors(command: F) -> F:
    """Show a person's mistakes as a one-line message and exit 2, not a traceback."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except UserError as error:
            french = kwargs.get("lang") == "fr"
            click.echo(f"erreur : {error.message('fr')}" if french
                       else f"error: {error.message('en')}", err=True)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]
