"""Workflows as the runner sees them: the jobs (matrix legs expanded) and the exact step list
of each, read from the YAML files with PyYAML, plus the kind of work every step does.

Times are whole epoch seconds (GitHub reports whole seconds, steps with a ``.000`` fraction).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

START = int(datetime(2026, 10, 1, tzinfo=UTC).timestamp())
END = int(datetime(2026, 11, 14, 23, 59, tzinfo=UTC).timestamp())
NOW = END  # the moment the history was "collected"
# America/Los_Angeles leaves daylight saving time on 2026-11-01 at 09:00 UTC.
PACIFIC_DST_END = int(datetime(2026, 11, 1, 9, tzinfo=UTC).timestamp())
PDT, PST = timezone(timedelta(hours=-7)), timezone(timedelta(hours=-8))


def ts_z(t: int) -> str:
    """Job and run times: ``2026-10-14T09:12:03Z``."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Repo:
    owner: str
    name: str
    repo_id: int
    step_tz: str  # "UTC" or "America/Los_Angeles": how this repo's step times are written

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def step_time(self, t: int) -> str:
        """Step times carry milliseconds, and in one repo a Pacific offset (as GitHub does)."""
        if self.step_tz == "UTC":
            return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        tz = PDT if t < PACIFIC_DST_END else PST
        local = datetime.fromtimestamp(t, tz)
        return local.strftime("%Y-%m-%dT%H:%M:%S.000") + local.strftime("%z")[:3] + ":00"


# -- what each step is --------------------------------------------------------------------

# Actions that register a post step, and the post step's condition (their action.yml post-if).
POST_ACTIONS = {
    "actions/checkout": "always",
    "actions/setup-python": "success",
    "actions/setup-node": "success",
    "actions/setup-go": "success",
    "actions/cache": "success",
    "helm/kind-action": "always",
    "docker/setup-buildx-action": "always",
    "docker/login-action": "always",
    "golangci/golangci-lint-action": "success",
}
USES_KINDS = {
    "actions/checkout": "checkout",
    "actions/setup-python": "setup_lang",
    "actions/setup-node": "setup_lang",
    "actions/setup-go": "setup_lang",
    "codecov/codecov-action": "upload",
    "actions/upload-artifact": "upload",
    "docker/setup-buildx-action": "buildx",
    "docker/login-action": "login",
    "helm/kind-action": "kind_create",
    "golangci/golangci-lint-action": "golangci",
}
# (substring of the command, kind); first match wins.
RUN_KINDS = (
    ("pip install -r", "deps"),
    ("npm ci", "deps"),
    ("go mod download", "deps"),
    ("pip install", "deps_small"),
    ("ruff check", "ruff"),
    ("mypy", "mypy"),
    ("pytest tests/unit", "unit_tests"),
    ("pytest tests/integration", "integration_tests"),
    ("manage.py migrate", "db_migrate"),
    ("npm run build", "bundle"),
    ("jest", "jest"),
    ("compose -f docker-compose.ci.yml build", "compose_build"),
    ("compose -f docker-compose.ci.yml up", "compose_up"),
    ("compose -f docker-compose.ci.yml down", "compose_down"),
    ("wait-for-it", "wait_for"),
    ("playwright install", "playwright_install"),
    ("playwright test", "e2e_tests"),
    ("go test ./e2e", "e2e_tests"),
    ("go test", "unit_tests"),
    ("docker build", "docker_build"),
    ("docker push", "docker_push"),
    ("cat > kind.yaml", "write_config"),
    ("kind load", "kind_load"),
    ("helm repo add", "helm_repo"),
    ("bitnami/kafka", "helm_kafka"),
    ("bitnami/postgresql", "helm_postgres"),
    ("helm upgrade --install", "helm_app"),
    ("kubectl wait", "kubectl_wait"),
    ("make soak-test", "soak_tests"),
    ("kind delete", "kind_delete"),
)
# The category (DESIGN.md vocabulary) each kind would land in; used for the summary only.
CATEGORY = {
    "setup_job": "setup",
    "checkout": "setup",
    "setup_lang": "setup",
    "buildx": "setup",
    "login": "setup",
    "deps": "dependencies",
    "deps_small": "dependencies",
    "playwright_install": "dependencies",
    "init_containers": "environment",
    "db_migrate": "environment",
    "compose_up": "environment",
    "wait_for": "environment",
    "write_config": "environment",
    "kind_create": "environment",
    "kind_load": "environment",
    "helm_repo": "environment",
    "helm_postgres": "environment",
    "helm_kafka": "environment",
    "helm_app": "environment",
    "kubectl_wait": "environment",
    "bundle": "build",
    "compose_build": "build",
    "docker_build": "build",
    "unit_tests": "test",
    "integration_tests": "test",
    "jest": "test",
    "e2e_tests": "test",
    "soak_tests": "test",
    "ruff": "lint",
    "mypy": "lint",
    "golangci": "lint",
    "compose_down": "teardown",
    "kind_delete": "teardown",
    "stop_containers": "teardown",
    "post": "teardown",
    "complete_job": "teardown",
    "upload": "publish",
    "docker_push": "publish",
}

# -- workflows as the runner sees them --------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One main step of a job, as the runner lists it."""

    name: str
    kind: str
    cond: str | None  # None (= success()), "always()", "failure()", "cancelled()"
    post: str | None  # post step condition when the action registers one
    action: str | None
    timeout: int | None  # seconds, from --timeout/-t in the command


@dataclass(frozen=True)
class JobSpec:
    key: str
    name: str
    needs: tuple[str, ...]
    labels: tuple[str, ...]
    containers: bool
    entries: tuple[Entry, ...]

    @property
    def self_hosted(self) -> bool:
        return "self-hosted" in self.labels


@dataclass(frozen=True)
class Workflow:
    repo: Repo
    file: str
    name: str
    events: frozenset[str]
    cancel_pr: bool
    jobs: tuple[JobSpec, ...]
    order: tuple[str, ...]

    @property
    def path(self) -> str:
        return f".github/workflows/{self.file}"


_MATRIX = re.compile(r"\$\{\{\s*matrix\.([A-Za-z0-9_-]+)\s*\}\}")
_TIMEOUT = re.compile(r"(?:--timeout[= ]|\s-t\s)(\d+)([smh]?)")


def _condition(raw: object) -> str | None:
    if raw is None:
        return None
    text = str(raw).strip()
    if text.startswith("${{") and text.endswith("}}"):
        text = text[3:-2].strip()
    if text == "success()":
        return None
    if text not in ("always()", "failure()", "cancelled()"):
        raise ValueError(f"unsupported if: {raw!r}")
    return text


def _entry(raw: dict[str, Any], combo: dict[str, str]) -> Entry:
    uses = raw.get("uses")
    script = raw.get("run")
    if "name" in raw:
        name = str(raw["name"])
    elif uses:
        name = f"Run {uses}"
    else:
        name = "Run " + next(line for line in str(script).splitlines() if line.strip()).strip()
    name = _MATRIX.sub(lambda m: combo[m.group(1)], name)
    action = str(uses).split("@", 1)[0] if uses else None
    timeout = None
    if action is not None:
        kind = USES_KINDS[action]
    else:
        command = str(script)
        kind = next((k for text, k in RUN_KINDS if text in command), "")
        if not kind:
            raise ValueError(f"no duration kind for step {name!r}")
        found = _TIMEOUT.search(command)
        if found:
            timeout = int(found.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[found.group(2)]
    post = POST_ACTIONS.get(action) if action else None
    return Entry(name, kind, _condition(raw.get("if")), post, action, timeout)


def _combos(strategy: object) -> list[dict[str, str]]:
    matrix = strategy.get("matrix") if isinstance(strategy, dict) else None
    if not isinstance(matrix, dict):
        return [{}]
    keys = [k for k in matrix if k not in ("include", "exclude")]
    values = [[str(v) for v in matrix[k]] for k in keys]
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*values)]


def load_workflows(repo: Repo, repo_dir: Path) -> list[Workflow]:
    out = []
    for file in sorted((repo_dir / ".github" / "workflows").glob("*.yml")):
        doc = yaml.safe_load(file.read_text())
        triggers = doc.get("on", doc.get(True))  # YAML 1.1 reads a bare `on` as True
        events = frozenset(triggers if isinstance(triggers, dict | list) else [triggers])
        concurrency = doc.get("concurrency") or {}
        cancel = concurrency.get("cancel-in-progress", False)
        cancel_pr = cancel is True or "pull_request" in str(cancel)
        jobs: list[JobSpec] = []
        for key, body in doc["jobs"].items():
            needs = body.get("needs", [])
            runs_on = body["runs-on"]
            labels = tuple([runs_on] if isinstance(runs_on, str) else runs_on)
            containers = "services" in body or "container" in body
            for combo in _combos(body.get("strategy")):
                name = f"{key} ({', '.join(combo.values())})" if combo else key
                entries = [Entry("Set up job", "setup_job", "always()", None, None, None)]
                if containers:
                    entries.append(
                        Entry("Initialize containers", "init_containers", None, None, None, None)
                    )
                entries += [_entry(step, combo) for step in body["steps"]]
                jobs.append(
                    JobSpec(
                        key,
                        name,
                        tuple([needs] if isinstance(needs, str) else needs),
                        labels,
                        containers,
                        tuple(entries),
                    )
                )
        order: list[str] = []
        while len(order) < len(doc["jobs"]):
            for spec in jobs:
                if spec.key not in order and all(n in order for n in spec.needs):
                    order.append(spec.key)
        out.append(
            Workflow(repo, file.name, doc["name"], events, cancel_pr, tuple(jobs), tuple(order))
        )
    return out
