"""The one exception tree. The CLI turns these into one-line messages and exit codes."""

from __future__ import annotations


class CIProfileError(Exception):
    """Base of every error a user can cause or meet. ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class UsageError(CIProfileError):
    """A bad option value (an unknown --since, a malformed project name)."""

    exit_code = 2


class ConfigError(CIProfileError):
    """A broken ci-profile.toml / [tool.ci-profile] table, or a rule that does not compile."""

    exit_code = 2


class StoreError(CIProfileError):
    """The database cannot be opened or written (corrupt, wrong file, newer schema)."""

    exit_code = 3


class StoreLockedError(StoreError):
    """Another process holds the database's write lock."""


class ProviderError(CIProfileError):
    """A CI provider answered in a way collection cannot continue from."""

    exit_code = 4


class AuthError(ProviderError):
    """The token is missing, invalid, or lacks access."""


class NotFoundError(ProviderError):
    """The repository, project or job does not exist (or is invisible to this token)."""


class RateLimitError(ProviderError):
    """The rate limit is exhausted and waiting for it was not allowed."""


class NetworkError(ProviderError):
    """The provider could not be reached after retries."""


class PayloadError(ProviderError):
    """An answer holds a record that cannot be stored (a run or job without its id)."""


class BudgetExhaustedError(ProviderError):
    """The request budget given with --max-requests ran out."""


class PipelineFileError(CIProfileError):
    """A pipeline file (workflow YAML, .gitlab-ci.yml) could not be parsed."""

    exit_code = 5


class SampleDataError(CIProfileError):
    """The bundled sample data is missing or malformed."""


class MigrationError(CIProfileError):
    """A migration cannot be planned or applied (no pipelines, a rewrite that fails its checks,
    a working tree that changed underneath)."""

    exit_code = 6


class PublishError(CIProfileError):
    """A migration branch, commit or PR/MR could not be created (no write access, a missing
    base branch, an existing branch)."""

    exit_code = 7
