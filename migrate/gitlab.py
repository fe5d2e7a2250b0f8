"""GitLab CI: find environment-building jobs in ``.gitlab-ci.yml`` (and its local includes) and
rewrite them by span edits.

Jobs are read resolved (anchors, ``extends:``, ``!reference``, ``default:``) to see what runs,
but only the job's own keys are edited. When the environment comes from a template or from
``default:``, editing the job alone would be wrong (the template is shared): that is ``manual``,
naming the template. A rewritten job loses its own ``services:`` (databases, caches,
docker:dind) and the script lines that start or stop the environment, and gains a
``resource_group:`` (no Operator: one session on the target at a time), ``MIRRORD_VERSION`` and
``MIRRORD_KEY`` variables, the install and ``mirrord ci start`` at the top of ``script:`` and
``mirrord ci stop`` in ``after_script:`` (which runs whatever the script's outcome).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ci_profile.core.gitlab_ci import GitLabCI, GitLabJob
from ci_profile.migrate import mirrord, signatures
from ci_profile.migrate.model import Action, Finding, JobPlan, Target
from ci_profile.migrate.textedit import Edit, attached_start, indent_of, plain_lines
from ci_profile.migrate.yamldoc import is_block, item_spans, key_line, load, single_quoted
from ruamel.yaml.comments import CommentedMap, CommentedSeq

SESSION_KEY = "ci-$CI_PIPELINE_ID-$CI_JOB_ID"
_SCRIPT_KEYS = ("before_script", "script", "after_script")


def _finding(job: GitLabJob, patterns: set[str], action: Action, reason: str) -> Finding:
    return Finding(
        provider="gitlab",
        file=job.path,
        job=job.key,
        patterns=tuple(sorted(patterns)),
        lines=(job.line_start, job.line_end),
        action=action,
        reason=reason,
    )


def _own_text(job: GitLabJob, lines: list[str], key: str) -> str:
    span = job.spans.get(key)
    return "\n".join(lines[span[0] - 1 : span[1]]) if span else ""


def scan(
    ci: GitLabCI, texts: dict[str, str], repo: Path, namespace: str = "staging"
) -> list[JobPlan]:
    """Every visible job that builds an environment or looks like it does."""
    documents = {path: load(text, path) for path, text in texts.items()}
    results: list[JobPlan] = []
    for job in ci.jobs.values():
        if job.hidden or job.is_trigger or job.path not in texts:
            continue
        document = documents[job.path]
        node = document.get(job.key) if isinstance(document, CommentedMap) else None
        if not isinstance(node, CommentedMap):
            continue
        result = _scan_job(job, node, plain_lines(texts[job.path]), repo, namespace)
        if result is not None:
            results.append(result)
    return results


def _scan_job(
    job: GitLabJob, node: CommentedMap, lines: list[str], repo: Path, namespace: str
) -> JobPlan | None:
    scripts = [*job.before_script, *job.script, *job.after_script]
    text = "\n".join(scripts)
    patterns = signatures.command_patterns(text)
    databases = [s for s in job.services if signatures.is_database_image(s)]
    dind = [s for s in job.services if signatures.is_dind(s)]
    if job.services:
        patterns.add(signatures.SERVICES)
    if databases:
        patterns.add(signatures.DATABASE)
    job_text = "\n".join(lines[job.line_start - 1 : job.line_end])
    if signatures.mirrord_session(text):
        return JobPlan(_finding(job, patterns, "skip", "already runs through mirrord"))
    under_test = signatures.cluster_under_test([text], [])
    if under_test is not None:
        return JobPlan(_finding(job, patterns, "skip", f"the cluster is under test: {under_test}"))
    if (
        dind
        and not databases
        and not patterns - {signatures.SERVICES}
        and signatures.only_builds_images(text)
    ):
        return JobPlan(
            _finding(job, patterns, "skip", "docker-in-docker only builds and pushes images")
        )
    hidden = next((h for line in scripts if (h := signatures.hidden_provisioning(line))), None)
    if patterns - {signatures.SERVICES} <= signatures.AUXILIARY and not databases and not hidden:
        if signatures.packages_chart(scripts):
            return JobPlan(_finding(job, set(), "skip", "packages a Helm chart; installs nothing"))
        if re.search(r"^\s*#\s*services:", job_text, re.M):
            return JobPlan(_finding(job, set(), "skip", "its `services:` are commented out"))
        return None
    if signatures.load_test(scripts):
        return JobPlan(
            _finding(
                job,
                patterns,
                "skip",
                "a load/soak test: run against a shared cluster it would load everyone's staging",
            )
        )
    deploys = bool(patterns & {signatures.HELM, signatures.KUBECTL, signatures.SKAFFOLD})
    if deploys and not patterns & signatures.THROWAWAY and not hidden:
        environment = node.get("environment")
        name = environment.get("name") if isinstance(environment, dict) else environment
        credentials = signatures.cluster_credentials([job_text], [])
        if name is not None:
            through = f" (environment `{name}`)"
        elif credentials is not None:
            through = f" through {credentials}"
        else:
            through = " (this job creates none)"
        return JobPlan(
            _finding(
                job,
                patterns,
                "skip",
                f"deploys to a long-lived cluster{through}: nothing to replace",
            )
        )
    if not patterns - {signatures.HELM, signatures.HELM_REPO} and signatures.packages_chart(
        scripts
    ):
        return JobPlan(_finding(job, patterns, "skip", "packages a Helm chart; installs nothing"))
    if hidden:
        return JobPlan(
            _finding(
                job,
                patterns,
                "manual",
                f"provisioning is hidden in `{hidden}`: move it out or migrate it there",
            )
        )
    inherited = _inherited_source(job, lines)
    if inherited is not None:
        return JobPlan(
            _finding(
                job,
                patterns,
                "manual",
                f"the environment comes from {inherited}, which other jobs may share: edit it "
                "there by hand",
            )
        )
    inside = signatures.tests_inside_environment(text)
    if inside is not None:
        return JobPlan(
            _finding(
                job,
                patterns,
                "manual",
                f"the tests run inside the environment (`{inside}`): run them on the runner first",
            )
        )
    if job.image and re.match(r"^(docker|alpine)([:@/]|$)", job.image):
        return JobPlan(
            _finding(
                job,
                patterns,
                "manual",
                f"the job image `{job.image}` lacks bash/curl for the mirrord install: pick a "
                "test image first",
            )
        )
    return _rewrite(job, node, lines, patterns, repo, namespace)


def _inherited_source(job: GitLabJob, lines: list[str]) -> str | None:
    """Where the environment comes from when it is not written in the job itself."""
    own = "\n".join(_own_text(job, lines, key) for key in _SCRIPT_KEYS)
    resolved = "\n".join([*job.before_script, *job.script, *job.after_script])
    env_inherited = signatures.command_patterns(resolved) - signatures.command_patterns(own)
    services_inherited = bool(job.services) and "services" not in job.spans
    if not env_inherited and not services_inherited:
        return None
    if job.extends:
        return "template " + ", ".join(f"`{t}`" for t in job.extends)
    return "`default:`"


def _target(job: GitLabJob, job_text: str, repo: Path, namespace: str) -> Target:
    name = (
        signatures.helm_release_of_local_chart(job_text)
        or signatures.waited_deployment(job_text)
        or re.sub(r"[^a-z0-9-]+", "-", repo.resolve().name.lower()).strip("-")
        or "app"
    )
    port = signatures.local_port([job_text]) or 8080
    return Target(workload=f"deployment/{name}", namespace=namespace, port=port)


def _is_environment_line(line: str) -> bool:
    return bool(signatures.command_patterns(line))


def _rewrite(
    job: GitLabJob,
    node: CommentedMap,
    lines: list[str],
    patterns: set[str],
    repo: Path,
    namespace: str,
) -> JobPlan:
    spans = job.spans
    script = node.get("script")
    if "script" not in spans or not isinstance(script, CommentedSeq) or not is_block(script):
        return JobPlan(
            _finding(job, patterns, "manual", "`script:` is not a block list of this job's own")
        )
    after = node.get("after_script")
    if "after_script" not in spans and job.after_script:
        return JobPlan(
            _finding(
                job,
                patterns,
                "manual",
                "`after_script:` is inherited: add `mirrord ci stop` by hand",
            )
        )
    if "after_script" in spans and not (isinstance(after, CommentedSeq) and is_block(after)):
        return JobPlan(_finding(job, patterns, "manual", "`after_script:` is not a block list"))
    variables = node.get("variables")
    if "variables" in spans and not (
        isinstance(variables, CommentedMap) and is_block(variables) and variables
    ):
        return JobPlan(_finding(job, patterns, "manual", "`variables:` is not a block mapping"))
    job_text = "\n".join(lines[job.line_start - 1 : job.line_end])
    target = _target(job, job_text, repo, namespace)
    config_file = mirrord.config_name(job.path, job.key)
    key_indent = indent_of(lines[spans["script"][0] - 1])
    edits: list[Edit] = []
    removable_services = all(
        signatures.is_database_image(s) or signatures.is_dind(s) for s in job.services
    )
    if "services" in spans and removable_services:
        start, end = spans["services"]
        edits.append(Edit(attached_start(lines, start), end))
    script_items = item_spans(script, spans["script"][1], lines)
    item_indent = indent_of(lines[script_items[0][0] - 1]) if script_items else key_indent + 2
    for item, (start, end) in zip(script, script_items, strict=True):
        if isinstance(item, str) and _is_environment_line(item):
            edits.append(Edit(attached_start(lines, start), end))
    header: list[str] = []
    pad = " " * key_indent
    if "resource_group" not in spans:
        header.append(f"{pad}resource_group: {target.slug}")
    session_vars = [f'MIRRORD_VERSION: "{mirrord.MIRRORD_VERSION}"', f"MIRRORD_KEY: {SESSION_KEY}"]
    if "variables" in spans:
        var_start = spans["variables"][0]
        entry_indent = indent_of(lines[key_line(variables, next(iter(variables))) - 1])
        edits.append(
            Edit(var_start + 1, var_start, tuple(f"{' ' * entry_indent}{v}" for v in session_vars))
        )
    else:
        header += [f"{pad}variables:", *(f"{pad}  {v}" for v in session_vars)]
    script_start = attached_start(lines, spans["script"][0])
    if header:
        edits.append(Edit(script_start, script_start - 1, tuple(header)))
    item_pad = " " * item_indent
    commands = (
        'test -n "$KUBECONFIG" || { echo "set a File-type CI/CD variable KUBECONFIG '
        '(a kubeconfig for the shared cluster)"; exit 1; }',
        f"curl -fsSL {mirrord.INSTALL_URL} | VERSION=$MIRRORD_VERSION bash",
        f'mirrord ci start -f "$CI_PROJECT_DIR/{config_file}" -- '
        f'sh "$CI_PROJECT_DIR/{mirrord.script_name(config_file)}"',
        f"timeout 120 sh -c 'until curl -sS -o /dev/null http://localhost:{target.port}/; "
        "do sleep 2; done'",
    )
    first_item = spans["script"][0] + 1
    edits.append(
        Edit(first_item, first_item - 1, tuple(f"{item_pad}- {single_quoted(c)}" for c in commands))
    )
    # `|| true`: a failed stop must not skip the job's own after_script lines.
    stop = f"{item_pad}- {single_quoted('mirrord ci stop || true')}"
    if "after_script" in spans:
        after_start = spans["after_script"][0] + 1
        edits.append(Edit(after_start, after_start - 1, (stop,)))
    else:
        script_end = spans["script"][1] + 1
        edits.append(Edit(script_end, script_end - 1, (f"{pad}after_script:", stop)))
    services_text = ", ".join(job.services)
    finding = Finding(
        provider="gitlab",
        file=job.path,
        job=job.key,
        patterns=tuple(sorted(patterns)),
        lines=(job.line_start, job.line_end),
        action="rewrite",
        reason=f"replace services {services_text} with a mirrord session on the shared cluster"
        if job.services
        else "replace the environment lines with a mirrord session on the shared cluster",
        config_file=config_file,
        target=target,
        manual_tasks=_manual_tasks(job, target, variables),
        suggestions=_suggestions(job, variables),
    )
    files = (
        (config_file, mirrord.config_text(target)),
        (mirrord.script_name(config_file), mirrord.start_script(job.key, config_file)),
    )
    return JobPlan(finding, tuple(_ordered(edits)), files)


def _ordered(edits: list[Edit]) -> list[Edit]:
    """Insertions at one place become one edit, in the order they were made."""
    out: list[Edit] = []
    for edit in edits:
        same = next(
            (
                i
                for i, e in enumerate(out)
                if e.end == e.start - 1 and edit.end == edit.start - 1 and e.start == edit.start
            ),
            None,
        )
        if same is None:
            out.append(edit)
        else:
            out[same] = Edit(edit.start, edit.end, (*out[same].lines, *edit.lines))
    return out


def _url_variables(variables: Any) -> dict[str, str]:
    if not isinstance(variables, dict):
        return {}
    return {str(k): str(v) for k, v in variables.items() if isinstance(v, str | int)}


def _manual_tasks(job: GitLabJob, target: Target, variables: Any) -> tuple[str, ...]:
    tasks = [
        "create a File-type CI/CD variable `KUBECONFIG`: a kubeconfig for a CI service account "
        "bound to the `mirrord-operator-ci` role (or use the GitLab agent's context)",
        "write how the service starts in the job into "
        f"`{mirrord.script_name(mirrord.config_name(job.path, job.key))}`",
        f"confirm the target `{target.workload}` in namespace `{target.namespace}`, port "
        f"{target.port}",
        "tests that go through staging must send `baggage: mirrord-session=$MIRRORD_KEY`, and "
        "services in between must propagate it",
    ]
    pointing = [
        k
        for k, v in _url_variables(variables).items()
        if re.match(r"(postgres(ql)?|mysql|redis|mongodb|amqp)://", v)
    ]
    if pointing:
        tasks.append(
            f"{', '.join(pointing)} pointed at the removed services: point them at the staging "
            "dependencies, or use the suggested `db_branches` (Operator)"
        )
    return tuple(tasks)


def _suggestions(job: GitLabJob, variables: Any) -> tuple[dict[str, Any], ...]:
    urls = _url_variables(variables)
    out: list[dict[str, Any]] = []
    for image in job.services:
        base = image.rsplit("/", 1)[-1].split(":", 1)[0]
        scheme = "postgres" if base.startswith("postgres") else base
        url = next((k for k, v in urls.items() if v.startswith(scheme)), None)
        entry = mirrord.db_branch(image, url)
        if entry is not None:
            out.append(entry)
    return tuple(out)
