"""What every collector reports, and how it reports progress to whoever shows it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


class Progress(Protocol):
    def listed(self, runs: int) -> None: ...

    def fetched(self, runs: int) -> None: ...


@dataclass
class CollectResult:
    project: str
    runs_listed: int = 0
    runs_fetched: int = 0
    runs: int = 0
    jobs: int = 0
    steps: int = 0
    pipeline_files: int = 0
    requests: int = 0
    not_modified: int = 0
    retries: int = 0
    rate_remaining: int | None = None
    rate_limit: int | None = None
    windows_split: int = 0
    warnings: list[str] = field(default_factory=list)
