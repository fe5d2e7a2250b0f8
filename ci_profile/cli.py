"""Command-line wiring: parse options, call one core function, render. Nothing else."""

from __future__ import annotations

import dataclasses
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar, NoReturn

import click

from ci_profile.analysis.breakdown import Filters, Report, build_report
from ci_profile.analysis.refresh import refresh_classification
from ci_profile.analysis.render import FORMATS, to_csv, to_json, to_markdown, to_rich
from ci_profile.analysis.sections import (
    GATE_BASES,
    SECTIONS,
    options_from_config,
    provisioning_share,
)
from ci_profile.cli_support import (
    db_option,
    load_rules,
    open_existing,
    scrub,
    stderr,
    stdout,
)
from ci_profile.core import config
from ci_profile.core.errors import CIProfileError, StoreError
from ci_profile.core.store import open_when_free
from ci_profile.core.times import parse_duration, parse_since

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample-data"


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"ci-profile: error: {scrub(message)}", err=True)
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


class LazyGroup(click.Group):
    """Command groups imported when named: the collectors (httpx), migrations and export cost
    a fifth of a second to import, and `analyze` needs none of them."""

    LAZY: ClassVar[dict[str, str]] = {
        "collect": "ci_profile.cli_collect",
        "export": "ci_profile.cli_export",
        "migrate": "ci_profile.cli_migrate",
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.LAZY])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.LAZY:
            command: click.Command = getattr(importlib.import_module(self.LAZY[cmd_name]), cmd_name)
            return command
        return super().get_command(ctx, cmd_name)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(package_name="ci-profile")
def cli() -> None:
    """Where does our CI time go, and how much of it builds environments instead of testing?"""


# -- analyze and demo -------------------------------------------------------------------------


def _print_report(report: Report, output_format: str) -> None:
    if output_format == "table":
        stdout.print(to_rich(report))
    else:
        render = {"json": to_json, "markdown": to_markdown, "csv": to_csv}[output_format]
        click.echo(render(report), nl=output_format != "csv")


@cli.command()
@db_option
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
    rules = load_rules()
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
    with open_existing(db) as store:
        fresh = refresh_classification(store, rules)
        report = build_report(
            store.con, filters, sections=computed, options=options, stored=fresh.current
        )
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
@db_option
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
    rules = load_rules()
    from ci_profile.collectors.sample import load_sample  # the collectors: only demo needs them

    with open_when_free(config.db_path(db)) as store:
        loaded = load_sample(sample_dir or SAMPLE_DIR, store)
        fresh = refresh_classification(store, rules)
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
            stored=fresh.current,
        )
    _print_report(report, output_format)


# -- dashboard --------------------------------------------------------------------------------


@cli.command()
@db_option
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
