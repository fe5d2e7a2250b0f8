"""Property tests: on any run, the critical path (its segments plus the waits between them)
spans exactly the run's wall time, so it never exceeds it and is never shorter than the run's
longest job; it is a chain of real dependencies ending with the job that finished last; and the
what-if never saves more than it removed, nor a negative amount when the session is free."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from ci_profile.core.store import Store
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_analysis_world import R, job, report, write


@dataclass
class Spec:
    name: str
    needs: tuple[str, ...]
    offset: float  # roots: ready after the run start; others: lag after the last need
    queue: float
    runtime: float
    env: float


@st.composite
def runs(draw: st.DrawFn) -> tuple[list[Spec], bool]:
    count = draw(st.integers(1, 7))
    specs = []
    for index in range(count):
        earlier = [s.name for s in specs]
        needs = tuple(sorted(draw(st.sets(st.sampled_from(earlier))) if earlier else ()))
        runtime = draw(st.integers(1, 600))
        specs.append(
            Spec(
                name=f"j{index}",
                needs=needs,
                offset=draw(st.integers(0, 8)),
                queue=draw(st.integers(0, 120)),
                runtime=runtime,
                env=draw(st.integers(0, runtime)),
            )
        )
    return specs, draw(st.booleans())


def build(specs: list[Spec]) -> dict[str, tuple[float, float]]:
    """name -> (ready, finished), laid out as GitHub would run them."""
    times: dict[str, tuple[float, float]] = {}
    for s in specs:
        ready = max((times[n][1] for n in s.needs), default=0.0) + s.offset
        times[s.name] = (ready, ready + s.queue + s.runtime)
    return times


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(runs())
def test_critical_path_spans_the_wall_time(drawn: tuple[list[Spec], bool]) -> None:
    specs, declared = drawn
    times = build(specs)
    jobs = []
    for s in specs:
        ready, end = times[s.name]
        start = ready + s.queue
        jobs.append(job(s.name, ready, start, end, env=s.env, needs=s.needs))
    with Store.open(":memory:") as store:
        write(store, [R("1", jobs, declared=declared)])
        out = report(store, ["critical-path", "opportunities"], session_start_s=0)
    cp = out.critical_path
    assert cp is not None and cp["runs"] == 1
    wall = max(e for _, e in times.values()) - min(r for r, _ in times.values())
    longest = max(e - r for r, e in times.values())
    assert cp["wall_s"] == round(wall, 1)
    path_total = sum(r["wall_s"] for r in cp["by_category"])
    assert path_total <= wall + 0.05 * len(cp["by_category"])
    assert path_total >= longest - 0.05 * len(cp["by_category"])
    assert all(r["wall_s"] >= 0 for r in cp["by_category"])
    on_path = sum(r["wall_s"] for r in cp["by_job"])
    assert on_path <= wall + 0.05 * len(cp["by_job"])
    (chain,) = cp["paths"]
    names = chain["chain"].split(" → ")
    last = max(times, key=lambda n: (times[n][1], -int(n[1:])))
    assert times[names[-1]][1] == times[last][1]
    needs = {s.name: s.needs for s in specs}
    if declared:
        for before, after in itertools.pairwise(names):
            assert before in needs[after]
    wi = out.whatif
    assert wi is not None
    removed = sum(s.env for s in specs)
    if wi["all"] is None:
        assert removed == 0
    else:
        assert 0 <= wi["all"]["wall_saving_s"] <= removed + 0.1
        assert wi["all"]["wall_saving_s"] <= wi["all"]["runner_saving_s"] + 0.1
        for row in wi["by_job"]:
            assert 0 <= row["wall_saving_s"] <= row["environment_removed_s"] + 0.1
