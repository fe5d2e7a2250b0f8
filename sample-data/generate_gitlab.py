"""Generate the bundled GitLab CI sample project that ``ci-profile demo`` loads.

Deterministic (``random.Random(SEED)`` per pipeline, fixed order): the same code always writes
the same bytes, whatever the working directory or ``PYTHONHASHSEED``. Standard library only; a
dev-time tool that neither the package nor its tests import.

    python sample-data/generate_gitlab.py           # rewrite gitlab/acme/warehouse-api/
    python sample-data/generate_gitlab.py --check   # verify the files as they are

The pipeline files written next to ``ci-history/`` are the source of the job list below
(``JOBS``): keep them in step. See sample-data/README.md, "GitLab sample".
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import math
import random
import re
import sys
import tarfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PROJECT = "acme/warehouse-api"
OUT = HERE / "gitlab" / PROJECT
SEED = 20261102
PROJECT_ID = 61_209_417
WEB = "https://gitlab.com"
START = datetime(2026, 10, 1, tzinfo=UTC)
NOW = datetime(2026, 11, 14, 23, 59, tzinfo=UTC)
GROWTH = 0.35  # e2e tests grow by this much over the period

# -- the project's tree -------------------------------------------------------------------------

GITLAB_CI = """\
# warehouse-api: lint, unit (matrix), image, integration against services, a compose e2e
# stack, a review app per merge request (child pipeline), staging deploys from main.
workflow:
  name: $PIPELINE_NAME
  rules:
    - if: $CI_PIPELINE_SOURCE == "schedule"
      variables:
        PIPELINE_NAME: Nightly build
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"
    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH

include:
  - local: /ci/templates.gitlab-ci.yml

stages: [lint, build, test, integration, review, deploy]

variables:
  PIP_CACHE_DIR: $CI_PROJECT_DIR/.cache/pip
  DOCKER_TLS_CERTDIR: /certs

lint:
  extends: .python
  stage: lint
  script:
    - ruff check .
    - ruff format --check .
    - mypy src

audit:
  extends: .python
  stage: lint
  allow_failure: true
  script:
    - pip-audit -r requirements.txt

build-image:
  stage: build
  image: docker:27
  services: [docker:27-dind]
  script:
    - docker build --pull -t $CI_REGISTRY_IMAGE:$CI_COMMIT_SHORT_SHA .
    - docker push $CI_REGISTRY_IMAGE:$CI_COMMIT_SHORT_SHA

unit:
  extends: .python
  stage: test
  image: python:$PYTHON
  parallel:
    matrix:
      - PYTHON: ["3.11", "3.12"]
  script:
    - pytest -q tests/unit --junitxml=report.xml
  artifacts:
    reports:
      junit: report.xml

integration:
  extends: .python
  stage: integration
  tags: [k8s, large]
  services:
    - name: postgres:16
      alias: db
    - redis:7
  variables:
    DATABASE_URL: postgresql://postgres:postgres@db:5432/warehouse
  retry:
    max: 1
    when: script_failure
  script:
    - !reference [.db-migrate, script]
    - pytest -q tests/integration --junitxml=report.xml
  artifacts:
    reports:
      junit: report.xml

e2e-compose:
  stage: integration
  image: docker:27
  services: [docker:27-dind]
  tags: [k8s, large]
  retry: 1
  interruptible: true
  script:
    - echo -e "\\e[0Ksection_start:`date +%s`:compose_up[collapsed=true]\\r\\e[0KStarting the stack"
    - docker compose -f compose.ci.yml up -d --wait
    - echo -e "\\e[0Ksection_end:`date +%s`:compose_up\\r\\e[0K"
    - docker compose -f compose.ci.yml run --rm tests pytest -q tests/e2e --junitxml=e2e.xml
  after_script:
    - docker compose -f compose.ci.yml logs --no-color > compose.log
    - docker compose -f compose.ci.yml down -v
  artifacts:
    when: always
    paths: [compose.log]
    reports:
      junit: e2e.xml

review:
  stage: review
  trigger:
    include: ci/review.gitlab-ci.yml
    strategy: depend
  rules:
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"

deploy-staging:
  stage: deploy
  image: alpine/helm:3.14.4
  environment: staging
  script:
    - helm upgrade --install warehouse ./chart -n staging --set image.tag=$CI_COMMIT_SHORT_SHA --wait
  rules:
    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH && $CI_PIPELINE_SOURCE == "push"

deploy-production:
  stage: deploy
  image: alpine/helm:3.14.4
  environment: production
  script:
    - helm upgrade --install warehouse ./chart -n production --set image.tag=$CI_COMMIT_SHORT_SHA --wait
  rules:
    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH && $CI_PIPELINE_SOURCE == "push"
      when: manual
"""

TEMPLATES = """\
# Shared job templates (included by .gitlab-ci.yml).
.python:
  image: python:3.12
  interruptible: true
  cache:
    key:
      files: [requirements-dev.txt]
    paths: [.cache/pip]
  before_script:
    - echo -e "\\e[0Ksection_start:`date +%s`:install_deps[collapsed=true]\\r\\e[0KInstalling dependencies"
    - pip install -r requirements-dev.txt
    - echo -e "\\e[0Ksection_end:`date +%s`:install_deps\\r\\e[0K"

.db-migrate:
  script:
    - echo -e "\\e[0Ksection_start:`date +%s`:db_migrate[collapsed=true]\\r\\e[0KMigrating the database"
    - alembic upgrade head
    - python -m warehouse.seed --fixtures ci
    - echo -e "\\e[0Ksection_end:`date +%s`:db_migrate\\r\\e[0K"
"""

REVIEW = """\
# Child pipeline: a review app per merge request, tested, then removed.
stages: [deploy, test, cleanup]

review-deploy:
  stage: deploy
  image: alpine/k8s:1.30.2
  environment:
    name: review/$CI_MERGE_REQUEST_IID
    on_stop: stop-review
  script:
    - helm upgrade --install warehouse-mr-$CI_MERGE_REQUEST_IID ./chart -n review --set image.tag=$CI_COMMIT_SHORT_SHA --wait --timeout 10m
    - kubectl -n review rollout status deploy/warehouse-mr-$CI_MERGE_REQUEST_IID

review-e2e:
  stage: test
  image: mcr.microsoft.com/playwright/python:v1.48.0-jammy
  script:
    - pip install -r requirements-e2e.txt
    - pytest -q tests/e2e --base-url https://warehouse-mr-$CI_MERGE_REQUEST_IID.review.acme.dev

stop-review:
  stage: cleanup
  image: alpine/k8s:1.30.2
  when: always
  environment:
    name: review/$CI_MERGE_REQUEST_IID
    action: stop
  script:
    - helm uninstall warehouse-mr-$CI_MERGE_REQUEST_IID -n review
"""

FILES = {
    ".gitlab-ci.yml": GITLAB_CI,
    "ci/templates.gitlab-ci.yml": TEMPLATES,
    "ci/review.gitlab-ci.yml": REVIEW,
}

# -- what the jobs do -------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    name: str
    stage: str
    kind: str
    image: str
    services: tuple[str, ...] = ()
    large: bool = False  # self-hosted k8s-large runner pool
    python: bool = False  # .python template: install_deps section + pip cache
    artifacts: bool = False
    after: bool = False
    fail_p: float = 0.0
    retry: bool = False
    allow_failure: bool = False


PARENT = (
    Spec("lint", "lint", "lint", "python:3.12", python=True, fail_p=0.03),
    Spec("audit", "lint", "audit", "python:3.12", python=True, fail_p=0.12, allow_failure=True),
    Spec("build-image", "build", "image", "docker:27", ("docker:27-dind",), fail_p=0.01),
    Spec("unit: [3.11]", "test", "unit", "python:3.11", python=True, artifacts=True, fail_p=0.04),
    Spec("unit: [3.12]", "test", "unit", "python:3.12", python=True, artifacts=True, fail_p=0.03),
    Spec(
        "integration",
        "integration",
        "integration",
        "python:3.12",
        ("postgres:16", "redis:7"),
        large=True,
        python=True,
        artifacts=True,
        fail_p=0.06,
        retry=True,
    ),
    Spec(
        "e2e-compose",
        "integration",
        "compose",
        "docker:27",
        ("docker:27-dind",),
        large=True,
        artifacts=True,
        after=True,
        fail_p=0.08,
        retry=True,
    ),
)
DEPLOY = (Spec("deploy-staging", "deploy", "helm", "alpine/helm:3.14.4", fail_p=0.02),)
CHILD = (
    Spec("review-deploy", "deploy", "review", "alpine/k8s:1.30.2", fail_p=0.02),
    Spec(
        "review-e2e",
        "test",
        "review_e2e",
        "mcr.microsoft.com/playwright/python:v1.48.0-jammy",
        fail_p=0.04,
    ),
    Spec("stop-review", "cleanup", "stop", "alpine/k8s:1.30.2"),
)
STAGES = ("lint", "build", "test", "integration", "review", "deploy")
PEOPLE = ("amara.okafor", "jonas.berg", "li.wei", "priya.natarajan", "tomas.novak", "sofia.reyes")
BRANCHES = (
    "feat/stock-reservations", "fix/negative-stock", "feat/bulk-import", "chore/bump-sqlalchemy",
    "feat/warehouse-zones", "fix/redis-timeouts", "feat/audit-log", "refactor/repository-layer",
    "fix/migration-order", "feat/barcode-lookup", "feat/low-stock-alerts", "fix/pagination-cursor",
)  # fmt: skip
SHARED = tuple(
    f"{n}-blue.saas-linux-small-amd64.runners-manager.gitlab.com/default" for n in (1, 2, 3, 4, 5)
)
LARGE = ("k8s-large-runner-01", "k8s-large-runner-02", "k8s-large-runner-03")


def ln(rng: random.Random, median: float, sigma: float = 0.35) -> float:
    return median * math.exp(rng.gauss(0, sigma))


def iso(moment: float) -> str:
    dt = datetime.fromtimestamp(moment, tz=UTC)
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{dt.microsecond // 1000:03d}Z"


def sha_of(seed: str) -> str:
    return hashlib.sha1(seed.encode()).hexdigest()


# -- traces -----------------------------------------------------------------------------------


class Trace:
    """A job log as gitlab-runner writes it; SaaS runners (18.x) prefix every line with a time."""

    def __init__(self, stamps: bool, version: str, runner: str, at: float) -> None:
        self.stamps = stamps
        self.out: list[bytes] = []
        self.clock = at
        self.say(f"\x1b[0KRunning with gitlab-runner {version}", at)
        self.say(f"\x1b[0;m\x1b[0K  on {runner}, system ID: s_{sha_of(runner)[:12]}", at)

    def say(self, text: str, at: float | None = None) -> None:
        if at is not None:
            self.clock = max(self.clock, at)
        prefix = ""
        if self.stamps:
            dt = datetime.fromtimestamp(self.clock, tz=UTC)
            prefix = f"{dt:%Y-%m-%dT%H:%M:%S}.{dt.microsecond:06d}Z 00O "
        self.out.append(f"{prefix}{text}\n".encode())

    def start(self, name: str, ts: int, header: str | None, options: str = "") -> None:
        head = f"\x1b[0K\x1b[36;1m{header}\x1b[0;m" if header else ""
        self.say(f"\x1b[0Ksection_start:{ts}:{name}{options}\r\x1b[0K{head}", ts)

    def end(self, name: str, ts: int) -> None:
        self.say(f"\x1b[0Ksection_end:{ts}:{name}\r\x1b[0K", ts)

    def data(self) -> bytes:
        return b"".join(self.out)


HEADERS = {
    "resolve_secrets": "Resolving secrets",
    "prepare_script": "Preparing environment",
    "get_sources": "Getting source from Git repository",
    "restore_cache": "Restoring cache",
    "download_artifacts": "Downloading artifacts",
    "step_script": 'Executing "step_script" stage of the job script',
    "after_script": "Running after_script",
    "archive_cache": "Saving cache for successful job",
    "upload_artifacts_on_success": "Uploading artifacts for successful job",
    "upload_artifacts_on_failure": "Uploading artifacts for failed job",
    "cleanup_file_variables": "Cleaning up project directory and file based variables",
}
SCRIPTS = {
    "lint": ["ruff check .", "ruff format --check .", "mypy src"],
    "audit": ["pip-audit -r requirements.txt"],
    "image": [
        "docker build --pull -t $CI_REGISTRY_IMAGE:$CI_COMMIT_SHORT_SHA .",
        "docker push $CI_REGISTRY_IMAGE:$CI_COMMIT_SHORT_SHA",
    ],
    "unit": ["pytest -q tests/unit --junitxml=report.xml"],
    "integration": ["pytest -q tests/integration --junitxml=report.xml"],
    "compose": [
        "docker compose -f compose.ci.yml run --rm tests pytest -q tests/e2e --junitxml=e2e.xml"
    ],
    "helm": [
        "helm upgrade --install warehouse ./chart -n staging --set image.tag=$CI_COMMIT_SHORT_SHA --wait"
    ],
    "review": [
        "helm upgrade --install warehouse-mr-$CI_MERGE_REQUEST_IID ./chart -n review --set image.tag=$CI_COMMIT_SHORT_SHA --wait --timeout 10m",
        "kubectl -n review rollout status deploy/warehouse-mr-$CI_MERGE_REQUEST_IID",
    ],
    "review_e2e": [
        "pip install -r requirements-e2e.txt",
        "pytest -q tests/e2e --base-url https://warehouse-mr-$CI_MERGE_REQUEST_IID.review.acme.dev",
    ],
    "stop": ["helm uninstall warehouse-mr-$CI_MERGE_REQUEST_IID -n review"],
}
OUTPUT = {
    "lint": [
        "All checks passed!",
        "42 files already formatted",
        "Success: no issues found in 42 source files",
    ],
    "audit": ["No known vulnerabilities found"],
    "image": [
        "#12 exporting to image",
        "#12 naming to registry.gitlab.com/acme/warehouse-api done",
        "latest: digest: sha256:4f1c… size: 2417",
    ],
    "unit": [
        "........................................................................ [ 61%]",
        "..............................................                           [100%]",
        "118 passed in {t}s",
    ],
    "integration": [
        "..........................................                               [100%]",
        "42 passed in {t}s",
    ],
    "compose": [
        "tests  | ................................                                [100%]",
        "tests  | 32 passed in {t}s",
    ],
    "helm": ['Release "warehouse" has been upgraded. Happy Helming!', "STATUS: deployed"],
    "review": [
        'Release "warehouse-mr" does not exist. Installing it now.',
        "STATUS: deployed",
        'deployment "warehouse-mr" successfully rolled out',
    ],
    "review_e2e": [
        "Successfully installed playwright-1.48.0 pytest-playwright-0.5.2",
        "12 passed in {t}s",
    ],
    "stop": ['release "warehouse-mr" uninstalled'],
}


@dataclass
class Plan:
    """A job's sections, in seconds, before they are laid out on the clock."""

    sections: list[tuple[str, float]] = field(default_factory=list)
    nested: dict[str, list[tuple[str, float]]] = field(default_factory=dict)


def plan_job(spec: Spec, rng: random.Random, progress: float, fails: bool, cache_hit: bool) -> Plan:
    plan = Plan()
    executor = ln(rng, 4 if cache_hit else 11)
    if spec.services == ("docker:27-dind",):
        executor += ln(rng, 14)
    elif spec.services:
        executor += ln(rng, 26, 0.4)  # pull + start postgres and redis, wait for their ports
    plan.sections += [("resolve_secrets", rng.uniform(0, 0.8)), ("prepare_executor", executor)]
    plan.sections += [("prepare_script", ln(rng, 1.2)), ("get_sources", ln(rng, 4.5))]
    if spec.python:
        plan.sections.append(("restore_cache", ln(rng, 6 if cache_hit else 1.5)))
    if STAGES.index(spec.stage if spec.stage in STAGES else "review") >= 3 or spec.kind in (
        "review_e2e",
    ):
        plan.sections.append(("download_artifacts", ln(rng, 2.2)))
    medians = {
        "lint": 28,
        "audit": 14,
        "image": 150,
        "unit": 110,
        "integration": 140,
        "compose": 95 * (1 + GROWTH * progress),
        "helm": 85,
        "review": 130,
        "review_e2e": 90 * (1 + GROWTH * progress),
        "stop": 9,
    }
    script = ln(rng, medians[spec.kind], 0.4)
    inner: list[tuple[str, float]] = []
    if spec.python:
        inner.append(("install_deps", ln(rng, 14 if cache_hit else 75, 0.3)))
    if spec.kind == "integration":
        inner.append(("db_migrate", ln(rng, 11, 0.4)))
    if spec.kind == "compose":
        inner.append(("compose_up", ln(rng, 85, 0.45)))
    if spec.kind == "review" and rng.random() < 0.04:
        script = 600.0  # helm --wait --timeout 10m runs out
        fails = True
    if fails:
        script *= rng.uniform(0.3, 0.9)
    plan.sections.append(("step_script", script))
    plan.nested["step_script"] = inner
    if spec.after:
        plan.sections.append(("after_script", ln(rng, 16)))
    if spec.python and not fails:
        plan.sections.append(("archive_cache", ln(rng, 2.5 if cache_hit else 7)))
    if spec.artifacts:
        plan.sections.append(
            (
                "upload_artifacts_on_failure" if fails else "upload_artifacts_on_success",
                ln(rng, 2.5),
            )
        )
    plan.sections.append(("cleanup_file_variables", rng.uniform(0.1, 1.2)))
    return plan


def run_job(
    spec: Spec,
    rng: random.Random,
    ready: float,
    progress: float,
    *,
    cancel_at: float | None,
    snapshot: float,
) -> dict[str, Any]:
    """Lay one job attempt out in time; returns its fields, trace and outcome."""
    busy = (
        13 <= datetime.fromtimestamp(ready, tz=UTC).hour < 17
        and datetime.fromtimestamp(ready, tz=UTC).weekday() < 5
    )
    queue = ln(rng, (40 if busy else 12) if spec.large else 4, 0.9 if spec.large else 0.7)
    begin = ready + queue
    fails = rng.random() < spec.fail_p
    cache_hit = rng.random() < 0.78
    if cancel_at is not None and begin >= cancel_at:
        return {"status": "canceled", "end": cancel_at, "queue": None}
    if begin >= snapshot:
        return {"status": "pending", "end": ready, "queue": None}
    runner = rng.choice(LARGE) if spec.large else rng.choice(SHARED)
    stamps = not spec.large  # SaaS runners run 18.x (FF_TIMESTAMPS on); the k8s pool 17.11
    trace = Trace(
        stamps, "17.11.3 (3f2a2b1c)" if spec.large else "18.8.0 (7a3e1f9d)", runner, begin
    )
    plan = plan_job(spec, rng, progress, fails, cache_hit)
    stop = min(x for x in (cancel_at, snapshot, math.inf) if x is not None)
    t = int(begin) + 1
    finished_all = True
    for name, seconds in plan.sections:
        a = t
        b = a + max(0, round(seconds))
        if a >= stop:
            finished_all = False
            break
        trace.start(
            name,
            a,
            HEADERS.get(name)
            or ('Preparing the "docker" executor' if name == "prepare_executor" else None),
            "[collapsed=true]" if name in ("get_sources", "prepare_executor") else "",
        )
        body(trace, spec, name, a, b, rng)
        if name == "step_script":
            cursor = a + 1
            for inner, inner_s in plan.nested.get(name, []):
                c, d = cursor, cursor + max(1, round(inner_s))
                if c >= stop:
                    break
                trace.say(
                    f'\x1b[32;1m$ echo -e "\\e[0Ksection_start:`date +%s`:{inner}[collapsed=true]\\r\\e[0K…"\x1b[0;m',
                    c,
                )
                trace.start(inner, c, None, "[collapsed=true]")
                for number, line in enumerate(INNER[inner]):
                    trace.say(line, c + (number * (d - c)) // len(INNER[inner]))
                if d >= stop:
                    break
                trace.end(inner, d)
                cursor = d + 1
            b = max(b, cursor + 5)
            for command in SCRIPTS[spec.kind]:
                trace.say(f"\x1b[32;1m$ {command}\x1b[0;m", min(b, cursor))
            for line in OUTPUT[spec.kind]:
                trace.say(line.format(t=f"{max(1, b - cursor - 3):.2f}"), min(b - 1, stop))
        if b >= stop:
            finished_all = False
            break
        if name == "step_script" and fails and not spec.allow_failure:
            trace.say("\x1b[31;1mERROR: 2 failed, 116 passed\x1b[0;m", b)
        elif name == "step_script" and fails:
            trace.say("Found 1 known vulnerability in 1 package", b)
        trace.end(name, b)
        t = b
    status = "failed" if fails else "success"
    if finished_all:
        trace.say(
            "\x1b[31;1mERROR: Job failed: exit code 1\x1b[0;m"
            if fails
            else "\x1b[32;1mJob succeeded\x1b[0;m",
            t,
        )
        return {
            "status": status,
            "begin": begin,
            "end": t + rng.uniform(0.1, 0.8),
            "queue": queue,
            "runner": runner,
            "trace": trace.data(),
        }
    if cancel_at is not None and stop == cancel_at:
        trace.say("\x1b[31;1mERROR: Job failed: canceled\x1b[0;m", cancel_at)
        return {
            "status": "canceled",
            "begin": begin,
            "end": cancel_at,
            "queue": queue,
            "runner": runner,
            "trace": trace.data(),
        }
    return {
        "status": "running",
        "begin": begin,
        "end": begin,  # the last thing that happened to it
        "queue": queue,
        "runner": runner,
        "trace": None,
    }


INNER = {
    "install_deps": [
        "\x1b[32;1m$ pip install -r requirements-dev.txt\x1b[0;m",
        "Collecting fastapi==0.115.2 (from -r requirements-dev.txt (line 3))",
        "Successfully installed alembic-1.13.3 fastapi-0.115.2 sqlalchemy-2.0.36 (+41 more)",
    ],
    "db_migrate": [
        "\x1b[32;1m$ alembic upgrade head\x1b[0;m",
        "INFO  [alembic.runtime.migration] Running upgrade 7c1d -> 9e4b, add reservations",
        "\x1b[32;1m$ python -m warehouse.seed --fixtures ci\x1b[0;m",
        "seeded 1204 rows into 9 tables",
    ],
    "compose_up": [
        "\x1b[32;1m$ docker compose -f compose.ci.yml up -d --wait\x1b[0;m",
        " ✔ Container warehouse-api-db-1     Healthy",
        " ✔ Container warehouse-api-redis-1  Healthy",
        " ✔ Container warehouse-api-api-1    Healthy",
    ],
}


def body(trace: Trace, spec: Spec, name: str, a: int, b: int, rng: random.Random) -> None:
    if name == "prepare_executor":
        trace.say(f"\x1b[0KUsing Docker executor with image {spec.image} ...", a)
        for service in spec.services:
            trace.say(f"\x1b[0;m\x1b[0KStarting service {service} ...", a)
            trace.say(f"\x1b[0;m\x1b[0KPulling docker image {service} ...", a + 1)
        if spec.services:
            trace.say(
                "\x1b[0;m\x1b[0KWaiting for services to be up and running (timeout 30 seconds)...",
                max(a, b - 3),
            )
        trace.say(
            f"\x1b[0;m\x1b[0KUsing docker image sha256:{sha_of(spec.image)[:64]} for {spec.image} ...",
            b,
        )
    elif name == "prepare_script":
        trace.say(
            f"\x1b[0;mRunning on runner-{sha_of(str(a))[:8]}-project-{PROJECT_ID}-concurrent-0 via runner-manager...",
            a,
        )
    elif name == "get_sources":
        trace.say("\x1b[0;m\x1b[32;1mFetching changes with git depth set to 20...\x1b[0;m", a)
        trace.say(f"Initialized empty Git repository in /builds/{PROJECT}/.git/", a)
        trace.say(f"\x1b[32;1mChecking out {sha_of(str(b))[:8]} as detached HEAD...\x1b[0;m", b)
    elif name == "restore_cache":
        trace.say("\x1b[0;m\x1b[32;1mChecking cache for 3f9c2a-protected...\x1b[0;m", a)
        trace.say(
            "\x1b[32;1mSuccessfully extracted cache\x1b[0;m"
            if b - a > 2
            else "\x1b[0;33mWARNING: file does not exist\x1b[0;m",
            b,
        )
    elif name == "download_artifacts":
        trace.say("\x1b[0;m\x1b[32;1mDownloading artifacts for build-image...\x1b[0;m", a)
    elif name == "after_script":
        trace.say(
            "\x1b[0;m\x1b[32;1m$ docker compose -f compose.ci.yml logs --no-color > compose.log\x1b[0;m",
            a,
        )
        trace.say("\x1b[32;1m$ docker compose -f compose.ci.yml down -v\x1b[0;m", a + 1)
        trace.say(" ✔ Network warehouse-api_default  Removed", b)
    elif name.startswith(("archive_cache", "upload_artifacts")):
        trace.say(
            "\x1b[0;m\x1b[32;1mUploading artifacts...\x1b[0;m"
            if "artifacts" in name
            else "\x1b[0;m\x1b[32;1mCreating cache 3f9c2a-protected...\x1b[0;m",
            a,
        )
        what = (
            'artifacts as "junit" to coordinator... 201 Created'
            if "artifacts" in name
            else "cache.zip to https://storage.googleapis.com/gitlab-com-runners-cache/project/61209417/3f9c2a"
        )
        trace.say(f"Uploading {what}\x1b[0;m  id\x1b[0;m={rng.randint(10**9, 10**10)}", b)
    elif name == "resolve_secrets":
        trace.say("\x1b[0;m", a)


# -- pipelines --------------------------------------------------------------------------------


@dataclass
class Trigger:
    at: float
    source: str
    ref: str
    sha: str
    user: str
    mr: int | None = None
    name: str | None = None
    title: str = "Nightly build"


def triggers(rng: random.Random) -> list[Trigger]:
    out: list[Trigger] = []
    day = START
    while day < NOW:
        out.append(
            Trigger(
                day.timestamp() + 2 * 3600 + 15 * 60 + rng.uniform(0, 40),
                "schedule",
                "main",
                "",
                "scheduler",
                name="Nightly build",
            )
        )
        day += timedelta(days=1)
    t = START.timestamp() + 9 * 3600
    mr = 140
    end = NOW.timestamp() - 2 * 3600
    while t < end:
        mr += 1
        branch = BRANCHES[mr % len(BRANCHES)]
        author = rng.choice(PEOPLE)
        pushes = rng.randint(1, 5)
        at = t
        for _ in range(pushes):
            out.append(
                Trigger(
                    at,
                    "merge_request_event",
                    f"refs/merge-requests/{mr}/head",
                    "",
                    author,
                    mr=mr,
                    title=f"Work on {branch}",
                )
            )
            at += rng.uniform(0.3, 6) * 3600 if rng.random() < 0.7 else rng.uniform(100, 600)
        merged = at + rng.uniform(0.5, 20) * 3600
        if merged < end:
            title = f"Merge branch '{branch}' into 'main'"
            out.append(Trigger(merged, "push", "main", "", rng.choice(PEOPLE), title=title))
        t += rng.uniform(9, 24) * 3600
        while datetime.fromtimestamp(t, tz=UTC).weekday() >= 5:
            t += 86400
    # Saturday evening: a hotfix merge request and its merge are still running at the snapshot.
    late = NOW.timestamp()
    out.append(
        Trigger(
            late - 560.318,
            "merge_request_event",
            "refs/merge-requests/999/head",
            "",
            PEOPLE[0],
            mr=999,
            title="Work on fix/reservation-deadlock",
        )
    )
    out.append(
        Trigger(
            late - 250.874,
            "push",
            "main",
            "",
            PEOPLE[1],
            title="Merge branch 'fix/reservation-deadlock' into 'main'",
        )
    )
    out.sort(key=lambda x: x.at)
    for index, trig in enumerate(out):
        trig.sha = sha_of(f"{PROJECT}:{trig.ref}:{index}")
    return out


@dataclass
class Built:
    details: dict[str, dict[str, Any]] = field(default_factory=dict)
    jobs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    bridges: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    traces: dict[str, bytes] = field(default_factory=dict)


def user_obj(name: str, uid: int) -> dict[str, Any]:
    return {
        "id": uid,
        "username": name,
        "name": name.replace(".", " ").title(),
        "state": "active",
        "avatar_url": f"https://secure.gravatar.com/avatar/{sha_of(name)[:32]}?s=80&d=identicon",
        "web_url": f"{WEB}/{name}",
    }


def detail_obj(
    pid: int,
    iid: int,
    trig: Trigger,
    status: str,
    created: float,
    started: float | None,
    finished: float | None,
    updated: float,
    source: str | None = None,
) -> dict[str, Any]:
    label = {"success": "passed", "failed": "failed", "canceled": "canceled", "running": "running"}[
        status
    ]
    src = source or trig.source
    return {
        "id": pid,
        "iid": iid,
        "project_id": PROJECT_ID,
        "name": trig.name if src != "parent_pipeline" else None,
        "sha": trig.sha,
        "ref": trig.ref,
        "status": status,
        "source": src,
        "created_at": iso(created),
        "updated_at": iso(updated),
        "web_url": f"{WEB}/{PROJECT}/-/pipelines/{pid}",
        "before_sha": "0" * 40 if src != "push" else sha_of(f"before:{trig.sha}"),
        "tag": False,
        "yaml_errors": None,
        "user": user_obj(
            trig.user, 9000 + PEOPLE.index(trig.user) if trig.user in PEOPLE else 9999
        ),
        "started_at": iso(started) if started is not None else None,
        "finished_at": iso(finished) if finished is not None else None,
        "committed_at": None,
        "duration": int(finished - started)
        if started is not None and finished is not None
        else None,
        "queued_duration": (int(started - created) or None) if started is not None else None,
        "coverage": None,
        "detailed_status": {
            "icon": f"status_{status}",
            "text": label,
            "label": label,
            "group": status,
            "tooltip": label,
            "has_details": True,
            "details_path": f"/{PROJECT}/-/pipelines/{pid}",
            "illustration": None,
            "favicon": f"/assets/ci_favicons/favicon_status_{status}-0e9f2a6b1c.png",
        },
    }


def job_obj(
    jid: int, spec: Spec, pipe: dict[str, Any], trig: Trigger, created: float, r: dict[str, Any]
) -> dict[str, Any]:
    status = r["status"]
    begin = r.get("begin")
    end = (
        r["end"]
        if status in ("success", "failed", "canceled") and r.get("begin") is not None
        else (r["end"] if status == "canceled" else None)
    )
    runner = r.get("runner")
    out: dict[str, Any] = {
        "commit": {
            "author_email": f"{trig.user}@acme.dev",
            "author_name": trig.user.replace(".", " ").title(),
            "created_at": iso(trig.at - 240),
            "id": trig.sha,
            "message": trig.title,
            "short_id": trig.sha[:8],
            "title": trig.title,
        },
        "coverage": None,
        "archived": False,
        "allow_failure": spec.allow_failure,
        "created_at": iso(created),
        "started_at": iso(begin) if begin is not None else None,
        "finished_at": iso(end) if end is not None else None,
        "erased_at": None,
        "duration": round(end - begin, 3) if begin is not None and end is not None else None,
        "queued_duration": round(r["queue"], 3) if r.get("queue") is not None else None,
        "artifacts_file": None,
        "artifacts": [
            {
                "file_type": "trace",
                "size": len(r["trace"]),
                "filename": "job.log",
                "file_format": None,
            }
        ]
        if r.get("trace")
        else [],
        "artifacts_expire_at": None,
        "tag_list": ["k8s", "large"] if spec.large else [],
        "id": jid,
        "name": spec.name,
        "pipeline": {
            "id": pipe["id"],
            "project_id": PROJECT_ID,
            "ref": trig.ref,
            "sha": trig.sha,
            "status": "running",
        },
        "ref": trig.ref,
        "runner": None
        if runner is None
        else {
            "id": 12270000 + (LARGE + SHARED).index(runner),
            "description": runner,
            "ip_address": None,
            "active": True,
            "paused": False,
            "is_shared": not spec.large,
            "runner_type": "project_type" if spec.large else "instance_type",
            "name": "gitlab-runner",
            "online": True,
            "status": "online",
        },
        "runner_manager": None,
        "stage": spec.stage,
        "status": status,
        "tag": False,
        "web_url": f"{WEB}/{PROJECT}/-/jobs/{jid}",
        "project": {"ci_job_token_scope_enabled": False},
        "user": user_obj(
            trig.user, 9000 + PEOPLE.index(trig.user) if trig.user in PEOPLE else 9999
        ),
    }
    if status == "failed":
        out["failure_reason"] = "script_failure"
    return out


class Ids:
    def __init__(self) -> None:
        self.pipeline = 1_483_920_000
        self.job = 8_237_400_000

    def next_pipeline(self) -> int:
        self.pipeline += random_step(self.pipeline)
        return self.pipeline

    def next_job(self) -> int:
        self.job += 1 + random_step(self.job) % 7
        return self.job


def random_step(seed: int) -> int:
    return 3 + int(hashlib.sha1(str(seed).encode()).hexdigest()[:4], 16) % 40


def build() -> Built:
    master = random.Random(SEED)
    out = Built()
    ids = Ids()
    trigs = triggers(master)
    for index, trig in enumerate(trigs):
        rng = random.Random(f"{SEED}:{index}")
        progress = (trig.at - START.timestamp()) / (NOW.timestamp() - START.timestamp())
        snapshot = NOW.timestamp()  # what had not happened by then is still pending or running
        # auto-cancel redundant MR pipelines: the next push to the same MR within minutes
        nxt = next((t for t in trigs[index + 1 :] if t.mr is not None and t.mr == trig.mr), None)
        cancel_at = nxt.at + 2 if nxt is not None and nxt.at - trig.at < 900 else None
        one_pipeline(out, ids, trig, index, rng, progress, snapshot, cancel_at)
    return out


def one_pipeline(
    out: Built,
    ids: Ids,
    trig: Trigger,
    index: int,
    rng: random.Random,
    progress: float,
    snapshot: float,
    cancel_at: float | None,
) -> None:
    pid = ids.next_pipeline()
    created = trig.at
    specs = [s for s in PARENT]
    with_deploy = trig.source == "push"
    jobs: list[dict[str, Any]] = []
    traces: dict[int, bytes] = {}
    state = "success"
    clock = created + rng.uniform(0.4, 2.0)
    child_info: tuple[dict[str, Any], list[dict[str, Any]]] | None = None
    bridge_row: dict[str, Any] | None = None
    placeholder = {"id": pid}
    job_ids = {s.name: ids.next_job() for s in (*specs, *(DEPLOY if with_deploy else ()))}
    bridge_id = ids.next_job() if trig.source == "merge_request_event" else None
    manual_id = ids.next_job() if with_deploy else None
    latest_end = clock
    for stage in STAGES:
        stage_specs = [s for s in specs if s.stage == stage] + (
            [s for s in DEPLOY] if stage == "deploy" and with_deploy else []
        )
        if stage == "review" and bridge_id is not None:
            child_info, bridge_row, end, cstate = child_pipeline(
                ids, trig, rng, progress, clock, snapshot, cancel_at, state, bridge_id, pid
            )
            if cstate in ("failed", "canceled") and state == "success":
                state = cstate
            if cstate == "running":
                state = "running"
            clock = max(clock, end) + rng.uniform(0.5, 2)
            latest_end = max(latest_end, end)
            continue
        if not stage_specs:
            continue
        stage_end = clock
        failed_here = False
        for spec in stage_specs:
            jid = job_ids[spec.name]
            if state in ("failed", "canceled"):
                jobs.append(
                    job_obj(
                        jid,
                        spec,
                        placeholder,
                        trig,
                        created,
                        {"status": "skipped" if state == "failed" else "canceled", "end": clock},
                    )
                )
                continue
            if state == "running":
                jobs.append(
                    job_obj(
                        jid, spec, placeholder, trig, created, {"status": "created", "end": clock}
                    )
                )
                continue
            r = run_job(spec, rng, clock, progress, cancel_at=cancel_at, snapshot=snapshot)
            job_created = created
            if r["status"] == "failed" and spec.retry:
                jobs.append(job_obj(jid, spec, placeholder, trig, created, r))
                if r.get("trace"):
                    traces[jid] = r["trace"]
                jid = ids.next_job()
                job_created = r["end"] + 0.2
                r = run_job(
                    spec, rng, r["end"] + 0.5, progress, cancel_at=cancel_at, snapshot=snapshot
                )
            jobs.append(job_obj(jid, spec, placeholder, trig, job_created, r))
            if r.get("trace"):
                traces[jid] = r["trace"]
            stage_end = max(stage_end, r["end"])
            latest_end = max(latest_end, r["end"])
            if r["status"] == "failed" and not spec.allow_failure:
                failed_here = True
            if r["status"] in ("running", "pending"):
                state = "running"
            if r["status"] == "canceled":
                state = "canceled"
        if failed_here and state == "success":
            state = "failed"
        clock = stage_end + rng.uniform(0.5, 2)
    if manual_id is not None:
        jobs.append(
            job_obj(
                manual_id,
                Spec("deploy-production", "deploy", "helm", "alpine/helm:3.14.4"),
                placeholder,
                trig,
                created,
                {
                    "status": "manual"
                    if state == "success"
                    else "created"
                    if state == "running"
                    else "skipped",
                    "end": clock,
                },
            )
        )
    started = min((j_start(j) for j in jobs if j["started_at"]), default=None)
    if child_info is not None:
        started = min(x for x in (started, j_start_detail(child_info[0])) if x is not None)
    finished = (
        None
        if state == "running"
        else (cancel_at if state == "canceled" and cancel_at is not None else latest_end)
    )
    updated = (
        (finished + rng.uniform(0.05, 0.6)) if finished is not None else min(snapshot, latest_end)
    )
    detail = detail_obj(pid, 2300 + index, trig, state, created, started, finished, updated)
    for item in jobs:
        item["pipeline"] = {
            "id": pid,
            "project_id": PROJECT_ID,
            "ref": trig.ref,
            "sha": trig.sha,
            "status": state,
        }
    out.details[str(pid)] = detail
    out.jobs[str(pid)] = sorted(jobs, key=lambda j: -j["id"])
    for jid, data in traces.items():
        out.traces[str(jid)] = data
    if child_info is not None and bridge_row is not None:
        child, child_jobs = child_info
        out.details[str(child["id"])] = child
        out.jobs[str(child["id"])] = sorted(child_jobs, key=lambda j: -j["id"])
        for job in child_jobs:
            if "_trace" in job:
                out.traces[str(job["id"])] = job.pop("_trace")
        bridge_row["pipeline"] = {
            k: detail[k]
            for k in (
                "id",
                "iid",
                "project_id",
                "ref",
                "sha",
                "status",
                "source",
                "created_at",
                "updated_at",
                "web_url",
            )
        }
        out.bridges[str(pid)] = [bridge_row]
    elif bridge_row is not None:
        out.bridges[str(pid)] = [bridge_row]


def j_start(job: dict[str, Any]) -> float:
    return datetime.fromisoformat(job["started_at"].replace("Z", "+00:00")).timestamp()


def j_start_detail(detail: dict[str, Any]) -> float | None:
    value = detail.get("started_at")
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() if value else None


def child_pipeline(
    ids: Ids,
    trig: Trigger,
    rng: random.Random,
    progress: float,
    clock: float,
    snapshot: float,
    cancel_at: float | None,
    state: str,
    bridge_id: int,
    parent_id: int,
) -> tuple[tuple[dict[str, Any], list[dict[str, Any]]] | None, dict[str, Any], float, str]:
    base = {
        "commit": None, "coverage": None, "allow_failure": False, "created_at": iso(trig.at), "erased_at": None,
        "id": bridge_id, "name": "review", "ref": trig.ref, "stage": "review", "tag": False,
        "web_url": f"{WEB}/{PROJECT}/-/jobs/{bridge_id}", "user": user_obj(trig.user, 9000 + PEOPLE.index(trig.user)),
    }  # fmt: skip
    base["commit"] = {
        "id": trig.sha,
        "short_id": trig.sha[:8],
        "title": trig.title,
    }
    if state != "success" or clock >= snapshot or (cancel_at is not None and clock >= cancel_at):
        status = (
            "skipped"
            if state == "failed"
            else "canceled"
            if state == "canceled" or (cancel_at is not None and clock >= cancel_at)
            else "created"
        )
        row = {
            **base,
            "status": status,
            "started_at": None,
            "finished_at": None,
            "duration": None,
            "queued_duration": None,
            "downstream_pipeline": None,
        }
        return None, row, clock, status if status != "created" else "running"
    cid = ids.next_pipeline()
    ccreated = clock + rng.uniform(0.3, 1.2)
    cjobs: list[dict[str, Any]] = []
    cstate = "success"
    cclock = ccreated + rng.uniform(0.5, 1.5)
    latest = cclock
    placeholder = {"id": cid}
    jids = {s.name: ids.next_job() for s in CHILD}
    for stage in ("deploy", "test", "cleanup"):
        stage_end = cclock
        for spec in (s for s in CHILD if s.stage == stage):
            jid = jids[spec.name]
            if cstate == "running":
                cjobs.append(
                    job_obj(
                        jid, spec, placeholder, trig, ccreated, {"status": "created", "end": cclock}
                    )
                )
                continue
            if cstate in ("failed", "canceled") and spec.name != "stop-review":
                cjobs.append(
                    job_obj(
                        jid,
                        spec,
                        placeholder,
                        trig,
                        ccreated,
                        {"status": "skipped" if cstate == "failed" else "canceled", "end": cclock},
                    )
                )
                continue
            r = run_job(spec, rng, cclock, progress, cancel_at=cancel_at, snapshot=snapshot)
            row = job_obj(jid, spec, placeholder, trig, ccreated, r)
            if r.get("trace"):
                row["_trace"] = r["trace"]
            cjobs.append(row)
            stage_end = max(stage_end, r["end"])
            latest = max(latest, r["end"])
            if r["status"] == "failed" and cstate == "success":
                cstate = "failed"
            elif r["status"] in ("running", "pending"):
                cstate = "running"
            elif r["status"] == "canceled":
                cstate = "canceled"
        cclock = stage_end + rng.uniform(0.5, 2)
    started = min((j_start(j) for j in cjobs if j["started_at"]), default=None)
    finished = None if cstate == "running" else latest
    updated = finished + rng.uniform(0.05, 0.3) if finished is not None else min(snapshot, latest)
    child = detail_obj(
        cid,
        50_000 + cid % 10_000,
        trig,
        cstate,
        ccreated,
        started,
        finished,
        updated,
        source="parent_pipeline",
    )
    for job in cjobs:
        job["pipeline"] = {
            "id": cid,
            "project_id": PROJECT_ID,
            "ref": trig.ref,
            "sha": trig.sha,
            "status": cstate,
        }
    downstream = {
        k: child[k] for k in ("id", "sha", "ref", "status", "created_at", "updated_at", "web_url")
    }
    downstream["project_id"] = PROJECT_ID
    row = {
        **base,
        "status": cstate,
        "started_at": iso(ccreated - 0.3),
        "finished_at": iso(finished) if finished else None,
        "duration": round(finished - ccreated + 0.3, 3) if finished else None,
        "queued_duration": 0.021,
        "downstream_pipeline": downstream,
    }
    return (child, cjobs), row, (finished if finished is not None else latest), cstate


# -- writing and checking ---------------------------------------------------------------------

_MARK = re.compile(rb"section_(start|end):(\d+):([A-Za-z0-9_.-]+)")


def write(built: Built) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for path, text in FILES.items():
        target = OUT / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    history = OUT / "ci-history"
    history.mkdir(exist_ok=True)
    top = [d for d in built.details.values() if d["source"] != "parent_pipeline"]
    listed = [
        {
            k: d[k]
            for k in (
                "id",
                "iid",
                "project_id",
                "status",
                "source",
                "ref",
                "sha",
                "name",
                "web_url",
                "created_at",
                "updated_at",
            )
        }
        for d in sorted(top, key=lambda d: (d["updated_at"], d["id"]))
    ]
    dump = {"separators": (",", ":"), "ensure_ascii": False}
    (history / "pipelines.json").write_text(json.dumps(listed, **dump) + "\n", encoding="utf-8")
    (history / "pipeline_details.json").write_text(
        json.dumps(dict(sorted(built.details.items())), **dump) + "\n", encoding="utf-8"
    )
    (history / "jobs.json").write_text(
        json.dumps(dict(sorted(built.jobs.items())), **dump) + "\n", encoding="utf-8"
    )
    (history / "bridges.json").write_text(
        json.dumps(dict(sorted(built.bridges.items())), **dump) + "\n", encoding="utf-8"
    )
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for job_id in sorted(built.traces, key=int):
            data = built.traces[job_id]
            info = tarfile.TarInfo(f"traces/{job_id}.log")
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    packed = io.BytesIO()
    with gzip.GzipFile(fileobj=packed, mode="wb", mtime=0, compresslevel=9) as gz:
        gz.write(raw.getvalue())
    (history / "traces.tar.gz").write_bytes(packed.getvalue())


def check() -> list[str]:
    """Read the files back and check them; returns the summary lines."""
    history = OUT / "ci-history"
    details = json.loads((history / "pipeline_details.json").read_text(encoding="utf-8"))
    jobs = json.loads((history / "jobs.json").read_text(encoding="utf-8"))
    bridges = json.loads((history / "bridges.json").read_text(encoding="utf-8"))
    listed = json.loads((history / "pipelines.json").read_text(encoding="utf-8"))
    with tarfile.open(history / "traces.tar.gz", "r:gz") as tar:
        traces = {Path(m.name).stem: tar.extractfile(m).read() for m in tar if m.isfile()}
    problems: list[str] = []
    all_jobs = [j for js in jobs.values() for j in js]
    ids = [j["id"] for j in all_jobs]
    if len(ids) != len(set(ids)):
        problems.append("job ids are not unique")
    for job in all_jobs:
        start, end = job["started_at"], job["finished_at"]
        if start and end and end < start:
            problems.append(f"job {job['id']} ends before it starts")
        if job["status"] in ("success", "failed") and str(job["id"]) not in traces:
            problems.append(f"job {job['id']} has no trace")
        if job["queued_duration"] is not None and job["queued_duration"] < 0:
            problems.append(f"job {job['id']} has a negative queue")
    for job_id, data in traces.items():
        stack: list[tuple[str, int]] = []
        for kind, ts, name in _MARK.findall(data):
            if kind == b"start":
                stack.append((name.decode(), int(ts)))
            elif stack and stack[-1][0] == name.decode() and int(ts) < stack.pop()[1]:
                problems.append(f"trace {job_id}: section {name.decode()} ends before it starts")
    if {str(p["id"]) for p in listed} - set(details):
        problems.append("a listed pipeline has no detail")
    for parent, rows in bridges.items():
        for row in rows:
            child = row.get("downstream_pipeline")
            if child and str(child["id"]) not in details:
                problems.append(f"bridge of {parent} points to a missing pipeline")
    statuses: dict[str, int] = {}
    for d in details.values():
        statuses[d["status"]] = statuses.get(d["status"], 0) + 1
    size = sum(f.stat().st_size for f in history.iterdir())
    if size > 6_000_000:
        problems.append(f"ci-history is {size} bytes, over 6 MB")
    if problems:
        raise SystemExit("sample check failed:\n  " + "\n  ".join(problems[:20]))
    retried = sum(
        1
        for js in jobs.values()
        for n in {j["name"] for j in js}
        if sum(j["name"] == n for j in js) > 1
    )
    children = sum(1 for d in details.values() if d["source"] == "parent_pipeline")
    return [
        f"{PROJECT}: {len(listed)} pipelines (+{children} child), {len(all_jobs)} jobs, {len(traces)} logs, "
        f"{retried} retried jobs, statuses {dict(sorted(statuses.items()))}, {size / 1e6:.1f} MB",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only verify the files as they are")
    args = parser.parse_args()
    if not args.check:
        write(build())
    for line in check():
        print(line)


if __name__ == "__main__":
    sys.exit(main())
