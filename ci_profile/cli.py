"""Command-line wiring: parse options, call one core function, render. Nothing else."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ci_profile.analysis.breakdown import Filters, Report, build_report
from ci_profile.analysis.classify import Rule, build_rules
from ci_profile.analysis.refresh import refresh_classification
from ci_profile.analysis.render import FORMATS, duration, to_csv, to_json, to_markdown, to_rich
from ci_profile.analysis.sections import (
    GATE_BASES,
    SECTIONS,
    options_from_config,
    provisioning_share,
)
from ci_profile.cli_export import export
from ci_profile.cli_migrate import migrate
from ci_profile.collectors import github
from ci_profile.collectors.common import CollectResult
from ci_profile.collectors.http import HttpClient, RetryPolicy
from ci_profile.collectors.many import Outcome, collect_many, read_projects_file
from ci_profile.collectors.sample import load_sample
from ci_profile.core import config
from ci_profile.core.errors import CIProfileError, StoreError
from ci_profile.core.store import SharedStore, Store, open_when_free
from ci_profile.core.times import parse_duration, parse_since

if TYPE_CHECKING:
    from ci_profile.collectors.gitlab import GitLabCollectResult

# Piped output (CI logs, files) gets a fixed width instead of rich's 80-column fallback.
stdout = Console(soft_wrap=False, width=None if sys.stdout.isatty() else 120)
stderr = Console(stderr=True, width=None if sys.stderr.isatty() else 120)
_secrets: list[str] = []

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample-data"
# How long analyze waits for a collection to finish writing a batch before giving up.
READ_WAIT_S = 5.0


def _scrub(text: str) -> str:
    for secret in _secrets:
        text = text.replace(secret, "***")
    return text


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"ci-profile: error: {_scrub(message)}", err=True)
    sys.exit(code)


def main() -> None:
    """Entry point: every error a user can cause becomes one line on stderr and an exit code."""
    try:
        cli.main(standalone_mode=False)
    except CIProfileError as exc:
        _fail(str(exc), exc.exit_code)
    except click.exceptions.Abort:
        _fail("interrupted; everything collected before this point is kept", 130)
    except KeyboardInterrupt:
        _fail("interrupted; everything collected before this point is kept", 130)
    except click.ClickException as exc:
        _fail(exc.format_message(), exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:
        if config.debug():
            raise
        _fail(
            f"internal error ({type(exc).__name__}: {exc}); nothing stored was lost. "
            "Set CI_PROFILE_DEBUG=1 for a traceback and please report it",
            70,
        )


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="ci-profile")
def cli() -> None:
    """Where does our CI time go, and how much of it builds environments instead of testing?"""


cli.add_command(migrate)
cli.add_command(export)


def _db_option(function: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--db",
        "db",
        default=None,
        metavar="PATH",
        help=f"DuckDB file (env CI_PROFILE_DB, default {config.DEFAULT_DB}).",
    )(function)


def _rules() -> list[Rule]:
    project = config.load_project_config()
    return build_rules(project.rules, project.disabled_rules)


def _refresh(path: str, rules: list[Rule]) -> None:
    """Keep classified_steps current after a collection."""
    with open_when_free(path) as store:
        refresh_classification(store, rules)


@contextmanager
def _open_existing(db: str | None) -> Iterator[Store]:
    path = config.db_path(db)
    if path != ":memory:" and not Path(path).exists():
        raise StoreError(
            f"no database at {path}; run `ci-profile demo` or `ci-profile collect` first"
        )
    with open_when_free(path, timeout_s=READ_WAIT_S) as store:
        yield store


# -- collect ----------------------------------------------------------------------------------


@cli.group()
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
@click.option(
    "--max-requests", default=None, type=click.IntRange(1), help="Stop after this many requests."
)
@click.option(
    "--max-wait",
    default="65m",
    show_default=True,
    help="Longest wait for a rate-limit reset (e.g. 0, 90s, 10m) before stopping.",
)
@_db_option
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
    rules = _rules()
    token = config.github_token()
    if token is not None:
        _secrets.append(token.reveal())
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

            if len(repos) == 1:
                outcomes = [Outcome(repos[0], result=one(repos[0]))]
            else:
                outcomes = collect_many(repos, one, parallel=2)
    _refresh(store.path, rules)
    for outcome in outcomes:
        if outcome.result is not None:
            _github_summary(outcome.project, outcome.result, totals=len(repos) == 1)
    if len(repos) > 1:
        _report_many(outcomes, http, "repositories")


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
        click.echo(f"ci-profile: error: {outcome.project}: {_scrub(str(outcome.error))}", err=True)
    if failed and failed[0].error is not None:
        sys.exit(failed[0].error.exit_code)


def _github_summary(repo: str, result: CollectResult, *, totals: bool) -> None:
    for warning in result.warnings:
        stderr.print(f"[yellow]warning: {warning}[/yellow]")
    rate = (
        f", rate limit left {result.rate_remaining}/{result.rate_limit}"
        if result.rate_remaining is not None
        else ""
    )
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


# -- analyze and demo -------------------------------------------------------------------------


def _print_report(report: Report, output_format: str) -> None:
    if output_format == "table":
        stdout.print(to_rich(report))
    else:
        render = {"json": to_json, "markdown": to_markdown, "csv": to_csv}[output_format]
        click.echo(render(report), nl=output_format != "csv")


@cli.command()
@_db_option
@click.option("--project", "projects", multiple=True, help="Only this project (repeatable).")
@click.option(
    "--provider", "providers", multiple=True, type=click.Choice(["github", "gitlab", "jenkins"])
)
@click.option("--since", default=None, help="30d, 12h, 2w or YYYY-MM-DD (default: everything).")
@click.option("--until", default=None, help="Upper bound, same forms as --since.")
@click.option(
    "--format", "output_format", type=click.Choice(FORMATS), default="table", show_default=True
)
@click.option(
    "--section",
    "section_names",
    multiple=True,
    type=click.Choice([*SECTIONS, "all", "none"]),
    help="Sections beyond the breakdown (repeatable; default: all).",
)
@click.option(
    "--session-start-cost",
    default=None,
    metavar="DURATION",
    help="What-if: session start added per job (default 20s, an estimate; "
    "[analysis] session_start_s).",
)
@click.option(
    "--fail-if-provisioning-share-above",
    "gate",
    type=click.FloatRange(0, 1),
    default=None,
    metavar="SHARE",
    help="Exit 1 when provisioning exceeds this share (0-1), for use as a CI gate.",
)
@click.option(
    "--gate-basis",
    type=click.Choice(GATE_BASES),
    default="runner-time",
    show_default=True,
    help="What the gate's share is of: runner time (cost) or the critical path (waiting).",
)
def analyze(
    db: str | None,
    projects: Sequence[str],
    providers: Sequence[str],
    since: str | None,
    until: str | None,
    output_format: str,
    section_names: Sequence[str],
    session_start_cost: str | None,
    gate: float | None,
    gate_basis: str,
) -> None:
    """Break stored CI time down by category, project, pipeline, job and step; then the
    critical path, what-if savings, percentiles, trends, waste, cost and concurrency."""
    filters = Filters(
        tuple(projects), tuple(providers), parse_since(since), parse_since(until, option="--until")
    )
    rules = _rules()
    project = config.load_project_config()
    start = (
        None
        if session_start_cost is None
        else parse_duration(session_start_cost, option="--session-start-cost")
    )
    options = options_from_config(project.extra, project.source, session_start_s=start)
    chosen = set(section_names or ("all",))
    sections = set(SECTIONS) if "all" in chosen else chosen - {"none"}
    computed = sections | (
        {"critical-path"} if gate is not None and gate_basis != "runner-time" else set()
    )
    with _open_existing(db) as store:
        refresh_classification(store, rules)
        report = build_report(store.con, filters, sections=computed, options=options)
    shown = report
    if computed != sections:
        shown = dataclasses.replace(report, critical_path=None, claim=None)
    _print_report(shown, output_format)
    if gate is not None:
        share, basis = provisioning_share(report, gate_basis)
        if share is None:
            click.echo(
                "ci-profile: gate skipped: not enough data for a provisioning share", err=True
            )
        elif share > gate:
            click.echo(
                f"ci-profile: gate failed: provisioning is {share:.1%} of {basis}, "
                f"above {gate:.1%}",
                err=True,
            )
            sys.exit(1)


@cli.command()
@_db_option
@click.option(
    "--sample-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Sample data folder (default: the bundled sample-data/).",
)
@click.option(
    "--format", "output_format", type=click.Choice(FORMATS), default="table", show_default=True
)
def demo(db: str | None, sample_dir: Path | None, output_format: str) -> None:
    """Load the bundled sample data (no network, no token) and analyze it, every section."""
    rules = _rules()
    with open_when_free(config.db_path(db)) as store:
        loaded = load_sample(sample_dir or SAMPLE_DIR, store)
        refresh_classification(store, rules)
        if output_format == "table":
            stderr.print(
                f"loaded {loaded.runs} run attempts, {loaded.jobs} jobs, {loaded.steps} steps of "
                f"{', '.join(loaded.projects)} into {store.path}",
                highlight=False,
            )
        project = config.load_project_config()
        options = options_from_config(project.extra, project.source)
        report = build_report(
            store.con,
            Filters(projects=tuple(loaded.projects)),
            sections=set(SECTIONS),
            options=options,
        )
    _print_report(report, output_format)


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
@click.option(
    "--max-requests", default=None, type=click.IntRange(1), help="Stop after this many requests."
)
@_db_option
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
    rules = _rules()
    auth = config.jenkins_auth()
    if auth is not None:
        _secrets.append(auth[1].reveal())
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
    _refresh(store.path, rules)
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
@click.option(
    "--max-requests", default=None, type=click.IntRange(1), help="Stop after this many requests."
)
@click.option(
    "--max-wait",
    default="65m",
    show_default=True,
    help="Longest wait for a rate-limit reset (e.g. 0, 90s, 10m) before stopping.",
)
@_db_option
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
    rules = _rules()
    token = config.gitlab_token()
    if token is not None:
        _secrets.append(token.reveal())
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

            if len(projects) == 1:
                outcomes = [Outcome(projects[0], result=one(projects[0]))]
            else:
                outcomes = collect_many(projects, one, parallel=2)
    _refresh(store.path, rules)
    for outcome in outcomes:
        if isinstance(outcome.result, gitlab.GitLabCollectResult):
            _gitlab_summary(outcome.result, totals=len(projects) == 1)
    if len(projects) > 1:
        _report_many(outcomes, http, "projects")


def _gitlab_summary(result: GitLabCollectResult, *, totals: bool) -> None:
    for warning in result.warnings:
        stderr.print(f"[yellow]warning: {warning}[/yellow]", highlight=False)
    rate = (
        f", rate limit left {result.rate_remaining}/{result.rate_limit}"
        if result.rate_remaining is not None
        else ""
    )
    cost = f"; {result.requests} requests ({result.retries} retried){rate}" if totals else ""
    stdout.print(
        f"{result.project}: {result.runs_listed} pipelines listed, {result.runs_fetched} fetched "
        f"({result.runs} pipelines incl. {result.child_pipelines} child, {result.jobs} jobs, "
        f"{result.steps} sections from {result.traces} logs, {result.pipeline_files} pipeline "
        f"files stored){cost}",
        highlight=False,
    )


# -- dashboard --------------------------------------------------------------------------------


@cli.command()
@_db_option
@click.option("--port", default=8501, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (0.0.0.0 exposes the dashboard to the network).",
)
def dashboard(db: str | None, port: int, host: str) -> None:
    """Open the Streamlit dashboard on the database (reads only; collect can keep writing)."""
    import importlib.util
    import os

    from ci_profile import dashboard as package

    path = config.db_path(db)
    file = Path(path).expanduser().resolve()
    if not file.exists():
        raise StoreError(
            f"no database at {path}; run `ci-profile demo --db {path}` "
            "or `ci-profile collect` first"
        )
    if not file.is_file() or not os.access(file, os.R_OK):
        raise StoreError(f"cannot read database {path}: not a readable file")
    if importlib.util.find_spec("streamlit") is None:
        raise click.ClickException("streamlit is not installed: pip install 'ci-profile'")
    app = Path(package.__file__).resolve().parent / "app.py"
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"ci-profile dashboard on {file}: http://{shown}:{port}  (Ctrl-C to stop)")
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.port",
        str(port),
        "--server.address",
        host,
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "minimal",
        "--",
        "--db",
        str(file),
    ]
    sys.stdout.flush()
    os.execv(sys.executable, command)
