"""What-if: each run's critical path recomputed without environment steps; known answers."""

from __future__ import annotations

from typing import Any

import pytest
from ci_profile.analysis.sections import options_from_config
from ci_profile.core.errors import ConfigError
from ci_profile.core.store import Store
from test_analysis_world import J, R, S, job, mem, report, write

__all__ = ["mem"]


def _jobs(whatif: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["job"]: r for r in whatif["by_job"]}


def test_parallel_branch_saves_runner_time_but_no_waiting(mem: Store) -> None:
    write(mem, [R("1", [job("long", 0, 0, 600, env=300), job("short", 0, 0, 200, env=150)])])
    wi = report(mem, ["opportunities"], session_start_s=20).whatif
    assert wi is not None
    assert wi["all"]["wall_saving_s"] == 280.0  # long: 600 - 300 + 20
    assert wi["all"]["runner_saving_s"] == 280.0 + 130.0
    jobs = _jobs(wi)
    assert jobs["long"]["wall_saving_s"] == 280.0
    assert jobs["short"]["wall_saving_s"] == 0.0
    assert jobs["short"]["runner_saving_s"] == 130.0
    assert jobs["short"]["environment_removed_s"] == 150.0
    assert jobs["short"]["session_added_s"] == 20.0


def test_saving_stops_where_another_predecessor_takes_over(mem: Store) -> None:
    jobs = [
        job("B", 0, 0, 400, env=300),
        job("C", 0, 0, 250),
        job("D", 402, 402, 500, needs=("B", "C")),
    ]
    write(mem, [R("1", jobs)])
    wi = report(mem, ["opportunities"], session_start_s=20).whatif
    assert wi is not None
    # B would end at 120, but D still waits for C (250) + the observed 2 s creation lag.
    (b,) = wi["by_job"]
    assert b["job"] == "B"
    assert b["wall_saving_s"] == 150.0
    assert b["runner_saving_s"] == 280.0


def test_a_saving_upstream_moves_every_later_job(mem: Store) -> None:
    jobs = [
        job("build", 0, 10, 200, env=100),
        job("e2e", 203, 210, 600, needs=("build",), env=200),
    ]
    write(mem, [R("1", jobs)])
    wi = report(mem, ["opportunities"], session_start_s=0).whatif
    assert wi is not None
    assert wi["all"]["wall_saving_s"] == 300.0
    assert _jobs(wi)["build"]["wall_saving_s"] == 100.0
    assert _jobs(wi)["e2e"]["wall_saving_s"] == 200.0


def test_session_start_cost_can_make_a_job_slower(mem: Store) -> None:
    write(mem, [R("1", [job("quick-services", 0, 0, 100, env=5)])])
    wi = report(mem, ["opportunities"], session_start_s=20).whatif
    assert wi is not None
    assert wi["all"]["wall_saving_s"] == -15.0
    assert wi["all"]["runner_saving_s"] == -15.0


def test_teardown_of_an_environment_and_post_hooks_are_removed_too(mem: Store) -> None:
    steps = [
        S("Create kind cluster", "environment", 0, 60, "kind-action"),
        S("Run tests", "test", 60, 160, "go-test"),
        S("Delete kind cluster", "teardown", 160, 170, "cluster-delete"),
        S("Post Create kind cluster", "teardown", 170, 175, "gh-post-step"),
        S("Post Run actions/checkout@v4", "teardown", 175, 177, "gh-post-step"),
        S("Complete job", "teardown", 177, 178, "gh-complete-job"),
    ]
    write(mem, [R("1", [J("e2e", 0, 0, 178, steps)])])
    wi = report(mem, ["opportunities"], session_start_s=0).whatif
    assert wi is not None
    assert wi["all"]["environment_removed_s"] == 60 + 10 + 5


def test_nothing_removed_changes_nothing(mem: Store) -> None:
    write(mem, [R("1", [job("unit", 0, 3, 100)])])
    wi = report(mem, ["opportunities"]).whatif
    assert wi is not None
    assert wi["status"] == "not enough data" and wi["by_job"] == []


def test_money_uses_the_label_price(mem: Store) -> None:
    write(mem, [R("1", [job("e2e", 0, 0, 700, env=620, labels=("ubuntu-latest",))])])
    wi = report(mem, ["opportunities"], session_start_s=20).whatif
    assert wi is not None
    # 600 s saved on a Linux 2-core runner at $0.006/min.
    assert wi["all"]["money_saving"] == pytest.approx(0.06, abs=0.005)


def test_session_start_from_config_and_bad_values() -> None:
    assert options_from_config({"analysis": {"session_start_s": 45}}, None).session_start_s == 45
    assert options_from_config({}, None, session_start_s=5).session_start_s == 5
    assert options_from_config({}, None).session_start_s == 20
    with pytest.raises(ConfigError, match="session_start_s"):
        options_from_config({"analysis": {"session_start_s": "soon"}}, "ci-profile.toml")
    with pytest.raises(ConfigError, match="per_minute"):
        options_from_config({"cost": {"price": [{"labels": "x", "per_minute": -1}]}}, None)
    with pytest.raises(ConfigError, match="regular expression"):
        options_from_config({"cost": {"price": [{"labels": "(", "per_minute": 1}]}}, None)
