"""What the command modules share: the consoles, the --db option, the rules in force, opening
a database that must exist, keeping the classification current, and the secrets to scrub."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from ci_profile.analysis.classify import Rule, build_rules
from ci_profile.analysis.refresh import refresh_classification
from ci_profile.core import config
from ci_profile.core.errors import StoreError
from ci_profile.core.store import Store, open_when_free

# Piped output (CI logs, files) gets a fixed width instead of rich's 80-column fallback.
stdout = Console(soft_wrap=False, width=None if sys.stdout.isatty() else 120)
stderr = Console(stderr=True, width=None if sys.stderr.isatty() else 120)
# Token values seen in this process: every error message is scrubbed of them.
secrets: list[str] = []


def scrub(text: str) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


# How long analyze waits for a collection to finish writing a batch before giving up.
READ_WAIT_S = 5.0


def db_option(function: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--db",
        "db",
        default=None,
        metavar="PATH",
        help=f"DuckDB file (env CI_PROFILE_DB, default {config.DEFAULT_DB}).",
    )(function)


def load_rules() -> list[Rule]:
    project = config.load_project_config()
    return build_rules(project.rules, project.disabled_rules)


def refresh(path: str, rules: list[Rule]) -> None:
    """Keep classified_steps current after a collection."""
    with open_when_free(path) as store:
        refresh_classification(store, rules)


def existing_path(db: str | None) -> str:
    """The database path, which must exist: reading commands never create an empty one."""
    path = config.db_path(db)
    if path != ":memory:" and not Path(path).exists():
        raise StoreError(
            f"no database at {path}; run `ci-profile demo` or `ci-profile collect` first"
        )
    return path


@contextmanager
def open_existing(db: str | None) -> Iterator[Store]:
    with open_when_free(existing_path(db), timeout_s=READ_WAIT_S) as store:
        yield store
