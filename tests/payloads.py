"""Factories for GitHub Actions REST payloads with the full field sets of the real examples.

The shapes follow GitHub's OpenAPI examples (``workflow-run-paginated``, ``job-paginated``):
runs and jobs carry every field those examples carry, job times are ``Z`` at whole seconds,
step times carry milliseconds in a ``-08:00`` offset, and step numbers jump before the post
steps. :class:`RepoHistory` builds a coherent, seeded history of one repository (runs, jobs of
every attempt, earlier-attempt run objects and the workflow file at each commit) for
:class:`fakegithub.FakeGitHub`. Nothing here touches the network or the file system.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

JSON = dict[str, Any]
API_URL = "https://api.github.com"
WEB_URL = "https://github.com"
STEP_TZ = timezone(timedelta(hours=-8))
When = datetime | str | None

__all__ = [
    "API_URL",
    "JSON",
    "STEP_TZ",
    "WEB_URL",
    "RepoHistory",
    "attempt_snapshot",
    "git_blob_sha",
    "iso_ms",
    "iso_z",
    "job",
    "parse_ts",
    "pull_request",
    "repository",
    "step",
    "user",
    "workflow",
    "workflow_run",
]

# ---------------------------------------------------------------------------- formatting


def iso_z(dt: datetime) -> str:
    """Job/run style: UTC, whole seconds, ``Z`` (``2020-01-20T17:42:40Z``)."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_ms(dt: datetime, tz: timezone = STEP_TZ) -> str:
    """Step style: milliseconds in a fixed offset (``2020-01-20T09:42:40.000-08:00``)."""
    local = dt.astimezone(tz)
    off = local.strftime("%z")
    return f"{local:%Y-%m-%dT%H:%M:%S}.{local.microsecond // 1000:03d}{off[:3]}:{off[3:]}"


def parse_ts(value: str) -> datetime:
    """Parse any timestamp these payloads contain into an aware datetime."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _z(value: When) -> str | None:
    return iso_z(value) if isinstance(value, datetime) else value


def _ms(value: When, tz: timezone) -> str | None:
    return iso_ms(value, tz) if isinstance(value, datetime) else value


def _node(kind: str, ident: int) -> str:
    return base64.b64encode(f"0{len(kind)}:{kind}{ident}".encode()).decode()


def _sha(seed: str) -> str:
    return hashlib.sha1(seed.encode()).hexdigest()


def git_blob_sha(content: bytes) -> str:
    """The git blob id GitHub reports as a file's ``sha``."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


# ---------------------------------------------------------------------------- objects


def user(
    login: str = "octocat", user_id: int = 1, *, api_url: str = API_URL, web_url: str = WEB_URL
) -> JSON:
    """A ``simple-user`` (``actor``, ``triggering_actor``, ``owner``)."""
    u = f"{api_url}/users/{login}"
    return {
        "login": login,
        "id": user_id,
        "node_id": _node("User", user_id),
        "avatar_url": f"https://avatars.githubusercontent.com/u/{user_id}?v=4",
        "gravatar_id": "",
        "url": u,
        "html_url": f"{web_url}/{login}",
        "followers_url": f"{u}/followers",
        "following_url": f"{u}/following{{/other_user}}",
        "gists_url": f"{u}/gists{{/gist_id}}",
        "starred_url": f"{u}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{u}/subscriptions",
        "organizations_url": f"{u}/orgs",
        "repos_url": f"{u}/repos",
        "events_url": f"{u}/events{{/privacy}}",
        "received_events_url": f"{u}/received_events",
        "type": "Bot" if login.endswith("[bot]") else "User",
        "site_admin": False,
    }


_REPO_URLS = (
    ("archive_url", "/{archive_format}{/ref}"),
    ("assignees_url", "/assignees{/user}"),
    ("blobs_url", "/git/blobs{/sha}"),
    ("branches_url", "/branches{/branch}"),
    ("collaborators_url", "/collaborators{/collaborator}"),
    ("comments_url", "/comments{/number}"),
    ("commits_url", "/commits{/sha}"),
    ("compare_url", "/compare/{base}...{head}"),
    ("contents_url", "/contents/{+path}"),
    ("contributors_url", "/contributors"),
    ("deployments_url", "/deployments"),
    ("downloads_url", "/downloads"),
    ("events_url", "/events"),
    ("forks_url", "/forks"),
    ("git_commits_url", "/git/commits{/sha}"),
    ("git_refs_url", "/git/refs{/sha}"),
    ("git_tags_url", "/git/tags{/sha}"),
    ("issue_comment_url", "/issues/comments{/number}"),
    ("issue_events_url", "/issues/events{/number}"),
    ("issues_url", "/issues{/number}"),
    ("keys_url", "/keys{/key_id}"),
    ("labels_url", "/labels{/name}"),
    ("languages_url", "/languages"),
    ("merges_url", "/merges"),
    ("milestones_url", "/milestones{/number}"),
    ("notifications_url", "/notifications{?since,all,participating}"),
    ("pulls_url", "/pulls{/number}"),
    ("releases_url", "/releases{/id}"),
    ("stargazers_url", "/stargazers"),
    ("statuses_url", "/statuses/{sha}"),
    ("subscribers_url", "/subscribers"),
    ("subscription_url", "/subscription"),
    ("tags_url", "/tags"),
    ("teams_url", "/teams"),
    ("trees_url", "/git/trees{/sha}"),
    ("hooks_url", "/hooks"),
)


def repository(
    owner: str = "octo-org",
    repo: str = "octo-repo",
    *,
    repo_id: int = 217723378,
    private: bool = False,
    owner_id: int = 9919,
    api_url: str = API_URL,
    web_url: str = WEB_URL,
    full: bool = False,
    default_branch: str = "main",
) -> JSON:
    """``minimal-repository`` as embedded in a run; ``full=True`` adds what ``GET /repos`` has."""
    base = f"{api_url}/repos/{owner}/{repo}"
    out: JSON = {
        "id": repo_id,
        "node_id": _node("Repository", repo_id),
        "name": repo,
        "full_name": f"{owner}/{repo}",
        "private": private,
        "owner": user(owner, owner_id, api_url=api_url, web_url=web_url),
        "html_url": f"{web_url}/{owner}/{repo}",
        "description": None,
        "fork": False,
        "url": base,
    }
    out.update({key: base + suffix for key, suffix in _REPO_URLS})
    out["git_url"] = f"git:{web_url.split('://', 1)[-1]}/{owner}/{repo}.git"
    out["ssh_url"] = f"git@{web_url.split('://', 1)[-1]}:{owner}/{repo}.git"
    if full:
        out.update(
            {
                "clone_url": f"{web_url}/{owner}/{repo}.git",
                "default_branch": default_branch,
                "visibility": "private" if private else "public",
                "archived": False,
                "disabled": False,
                "has_issues": True,
                "size": 4242,
                "language": "Python",
                "created_at": "2019-10-26T18:41:11Z",
                "updated_at": "2024-05-01T08:12:45Z",
                "pushed_at": "2024-05-20T16:03:19Z",
                "stargazers_count": 42,
                "watchers_count": 42,
                "forks_count": 3,
                "open_issues_count": 5,
                "topics": [],
                "permissions": {
                    "admin": False,
                    "maintain": False,
                    "push": False,
                    "triage": False,
                    "pull": True,
                },
            }
        )
    return out


def pull_request(
    number: int,
    *,
    owner: str,
    repo: str,
    repo_id: int,
    head_branch: str,
    head_sha: str,
    base_branch: str = "main",
    base_sha: str | None = None,
    api_url: str = API_URL,
) -> JSON:
    """The ``pull-request-minimal`` entries of a run's ``pull_requests``."""
    ref = {"id": repo_id, "url": f"{api_url}/repos/{owner}/{repo}", "name": repo}
    return {
        "url": f"{api_url}/repos/{owner}/{repo}/pulls/{number}",
        "id": 1_800_000_000 + number,
        "number": number,
        "head": {"ref": head_branch, "sha": head_sha, "repo": dict(ref)},
        "base": {"ref": base_branch, "sha": base_sha or _sha(f"base{number}"), "repo": dict(ref)},
    }


def workflow_run(
    run_id: int = 30433642,
    *,
    owner: str = "octo-org",
    repo: str = "octo-repo",
    repo_id: int = 217723378,
    private: bool = False,
    name: str = "CI",
    workflow_id: int = 159038,
    path: str = ".github/workflows/ci.yml",
    run_number: int = 562,
    run_attempt: int = 1,
    event: str = "push",
    head_branch: str | None = "main",
    head_sha: str | None = None,
    display_title: str = "Update README.md",
    status: str | None = "completed",
    conclusion: str | None = "success",
    created_at: When = "2020-01-22T19:33:08Z",
    updated_at: When = None,
    run_started_at: When = None,
    actor: str = "octocat",
    actor_id: int = 1,
    triggering_actor: str | None = None,
    check_suite_id: int | None = None,
    pull_requests: list[JSON] | None = None,
    commit_message: str | None = None,
    commit_timestamp: When = None,
    api_url: str = API_URL,
    web_url: str = WEB_URL,
) -> JSON:
    """A ``workflow-run`` with every field of the spec example (latest attempt unless told)."""
    sha = head_sha or _sha(f"run{run_id}")
    suite = check_suite_id or 10_000_000_000 + run_id % 10_000_000_000
    created = _z(created_at)
    base = f"{api_url}/repos/{owner}/{repo}"
    run_url = f"{base}/actions/runs/{run_id}"
    repo_obj = repository(
        owner, repo, repo_id=repo_id, private=private, api_url=api_url, web_url=web_url
    )
    trig = triggering_actor or actor
    return {
        "id": run_id,
        "name": name,
        "node_id": _node("Workflow Run", run_id),
        "check_suite_id": suite,
        "check_suite_node_id": _node("CheckSuite", suite),
        "head_branch": head_branch,
        "head_sha": sha,
        "path": path,
        "run_number": run_number,
        "event": event,
        "display_title": display_title,
        "status": status,
        "conclusion": conclusion,
        "workflow_id": workflow_id,
        "url": run_url,
        "html_url": f"{web_url}/{owner}/{repo}/actions/runs/{run_id}",
        "pull_requests": list(pull_requests or []),
        "created_at": created,
        "updated_at": _z(updated_at) or created,
        "actor": user(actor, actor_id, api_url=api_url, web_url=web_url),
        "run_attempt": run_attempt,
        "referenced_workflows": [],
        "run_started_at": _z(run_started_at) or created,
        "triggering_actor": user(
            trig, actor_id if trig == actor else actor_id + 1, api_url=api_url, web_url=web_url
        ),
        "jobs_url": f"{run_url}/jobs",
        "logs_url": f"{run_url}/logs",
        "check_suite_url": f"{base}/check-suites/{suite}",
        "artifacts_url": f"{run_url}/artifacts",
        "cancel_url": f"{run_url}/cancel",
        "rerun_url": f"{run_url}/rerun",
        "previous_attempt_url": (
            f"{run_url}/attempts/{run_attempt - 1}" if run_attempt > 1 else None
        ),
        "workflow_url": f"{base}/actions/workflows/{workflow_id}",
        "head_commit": {
            "id": sha,
            "tree_id": _sha(f"tree{sha}"),
            "message": commit_message or display_title,
            "timestamp": _z(commit_timestamp) or created,
            "author": {"name": "Octo Cat", "email": "octocat@github.com"},
            "committer": {"name": "GitHub", "email": "noreply@github.com"},
        },
        "repository": repo_obj,
        "head_repository": copy.deepcopy(repo_obj),
    }


def step(
    name: str,
    number: int,
    *,
    status: str = "completed",
    conclusion: str | None = "success",
    started_at: When = None,
    completed_at: When = None,
    tz: timezone = STEP_TZ,
) -> JSON:
    """A job step; datetimes render with milliseconds in ``tz`` (``-08:00`` like the example)."""
    return {
        "name": name,
        "status": status,
        "conclusion": conclusion,
        "number": number,
        "started_at": _ms(started_at, tz),
        "completed_at": _ms(completed_at, tz),
    }


def job(
    job_id: int = 399444496,
    *,
    run_id: int = 29679449,
    owner: str = "octo-org",
    repo: str = "octo-repo",
    name: str = "build",
    head_sha: str | None = None,
    head_branch: str | None = "main",
    workflow_name: str | None = "CI",
    status: str = "completed",
    conclusion: str | None = "success",
    created_at: When = "2020-01-20T17:42:34Z",
    started_at: When = "2020-01-20T17:42:40Z",
    completed_at: When = "2020-01-20T17:44:39Z",
    steps: list[JSON] | None = None,
    labels: list[str] | None = None,
    runner_id: int | None = 1,
    runner_name: str | None = "my runner",
    runner_group_id: int | None = 2,
    runner_group_name: str | None = "my runner group",
    run_attempt: int = 1,
    api_url: str = API_URL,
    web_url: str = WEB_URL,
) -> JSON:
    """A ``job`` with every field of the spec example plus ``created_at`` and ``run_attempt``."""
    base = f"{api_url}/repos/{owner}/{repo}"
    return {
        "id": job_id,
        "run_id": run_id,
        "run_url": f"{base}/actions/runs/{run_id}",
        "run_attempt": run_attempt,
        "node_id": _node("Workflow Job", job_id),
        "head_sha": head_sha or _sha(f"run{run_id}"),
        "url": f"{base}/actions/jobs/{job_id}",
        "html_url": f"{web_url}/{owner}/{repo}/actions/runs/{run_id}/job/{job_id}",
        "status": status,
        "conclusion": conclusion,
        "created_at": _z(created_at),
        "started_at": _z(started_at),
        "completed_at": _z(completed_at),
        "name": name,
        "steps": list(steps or []),
        "check_run_url": f"{base}/check-runs/{job_id}",
        "labels": list(labels if labels is not None else ["ubuntu-latest"]),
        "runner_id": runner_id,
        "runner_name": runner_name,
        "runner_group_id": runner_group_id,
        "runner_group_name": runner_group_name,
        "workflow_name": workflow_name,
        "head_branch": head_branch,
    }


def workflow(
    workflow_id: int,
    *,
    owner: str,
    repo: str,
    name: str,
    path: str,
    api_url: str = API_URL,
    web_url: str = WEB_URL,
) -> JSON:
    """An entry of ``GET /repos/{o}/{r}/actions/workflows``."""
    return {
        "id": workflow_id,
        "node_id": _node("Workflow", workflow_id),
        "name": name,
        "path": path,
        "state": "active",
        "created_at": "2023-01-10T09:00:00.000Z",
        "updated_at": "2024-04-02T11:30:00.000Z",
        "url": f"{api_url}/repos/{owner}/{repo}/actions/workflows/{workflow_id}",
        "html_url": f"{web_url}/{owner}/{repo}/blob/main/{path}",
        "badge_url": f"{web_url}/{owner}/{repo}/workflows/{name}/badge.svg",
    }


def _roll_up(conclusions: list[str | None]) -> str | None:
    if any(c == "failure" for c in conclusions):
        return "failure"
    if any(c in ("cancelled", "timed_out") for c in conclusions):
        return "cancelled"
    if conclusions and all(c == "skipped" for c in conclusions):
        return "skipped"
    return "success"


def attempt_snapshot(run: JSON, attempt: int, jobs: list[JSON]) -> JSON:
    """The run object as it looked at ``attempt``, derived from that attempt's jobs."""
    snap = copy.deepcopy(run)
    snap["run_attempt"] = attempt
    base = run["url"]
    snap["previous_attempt_url"] = f"{base}/attempts/{attempt - 1}" if attempt > 1 else None
    if jobs:
        snap["run_started_at"] = min(j["created_at"] for j in jobs)
        if all(j["status"] == "completed" for j in jobs):
            snap["status"] = "completed"
            snap["conclusion"] = _roll_up([j["conclusion"] for j in jobs])
            snap["updated_at"] = max(j["completed_at"] or j["created_at"] for j in jobs)
        else:
            snap["status"], snap["conclusion"] = "in_progress", None
    return snap


# ---------------------------------------------------------------------------- workflow model


@dataclass(frozen=True, slots=True)
class StepSpec:
    """One step of a workflow job. ``seconds``: typical duration; ``post``: action has a post."""

    name: str | None = None
    uses: str | None = None
    run: str | None = None
    with_: tuple[tuple[str, str], ...] = ()
    post: bool = False
    seconds: float = 5.0
    fails: bool = False  # where a failing run of this job fails

    @property
    def display(self) -> str:
        if self.name:
            return self.name
        return f"Run {self.uses}" if self.uses else f"Run {(self.run or '').splitlines()[0]}"


@dataclass(frozen=True, slots=True)
class JobSpec:
    key: str
    steps: tuple[StepSpec, ...]
    runs_on: tuple[str, ...] = ("ubuntu-latest",)
    matrix: tuple[str, ...] = ()  # values of matrix.python
    needs: tuple[str, ...] = ()
    services: bool = False
    main_push_only: bool = False

    def instances(self) -> list[str]:
        return [f"{self.key} ({v})" for v in self.matrix] if self.matrix else [self.key]

    def runner_steps(self) -> tuple[list[str], list[StepSpec]]:
        """Main step names as the runner shows them, and the user steps (same order)."""
        main = ["Set up job"] + (["Initialize containers"] if self.services else [])
        return main + [s.display for s in self.steps], list(self.steps)


_CHECKOUT = StepSpec(uses="actions/checkout@v4", post=True, seconds=2.0)


def _setup_python(version: str) -> StepSpec:
    return StepSpec(
        "Set up Python",
        "actions/setup-python@v5",
        with_=(("python-version", version),),
        post=True,
        seconds=4.0,
    )


def ci_workflow(owner: str, repo: str, version: int) -> tuple[JobSpec, ...]:
    """The workflow the history runs; version 2 adds a pip cache to the test job."""
    cache = (
        (
            StepSpec(
                "Cache pip",
                "actions/cache@v4",
                with_=(("path", "~/.cache/pip"), ("key", "pip-${{ hashFiles('pyproject.toml') }}")),
                post=True,
                seconds=3.0,
            ),
        )
        if version >= 2
        else ()
    )
    return (
        JobSpec(
            "lint",
            (
                _CHECKOUT,
                _setup_python("3.12"),
                StepSpec(
                    "Install dependencies", run="pip install -r requirements-dev.txt", seconds=18.0
                ),
                StepSpec("Lint", run="ruff check .", seconds=4.0),
            ),
        ),
        JobSpec(
            "test",
            (
                _CHECKOUT,
                _setup_python("${{ matrix.python }}"),
                *cache,
                StepSpec(
                    "Install dependencies",
                    run="pip install -e .[test]",
                    seconds=35.0 if version < 2 else 14.0,
                ),
                StepSpec(run="pytest -q --junitxml=report.xml", seconds=150.0, fails=True),
                StepSpec("Upload coverage", "codecov/codecov-action@v4", seconds=4.0),
            ),
            matrix=("3.11", "3.12", "3.13"),
        ),
        JobSpec(
            "integration",
            (
                _CHECKOUT,
                StepSpec("Create kind cluster", "helm/kind-action@v1", post=True, seconds=75.0),
                StepSpec(
                    "Deploy app",
                    run="helm install app ./chart --wait --timeout 5m",
                    seconds=95.0,
                    fails=True,
                ),
                StepSpec("Migrate database", run="python manage.py migrate", seconds=12.0),
                StepSpec("Integration tests", run="pytest tests/integration", seconds=170.0),
            ),
            runs_on=("self-hosted", "linux", "x64"),
            needs=("lint",),
            services=True,
        ),
        JobSpec(
            "deploy",
            (
                _CHECKOUT,
                StepSpec(
                    "Build image",
                    run=f"docker build -t ghcr.io/{owner}/{repo}:${{{{ github.sha }}}} .",
                    seconds=65.0,
                ),
                StepSpec(
                    "Push image",
                    run=f"docker push ghcr.io/{owner}/{repo}:${{{{ github.sha }}}}",
                    seconds=20.0,
                ),
            ),
            needs=("test", "integration"),
            main_push_only=True,
        ),
    )


def render_workflow(name: str, jobs: tuple[JobSpec, ...]) -> str:
    """Workflow YAML whose jobs and steps are exactly ``jobs``."""
    out = [
        f"name: {name}",
        "",
        "on:",
        "  push:",
        "    branches: [main]",
        "  pull_request:",
        "  schedule:",
        '    - cron: "17 3 * * *"',
        "  workflow_dispatch:",
        "",
        "permissions:",
        "  contents: read",
        "",
        "jobs:",
    ]
    for j in jobs:
        out.append(f"  {j.key}:")
        if j.main_push_only:
            out.append("    if: github.event_name == 'push' && github.ref == 'refs/heads/main'")
        if j.needs:
            out.append(f"    needs: [{', '.join(j.needs)}]")
        on = j.runs_on[0] if len(j.runs_on) == 1 else f"[{', '.join(j.runs_on)}]"
        out.append(f"    runs-on: {on}")
        if j.matrix:
            vals = ", ".join(f'"{v}"' for v in j.matrix)
            out += ["    strategy:", "      matrix:", f"        python: [{vals}]"]
        if j.services:
            out += [
                "    services:",
                "      postgres:",
                "        image: postgres:16",
                "        env:",
                "          POSTGRES_PASSWORD: postgres",
                '        ports: ["5432:5432"]',
            ]
        out.append("    steps:")
        for s in j.steps:
            first = True
            for key, val in (("name", s.name), ("uses", s.uses), ("run", s.run)):
                if val is not None:
                    out.append(f"      {'- ' if first else '  '}{key}: {_yaml_scalar(val)}")
                    first = False
            if s.with_:
                out.append("        with:")
                out += [f"          {k}: {_yaml_scalar(v)}" for k, v in s.with_]
        out.append("")
    return "\n".join(out)


def _yaml_scalar(value: str) -> str:
    """Plain when YAML reads it back as the same string, else double-quoted."""
    special = (
        value[:1] in "-?:,[]{}#&*!|>'\"%@`"
        or ": " in value
        or " #" in value
        or value.endswith(":")
        or value.strip() != value
    )
    scalar_like = value.lower() in ("true", "false", "yes", "no", "on", "off", "null", "~", "")
    numeric = value.replace(".", "", 1).isdigit()
    if special or scalar_like or numeric:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return value


# ---------------------------------------------------------------------------- history


@dataclass(slots=True)
class _StepSim:
    name: str
    number: int
    started: datetime | None
    completed: datetime | None
    conclusion: str | None


@dataclass(slots=True)
class _JobSim:
    job_id: int
    name: str
    attempt: int
    created: datetime
    started: datetime
    completed: datetime
    conclusion: str
    steps: list[_StepSim]
    labels: list[str]
    runner: tuple[int, str, int, str] | None  # None: never assigned
    unassigned_empty: bool = False  # runner fields 0/"" instead of null


@dataclass(slots=True)
class _RunCtx:
    run_id: int
    run_number: int
    seed: int
    event: str
    branch: str
    sha: str
    title: str
    actor: str
    created: datetime
    version: int
    pr: int | None
    extra: JSON = field(default_factory=dict)


_TITLES = (
    "Fix flaky retry test",
    "Bump ruff to 0.6.9",
    "Add pagination to collector",
    "Refactor store upserts",
    "Speed up integration fixtures",
    "Update README.md",
    "Handle 304 responses",
    "Pin kind node image",
    "Drop Python 3.10",
)
_BRANCHES = (
    "feature/retry-backoff",
    "fix/flaky-test",
    "chore/bump-deps",
    "feature/etag-cache",
    "dependabot/pip/ruff-0.6.9",
)
_ACTORS = (("octocat", 583231), ("monalisa", 2154), ("hubot", 480938))


def _sec(dt: datetime) -> datetime:
    return dt.replace(microsecond=0)


def _ceil(dt: datetime) -> datetime:
    return _sec(dt) + timedelta(seconds=1) if dt.microsecond else dt


class RepoHistory:
    """A seeded, coherent Actions history for one repository.

    Outcomes are varied (durations, queue times, events, branches) yet every history with
    ``runs >= 8`` contains: a failed run re-run to success (attempt 1 and 2 jobs), a failed run
    whose matrix siblings were cancelled by fail-fast, a cancelled run with jobs cancelled while
    queued (runner fields null, or 0/"" for jobs that never reached the queue, ``steps: []``),
    skipped ``deploy`` jobs, skipped steps with null times and ``in_progress`` newest runs.
    Attributes are what :meth:`fakegithub.FakeGitHub.add_repo` takes.
    """

    def __init__(
        self,
        owner: str = "octo-org",
        repo: str = "octo-repo",
        *,
        runs: int = 24,
        start: datetime = datetime(2024, 5, 6, 8, 0, tzinfo=UTC),
        days: float = 14.0,
        seed: int = 7,
        private: bool = False,
        in_progress: int = 1,
        workflow_name: str = "CI",
        workflow_file: str = "ci.yml",
        path_ref_suffix: bool = True,
        started_equals_created: float = 0.0,
        api_url: str = API_URL,
    ) -> None:
        self.owner, self.repo, self.private, self.api_url = owner, repo, private, api_url
        self.full_name = f"{owner}/{repo}"
        self.workflow_name = workflow_name
        self.workflow_path = f".github/workflows/{workflow_file}"
        self.path_ref_suffix = path_ref_suffix
        self.started_equals_created = started_equals_created
        self.rng = random.Random(seed)
        self.repo_id = 200_000_000 + self.rng.randrange(500_000_000)
        self.workflow_id = 90_000_000 + self.rng.randrange(9_000_000)
        self.runs: list[JSON] = []  # latest attempt of each run, oldest first
        self.jobs_by_run: dict[int, list[JSON]] = {}  # jobs of every attempt
        self.attempts: dict[int, dict[int, JSON]] = {}  # run id -> earlier attempt -> run
        self.files: dict[tuple[str, str], str] = {}
        self.version_switch = start + timedelta(days=days / 2)
        self._ctx: dict[int, _RunCtx] = {}
        self._pending: dict[int, tuple[JSON, list[JSON]]] = {}
        self._run_id = 9_000_000_000 + self.rng.randrange(10**8)
        self._job_id = 25_000_000_000 + self.rng.randrange(10**9)
        self._run_number = 100 + self.rng.randrange(900)
        self._pr = 40 + self.rng.randrange(200)
        offsets = sorted(self.rng.uniform(0, days * 86400) for _ in range(runs))
        forced = {1: "rerun", 2: "cancel", 3: "fail_test", 4: "fail_integration"}
        events = {0: "push", 2: "push", 5: "pull_request"}
        for i, off in enumerate(offsets):
            live = i >= runs - in_progress
            outcome = "" if live or runs < 8 else forced.get(i, "")
            self._add(
                start + timedelta(seconds=off),
                outcome or ("-" if i < 8 else ""),
                live,
                events.get(i) if runs >= 8 else None,
            )

    # ------------------------------------------------------------------ public helpers

    def extend(
        self,
        count: int,
        *,
        hours: float = 6.0,
    ) -> tuple[list[JSON], dict[int, list[JSON]], dict[tuple[str, str], str]]:
        """More finished runs after the newest one: (runs, jobs_by_run, files) to add."""
        last = max(parse_ts(r["created_at"]) for r in self.runs) if self.runs else datetime.now(UTC)
        before = {r["id"] for r in self.runs}
        for off in sorted(self.rng.uniform(60, hours * 3600) for _ in range(count)):
            self._add(last + timedelta(seconds=off), "", False)
        new = [r for r in self.runs if r["id"] not in before]
        files = {k: v for k, v in self.files.items() if any(k[1] == r["head_sha"] for r in new)}
        return new, {r["id"]: self.jobs_by_run[r["id"]] for r in new}, files

    def in_progress_ids(self) -> list[int]:
        return [r["id"] for r in self.runs if r["status"] != "completed"]

    def finish(self, run_id: int) -> tuple[JSON, list[JSON]]:
        """Complete an in-progress run: (new run object, its jobs) for ``update_run``."""
        run, jobs = self._pending.pop(run_id)
        self._replace(run, jobs)
        return copy.deepcopy(run), copy.deepcopy(jobs)

    def rerun(self, run_id: int, *, after_s: float = 900.0) -> tuple[JSON, list[JSON]]:
        """Re-run all jobs of a finished run (succeeding): (new run object, new attempt's jobs)."""
        latest = next(r for r in self.runs if r["id"] == run_id)
        ctx = self._ctx[run_id]
        attempt = latest["run_attempt"] + 1
        self.attempts.setdefault(run_id, {})[attempt - 1] = copy.deepcopy(latest)
        t0 = _sec(parse_ts(latest["updated_at"]) + timedelta(seconds=after_s))
        sims = self._attempt(ctx, attempt, t0, "")
        jobs = [self._job_json(ctx, s) for s in sims]
        run = self._run_json(ctx, attempt, t0, sims)
        self._replace(run, [*self.jobs_by_run[run_id], *jobs])
        return copy.deepcopy(run), copy.deepcopy(jobs)

    def workflow_yaml(self, version: int = 2) -> str:
        return render_workflow(self.workflow_name, ci_workflow(self.owner, self.repo, version))

    # ------------------------------------------------------------------ generation

    def _replace(self, run: JSON, jobs: list[JSON]) -> None:
        self.runs = [run if r["id"] == run["id"] else r for r in self.runs]
        self.jobs_by_run[run["id"]] = jobs

    def _add(self, created: datetime, outcome: str, live: bool, event: str | None = None) -> None:
        """Add one run; outcome "" draws one at random, "-" forces a plain success."""
        rng = self.rng
        created = _sec(created)
        self._run_id += rng.randrange(1, 40_000)
        self._run_number += 1
        roll = rng.random()
        event = event or (
            "push"
            if outcome == "rerun" or roll < 0.55
            else "pull_request"
            if roll < 0.9
            else "schedule"
            if roll < 0.97
            else "workflow_dispatch"
        )
        pr = None
        branch = "main"
        actor = rng.choice(_ACTORS)[0]
        if event == "pull_request":
            self._pr += rng.randrange(0, 3)
            pr, branch = self._pr, rng.choice(_BRANCHES)
            if branch.startswith("dependabot/"):
                actor = "dependabot[bot]"
        title = rng.choice(_TITLES) if event in ("push", "pull_request") else self.workflow_name
        ctx = _RunCtx(
            self._run_id,
            self._run_number,
            rng.randrange(2**31),
            event,
            branch,
            f"{rng.getrandbits(160):040x}",
            title,
            actor,
            created,
            1 if created < self.version_switch else 2,
            pr,
        )
        if not outcome and not live:
            r = rng.random()
            outcome = (
                "fail_test"
                if r < 0.07
                else "fail_integration"
                if r < 0.11
                else "cancel"
                if r < 0.14
                else "rerun"
                if r < 0.17
                else ""
            )
        self._ctx[ctx.run_id] = ctx
        self.files[(self.workflow_path, ctx.sha)] = render_workflow(
            self.workflow_name, ci_workflow(self.owner, self.repo, ctx.version)
        )
        t0 = created + timedelta(seconds=rng.choice((0, 0, 1)))
        first = "fail_test" if outcome == "rerun" else outcome
        sims = self._attempt(ctx, 1, t0, first)
        jobs = [self._job_json(ctx, s) for s in sims]
        run = self._run_json(ctx, 1, t0, sims)
        self.runs.append(run)
        self.jobs_by_run[ctx.run_id] = jobs
        if outcome == "rerun":
            self.rerun(ctx.run_id, after_s=rng.uniform(300, 3600))
        if live:
            full_run = next(r for r in self.runs if r["id"] == ctx.run_id)
            full_jobs = self.jobs_by_run[ctx.run_id]
            self._pending[ctx.run_id] = (copy.deepcopy(full_run), copy.deepcopy(full_jobs))
            now = t0 + timedelta(seconds=rng.uniform(60, 110))
            view = [v for s in sims if (v := self._view(s, now)) is not None]
            cut = [self._job_json(ctx, v, now=now) for v in view]
            live_run = self._run_json(ctx, 1, t0, view, now=now)
            self._replace(live_run, cut)

    def _attempt(self, ctx: _RunCtx, attempt: int, t0: datetime, outcome: str) -> list[_JobSim]:
        rng = random.Random(ctx.seed * 31 + attempt)
        specs = ci_workflow(self.owner, self.repo, ctx.version)
        main_push = ctx.event == "push" and ctx.branch == "main"
        cancel_at: datetime | None = None
        done: dict[str, list[_JobSim]] = {}
        out: list[_JobSim] = []
        for spec in specs:
            deps = [s for d in spec.needs for s in done.get(d, [])]
            ready = max((s.completed for s in deps), default=t0)
            sims: list[_JobSim] = []
            for inst in spec.instances():
                self._job_id += rng.randrange(1, 30)
                created = _sec(ready) + timedelta(seconds=rng.randint(1, 3))
                blocked = cancel_at is None and any(s.conclusion != "success" for s in deps)
                if (spec.main_push_only and not main_push) or blocked:
                    sims.append(
                        _JobSim(
                            self._job_id,
                            inst,
                            attempt,
                            created,
                            created,
                            created,
                            "skipped",
                            [],
                            [],
                            None,
                        )
                    )
                    continue
                fail = (outcome == "fail_test" and inst == "test (3.12)") or (
                    outcome == "fail_integration" and inst == "integration"
                )
                sims.append(
                    self._job(
                        spec,
                        inst,
                        attempt,
                        created,
                        ctx.seed,
                        cancel_at,
                        fail=fail,
                        job_id=self._job_id,
                        long_queue=outcome == "cancel" and spec.key == "integration",
                    )
                )
            failed = [s for s in sims if s.conclusion == "failure"]
            if failed and len(sims) > 1:  # fail-fast cancels the matrix siblings still running
                at = failed[0].completed + timedelta(seconds=1)
                sims = [
                    s
                    if s is failed[0] or s.completed <= at
                    else self._job(spec, s.name, attempt, s.created, ctx.seed, at, job_id=s.job_id)
                    for s in sims
                ]
            if outcome == "cancel" and cancel_at is None:  # cancelled once the first job is done
                cancel_at = max(s.completed for s in sims) + timedelta(seconds=rng.uniform(8, 20))
            done[spec.key] = sims
            out += sims
        return out

    def _job(
        self,
        spec: JobSpec,
        name: str,
        attempt: int,
        created: datetime,
        seed: int,
        interrupt: datetime | None,
        *,
        job_id: int,
        fail: bool = False,
        long_queue: bool = False,
    ) -> _JobSim:
        """One job's timeline; the same (seed, job_id) replays the same durations."""
        jid = job_id
        rng = random.Random(f"{seed}:{jid}")
        hosted = spec.runs_on == ("ubuntu-latest",)
        queue = rng.lognormvariate(math.log(5 if hosted else 3), 0.6)
        if long_queue:
            queue = rng.uniform(150, 300)
        elif rng.random() < 0.06:
            queue = rng.uniform(60, 420)
        started = _sec(created + timedelta(seconds=queue))
        labels = list(spec.runs_on)
        if interrupt is not None and created >= interrupt:  # never reached the queue
            at = _sec(interrupt) + timedelta(seconds=1)
            return _JobSim(jid, name, attempt, at, at, at, "cancelled", [], labels, None, True)
        if interrupt is not None and started >= interrupt:  # cancelled while queued
            return _JobSim(
                jid,
                name,
                attempt,
                created,
                created,
                _sec(interrupt) + timedelta(seconds=1),
                "cancelled",
                [],
                labels,
                None,
            )
        runner = (
            (
                1_000_000_000 + rng.randrange(10**6),
                f"GitHub Actions {rng.randrange(1, 99)}",
                0,
                "GitHub Actions",
            )
            if hosted
            else (rng.randint(3, 9), f"ci-runner-{rng.randint(1, 6):02d}", 1, "Default")
        )
        main_names, user_steps = spec.runner_steps()
        k = len(main_names)
        setup = [StepSpec(n, seconds=2.5 if n == "Set up job" else 14.0) for n in main_names]
        plan = setup[: k - len(user_steps)] + user_steps
        t = started + timedelta(milliseconds=rng.randint(20, 900))
        steps: list[_StepSim] = []
        posts: list[StepSpec] = []
        conclusion, stopped = "success", False
        for i, (nm, st) in enumerate(zip(main_names, plan, strict=True)):
            if stopped:
                steps.append(_StepSim(nm, i + 1, None, None, "skipped"))
                continue
            end = t + timedelta(seconds=max(0.0, st.seconds * rng.lognormvariate(0, 0.3)))
            c = "success"
            if interrupt is not None and end > interrupt:
                end, c, stopped = max(t, interrupt), "cancelled", True
            elif fail and st.fails:
                c, stopped = "failure", True
            conclusion = c if c != "success" else conclusion
            steps.append(_StepSim(nm, i + 1, t, end, c))
            if st.post:
                posts.append(st)
            t = end + timedelta(milliseconds=rng.randint(0, 40))
        post_names = [f"Post {p.display}" for p in reversed(posts)]
        post_names += ["Stop containers"] if spec.services else []
        for n, nm in enumerate([*post_names, "Complete job"], start=2 * k):
            end = t + timedelta(seconds=rng.uniform(0.0, 1.5 if nm != "Stop containers" else 4))
            steps.append(_StepSim(nm, n, t, end, "success"))
            t = end
        if rng.random() < self.started_equals_created:
            started = created
        return _JobSim(
            jid, name, attempt, created, started, _ceil(t), conclusion, steps, labels, runner
        )

    @staticmethod
    def _view(s: _JobSim, now: datetime) -> _JobSim | None:
        """What the API shows of a job at ``now`` (None: not created yet)."""
        if s.created > now:
            return None
        if s.completed <= now:
            return s
        if s.started > now or s.runner is None:
            return _JobSim(
                s.job_id,
                s.name,
                s.attempt,
                s.created,
                s.created,
                s.created,
                "queued",
                [],
                s.labels,
                None,
            )
        steps = []
        for st in s.steps:
            if st.started is not None and st.completed is not None and st.completed <= now:
                steps.append(st)
            elif st.started is not None and st.started <= now:
                steps.append(_StepSim(st.name, st.number, st.started, None, "in_progress"))
            else:
                steps.append(_StepSim(st.name, st.number, None, None, "queued"))
        return _JobSim(
            s.job_id,
            s.name,
            s.attempt,
            s.created,
            s.started,
            s.created,
            "in_progress",
            steps,
            s.labels,
            s.runner,
        )

    def _job_json(self, ctx: _RunCtx, s: _JobSim, now: datetime | None = None) -> JSON:
        live = s.conclusion in ("queued", "in_progress")
        steps = [
            step(
                st.name,
                st.number,
                status=(
                    st.conclusion if st.conclusion in ("queued", "in_progress") else "completed"
                ),
                conclusion=None if st.conclusion in ("queued", "in_progress") else st.conclusion,
                started_at=st.started,
                completed_at=st.completed,
            )
            for st in s.steps
        ]
        if s.runner is not None:
            rid, rname, gid, gname = s.runner
            runner: tuple[int | None, str | None, int | None, str | None] = (rid, rname, gid, gname)
        else:
            runner = (0, "", 0, "") if s.unassigned_empty else (None, None, None, None)
        return job(
            s.job_id,
            run_id=ctx.run_id,
            owner=self.owner,
            repo=self.repo,
            name=s.name,
            head_sha=ctx.sha,
            head_branch=ctx.branch,
            workflow_name=self.workflow_name,
            status=s.conclusion if live else "completed",
            conclusion=None if live else s.conclusion,
            created_at=s.created,
            started_at=s.started,
            completed_at=None if live else s.completed,
            steps=steps,
            labels=s.labels,
            runner_id=runner[0],
            runner_name=runner[1],
            runner_group_id=runner[2],
            runner_group_name=runner[3],
            run_attempt=s.attempt,
            api_url=self.api_url,
        )

    def _run_json(
        self,
        ctx: _RunCtx,
        attempt: int,
        t0: datetime,
        sims: list[_JobSim],
        now: datetime | None = None,
    ) -> JSON:
        live = now is not None and any(s.conclusion in ("queued", "in_progress") for s in sims)
        updated = (
            _sec(now)
            if live and now
            else max((s.completed for s in sims), default=t0) + timedelta(seconds=1)
        )
        prs = (
            []
            if ctx.pr is None
            else [
                pull_request(
                    ctx.pr,
                    owner=self.owner,
                    repo=self.repo,
                    repo_id=self.repo_id,
                    head_branch=ctx.branch,
                    head_sha=ctx.sha,
                    api_url=self.api_url,
                )
            ]
        )
        path = self.workflow_path + (f"@{ctx.branch}" if self.path_ref_suffix else "")
        if ctx.event == "pull_request" and self.path_ref_suffix:
            path = f"{self.workflow_path}@refs/pull/{ctx.pr}/merge"
        actor_id = next((i for a, i in _ACTORS if a == ctx.actor), 49699333)
        return workflow_run(
            ctx.run_id,
            owner=self.owner,
            repo=self.repo,
            repo_id=self.repo_id,
            private=self.private,
            name=self.workflow_name,
            workflow_id=self.workflow_id,
            path=path,
            run_number=ctx.run_number,
            run_attempt=attempt,
            event=ctx.event,
            head_branch=ctx.branch,
            head_sha=ctx.sha,
            display_title=ctx.title,
            status="in_progress" if live else "completed",
            conclusion=None if live else _roll_up([s.conclusion for s in sims]),
            created_at=ctx.created,
            updated_at=updated,
            run_started_at=t0,
            actor=ctx.actor,
            actor_id=actor_id,
            check_suite_id=20_000_000_000 + ctx.run_id % 10**9 * 3 + attempt,
            pull_requests=prs,
            commit_timestamp=ctx.created - timedelta(minutes=3),
            api_url=self.api_url,
        )
