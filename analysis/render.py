"""Render a Report as a rich table, JSON, Markdown (for a GitHub job summary) or CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from typing import Any

from ci_profile.analysis import render_csv, render_sections
from ci_profile.analysis.breakdown import Report
from ci_profile.analysis.classify import CATEGORIES
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

FORMATS = ("table", "json", "markdown", "csv")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    seconds = float(seconds)
    if seconds < 0:  # a what-if saving can be negative (the session start costs more)
        return "-" + duration(-seconds)
    if seconds < 60:
        return f"{seconds:.0f}s"
    minutes, sec = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def percent(share: float | None) -> str:
    return "n/a" if share is None else f"{share * 100:.1f}%"


def _headline_sentence(report: Report) -> str:
    h = report.headline
    if not report.period["jobs"]:
        return "No jobs in the selected period: nothing to analyze yet."
    return (
        f"{report.period['runs']} runs, {report.period['jobs']} jobs in "
        f"{report.period['projects']} project(s): provisioning took "
        f"{percent(h['provisioning_share'])} of runner time and tests {percent(h['test_share'])} "
        f"({duration(h['provisioning_s'])} vs {duration(h['test_s'])}); "
        f"jobs also waited {duration(h['queue_s'])} for runners."
    )


def _sections(report: Report) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) for every section, shared by the table and Markdown renderers."""
    cats = [
        [c, duration(report.categories[c]["seconds"]), percent(report.categories[c]["share"])]
        for c in CATEGORIES
    ]

    def shares(rows: Iterable[dict[str, Any]], keys: Sequence[str]) -> list[list[str]]:
        return [
            [
                *(str(r[k]) for k in keys),
                str(r["runs"]),
                duration(r["runner_s"]),
                percent(r["provisioning_share"]),
                percent(r["environment_share"]),
                percent(r["test_share"]),
                duration(r["queue_s"]),
            ]
            for r in rows
        ]

    share_header = ["runs", "runner time", "provisioning", "environment", "test", "queue"]
    q = report.queue
    return [
        ("Time by category", ["category", "time", "share"], cats),
        (
            "By project",
            ["provider", "project", *share_header],
            shares(report.by_project, ["provider", "project"]),
        ),
        (
            "By pipeline",
            ["project", "pipeline", *share_header],
            shares(report.by_pipeline, ["project", "pipeline"]),
        ),
        (
            "By job (top 20 by runner time)",
            ["project", "pipeline", "job", *share_header],
            shares(report.by_job[:20], ["project", "pipeline", "job"]),
        ),
        (
            "Queue time (waiting for a runner)",
            ["jobs", "p50", "p90", "max", "total"],
            [
                [
                    str(q["jobs"]),
                    duration(q["p50_s"]),
                    duration(q["p90_s"]),
                    duration(q["max_s"]),
                    duration(q["total_s"]),
                ]
            ],
        ),
        (
            "Most expensive steps",
            ["project", "job", "step", "category", "rule", "total", "runs", "median"],
            [
                [
                    r["project"],
                    r["job"],
                    r["step"],
                    r["category"],
                    r["rule"],
                    duration(r["total_s"]),
                    str(r["runs"]),
                    duration(r["median_s"]),
                ]
                for r in report.top_steps
            ],
        ),
        (
            "Environment time a shared cluster could remove (top 20)",
            [
                "project",
                "job",
                "runs",
                "total",
                "median/run",
                "p90/run",
                "share of job",
                "per week",
            ],
            [
                [
                    r["project"],
                    r["job"],
                    str(r["runs"]),
                    duration(r["environment_s"]),
                    duration(r["median_per_run_s"]),
                    duration(r["p90_per_run_s"]),
                    percent(r["share_of_job"]),
                    duration(r["per_week_s"]),
                ]
                for r in report.environment[:20]
            ],
        ),
    ]


def _blocks(report: Report) -> list[render_sections.Block]:
    """The breakdown's sections, then every requested extra section."""
    base = [render_sections.Block(t, h, r) for t, h, r in _sections(report)]
    return base + render_sections.blocks(report, duration, percent)


def to_rich(report: Report) -> RenderableType:
    parts: list[RenderableType] = [Text(_headline_sentence(report), style="bold")]
    parts += [Text(line) for line in render_sections.claim_sentences(report, duration, percent)]
    for block in _blocks(report):
        table = Table(
            title=Text(block.title),
            title_justify="left",
            title_style="bold cyan",
            caption=Text(block.note) if block.note else None,
            caption_justify="left",
        )
        for column in block.header:
            table.add_column(
                column, justify="left" if column in render_sections.TEXT_COLUMNS else "right"
            )
        # Text, not markup: a job named "build [linux]" must print as it is.
        for row in block.rows:
            table.add_row(*(Text(cell) for cell in row))
        if not block.rows:
            table.add_row(*([block.empty] + [""] * (len(block.header) - 1)))
        parts.append(table)
    return Group(*parts)


def to_json(report: Report) -> str:
    """Indented JSON; a list of records is written one record per line (readable as a table,
    and encoded by json's C encoder: a report on a million jobs has tens of thousands of rows).
    NaN is refused (``allow_nan=False``)."""
    return _json(report.as_dict(), "")


# One encoder for every record: json.dumps with options builds a new one per call.
_compact = json.JSONEncoder(default=str, allow_nan=False, separators=(", ", ": ")).encode
_NESTED = (dict, list)
_NESTED_TYPES = frozenset(_NESTED)


def _nested(record: dict[str, Any]) -> bool:
    # The exact types in one C-level pass first: most records are flat rows.
    if _NESTED_TYPES.isdisjoint(map(type, record.values())):
        return False
    return any(isinstance(v, _NESTED) and v for v in record.values())


def _json(value: Any, pad: str) -> str:
    inner = pad + "  "
    if isinstance(value, dict) and _nested(value):
        items = [f"{inner}{json.dumps(str(k))}: {_json(v, inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list) and value and any(isinstance(v, _NESTED) for v in value):
        return "[\n" + ",\n".join(inner + _json(v, inner) for v in value) + "\n" + pad + "]"
    return _compact(value)


def _md_cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


def to_markdown(report: Report) -> str:
    lines = ["## ci-profile: where the CI time goes", "", _headline_sentence(report), ""]
    claim = render_sections.claim_sentences(report, duration, percent, lambda v: f"**{v}**")
    if claim:
        lines += ["> " + claim[0], ">"]
        lines += [f"> - {line}" for line in claim[1:]]
        lines.append("")
    for block in _blocks(report):
        lines += [f"### {block.title}", ""]
        if block.note:
            lines += [f"_{_md_cell(block.note)}_", ""]
        if not block.rows:
            lines += [f"_{block.empty}_", ""]
            continue
        lines.append("| " + " | ".join(block.header) + " |")
        lines.append("|" + "|".join("---" for _ in block.header) + "|")
        lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block.rows]
        lines.append("")
    return "\n".join(lines)


CSV_COLUMNS = (
    "section",
    "provider",
    "project",
    "pipeline",
    "job",
    "step",
    "category",
    "rule",
    "seconds",
    "share",
    "runs",
    "median_s",
    *render_csv.CSV_EXTRA_COLUMNS,
)


def to_csv(report: Report) -> str:
    """One long table: a row per figure, the section saying which breakdown it belongs to."""
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n"
    )
    writer.writeheader()
    for category, figures in report.categories.items():
        writer.writerow(
            {
                "section": "categories",
                "category": category,
                "seconds": figures["seconds"],
                "share": figures["share"],
            }
        )
    for section, rows in (
        ("project", report.by_project),
        ("pipeline", report.by_pipeline),
        ("job", report.by_job),
    ):
        for row in rows:
            for category, key in (
                ("provisioning", "provisioning"),
                ("environment", "environment"),
                ("test", "test"),
            ):
                writer.writerow(
                    {
                        **row,
                        "section": section,
                        "category": category,
                        "seconds": row[f"{key}_s"],
                        "share": row[f"{key}_share"],
                    }
                )
    writer.writerow(
        {
            "section": "queue",
            "category": "queue",
            "seconds": report.queue.get("total_s"),
            "runs": report.queue.get("jobs"),
            "median_s": report.queue.get("p50_s"),
        }
    )
    for row in report.top_steps:
        writer.writerow({**row, "section": "top_steps", "seconds": row["total_s"]})
    for row in report.environment:
        writer.writerow(
            {
                **row,
                "section": "environment",
                "category": "environment",
                "seconds": row["environment_s"],
                "share": row["share_of_job"],
                "median_s": row["median_per_run_s"],
            }
        )
    for extra in render_csv.csv_rows(report):
        writer.writerow(extra)
    return buffer.getvalue()
