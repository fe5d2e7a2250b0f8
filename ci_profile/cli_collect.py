"""The ``collect`` commands: GitHub Actions, GitLab CI and Jenkins into the store."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ci_profile.analysis.render import duration
from ci_profile.cli_support import (
    db_option,
    load_rules,
    refresh,
    scrub,
    secrets,
    stderr,
    stdout,
)
from ci_profile.collectors import github
from ci_profile.collectors.common import CollectResult
from ci_profile.collectors.http import HttpClient, RetryPolicy
from ci_profile.collectors.many import Outcome, collect_many, read_projects_file
from ci_profile.core import config
from ci_profile.core.shared_store import SharedStore
from ci_profile.core.times import parse_duration, parse_since

if TYPE_CHECKING:
    from ci_profile.collectors.gitlab import GitLabCollectResult


# -- collect ----------------------------------------------------------------------------------


@click.group()
def collect() -> None:
    """Pull run, job and step timings from a CI provider into the database."""


class _RichProgress:
    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._task = progress.add_task("collecting", total=0)

    def listed(self, runs: int) -> None:
        task = self._progress.tasks[0]
        self._progress.update(self._task, total=(task.total or 0) + runs)

    def fetched(self, runs: int) -> None:
        self._progress.advance(self._task, runs)


@contextmanager
def _progress() -> Iterator[_RichProgress]:
    """The collectors' progress bar on stderr, gone when the collection ends."""
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr,
        transient=True,
    ) as bar:
        yield _RichProgress(bar)


def _on_wait(seconds: float, reason: str) -> None:
    stderr.print(f"[yellow]waiting {duration(seconds)}: {reason}[/yellow]")


_max_requests_option = click.option(
    "--max-requests", default=None, type=click.IntRange(1), help="Stop after this many requests."
)
_max_wait_option = click.option(
    "--max-wait",
    default="65m",
    show_default=True,
    help="Longest wait for a rate-limit reset (e.g. 0, 90s, 10m) before stopping.",
)


def _budget_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """--max-requests and --max-wait, for the providers that announce rate limits."""
    return _max_requests_option(_max_wait_option(function))


@collect.command("github")
@click.argument("repo", metavar="[OWNER/REPO]", required=False)
@click.option(
    "--repos-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also collect every OWNER/REPO listed in this file (one a line, # comments), "
    "two at a time on one token.",
)
@click.option("--since", default="30d", show_default=True, help="30d, 12h, 2w or YYYY-MM-DD.")
@click.option("--until", default=None, help="Upper bound of run creation time (default: now).")
@click.option("--workflow", default=None, help="Only this workflow (file name like ci.yml, or id).")
@click.option(
    "--api-url",
    default=None,
    help="API base URL (env GITHUB_API_URL) for GitHub Enterprise Server.",
)
@click.option(
    "--concurrency",
    default=4,
    show_default=True,
    type=click.IntRange(1, 16),
    help="Parallel requests.",
)
@_budget_options
@db_option
def collect_github(
    repo: str | None,
    repos_file: Path | None,
    since: str,
    until: str | None,
    workflow: str | None,
    api_url: str | None,
    concurrency: int,
    max_requests: int | None,
    max_wait: str,
    db: str | None,
) -> None:
    """Collect GitHub Actions runs of OWNER/REPO (token from GITHUB_TOKEN or GH_TOKEN)."""
    start, end = parse_since(since), parse_since(until, option="--until")
    repos = _projects(repo, repos_file, "name OWNER/REPO or give --repos-file FILE")
    rules = load_rules()
    token = config.github_token()
    if token is not None:
        secrets.append(token.reveal())
    else:
        stderr.print(
            "[yellow]no GITHUB_TOKEN or GH_TOKEN set: "
            "public repositories only, 60 requests/hour[/yellow]"
        )
    store = SharedStore(config.db_path(db))
    with github.make_client(config.github_api_url(api_url), token) as client:
        policy = RetryPolicy(max_rate_wait_s=parse_duration(max_wait, option="--max-wait"))
        http = github.make_http(
            client,
            concurrency=concurrency,
            max_requests=max_requests,
            on_wait=_on_wait,
            policy=policy,
        )
        with _progress() as progress:

            def one(name: str) -> CollectResult:
                with store.claim("github", name):
                    collector = github.GitHubCollector(
                        http,
                        store,
                        name,
                        workflow=workflow,
                        concurrency=concurrency,
                        progress=progress,
                    )
                    return collector.collect(start, end)

            outcomes = _collect_all(repos, one)
    refresh(store.path, rules)
    for outcome in outcomes:
        if outcome.result is not None:
            _github_summary(outcome.project, outcome.result, totals=len(repos) == 1)
    if len(repos) > 1:
        _report_many(outcomes, http, "repositories")


def _collect_all(projects: Sequence[str], one: Callable[[str], CollectResult]) -> list[Outcome]:
    """One project in the foreground (its errors are the command's), several two at a time."""
    if len(projects) == 1:
        return [Outcome(projects[0], result=one(projects[0]))]
    return collect_many(projects, one, parallel=2)


def _rate_left(result: CollectResult) -> str:
    if result.rate_remaining is None:
        return ""
    return f", rate limit left {result.rate_remaining}/{result.rate_limit}"


def _projects(named: str | None, listed: Path | None, usage: str) -> list[str]:
    projects = [named] if named else []
    if listed is not None:
        projects += [p for p in read_projects_file(listed) if p not in projects]
    if not projects:
        raise click.UsageError(usage)
    return projects


def _report_many(outcomes: Sequence[Outcome], http: HttpClient, noun: str) -> None:
    """The totals of a --repos-file/--projects-file collection, then each failure; exit with
    the first failure's code."""
    failed = [o for o in outcomes if o.error is not None]
    click.echo(
        f"{len(outcomes) - len(failed)} of {len(outcomes)} {noun} collected; "
        f"{http.stats.requests} requests ({http.stats.not_modified} not modified, "
        f"{http.stats.retries} retried)"
    )
    for outcome in failed:
        click.echo(f"ci-profile: error: {outcome.project}: {scrub(str(outcome.error))}", err=True)
    if failed and failed[0].error is not None:
        sys.exit(failed[0].error.exit_code)


def _github_summary(repo: str, result: CollectResult, *, totals: bool) -> None:
    for warning in result.warnings:
        stderr.print(f"[yellow]warning: {warning}[/yellow]")
    rate = _rate_left(result)
    cost = (
        f"; {result.requests} requests ({result.not_modified} not modified, "
        f"{result.retries} retried){rate}"
        if totals
        else ""
    )
    click.echo(
        f"{repo}: {result.runs_listed} runs listed, {result.runs_fetched} fetched "
        f"({result.runs} run attempts, {result.jobs} jobs, {result.steps} steps, "
        f"{result.pipeline_files} workflow files stored){cost}"
    )


# -- collect jenkins --------------------------------------------------------------------------


@collect.command("jenkins")
@click.argument("job_path", metavar="JOB_PATH")
@click.option("--since", default="30d", show_default=True, help="30d, 12h, 2w or YYYY-MM-DD.")
@click.option("--url", default=None, help="Jenkins root URL (env JENKINS_URL).")
@click.option(
    "--concurrency",
    default=2,
    show_default=True,
    type=click.IntRange(1, 8),
    help="Parallel requests.",
)
@_max_requests_option
@db_option
def collect_jenkins(
    job_path: str,
    since: str,
    url: str | None,
    concurrency: int,
    max_requests: int | None,
    db: str | None,
) -> None:
    """Collect the builds of a Jenkins job: JOB_PATH is its full name, folders included
    (team/service/main). Credentials from JENKINS_USER + JENKINS_TOKEN (an API token)."""
    from ci_profile.collectors import jenkins

    start = parse_since(since)
    base = config.jenkins_url(url)
    if base is None:
        raise click.UsageError("no Jenkins URL: pass --url or set JENKINS_URL")
    rules = load_rules()
    auth = config.jenkins_auth()
    if auth is not None:
        secrets.append(auth[1].reveal())
    else:
        stderr.print(
            "[yellow]no JENKINS_USER + JENKINS_TOKEN set: trying anonymous read access[/yellow]"
        )
    store = SharedStore(config.db_path(db))
    with store.claim("jenkins", job_path), jenkins.make_client(base, auth) as client:
        http = jenkins.make_http(
            client, concurrency=concurrency, max_requests=max_requests, on_wait=_on_wait
        )
        with _progress() as progress:
            collector = jenkins.JenkinsCollector(
                http,
                store,
                job_path,
                authenticated=auth is not None,
                concurrency=concurrency,
                progress=progress,
            )
            result = collector.collect(start)
    refresh(store.path, rules)
    for warning in result.warnings:
        stderr.print(f"[yellow]warning: {warning}[/yellow]", highlight=False)
    stdout.print(
        f"{result.project}: {result.runs_listed} builds listed, {result.runs_fetched} fetched "
        f"({result.runs} builds, {result.jobs} stages, {result.steps} steps stored); "
        f"{result.requests} requests ({result.retries} retried)",
        highlight=False,
    )


# -- collect gitlab ---------------------------------------------------------------------------


@collect.command("gitlab")
@click.argument("project", metavar="[GROUP/PROJECT]", required=False)
@click.option(
    "--projects-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also collect every GROUP/PROJECT listed in this file (one a line, # comments), "
    "two at a time on one token.",
)
@click.option("--since", default="30d", show_default=True, help="30d, 12h, 2w or YYYY-MM-DD.")
@click.option("--until", default=None, help="Upper bound of pipeline update time (default: now).")
@click.option("--url", default=None, help="GitLab URL (env GITLAB_URL, default gitlab.com).")
@click.option(
    "--concurrency",
    default=4,
    show_default=True,
    type=click.IntRange(1, 16),
    help="Parallel requests.",
)
@click.option(
    "--max-rate",
    default=10.0,
    show_default=True,
    type=click.FloatRange(0),
    help="At most this many requests per second (0: no limit of our own).",
)
@_budget_options
@db_option
def collect_gitlab(
    project: str | None,
    projects_file: Path | None,
    since: str,
    until: str | None,
    url: str | None,
    concurrency: int,
    max_rate: float,
    max_requests: int | None,
    max_wait: str,
    db: str | None,
) -> None:
    """Collect GitLab CI pipelines of GROUP/PROJECT (token from GITLAB_TOKEN, scope read_api)."""
    from ci_profile.collectors import gitlab

    start, end = parse_since(since), parse_since(until, option="--until")
    projects = _projects(project, projects_file, "name GROUP/PROJECT or give --projects-file FILE")
    for name in projects:
        gitlab.check_project_path(name)
    policy = RetryPolicy(max_rate_wait_s=parse_duration(max_wait, option="--max-wait"))
    rules = load_rules()
    token = config.gitlab_token()
    if token is not None:
        secrets.append(token.reveal())
    else:
        stderr.print("[yellow]no GITLAB_TOKEN set: public projects only[/yellow]")
    store = SharedStore(config.db_path(db))
    with gitlab.make_client(config.gitlab_url(url), token) as client:
        http = gitlab.make_http(
            client,
            concurrency=concurrency,
            max_requests=max_requests,
            on_wait=_on_wait,
            policy=policy,
            max_rate=max_rate,
        )
        with _progress() as progress:

            def one(name: str) -> CollectResult:
                with store.claim("gitlab", name):
                    collector = gitlab.GitLabCollector(
                        http, store, name, concurrency=concurrency, progress=progress
                    )
                    return collector.collect(start, end)

            outcomes = _collect_all(projects, one)
    refresh(store.path, rules)
    for outcome in outcomes:
        if isinstance(outcome.result, gitlab.GitLabCollectResult):
            _gitlab_summary(outcome.result, totals=len(projects) == 1)
    if len(projects) > 1:
        _report_many(outcomes, http, "projects")


def _gitlab_summary(result: GitLabCollectResult, *, totals: bool) -> None:
    for warning in result.warnings:
        stderr.print(f"[yellow]warning: {warning}[/yellow]", highlight=False)
    rate = _rate_left(result)
    cost = f"; {result.requests} requests ({result.retries} retried){rate}" if totals else ""
    stdout.print(
        f"{result.project}: {result.runs_listed} pipelines listed, {result.runs_fetched} fetched "
        f"({result.runs} pipelines incl. {result.child_pipelines} child, {result.jobs} jobs, "
        f"{result.steps} sections from {result.traces} logs, {result.pipeline_files} pipeline "
        f"files stored){cost}",
        highlight=False,
    )
