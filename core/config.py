"""Settings from the environment and the project's config file.

The only module that reads environment variables. Tokens are wrapped in :class:`Secret` so
that they cannot leak through ``repr``, logging or an exception message by accident.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ci_profile.core.errors import ConfigError

DEFAULT_DB = "ci-profile.duckdb"
DEFAULT_GITHUB_API = "https://api.github.com"
CONFIG_FILE = "ci-profile.toml"


class Secret:
    """A token. Shows as ``***`` everywhere; :meth:`reveal` is the one way to read it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def _env(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    value = (os.environ if environ is None else environ).get(name, "").strip()
    return value or None


def github_token(environ: Mapping[str, str] | None = None) -> Secret | None:
    value = _env("GITHUB_TOKEN", environ) or _env("GH_TOKEN", environ)
    return Secret(value) if value else None


def github_api_url(override: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    return (override or _env("GITHUB_API_URL", environ) or DEFAULT_GITHUB_API).rstrip("/")


DEFAULT_GITLAB_URL = "https://gitlab.com"


def gitlab_token(environ: Mapping[str, str] | None = None) -> Secret | None:
    value = _env("GITLAB_TOKEN", environ)
    return Secret(value) if value else None


def gitlab_url(override: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    return (override or _env("GITLAB_URL", environ) or DEFAULT_GITLAB_URL).rstrip("/")


def jenkins_auth(environ: Mapping[str, str] | None = None) -> tuple[str, Secret] | None:
    """JENKINS_USER + JENKINS_TOKEN (an API token: basic auth, no CSRF crumb needed for GET)."""
    user, token = _env("JENKINS_USER", environ), _env("JENKINS_TOKEN", environ)
    return (user, Secret(token)) if user and token else None


def jenkins_url(
    override: str | None = None, environ: Mapping[str, str] | None = None
) -> str | None:
    value = override or _env("JENKINS_URL", environ)
    return value.rstrip("/") if value else None


def db_path(override: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    return override or _env("CI_PROFILE_DB", environ) or DEFAULT_DB


def debug(environ: Mapping[str, str] | None = None) -> bool:
    """CI_PROFILE_DEBUG=1 lets unexpected errors show their traceback."""
    return _env("CI_PROFILE_DEBUG", environ) not in (None, "0", "false")


@dataclass(frozen=True)
class ProjectConfig:
    """What a user set in ci-profile.toml or [tool.ci-profile] of pyproject.toml."""

    source: str | None = None
    rules: tuple[Mapping[str, Any], ...] = ()
    disabled_rules: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)


def load_project_config(directory: Path | None = None) -> ProjectConfig:
    """Read ci-profile.toml, else [tool.ci-profile] of pyproject.toml, in ``directory``."""
    base = directory or Path.cwd()
    own = base / CONFIG_FILE
    if own.is_file():
        return _parse(own, _read_toml(own))
    pyproject = base / "pyproject.toml"
    if pyproject.is_file():
        table = _read_toml(pyproject).get("tool", {}).get("ci-profile")
        if isinstance(table, dict):
            return _parse(pyproject, table)
    return ProjectConfig()


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path.name}: not valid TOML ({exc})") from None


def _parse(path: Path, table: Mapping[str, Any]) -> ProjectConfig:
    rules = table.get("rule", table.get("rules", []))
    if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
        raise ConfigError(f"{path.name}: `rule` must be an array of tables ([[rule]])")
    classification = table.get("classification", {})
    disabled = classification.get("disable", []) if isinstance(classification, dict) else []
    if not isinstance(disabled, list) or not all(isinstance(d, str) for d in disabled):
        raise ConfigError(f"{path.name}: classification.disable must be a list of rule ids")
    extra = {k: v for k, v in table.items() if k not in ("rule", "rules", "classification")}
    return ProjectConfig(str(path), tuple(rules), tuple(disabled), extra)
