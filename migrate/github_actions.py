"""GitHub Actions workflows: which jobs build an environment, and what to do with each.

A job is a ``rewrite`` (see :mod:`ci_profile.migrate.github_rewrite`), ``manual`` (its
environment is built where an edit of this file cannot reach: a reusable workflow, a local
composite action, a make target or script) or ``skip`` with the reason (the cluster is under
test, a load test, a chart that is only packaged, a deploy to a long-lived cluster, services
that are commented out, a job already migrated).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ci_profile.core.pipelines import JobDef, StepDef, parse_github_workflow
from ci_profile.migrate import signatures
from ci_profile.migrate.github_rewrite import github_finding, rewrite
from ci_profile.migrate.model import JobPlan
from ci_profile.migrate.textedit import plain_lines
from ci_profile.migrate.yamldoc import load
from ruamel.yaml.comments import CommentedMap

_K8S_MATRIX = re.compile(r"k8s|kubernetes|kind|node[_-]?image|k3s", re.I)


def _step_text(step: StepDef) -> str:
    return step.run or ""


def _step_patterns(step: StepDef) -> set[str]:
    found = signatures.action_patterns(step.uses) if step.uses else set()
    return found | signatures.command_patterns(_step_text(step))


def _local_action_patterns(uses: str, repo: Path) -> set[str]:
    """Patterns inside a local composite action (``uses: ./.github/actions/x``)."""
    base = _inside(repo, uses.split("@", 1)[0])
    for name in ("action.yml", "action.yaml"):
        file = base / name if base is not None else None
        if file is not None and file.is_file():
            text = file.read_text(encoding="utf-8", errors="replace")
            found = signatures.command_patterns(text)
            for match in re.finditer(r"uses:\s*(\S+)", text):
                found |= signatures.action_patterns(match.group(1))
            return found
    return set()


def _inside(repo: Path, relative: str) -> Path | None:
    """``relative`` within the repository, or None when it points outside it."""
    root = repo.resolve()
    candidate = (root / relative).resolve()
    return candidate if candidate.is_relative_to(root) else None


def _script_patterns(command: str, repo: Path) -> set[str]:
    """Patterns in a Makefile target or script that a step calls, when the repo has it."""
    match = re.match(r"^\s*(?:sudo\s+)?make\s+(?:-\S+\s+)*([\w.:/-]+)", command)
    if match:
        makefile = repo / "Makefile"
        if makefile.is_file():
            body = re.search(
                rf"^{re.escape(match.group(1))}\s*:.*?\n((?:\t.*\n?)*)",
                makefile.read_text(encoding="utf-8", errors="replace"),
                re.M,
            )
            return signatures.command_patterns(body.group(1)) if body else set()
        return set()
    script = re.match(r"^\s*(?:bash\s+|sh\s+)?(\.{0,2}/?[\w./-]+\.sh)\b", command)
    file = _inside(repo, script.group(1)) if script else None
    if file is not None and file.is_file():
        return signatures.command_patterns(file.read_text(encoding="utf-8", errors="replace"))
    return set()


def scan(path: str, text: str, repo: Path, namespace: str = "staging") -> list[JobPlan]:
    """Every job of one workflow file that builds an environment or looks like it does."""
    workflow = parse_github_workflow(text, path)
    document = load(text, path)
    if not isinstance(document, CommentedMap) or not isinstance(document.get("jobs"), CommentedMap):
        return []
    jobs_node: CommentedMap = document["jobs"]
    lines = plain_lines(text)
    results: list[JobPlan] = []
    for key, job in workflow.jobs.items():
        node = jobs_node.get(key)
        if not isinstance(node, CommentedMap):
            continue
        result = _scan_job(path, text, lines, job, node, repo, namespace)
        if result is not None:
            results.append(result)
    return results


def _scan_job(
    path: str,
    text: str,
    lines: list[str],
    job: JobDef,
    node: CommentedMap,
    repo: Path,
    namespace: str,
) -> JobPlan | None:
    runs = [_step_text(s) for s in job.steps]
    uses = [s.uses for s in job.steps if s.uses]
    job_text = "\n".join(lines[job.line_start - 1 : job.line_end])
    if job.uses:
        if not re.search(
            r"e2e|integration|kind|k3d|minikube|cluster|compose|env|test", job.uses, re.I
        ):
            return None  # a reusable workflow that does not look like a test environment
        return JobPlan(
            github_finding(
                path,
                job,
                set(),
                "manual",
                f"calls the reusable workflow `{job.uses}`: its environment is built there; "
                "migrate that workflow",
            )
        )
    step_patterns = [_step_patterns(s) for s in job.steps]
    patterns: set[str] = set().union(*step_patterns) if step_patterns else set()
    services = node.get("services")
    service_images = _service_images(services)
    if service_images:
        patterns.add(signatures.SERVICES)
        if any(signatures.is_database_image(i) for i in service_images.values()):
            patterns.add(signatures.DATABASE)
    if any(signatures.mirrord_session(r) for r in runs):
        return JobPlan(github_finding(path, job, patterns, "skip", "already runs through mirrord"))
    under_test = signatures.cluster_under_test(runs, uses)
    strategy = node.get("strategy")
    matrix = strategy.get("matrix") if isinstance(strategy, dict) else None
    if (
        under_test is None
        and isinstance(matrix, dict)
        and patterns & signatures.CLUSTER_PATTERNS
        and any(_K8S_MATRIX.search(str(k)) for k in matrix)
    ):
        under_test = "a matrix over Kubernetes versions"
    if under_test is not None:
        return JobPlan(
            github_finding(path, job, patterns, "skip", f"the cluster is under test: {under_test}")
        )
    hidden: list[str] = []
    for step in job.steps:
        if step.uses and step.uses.startswith("./"):
            inner = _local_action_patterns(step.uses, repo)
            if inner:
                patterns |= inner
                hidden.append(f"composite action `{step.uses}` ({', '.join(sorted(inner))})")
        elif step.run:
            for line in step.run.splitlines():
                called = signatures.hidden_provisioning(line)
                inner = _script_patterns(line, repo)
                if inner or (called and not signatures.TEST_COMMAND.search(line)):
                    patterns |= inner
                    hidden.append(
                        f"`{line.strip()}`" + (f" ({', '.join(sorted(inner))})" if inner else "")
                    )
    if patterns <= signatures.AUXILIARY and not hidden:
        if signatures.packages_chart(runs):
            return JobPlan(
                github_finding(path, job, set(), "skip", "packages a Helm chart; installs nothing")
            )
        if re.search(r"^\s*#\s*services:", job_text, re.M):
            return JobPlan(
                github_finding(path, job, set(), "skip", "its `services:` are commented out")
            )
        return None
    if patterns and signatures.load_test(runs):
        return JobPlan(
            github_finding(
                path,
                job,
                patterns,
                "skip",
                "a load/soak test: run against a shared cluster it would load everyone's staging",
            )
        )
    builds_cluster = bool(patterns & signatures.CLUSTER_PATTERNS)
    deploys = bool(patterns & {signatures.HELM, signatures.KUBECTL, signatures.SKAFFOLD})
    if (
        not builds_cluster
        and not service_images
        and not patterns - {signatures.HELM, signatures.HELM_REPO}
        and signatures.packages_chart(runs)
    ):
        return JobPlan(
            github_finding(path, job, patterns, "skip", "packages a Helm chart; installs nothing")
        )
    if deploys and not patterns & signatures.THROWAWAY and not hidden:
        credentials = signatures.cluster_credentials([job_text], uses)
        through = f" through {credentials}" if credentials else " (this job creates none)"
        return JobPlan(
            github_finding(
                path,
                job,
                patterns,
                "skip",
                f"deploys to a long-lived cluster{through}: nothing to replace",
            )
        )
    if hidden:
        return JobPlan(
            github_finding(
                path,
                job,
                patterns,
                "manual",
                "provisioning is hidden in "
                + "; ".join(hidden)
                + ": move it out or migrate it there",
            )
        )
    inside = next((c for r in runs if (c := signatures.tests_inside_environment(r))), None)
    if inside is not None:
        return JobPlan(
            github_finding(
                path,
                job,
                patterns,
                "manual",
                f"the tests run inside the environment (`{inside}`): run them on the runner first",
            )
        )
    for step, found in zip(job.steps, step_patterns, strict=True):
        if found and step.run and signatures.TEST_COMMAND.search(step.run):
            return JobPlan(
                github_finding(
                    path,
                    job,
                    patterns,
                    "manual",
                    f"step `{step.display_name}` both builds the environment and runs tests: "
                    "split it",
                )
            )
    return rewrite(
        path, text, lines, job, node, patterns, step_patterns, service_images, repo, namespace
    )


def _service_images(services: Any) -> dict[str, str]:
    if not isinstance(services, dict):
        return {}
    images: dict[str, str] = {}
    for name, value in services.items():
        if isinstance(value, dict) and value.get("image") is not None:
            images[str(name)] = str(value["image"])
        elif isinstance(value, str):
            images[str(name)] = value
    return images
