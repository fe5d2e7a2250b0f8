"""Every dashboard page through Streamlit's AppTest, asserting what it shows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from ci_profile.analysis import explore
from ci_profile.analysis.breakdown import build_report
from ci_profile.analysis.render import percent
from ci_profile.core.records import Batch
from ci_profile.core.store import Store
from ci_profile.dashboard import charts, ui
from dashboard_support import APP, batch, make_old_schema_db, shared_sample_db
from streamlit.testing.v1 import AppTest

TIMEOUT = 60


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_sample_db(tmp_path_factory)


@pytest.fixture
def app(sample_db: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppTest]:
    yield start(sample_db, monkeypatch)


def start(db: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("CI_PROFILE_DB", str(db))
    return AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()


def shown_text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += (
        [e.value for e in at.info] + [e.value for e in at.warning] + [e.value for e in at.error]
    )
    parts += [c.value for c in at.code]
    return "\n".join(str(p) for p in parts)


def figures(at: AppTest) -> list[dict[str, object]]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]


def default_scope(db: Path) -> explore.Scope:
    with Store.open(db, read_only=True) as store:
        options = explore.filter_options(store.con)
    period = explore.default_period(options.last)
    assert period is not None
    return explore.Scope(since=period[0], until=period[1])


def test_overview_shows_the_headline_numbers(app: AppTest, sample_db: Path) -> None:
    assert_clean(app)
    assert app.title[0].value == "Where the CI time goes"
    metrics = {m.label: m for m in app.metric}
    assert list(metrics) == [
        "Runner hours",
        "Provisioning share",
        "Test share",
        "Failure / retry waste",
        "Median pipeline",
        "p90 pipeline",
        "Median queue",
        "p90 queue",
    ]
    with Store.open(sample_db, read_only=True) as store:
        report = build_report(store.con, default_scope(sample_db))
    assert metrics["Provisioning share"].value == percent(report.headline["provisioning_share"])
    assert metrics["Test share"].value == percent(report.headline["test_share"])
    assert metrics["Runner hours"].value == ui.hours(report.headline["runner_s"])
    assert metrics["Runner hours"].delta  # compared with the four weeks before
    assert f"{report.period['jobs']:,} jobs" in shown_text(app)
    bars, shares = figures(app)
    assert bars["layout"]["title"]["text"] == "Time by category"
    assert bars["data"][0]["marker"]["color"][3] == charts.CATEGORY_COLORS["environment"]
    assert [t["name"] for t in shares["data"]] == ["provisioning", "test"]
    growth = app.dataframe[0].value
    assert list(growth.columns)[:3] == ["project", "pipeline", "job"]


def test_filters_persist_across_pages(app: AppTest) -> None:
    app.multiselect(key="f_projects").set_value(["acme/payments-api"]).run()
    assert_clean(app)
    assert "project acme/payments-api" in app.caption[0].value
    app.switch_page("page_breakdown.py").run()
    assert_clean(app)
    assert app.multiselect(key="f_projects").value == ["acme/payments-api"]
    by_project = app.dataframe[0].value
    assert set(by_project["project"]) == {"acme/payments-api"}
    app.switch_page("page_bottlenecks.py").run()
    jobs = app.dataframe[0].value
    assert set(jobs["project"]) == {"acme/payments-api"}
    assert jobs["job"].iloc[0] == "soak"


def test_breakdown_explains_each_category(app: AppTest) -> None:
    app.switch_page("page_breakdown.py").run()
    assert_clean(app)
    weekly, tree, providers, labels = figures(app)
    assert {t["name"] for t in weekly["data"]} >= {"queue", "environment", "test"}
    for trace in weekly["data"]:
        assert trace["marker"]["color"] == charts.CATEGORY_COLORS[trace["name"]]
    assert tree["data"][0]["type"] == "treemap"
    assert "acme/payments-api" in tree["data"][0]["labels"]
    assert {"github", "gitlab", "jenkins"} >= set(providers["data"][0]["y"])
    assert "ubuntu-latest" in " ".join(" ".join(t["y"]) for t in labels["data"])
    explained = app.dataframe[-1].value
    assert {"helm-install", "compose-up"} <= set(explained["rule"])
    app.selectbox(key="breakdown_category").set_value("queue").run()
    assert set(app.dataframe[-1].value["step"]) == {"(waiting for a runner)"}
    app.toggle(key="breakdown_queue").set_value(False).run()
    weekly = figures(app)[0]
    assert "queue" not in {t["name"] for t in weekly["data"]}


def test_run_timeline_draws_jobs_steps_and_queue(app: AppTest) -> None:
    app.switch_page("page_timeline.py").run()
    assert_clean(app)
    (gantt,) = figures(app)
    names = [t["name"] for t in gantt["data"]]
    assert names[:2] == ["job", "queue"] and len(names) > 3
    assert app.metric[0].label == "Conclusion"
    app.multiselect(key="f_projects").set_value(["acme/payments-api"])
    app.text_input(key="timeline_search").set_value("NIGHTLY").run()
    assert_clean(app)
    picked = app.selectbox(key="timeline_pick")
    assert picked.options and all(" nightly #" in option for option in picked.options)
    (gantt,) = figures(app)
    first_title = gantt["layout"]["title"]["text"]
    picked.select_index(1).run()
    assert_clean(app)
    (gantt,) = figures(app)
    assert gantt["layout"]["title"]["text"] != first_title
    assert "soak" in " ".join(str(y) for t in gantt["data"] for y in t.get("y", []))
    steps = app.dataframe[0].value
    assert {"step", "category", "rule"} <= set(steps.columns)
    assert "Soak test" in set(steps["step"])


def test_bottleneck_leads_to_the_runs_and_their_timeline(app: AppTest) -> None:
    app.switch_page("page_bottlenecks.py").run()
    assert_clean(app)
    jobs_chart, steps_chart = figures(app)
    assert jobs_chart["layout"]["title"]["text"].startswith("Top jobs")
    step_colours = set(steps_chart["data"][0]["marker"]["color"])
    assert step_colours <= set(charts.CATEGORY_COLORS.values())
    jobs = app.dataframe[0].value
    assert {"p50_min", "p90_min", "trend"} <= set(jobs.columns)
    assert (jobs["p50_min"] <= jobs["p90_min"]).all()
    app.selectbox(key="bottleneck_job_pick").set_value(1).run()
    target = jobs.iloc[1]
    behind = app.dataframe[1].value
    assert len(behind) > 0 and f"`{target['job']}`" in shown_text(app)
    run_id = behind["run"].iloc[0]
    app.button(key="bottleneck_job_open").click().run()
    assert_clean(app)
    assert app.title[0].value == "Run timeline"
    assert f"#{run_id} " in figures(app)[0]["layout"]["title"]["text"]


def test_opportunities_show_savings_and_the_migration_plan(app: AppTest) -> None:
    app.switch_page("page_opportunities.py").run()
    assert_clean(app)
    labels = [m.label for m in app.metric]
    assert labels[:2] == ["Environment time / week", "Share of runner time"]
    table = app.dataframe[0].value
    assert "e2e-kind" in set(table["job"])
    (chart,) = figures(app)
    assert chart["data"][0]["marker"]["color"] == charts.CATEGORY_COLORS["environment"]
    assert any("saving" in label.lower() for label in labels)
    job = app.selectbox(key="opportunities_job")
    (kind,) = [i for i, o in enumerate(job.options) if o.endswith("› ci › e2e-kind")]
    job.set_value(kind).run()
    assert_clean(app)
    text = shown_text(app)
    assert "**e2e-kind** (lines" in text and ": **rewrite**." in text
    assert "`.github/workflows/ci.yml` as stored at commit" in text
    (diff,) = [c.value for c in app.code]
    assert "+++ b/.github/workflows/ci.yml" in diff and "+++ b/.mirrord/" in diff
    assert (
        "+        run: mirrord ci start -f" in diff and "-        uses: helm/kind-action@" in diff
    )


def test_opportunities_of_a_jenkins_job_say_migrate_does_not_rewrite_it(app: AppTest) -> None:
    app.switch_page("page_opportunities.py").run()
    job = app.selectbox(key="opportunities_job")
    (jenkins,) = [i for i, o in enumerate(job.options) if o.endswith("› E2E (kind)")]
    job.set_value(jenkins).run()
    assert_clean(app)
    assert "a Jenkinsfile's environment stages are for you to move by hand" in shown_text(app)


def test_data_page_lists_collection_rules_and_other(app: AppTest) -> None:
    app.switch_page("page_data.py").run()
    assert_clean(app)
    collection, rules, other = (d.value for d in app.dataframe)
    assert {"acme/payments-api", "acme/storefront"} <= set(collection["project"])
    assert (collection["runs"] > 0).all()
    assert "helm-install" in set(rules["rule"]) and (rules["steps"] > 0).all()
    assert list(rules["order"].dropna()) == sorted(rules["order"].dropna())
    assert set(other["rule"]) <= {"unmatched", "unaccounted"}
    app.toggle(key="data_used").set_value(False).run()
    assert len(app.dataframe[1].value) > len(rules)


# -- bad input: a page that says what to run -------------------------------------------------


def test_no_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = start(tmp_path / "missing.duckdb", monkeypatch)
    assert_clean(at)
    assert "No database at" in at.error[0].value
    assert f"ci-profile demo --db {tmp_path / 'missing.duckdb'}" in [c.value for c in at.code]


def test_empty_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Store.open(tmp_path / "empty.duckdb").close()
    at = start(tmp_path / "empty.duckdb", monkeypatch)
    assert_clean(at)
    assert "no CI runs yet" in at.warning[0].value
    assert any(c.value.startswith("ci-profile collect github") for c in at.code)


def test_older_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = start(make_old_schema_db(tmp_path / "old.duckdb"), monkeypatch)
    assert_clean(at)
    assert "older ci-profile" in at.error[0].value
    assert [c.value for c in at.code] == [f"ci-profile analyze --db {tmp_path / 'old.duckdb'}"]


def test_not_a_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "junk.duckdb").write_text("hello\n")
    at = start(tmp_path / "junk.duckdb", monkeypatch)
    assert_clean(at)
    assert "cannot be read" in at.error[0].value


def test_project_without_steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Store.open(tmp_path / "bare.duckdb") as store:
        for number in range(3):
            store.write(batch(number, project="acme/with-steps"))
        bare = Batch()
        for number in range(3, 6):
            bare.extend(batch(number, project="acme/no-steps", steps=False))
        store.write(bare)
    at = start(tmp_path / "bare.duckdb", monkeypatch)
    assert_clean(at)
    for page in ("page_overview.py", "page_breakdown.py", "page_bottlenecks.py", "page_data.py"):
        at.switch_page(page).run()
        assert_clean(at)
        assert "`acme/no-steps`: jobs but no step timings" in shown_text(at), page
        assert "not classified yet" in shown_text(at), page
