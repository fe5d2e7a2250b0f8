"""Command-line wiring of `ci-profile export`: parse options, call core.export, report."""

from __future__ import annotations

from pathlib import Path

import click

from ci_profile.analysis.classify import build_rules
from ci_profile.analysis.refresh import refresh_classification
from ci_profile.core import config
from ci_profile.core.errors import StoreError
from ci_profile.core.export import export_parquet
from ci_profile.core.store import open_when_free


@click.group()
def export() -> None:
    """Write the stored tables out for other tools."""


@export.command("parquet")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option(
    "--db",
    "db",
    default=None,
    metavar="PATH",
    help=f"DuckDB file (env CI_PROFILE_DB, default {config.DEFAULT_DB}).",
)
def export_parquet_command(directory: Path, db: str | None) -> None:
    """Write runs, jobs, steps and classified_steps as Parquet under DIRECTORY, hive-partitioned
    by provider and month (DIRECTORY/jobs/provider=github/month=2024-05/...)."""
    path = config.db_path(db)
    if path != ":memory:" and not Path(path).exists():
        raise StoreError(
            f"no database at {path}; run `ci-profile demo` or `ci-profile collect` first"
        )
    project = config.load_project_config()
    with open_when_free(path) as store:
        refresh_classification(store, build_rules(project.rules, project.disabled_rules))
        result = export_parquet(store, directory)
    counts = ", ".join(f"{rows} {table}" for table, rows in result.rows.items())
    click.echo(f"exported {counts} to {result.directory} ({result.files} Parquet files)")
