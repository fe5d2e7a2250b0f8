"""Rewriting one GitHub Actions job into a mirrord session, as span edits on the file's text.

A rewritten job loses the steps that build its environment (cluster creation, image loads,
helm/kubectl deploys, compose up/down, waits for them) and its ``services:``; it gains, in
this order, cluster credentials from a secret, a pinned mirrord install, ``mirrord ci start``
of the service and a readiness poll before the first kept test step, and ``mirrord ci stop``
(``if: always()``) plus the app logs (``if: failure()``) after the last step. Without the
Operator, a ``concurrency:`` group keyed by the target serialises runs against it. Steps that
are kept (their ``if:`` expressions and matrix values included) are not touched.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ci_profile.core.pipelines import JobDef, StepDef
from ci_profile.migrate import mirrord, signatures
from ci_profile.migrate.model import Action, Finding, JobPlan, Target
from ci_profile.migrate.textedit import Edit, attached_start, indent_of
from ci_profile.migrate.yamldoc import is_block, key_line, key_spans
from ruamel.yaml.comments import CommentedMap

SESSION_KEY = "ci-${{ github.run_id }}-${{ github.run_attempt }}"


def github_finding(
    path: str, job: JobDef, patterns: set[str], action: Action, reason: str
) -> Finding:
    return Finding(
        provider="github",
        file=path,
        job=job.key,
        patterns=tuple(sorted(patterns)),
        lines=(job.line_start, job.line_end),
        action=action,
        reason=reason,
    )


def _target(job_text: str, file_text: str, repo: Path, namespace: str) -> Target:
    name = (
        signatures.helm_release_of_local_chart(job_text)
        or signatures.waited_deployment(job_text)
        or re.sub(r"[^a-z0-9-]+", "-", repo.resolve().name.lower()).strip("-")
        or "app"
    )
    port = signatures.local_port([job_text, file_text]) or 8080
    return Target(workload=f"deployment/{name}", namespace=namespace, port=port)


def rewrite(
    path: str,
    text: str,
    lines: list[str],
    job: JobDef,
    node: CommentedMap,
    patterns: set[str],
    step_patterns: list[set[str]],
    service_images: dict[str, str],
    repo: Path,
    namespace: str,
) -> JobPlan:
    spans = key_spans(node, job.line_end, lines)
    if "steps" not in spans or not job.steps:
        return JobPlan(
            github_finding(path, job, patterns, "manual", "the job has no steps to edit")
        )
    job_text = "\n".join(lines[job.line_start - 1 : job.line_end])
    target = _target(job_text, text, repo, namespace)
    config_file = mirrord.config_name(path, job.key)
    removed = [bool(found) for found in step_patterns]
    kept = [s for s, gone in zip(job.steps, removed, strict=True) if not gone]
    if not any(
        signatures.TEST_COMMAND.search(s.run or "")
        or (s.uses and not signatures.SETUP_ACTION.match(s.uses))
        for s in kept
    ):
        return JobPlan(
            github_finding(
                path, job, patterns, "manual", "no test step is left once the environment goes"
            )
        )
    key_indent = indent_of(lines[spans["steps"][0] - 1])
    step_indent = indent_of(lines[job.steps[0].line_start - 1])
    edits: list[Edit] = []
    if "services" in spans:
        start, end = spans["services"]
        edits.append(Edit(attached_start(lines, start), end))
    for step, gone in zip(job.steps, removed, strict=True):
        if gone:
            edits.append(Edit(attached_start(lines, step.line_start), step.line_end))
    header: list[str] = []
    if "concurrency" not in spans:
        pad = " " * key_indent
        header += [
            f"{pad}concurrency:",
            f"{pad}  group: {target.slug}",
            f"{pad}  cancel-in-progress: false",
        ]
    env = node.get("env")
    if "env" in spans and is_block(env) and env:
        env_start = spans["env"][0]
        entry_indent = indent_of(lines[key_line(env, next(iter(env))) - 1])
        edits.append(
            Edit(env_start + 1, env_start, (f"{' ' * entry_indent}MIRRORD_KEY: {SESSION_KEY}",))
        )
        key_on_start = False
    elif "env" not in spans:
        pad = " " * key_indent
        header += [f"{pad}env:", f"{pad}  MIRRORD_KEY: {SESSION_KEY}"]
        key_on_start = False
    else:
        key_on_start = True
    steps_start = attached_start(lines, spans["steps"][0])
    if header:
        edits.append(Edit(steps_start, steps_start - 1, tuple(header)))
    first_test = _first_test_position(job.steps, removed)
    start_steps = _start_steps(step_indent, config_file, target, key_on_start)
    if first_test is None:
        anchor = job.steps[-1].line_end + 1
    else:
        anchor = attached_start(lines, job.steps[first_test].line_start)
    stop_steps = _stop_steps(step_indent, job)
    end_anchor = job.steps[-1].line_end + 1
    if anchor == end_anchor:
        edits.append(Edit(anchor, anchor - 1, (*start_steps, *stop_steps)))
    else:
        edits.append(Edit(anchor, anchor - 1, start_steps))
        edits.append(Edit(end_anchor, end_anchor - 1, stop_steps))
    finding = Finding(
        provider="github",
        file=path,
        job=job.key,
        patterns=tuple(sorted(patterns)),
        lines=(job.line_start, job.line_end),
        action="rewrite",
        reason=_reason(job, removed, service_images),
        config_file=config_file,
        target=target,
        manual_tasks=_manual_tasks(
            node, target, service_images, job_text, config_file, _runs_on(node)
        ),
        suggestions=_suggestions(service_images, node, job_text),
    )
    files = (
        (config_file, mirrord.config_text(target)),
        (mirrord.script_name(config_file), mirrord.start_script(job.key, config_file)),
    )
    return JobPlan(finding, tuple(_merge(edits)), files)


def _merge(edits: list[Edit]) -> list[Edit]:
    """Insertions at the same place become one edit, in the order they were made."""
    merged: dict[tuple[int, int], Edit] = {}
    out: list[Edit] = []
    for edit in edits:
        if edit.end == edit.start - 1 and (edit.start, edit.end) in merged:
            first = merged[(edit.start, edit.end)]
            combined = Edit(edit.start, edit.end, (*first.lines, *edit.lines))
            out[out.index(first)] = combined
            merged[(edit.start, edit.end)] = combined
            continue
        if edit.end == edit.start - 1:
            merged[(edit.start, edit.end)] = edit
        out.append(edit)
    return out


def _first_test_position(steps: tuple[StepDef, ...], removed: list[bool]) -> int | None:
    """The first kept step after which nothing is setup: where the session must be running."""
    for index, (step, gone) in enumerate(zip(steps, removed, strict=True)):
        if gone:
            continue
        if step.uses and signatures.SETUP_ACTION.match(step.uses):
            continue
        if (
            step.run
            and signatures.SETUP_COMMAND.search(step.run)
            and not signatures.TEST_COMMAND.search(step.run)
        ):
            continue
        return index
    return None


def _run_lines(pad: str, command: str) -> list[str]:
    if "\n" in command or ": " in command or " #" in command or command[:1] in "!&*{[|>'\"%@`":
        return [f"{pad}  run: |", *(f"{pad}    {line}" for line in command.splitlines())]
    return [f"{pad}  run: {command}"]


def _start_steps(
    indent: int, config_file: str, target: Target, key_on_step: bool
) -> tuple[str, ...]:
    pad = " " * indent
    # From the workspace root: `defaults.run.working-directory` may point elsewhere.
    root = '"$GITHUB_WORKSPACE"/'
    start = (
        f"mirrord ci start -f {root}{config_file} -- sh {root}{mirrord.script_name(config_file)}"
    )
    wait = (
        f"timeout 120 bash -c 'until curl -sS -o /dev/null http://localhost:{target.port}/; "
        "do sleep 2; done'"
    )
    session_env = [f"{pad}    MIRRORD_KEY: {SESSION_KEY}"] if key_on_step else []
    return (
        f"{pad}- name: Cluster access",
        f"{pad}  env:",
        f"{pad}    {mirrord.KUBECONFIG_SECRET}: ${{{{ secrets.{mirrord.KUBECONFIG_SECRET} }}}}",
        f"{pad}  run: |",
        f'{pad}    echo "${mirrord.KUBECONFIG_SECRET}" | base64 -d > "$RUNNER_TEMP/kubeconfig"',
        f'{pad}    echo "KUBECONFIG=$RUNNER_TEMP/kubeconfig" >> "$GITHUB_ENV"',
        f"{pad}- name: Install mirrord {mirrord.MIRRORD_VERSION}",
        *_run_lines(pad, mirrord.INSTALL_COMMAND),
        f"{pad}- name: Start the service with mirrord",
        *([f"{pad}  env:", *session_env] if session_env else []),
        *_run_lines(pad, start),
        f"{pad}- name: Wait for the service",
        *_run_lines(pad, wait),
    )


def _stop_steps(indent: int, job: JobDef) -> tuple[str, ...]:
    pad = " " * indent
    suffix = "-${{ strategy.job-index }}" if job.has_matrix else ""
    return (
        f"{pad}- name: Stop mirrord",
        f"{pad}  if: always()",
        f"{pad}  run: mirrord ci stop",
        f"{pad}- name: Upload mirrord app logs",
        f"{pad}  if: failure()",
        f"{pad}  uses: actions/upload-artifact@v4",
        f"{pad}  with:",
        f"{pad}    name: mirrord-app-logs-{job.key}{suffix}",
        f"{pad}    path: /tmp/mirrord/",
    )


def _reason(job: JobDef, removed: list[bool], services: dict[str, str]) -> str:
    gone = [s.display_name for s, r in zip(job.steps, removed, strict=True) if r]
    parts = []
    if services:
        parts.append(f"services {', '.join(services)}")
    if gone:
        parts.append(f"{len(gone)} environment step{'s' if len(gone) != 1 else ''}")
    return "replace " + " and ".join(parts) + " with a mirrord session on the shared cluster"


def _env_pointing_at(job_text: str, services: dict[str, str]) -> list[str]:
    names = []
    for match in re.finditer(r"^\s*([A-Z][A-Z0-9_]*):\s*(\S+)", job_text, re.M):
        value = match.group(2)
        if re.match(r"(postgres(ql)?|mysql|redis|mongodb|amqp)://", value) or (
            services and re.search(r"localhost:(5432|3306|6379|27017|5672|9092)", value)
        ):
            names.append(match.group(1))
    return names


def _runs_on(node: CommentedMap) -> str:
    value = node.get("runs-on")
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value or "")


def _manual_tasks(
    node: CommentedMap,
    target: Target,
    services: dict[str, str],
    job_text: str,
    config_file: str,
    runs_on: str,
) -> tuple[str, ...]:
    tasks = [
        f"create the secret `{mirrord.KUBECONFIG_SECRET}`: a base64 kubeconfig for a CI service "
        "account bound to the `mirrord-operator-ci` role (or use your cloud's credentials action)",
        f"write how the service starts on the runner into `{mirrord.script_name(config_file)}`",
        f"confirm the target `{target.workload}` in namespace `{target.namespace}`, port "
        f"{target.port} (in `{config_file}`)",
        "tests that go through staging must send `baggage: mirrord-session=$MIRRORD_KEY`, and "
        "services in between must propagate it",
    ]
    pointing = _env_pointing_at(job_text, services)
    if pointing:
        tasks.append(
            f"{', '.join(pointing)} pointed at the removed containers: point them at the staging "
            "dependencies, or use the suggested `db_branches` (Operator)"
        )
    if re.search(r"\bkafka\b", job_text, re.I):
        tasks.append("Kafka came from the removed environment: consider `split_queues` (Operator)")
    if (
        "self-hosted" in runs_on
        and signatures.command_patterns(job_text) & signatures.CLUSTER_PATTERNS
    ):
        tasks.append(
            f"the job runs on `{runs_on}`, sized for its own cluster: a smaller runner may do now"
        )
    if "concurrency" in node:
        tasks.append(
            "the job already has a `concurrency:` group: make sure it serialises runs on the target"
        )
    return tuple(tasks)


def _suggestions(
    services: dict[str, str], node: CommentedMap, job_text: str
) -> tuple[dict[str, Any], ...]:
    env = node.get("env")
    env_vars = {str(k): str(v) for k, v in env.items()} if isinstance(env, dict) else {}
    out: list[dict[str, Any]] = []
    for image in services.values():
        base = image.rsplit("/", 1)[-1].split(":", 1)[0]
        url = next(
            (
                k
                for k, v in env_vars.items()
                if v.startswith(base[:5]) or (base == "postgres" and v.startswith("postgres"))
            ),
            None,
        )
        entry = mirrord.db_branch(image, url)
        if entry is not None:
            out.append(entry)
    for match in re.finditer(
        r"\bhelm\s+(?:upgrade\s+(?:--install|-i)|install)\s+\S+\s+(\S+)", job_text
    ):
        chart = match.group(1)
        if not chart.startswith(".") and "postgres" in chart:
            entry = mirrord.db_branch_from_chart(chart)
            if entry is not None:
                out.append(entry)
    return tuple(out)
