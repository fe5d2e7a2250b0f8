"""Critical path on hand-built runs with known answers."""

from __future__ import annotations

from typing import Any

import pytest
from ci_profile.analysis.critical_path import GAP
from ci_profile.core.store import Store
from test_analysis_world import J, R, S, job, mem, report, write

__all__ = ["mem"]


def _by_job(section: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["job"]: r for r in section["by_job"]}


def _wall(section: dict[str, Any]) -> dict[str, float]:
    return {r["category"]: r["wall_s"] for r in section["by_category"]}


def diamond() -> list[J]:
    return [
        job("A", 0, 10, 100),
        job("B", 102, 105, 200, needs=("A",)),
        job("C", 103, 104, 400, needs=("A",)),
        job("D", 402, 410, 500, needs=("B", "C")),
    ]


def test_diamond_follows_the_branch_that_finished_last(mem: Store) -> None:
    write(mem, [R("1", diamond())])
    cp = report(mem, ["critical-path"]).critical_path
    assert cp is not None
    assert cp["runs"] == 1 and cp["wall_s"] == 500.0
    assert [p["chain"] for p in cp["paths"]] == ["A → C → D"]
    jobs = _by_job(cp)
    assert {k: v["on_path"] for k, v in jobs.items()} == {"A": 1, "B": 0, "C": 1, "D": 1}
    # Segments: A 0-100, C 103-400, D 402-500; gaps 100-103 and 400-402 are job creation lag.
    assert jobs["A"]["wall_s"] == 100.0
    assert jobs["C"]["wall_s"] == 297.0
    assert jobs["D"]["wall_s"] == 98.0
    wall = _wall(cp)
    assert wall["queue"] == 10 + 1 + 8
    assert wall["test"] == 90 + 296 + 90
    assert wall[GAP] == 5.0
    assert sum(wall.values()) == pytest.approx(500.0)
    assert cp["dependency_model"]["jobs_needs"] == 4
    assert cp["dependency_model"]["edges_needs"] == 4


def test_parallel_branches_only_the_long_one_is_waited_for(mem: Store) -> None:
    write(mem, [R("1", [job("long", 0, 0, 600, env=300), job("short", 0, 0, 200, env=150)])])
    out = report(mem, ["critical-path"])
    cp = out.critical_path
    assert cp is not None
    jobs = _by_job(cp)
    assert jobs["long"]["on_path_share"] == 1.0 and jobs["short"]["on_path_share"] == 0.0
    assert _wall(cp)["environment"] == 300.0  # only the long job's environment delays anyone
    # Cost sees both environments; waiting sees one.
    runner = {r["category"]: r["runner_s"] for r in cp["by_category"]}
    assert runner["environment"] == 450.0
    assert cp["environment_wall_share"] == 0.5


def test_queue_wait_on_the_critical_path(mem: Store) -> None:
    write(mem, [R("1", [job("q", 0, 120, 300)])])
    cp = report(mem, ["critical-path"]).critical_path
    assert cp is not None
    assert cp["wall_s"] == 300.0
    assert _wall(cp)["queue"] == 120.0
    assert cp["queue_wall_share"] == 0.4


def test_each_attempt_of_a_retried_run_has_its_own_path(mem: Store) -> None:
    first = [job("build", 0, 5, 100), job("e2e", 101, 110, 300, needs=("build",))]
    first[1].conclusion = "failure"
    second = [job("build", 1000, 1002, 1090), job("e2e", 1091, 1100, 1250, needs=("build",))]
    write(
        mem,
        [
            R("7", first, attempt=1, conclusion="failure"),
            R("7", second, attempt=2, conclusion="success"),
        ],
    )
    cp = report(mem, ["critical-path"]).critical_path
    assert cp is not None
    assert cp["runs"] == 2
    assert cp["wall_s"] == 300.0 + 250.0
    assert [(p["chain"], p["runs"]) for p in cp["paths"]] == [("build → e2e", 2)]


def test_without_declared_needs_the_timing_decides(mem: Store) -> None:
    jobs = [
        job("A", 0, 0, 100),
        job("B", 101, 101, 200, env=60),
        job("C", 100.5, 101, 300),
        job("D", 301, 302, 400),
    ]
    write(mem, [R("1", jobs, declared=False)])
    out = report(mem, ["critical-path", "opportunities"])
    cp = out.critical_path
    assert cp is not None
    assert cp["dependency_model"]["jobs_timing"] == 4
    assert [p["chain"] for p in cp["paths"]] == ["A → C → D"]
    # D waited for both parallel branches (B and C are its predecessors, C its gate), so a
    # shorter B saves runner time but no wall time.
    assert out.whatif is not None
    (b,) = out.whatif["by_job"]
    assert b["job"] == "B" and b["runner_saving_s"] == 40.0 and b["wall_saving_s"] == 0.0


def test_gitlab_stages_are_dependencies(mem: Store) -> None:
    def staged(name: str, stage: str, ready: float, start: float, end: float) -> J:
        return J(name, ready, start, end, [S("script", "test", start, end)], stage=stage)

    jobs = [
        staged("compile", "build", 0, 5, 100),
        staged("unit", "test", 102, 105, 300),
        staged("lint", "test", 102, 104, 200),
        staged("ship", "deploy", 301, 303, 350),
    ]
    write(mem, [R("1", jobs, provider="gitlab", project="acme/gl")])
    cp = report(mem, ["critical-path"]).critical_path
    assert cp is not None
    assert cp["dependency_model"]["jobs_stage"] == 4
    assert cp["dependency_model"]["edges_stage"] == 2 + 2
    assert [p["chain"] for p in cp["paths"]] == ["compile → unit → ship"]
    assert cp["wall_s"] == 350.0


def test_bad_input_is_left_out_and_counted(mem: Store) -> None:
    jobs = [
        job("ok", 0, 5, 100),
        J("no-times", None, None, None, conclusion=None),
        J("skewed", 10, 50, 20, [S("x", "test", 50, 20)]),
        J("cancelled-in-queue", 0, None, 80, conclusion="cancelled", queued_s=80),
    ]
    write(mem, [R("1", jobs), R("2", [job("running", 0, 1, None)], conclusion=None)])
    out = report(mem)
    quality = out.data_quality
    assert quality is not None
    assert quality["skewed_jobs"] == 1 and quality["jobs_without_times"] >= 1
    assert quality["unfinished_runs"] == 1 and quality["analyzable_runs"] == 1
    cp = out.critical_path
    assert cp is not None
    assert cp["wall_s"] == 100.0  # the skewed job is not on it; the queue-only job is shorter
    for row in cp["by_category"]:
        assert row["wall_s"] >= 0 and (row["runner_s"] is None or row["runner_s"] >= 0)


def test_no_finished_run_says_not_enough_data(mem: Store) -> None:
    write(mem, [R("1", [job("running", 0, 1, None)], conclusion=None)])
    out = report(mem)
    assert out.critical_path is not None
    assert out.critical_path["status"] == "not enough data"
    assert out.whatif is not None and out.whatif["status"] == "not enough data"
    assert out.claim is not None and out.claim["waiting"]["verdict"] == "not enough data"
