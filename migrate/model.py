"""What a migration plan is made of: findings, the evidence behind them, and file changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ci_profile.migrate.textedit import Edit

Action = Literal["rewrite", "manual", "skip"]
Provider = Literal["github", "gitlab"]


@dataclass(frozen=True, slots=True)
class Evidence:
    """Measured time of a job's environment steps, from the store (seconds per run)."""

    project: str
    runs: int
    runs_per_week: float
    median_s: float
    p90_s: float
    session_start_s: float
    saving_per_run_s: float  # median wall-clock saving per run (what-if, session start included)
    runner_saving_per_month_s: float

    @property
    def saving_per_month_s(self) -> float:
        return self.saving_per_run_s * self.runs_per_week * 52.0 / 12.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "runs": self.runs,
            "runs_per_week": round(self.runs_per_week, 1),
            "environment_median_s": round(self.median_s, 1),
            "environment_p90_s": round(self.p90_s, 1),
            "session_start_s": self.session_start_s,
            "saving_per_run_s": round(self.saving_per_run_s, 1),
            "saving_per_month_s": round(self.saving_per_month_s, 1),
            "runner_saving_per_month_s": round(self.runner_saving_per_month_s, 1),
        }


@dataclass(frozen=True, slots=True)
class Target:
    """The workload in the shared cluster a migrated job runs against (to be confirmed)."""

    workload: str  # e.g. deployment/payments
    namespace: str
    port: int

    @property
    def slug(self) -> str:
        name = self.workload.rsplit("/", 1)[-1]
        return f"mirrord-{self.namespace}-{name}"


@dataclass(frozen=True, slots=True)
class Finding:
    provider: Provider
    file: str  # relative to the repository, with forward slashes
    job: str  # the job key as written in the file
    patterns: tuple[str, ...]
    lines: tuple[int, int]
    action: Action
    reason: str
    config_file: str | None = None  # .mirrord/<name>.json, for rewrites
    target: Target | None = None
    manual_tasks: tuple[str, ...] = ()
    suggestions: tuple[dict[str, Any], ...] = ()  # db_branches entries (need the Operator)
    evidence: Evidence | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "provider": self.provider,
            "file": self.file,
            "job": self.job,
            "patterns": list(self.patterns),
            "lines": list(self.lines),
            "action": self.action,
            "reason": self.reason,
        }
        if self.config_file is not None:
            out["config_file"] = self.config_file
        if self.target is not None:
            out["target"] = {
                "workload": self.target.workload,
                "namespace": self.target.namespace,
                "port": self.target.port,
            }
        if self.manual_tasks:
            out["manual_tasks"] = list(self.manual_tasks)
        if self.suggestions:
            out["db_branches_suggested"] = [
                {**s, "needs": "the mirrord Operator (Team/Enterprise)"} for s in self.suggestions
            ]
        if self.evidence is not None:
            out["evidence"] = self.evidence.as_dict()
        return out


@dataclass(frozen=True, slots=True)
class JobPlan:
    """What scanning one job gives: the finding and, for a rewrite, its edits and new files
    (the ``.mirrord/`` config and start script, as path -> content)."""

    finding: Finding
    edits: tuple[Edit, ...] = ()
    files: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class FileChange:
    """A file the plan writes: a rewritten pipeline file or a new mirrord config."""

    path: str
    before: str | None  # None: the file is new
    after: str


@dataclass(slots=True)
class Plan:
    repo_dir: str
    findings: list[Finding] = field(default_factory=list)
    changes: list[FileChange] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def rewrites(self) -> list[Finding]:
        return [f for f in self.findings if f.action == "rewrite"]
