"""Hostile input: property tests for every record builder and the GitLab log-section parser.

Real-shaped payloads (the fixtures the collector tests use) get a few of their fields replaced
or removed by hypothesis: wrong types, huge numbers, NaN, lone surrogates, control characters,
very long strings, impossible timestamps. A builder then either returns records that the store
accepts, with the unreadable values recorded as NULL, or raises a :class:`CIProfileError` with a
message; never another exception. The section parser takes any bytes in any chunking.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from ci_profile.collectors import github, gitlab_records, jenkins_records
from ci_profile.collectors.gitlab_sections import SectionParser, parse_sections
from ci_profile.core.errors import CIProfileError
from ci_profile.core.records import Batch, Job, Run, Step
from ci_profile.core.store import Store
from gitlab_payloads import ProjectHistory, TraceBuilder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jenkins_payloads import JobHistory
from payloads import RepoHistory

GITHUB = RepoHistory("acme", "shop", runs=4, seed=3)
GITLAB = ProjectHistory(pipelines=3, in_progress=1, seed=3)
JENKINS = JobHistory("team/service/main", builds=4, in_progress=1, seed=3)
SETTINGS = settings(
    max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)

hostile_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**31 - 3, max_value=2**70),
    st.integers(max_value=-1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.text(st.characters(categories=["Cs", "Cc", "Co"]), min_size=1, max_size=8),
    st.just("\x00"),
    st.just("é" * 200_000),
    st.sampled_from(
        [
            "9999-12-31T23:59:59Z",
            "0001-01-01T00:00:00+14:00",
            "2024-02-30T00:00:00Z",
            "2024-05-01T10:00:00.123456789-08:00",
            "2024-05-01 10:00",
            "1e999",
            "",
        ]
    ),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key and index path inside a JSON-like value."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*prefix, index)
            yield from paths(item, (*prefix, index))


@st.composite
def mutated(draw: st.DrawFn, original: Any) -> Any:
    """``original`` with up to six of its fields replaced by hostile values or deleted."""
    value = copy.deepcopy(original)
    every = list(paths(value))
    for _ in range(draw(st.integers(1, 6))):
        path = draw(st.sampled_from(every))
        parent = value
        try:
            for key in path[:-1]:
                parent = parent[key]
            if draw(st.integers(0, 5)) == 0 and isinstance(parent, dict):
                del parent[path[-1]]
            else:
                parent[path[-1]] = draw(hostile_values)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change removed or replaced the way there
    return value


@pytest.fixture(scope="module")
def store() -> Iterator[Store]:
    with Store.open(":memory:") as opened:
        yield opened


def stored(store: Store, batch: Batch) -> None:
    """The store takes what a builder made; unknown values are NULL, never a stand-in."""
    store.write(batch)
    for record in [*batch.runs, *batch.jobs, *batch.steps]:
        assert isinstance(record, Run | Job | Step)
        for value in (getattr(record, "status", None), getattr(record, "name", None)):
            assert value is None or isinstance(value, str)
    for job in batch.jobs:
        assert job.queued_s is None or job.queued_s >= 0


@SETTINGS
@given(data=st.data())
def test_github_records_from_hostile_payloads(store: Store, data: st.DataObject) -> None:
    run = data.draw(st.sampled_from(GITHUB.runs))
    jobs = data.draw(mutated(GITHUB.jobs_by_run[run["id"]]))
    run = data.draw(mutated(run))
    try:
        batch = github.records_for_run("acme/shop", run, jobs)
    except CIProfileError as exc:
        assert str(exc)
        return
    stored(store, batch)


@SETTINGS
@given(data=st.data())
def test_gitlab_records_from_hostile_payloads(store: Store, data: st.DataObject) -> None:
    pipeline_id = data.draw(st.sampled_from(sorted(GITLAB.details)))
    detail = data.draw(mutated(GITLAB.details[pipeline_id]))
    jobs = data.draw(mutated(GITLAB.jobs[pipeline_id]))
    batch = Batch()
    try:
        batch.runs.append(
            gitlab_records.normalize_pipeline("acme/shop", detail, pipeline_path=".gitlab-ci.yml")
        )
        for job in jobs if isinstance(jobs, list) else []:
            if isinstance(job, dict):
                batch.jobs.append(gitlab_records.normalize_job("acme/shop", "1", job))
                gitlab_records.needs_trace(job)
    except CIProfileError as exc:
        assert str(exc)
        return
    stored(store, batch)


@SETTINGS
@given(data=st.data())
def test_jenkins_records_from_hostile_payloads(store: Store, data: st.DataObject) -> None:
    number = data.draw(st.sampled_from(sorted(JENKINS.by_number)))
    build = data.draw(mutated(JENKINS.by_number[number]))
    describe = JENKINS.describes.get(number)
    describe = data.draw(mutated(describe)) if describe is not None else None
    job = jenkins_records.job_info(data.draw(mutated(JENKINS.job)), "team/service/main")
    try:
        batch, warnings = jenkins_records.records_for_build(job, build, describe)
    except CIProfileError as exc:
        assert str(exc)
        return
    assert all(isinstance(w, str) for w in warnings)
    stored(store, batch)


def _trace() -> bytes:
    builder = TraceBuilder(timestamps=True)
    builder.start("prepare_executor", 1_714_550_400, "Preparing").line("pulling image")
    builder.end("prepare_executor", 1_714_550_403)
    builder.start("step_script", 1_714_550_403).line("pytest -q").end("step_script", 1_714_550_443)
    return builder.bytes()


@SETTINGS
@given(
    noise=st.lists(st.binary(max_size=300), max_size=8),
    cuts=st.lists(st.integers(0, 5000), max_size=12),
    splice=st.sampled_from(
        [
            b"",
            b"section_start:99999999999999999999:x\r\x1b[0K",
            b"section_end:1714550001:never_started\r\x1b[0K",
            b"section_start:1714550001:" + b"n" * 400 + b"\r\x1b[0K",
            b"section_start:1714550001:bad name\r\x1b[0K",
            b"\xff\xfe\x00section_start:1714550002:odd\r\x1b[0K\xc3",
            b"section_start:1714550003:deep\r\x1b[0K" * 100,
        ]
    ),
)
def test_gitlab_section_parser_takes_any_bytes(
    noise: list[bytes], cuts: list[int], splice: bytes
) -> None:
    log = _trace()
    middle = len(log) // 2
    data = b"".join(noise) + log[:middle] + splice + log[middle:] + b"".join(noise)
    parser = SectionParser()
    previous = 0
    for cut in sorted(c % (len(data) + 1) for c in cuts):
        parser.feed(data[previous:cut])
        previous = cut
    parser.feed(data[previous:])
    sections = parser.close()
    assert sections == parse_sections([data])
    for section in sections:
        assert section.duration_s is None or section.duration_s >= 0
        assert isinstance(section.name, str) and section.name
