"""Command-line wiring of `ci-profile export`: parse options, call core.export, report."""

from __future__ import annotations

from pathlib import Path

import click

from ci_profile.analysis.refresh import refresh_classification
from ci_profile.cli_support import db_option, existing_path, load_rules
from ci_profile.core.export import export_parquet
from ci_profile.core.store import open_when_free


@click.group()
def export() -> None:
    """Write the stored tables out for other tools."""


@export.command("parquet")
@click.argument("directory", type=click.Path(path_type=Path))
@db_option
def export_parquet_command(directory: Path, db: str | None) -> None:
    """Write runs, jobs, steps and classified_steps as Parquet under DIRECTORY, hive-partitioned
    by provider and month (DIRECTORY/jobs/provider=github/month=2024-05/...)."""
    with open_when_free(existing_path(db)) as store:
        refresh_classification(store, load_rules())
        result = export_parquet(store, directory)
    counts = ", ".join(f"{rows} {table}" for table, rows in result.rows.items())
    click.echo(f"exported {counts} to {result.directory} ({result.files} Parquet files)")
