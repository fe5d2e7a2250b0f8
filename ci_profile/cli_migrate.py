"""Command-line wiring of ``ci-profile migrate``: plan (and --write), pr. Nothing else.

Kept apart from ``cli.py`` so the migrate commands can grow without touching the rest; errors
are the same CIProfileError tree, turned into one line by ``cli.main``.
"""

from __future__ import annotations

from pathlib import Path

import click

from ci_profile.analysis.whatif import DEFAULT_SESSION_START_S
from ci_profile.core import config
from ci_profile.core.errors import MigrationError, StoreError, UsageError
from ci_profile.core.store import Store
from ci_profile.core.times import parse_duration
from ci_profile.migrate import evidence, mirrord, render
from ci_profile.migrate.model import Plan
from ci_profile.migrate.plan import build_plan, unified_diff
from ci_profile.migrate.plan import write as write_changes

DEFAULT_BRANCH = "ci-profile/mirrord-migration"


def _plan(
    repo_dir: Path,
    db: str | None,
    project: str | None,
    namespace: str,
    session_start_cost: str | None,
) -> Plan:
    start = (
        DEFAULT_SESSION_START_S
        if session_start_cost is None
        else parse_duration(session_start_cost, option="--session-start-cost")
    )
    plan = build_plan(repo_dir, namespace)
    path = config.db_path(db)
    if path != ":memory:" and not Path(path).exists():
        if db is not None:
            raise StoreError(f"no database at {path}; run `ci-profile demo` or `collect` first")
        plan.notes.append(f"no database at {path}: findings carry no measured time")
        return plan
    if plan.findings:
        with Store.open(path, read_only=path != ":memory:") as store:
            evidence.attach(plan, store.con, repo_dir, project=project, session_start_s=start)
    return plan


def _common(function: click.decorators.FC) -> click.decorators.FC:
    options = [
        click.option(
            "--repo-dir",
            type=click.Path(file_okay=False, path_type=Path),
            default=Path("."),
            show_default=True,
            help="The repository to read (.github/workflows, .gitlab-ci.yml).",
        ),
        click.option(
            "--db",
            default=None,
            metavar="PATH",
            help=f"DuckDB file with runs of the project (env CI_PROFILE_DB, default "
            f"{config.DEFAULT_DB}), for measured time.",
        ),
        click.option(
            "--project",
            default=None,
            metavar="NAME",
            help="The project's name in the database (default: the git remote, or the last two "
            "parts of --repo-dir).",
        ),
        click.option(
            "--namespace",
            default="staging",
            show_default=True,
            help="Namespace of the shared cluster the jobs will run against.",
        ),
        click.option(
            "--session-start-cost",
            default=None,
            metavar="DURATION",
            help="Time a mirrord session takes to start, taken off the saving (default 20s).",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


@click.group()
def migrate() -> None:
    """Rewrite jobs that build their own environment into mirrord sessions on a shared cluster."""


@migrate.command("plan")
@_common
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "diff"]),
    default="text",
    show_default=True,
)
@click.option("--write", is_flag=True, help="Apply the rewrites and write the .mirrord/ configs.")
def plan_command(
    repo_dir: Path,
    db: str | None,
    project: str | None,
    namespace: str,
    session_start_cost: str | None,
    output_format: str,
    write: bool,
) -> None:
    """Find environment-building jobs and show what the migration changes."""
    plan = _plan(repo_dir, db, project, namespace, session_start_cost)
    if output_format == "json":
        click.echo(render.to_json(plan))
    elif output_format == "diff":
        click.echo(unified_diff(plan), nl=False)
    else:
        click.echo(render.to_text(plan))
    if write:
        written = write_changes(plan, repo_dir)
        click.echo(
            f"wrote {len(written)} file{'s' if len(written) != 1 else ''}"
            + (f": {', '.join(written)}" if written else " (nothing to change)"),
            err=output_format != "text",
        )


@migrate.command("pr")
@_common
@click.option(
    "--github", "github_repo", default=None, metavar="OWNER/REPO", help="Open a GitHub PR."
)
@click.option(
    "--gitlab", "gitlab_project", default=None, metavar="PROJECT", help="Open a GitLab MR."
)
@click.option(
    "--base", default=None, help="Branch to open the PR/MR against (default: the default branch)."
)
@click.option("--branch", default=DEFAULT_BRANCH, show_default=True, help="Branch to create.")
@click.option("--draft", is_flag=True, help="Open it as a draft.")
@click.option("--force-branch", is_flag=True, help="Replace the branch if it exists.")
@click.option("--api-url", default=None, help="GitHub API URL (env GITHUB_API_URL).")
@click.option("--url", "gitlab_url", default=None, help="GitLab URL (env GITLAB_URL).")
def pr_command(
    repo_dir: Path,
    db: str | None,
    project: str | None,
    namespace: str,
    session_start_cost: str | None,
    github_repo: str | None,
    gitlab_project: str | None,
    base: str | None,
    branch: str,
    draft: bool,
    force_branch: bool,
    api_url: str | None,
    gitlab_url: str | None,
) -> None:
    """Commit the migration to a new branch and open a PR (GitHub) or MR (GitLab)."""
    if (github_repo is None) == (gitlab_project is None):
        raise UsageError("pass exactly one of --github OWNER/REPO or --gitlab PROJECT")
    provider = "github" if github_repo is not None else "gitlab"
    name = github_repo or gitlab_project or ""
    plan = _plan(repo_dir, db, project or name, namespace, session_start_cost)
    rewrites = [f for f in plan.rewrites if f.provider == provider]
    if not rewrites:
        raise MigrationError(
            f"nothing to migrate in {repo_dir} for {provider}; nothing was changed"
        )
    plan.findings = [f for f in plan.findings if f.provider == provider]
    files = {f.file for f in rewrites}
    for finding in rewrites:
        if finding.config_file is not None:
            files |= {finding.config_file, mirrord.script_name(finding.config_file)}
    changes = tuple(c for c in plan.changes if c.path in files)
    # PyGithub and python-gitlab take a third of a second to import: only this command needs them.
    from ci_profile.migrate import publish

    title = render.pr_title(plan)
    proposal = publish.Proposal(
        branch=branch,
        base=base,
        title=title,
        body=render.pr_body(plan),
        message=f"{title}\n\nGenerated by `ci-profile migrate pr`: the jobs stop building their "
        "own environment and test against the shared cluster through mirrord.",
        changes=changes,
        draft=draft,
        force_branch=force_branch,
    )
    if github_repo is not None:
        url = publish.publish_github(
            github_repo, config.github_token(), config.github_api_url(api_url), proposal
        )
    else:
        url = publish.publish_gitlab(
            name, config.gitlab_token(), config.gitlab_url(gitlab_url), proposal
        )
    click.echo(url)
