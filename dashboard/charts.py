"""Plotly figures for the dashboard: pure functions of query results, no Streamlit, no I/O.

One colour per category (:data:`CATEGORY_COLORS`) for every figure, so ``environment`` is the
same red on the Overview bar, the weekly stack, the treemap, a run's Gantt and the step ranking.
Provisioning categories are warm, work categories cool, queue and ``other`` greys.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
from ci_profile.analysis import render
from ci_profile.analysis.classify import CATEGORIES

CATEGORY_COLORS: dict[str, str] = {
    "queue": "#9aa0a6",
    "setup": "#f6c85f",
    "dependencies": "#f4a261",
    "environment": "#e63946",
    "build": "#4895ef",
    "test": "#2a9d8f",
    "lint": "#9d4edd",
    "teardown": "#b5838d",
    "publish": "#577590",
    "other": "#c8c8c8",
}

FONT = {"family": "Source Sans Pro, Arial, sans-serif", "size": 13}
Row = Mapping[str, Any]


def duration(seconds: float | None) -> str:
    """``render.duration``, with NaN shown as "n/a" like None."""
    return render.duration(None if seconds is None or seconds != seconds else seconds)


def color(category: str) -> str:
    return CATEGORY_COLORS.get(category, CATEGORY_COLORS["other"])


def _layout(figure: go.Figure, *, title: str, height: int = 360, **extra: Any) -> go.Figure:
    figure.update_layout(
        title={"text": title, "x": 0, "xanchor": "left"},
        height=height,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        font=FONT,
        legend={
            "orientation": "h",
            "yanchor": "bottom",
            "y": 1.0,
            "xanchor": "right",
            "x": 1,
            "traceorder": "normal",
        },
        **extra,
    )
    return figure


def _hours(seconds: float | None) -> float:
    return round(float(seconds or 0.0) / 3600.0, 2)


def empty(message: str, *, height: int = 200) -> go.Figure:
    figure = go.Figure()
    figure.add_annotation(text=message, showarrow=False, font={"size": 15, "color": "#666"})
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    return _layout(figure, title="", height=height)


def category_bar(
    categories: Mapping[str, Mapping[str, float]], *, title: str = "Time by category"
) -> go.Figure:
    """Hours per category (queue included), labelled with duration and share."""
    names = [c for c in CATEGORIES if c in categories]
    figure = go.Figure(
        go.Bar(
            y=names,
            x=[_hours(categories[c]["seconds"]) for c in names],
            orientation="h",
            marker_color=[color(c) for c in names],
            text=[
                f"{duration(categories[c]['seconds'])} · {categories[c]['share'] * 100:.1f}%"
                for c in names
            ],
            textposition="auto",
            hovertemplate="%{y}: %{x:.1f} h<extra></extra>",
        )
    )
    figure.update_yaxes(autorange="reversed")
    figure.update_xaxes(title_text="hours")
    return _layout(figure, title=title, height=380, showlegend=False)


def weekly_stacked(
    rows: Iterable[Row], *, include_queue: bool = True, title: str = "Time by category per week"
) -> go.Figure:
    """Stacked bars: hours per week (Monday, UTC) split by category."""
    series: dict[str, dict[Any, float]] = defaultdict(dict)
    weeks: set[Any] = set()
    for row in rows:
        if row["category"] == "queue" and not include_queue:
            continue
        series[row["category"]][row["week"]] = float(row["seconds"] or 0.0)
        weeks.add(row["week"])
    if not weeks:
        return empty("No jobs in this selection")
    ordered = sorted(weeks)
    figure = go.Figure()
    for category in CATEGORIES:
        if category not in series:
            continue
        figure.add_bar(
            name=category,
            x=ordered,
            y=[_hours(series[category].get(w)) for w in ordered],
            marker_color=color(category),
            hovertemplate=f"{category}: %{{y:.1f}} h<extra>week of %{{x|%Y-%m-%d}}</extra>",
        )
    figure.update_yaxes(title_text="hours")
    figure.update_xaxes(title_text="week starting", tickformat="%b %d")
    return _layout(figure, title=title, height=400, barmode="stack")


def weekly_shares(
    rows: Iterable[Row], *, title: str = "Provisioning vs test, per week"
) -> go.Figure:
    """Share of runner time spent provisioning and testing, week by week (where it grows)."""
    from ci_profile.analysis.breakdown import PROVISIONING

    totals: dict[Any, float] = defaultdict(float)
    provisioning: dict[Any, float] = defaultdict(float)
    test: dict[Any, float] = defaultdict(float)
    for row in rows:
        seconds = float(row["seconds"] or 0.0)
        if row["category"] == "queue":
            continue
        totals[row["week"]] += seconds
        if row["category"] in PROVISIONING:
            provisioning[row["week"]] += seconds
        elif row["category"] == "test":
            test[row["week"]] += seconds
    weeks = sorted(w for w, total in totals.items() if total > 0)
    if not weeks:
        return empty("No jobs in this selection")
    figure = go.Figure()
    for name, values, shade in (
        ("provisioning", provisioning, CATEGORY_COLORS["environment"]),
        ("test", test, CATEGORY_COLORS["test"]),
    ):
        figure.add_scatter(
            name=name,
            x=weeks,
            y=[values[w] / totals[w] for w in weeks],
            mode="lines+markers",
            line={"color": shade, "width": 3},
            hovertemplate=f"{name}: %{{y:.1%}}<extra>week of %{{x|%Y-%m-%d}}</extra>",
        )
    figure.update_yaxes(tickformat=".0%", rangemode="tozero", title_text="share of runner time")
    figure.update_xaxes(tickformat="%b %d")
    return _layout(figure, title=title, height=380)


def treemap(
    rows: Sequence[Row], *, title: str = "Runner time: project › pipeline › job › category"
) -> go.Figure:
    """Project -> pipeline -> job -> category, sized by runner seconds (queue excluded)."""
    if not rows:
        return empty("No runner time in this selection")
    ids: list[str] = []
    labels: list[str] = []
    parents: list[str] = []
    values: list[float] = []
    colors: list[str] = []
    seen: set[str] = set()
    for row in rows:
        project = f"{row['provider']}:{row['project']}"
        pipeline = f"{project}/{row['pipeline']}"
        job = f"{pipeline}/{row['job']}"
        for node, label, parent in (
            (project, str(row["project"]), ""),
            (pipeline, str(row["pipeline"]), project),
            (job, str(row["job"]), pipeline),
        ):
            if node not in seen:
                seen.add(node)
                ids.append(node)
                labels.append(label)
                parents.append(parent)
                values.append(0.0)
                colors.append("#f2f2f2")
        ids.append(f"{job}/{row['category']}")
        labels.append(str(row["category"]))
        parents.append(job)
        values.append(float(row["seconds"]) / 3600.0)
        colors.append(color(str(row["category"])))
    figure = go.Figure(
        go.Treemap(
            ids=ids,
            labels=labels,
            parents=parents,
            values=values,
            branchvalues="remainder",
            marker={"colors": colors},
            hovertemplate="%{label}: %{value:.1f} h (%{percentRoot:.1%} of all)<extra></extra>",
            maxdepth=4,
        )
    )
    return _layout(figure, title=title, height=520)


def split_bars(rows: Iterable[Row], *, title: str) -> go.Figure:
    """Horizontal stacked bars: hours per category for each key (provider, runner labels)."""
    series: dict[str, dict[str, float]] = defaultdict(dict)
    totals: dict[str, float] = defaultdict(float)
    for row in rows:
        key = str(row["key"])
        series[row["category"]][key] = float(row["seconds"] or 0.0)
        totals[key] += float(row["seconds"] or 0.0)
    if not totals:
        return empty("No jobs in this selection")
    keys = sorted(totals, key=lambda k: -totals[k])
    figure = go.Figure()
    for category in CATEGORIES:
        if category not in series:
            continue
        figure.add_bar(
            name=category,
            y=keys,
            x=[_hours(series[category].get(k)) for k in keys],
            orientation="h",
            marker_color=color(category),
            hovertemplate=f"{category}: %{{x:.1f}} h<extra>%{{y}}</extra>",
        )
    figure.update_yaxes(autorange="reversed")
    figure.update_xaxes(title_text="hours")
    return _layout(
        figure,
        title=title,
        height=max(200, 80 + 36 * len(keys)),
        barmode="stack",
        showlegend=False,
    )


def ranked_bars(
    rows: Sequence[Row],
    *,
    label: str,
    value: str,
    title: str,
    category: str | None = None,
) -> go.Figure:
    """Top items as horizontal bars (hours of ``value`` seconds), coloured by their category
    when ``category`` names a column."""
    if not rows:
        return empty("Nothing to rank in this selection")
    labels = [_short(str(r[label])) for r in rows]
    figure = go.Figure(
        go.Bar(
            y=labels,
            x=[_hours(r[value]) for r in rows],
            orientation="h",
            marker_color=[color(str(r[category])) if category else "#4c6ef5" for r in rows],
            customdata=[[str(r[label]), duration(r[value])] for r in rows],
            hovertemplate="%{customdata[0]}<br>%{customdata[1]}<extra></extra>",
        )
    )
    figure.update_yaxes(autorange="reversed")
    figure.update_xaxes(title_text="hours")
    return _layout(figure, title=title, height=max(260, 80 + 26 * len(rows)), showlegend=False)


def gantt(jobs: Sequence[Row], steps: Sequence[Row], *, title: str = "") -> go.Figure:
    """A run: one row per job; its queue wait (hatched grey), then its steps coloured by
    category. Times are minutes since the run was created (``*_rel_s`` columns)."""
    if not jobs:
        return empty("This run has no jobs stored")
    names: dict[str, str] = {}
    used: set[str] = set()
    for job in jobs:
        name = str(job["job"] or job["job_id"])
        if name in used:
            name = f"{name} #{job['job_id']}"
        used.add(name)
        names[str(job["job_id"])] = name
    order = [names[str(j["job_id"])] for j in jobs]
    figure = go.Figure()
    queue_y, queue_base, queue_len, queue_text = [], [], [], []
    span_y, span_base, span_len, span_text = [], [], [], []
    for job in jobs:
        name = names[str(job["job_id"])]
        created, start, end = job["created_rel_s"], job["start_rel_s"], job["end_rel_s"]
        if created is not None and start is not None and start > created:
            queue_y.append(name)
            queue_base.append(created / 60)
            queue_len.append((start - created) / 60)
            queue_text.append(f"{name}<br>waited {duration(start - created)} for a runner")
        if start is not None and end is not None and end >= start:
            span_y.append(name)
            span_base.append(start / 60)
            span_len.append(max(end - start, 0.5) / 60)
            span_text.append(
                f"{name}<br>{job['conclusion'] or job['status']} in {duration(end - start)}"
                f"<br>runner {job['runner'] or '?'} ({job['labels'] or 'no labels'})"
            )
    figure.add_bar(
        name="job",
        y=span_y,
        x=span_len,
        base=span_base,
        orientation="h",
        marker={"color": "rgba(0,0,0,0)", "line": {"color": "#555", "width": 1}},
        width=0.8,
        hovertext=span_text,
        hoverinfo="text",
        showlegend=False,
    )
    figure.add_bar(
        name="queue",
        y=queue_y,
        x=queue_len,
        base=queue_base,
        orientation="h",
        marker={
            "color": color("queue"),
            "pattern": {"shape": "/", "fgcolor": "#5f6368", "fillmode": "overlay"},
        },
        width=0.6,
        hovertext=queue_text,
        hoverinfo="text",
    )
    by_category: dict[str, list[Row]] = defaultdict(list)
    for step in steps:
        if step["start_rel_s"] is None or step["end_rel_s"] is None:
            continue
        by_category[str(step["category"])].append(step)
    for category in CATEGORIES:
        members = by_category.get(category)
        if not members:
            continue
        figure.add_bar(
            name=category,
            y=[names.get(str(s["job_id"]), str(s["job_id"])) for s in members],
            x=[max(float(s["end_rel_s"]) - float(s["start_rel_s"]), 0.5) / 60 for s in members],
            base=[float(s["start_rel_s"]) / 60 for s in members],
            orientation="h",
            marker={"color": color(category), "line": {"color": "#ffffff", "width": 0.5}},
            width=0.6,
            hovertext=[
                f"{s['step']}<br>{category} · rule {s['rule']}<br>{duration(s['duration_s'])}"
                for s in members
            ],
            hoverinfo="text",
        )
    figure.update_yaxes(categoryorder="array", categoryarray=order, autorange="reversed")
    figure.update_xaxes(title_text="minutes since the run was created", rangemode="tozero")
    return _layout(figure, title=title, height=max(260, 110 + 34 * len(order)), barmode="overlay")


def savings_bars(rows: Sequence[Row], *, value: str, title: str) -> go.Figure:
    """Environment hours per week by job (the time a shared cluster could take away)."""
    if not rows:
        return empty("No environment time in this selection")
    labels = [_short(f"{r['project']} › {r['job']}") for r in rows]
    figure = go.Figure(
        go.Bar(
            y=labels,
            x=[_hours(r[value]) for r in rows],
            orientation="h",
            marker_color=color("environment"),
            hovertemplate="%{y}: %{x:.1f} h per week<extra></extra>",
        )
    )
    figure.update_yaxes(autorange="reversed")
    figure.update_xaxes(title_text="hours per week")
    return _layout(figure, title=title, height=max(240, 80 + 30 * len(rows)), showlegend=False)


def _short(text: str, limit: int = 48) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
