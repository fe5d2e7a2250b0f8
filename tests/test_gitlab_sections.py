"""The streaming GitLab log-section parser, on real runner logs and on hostile ones."""

from __future__ import annotations

import itertools
import re
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from ci_profile.collectors.gitlab_sections import (
    MAX_SEGMENTS,
    Section,
    SectionParser,
    parse_sections,
)
from gitlab_payloads import (
    TRACE_RUNNER11,
    TRACE_RUNNER13_HEAD,
    TRACE_RUNNER13_TAIL,
    TraceBuilder,
    with_cr,
)
from hypothesis import given, settings
from hypothesis import strategies as st

T0 = 1_714_550_400  # 2024-05-01T08:00:00Z


def names(sections: list[Section]) -> list[str]:
    return [s.name for s in sections]


def spans(sections: list[Section]) -> list[tuple[str, int | None, int | None]]:
    return [
        (
            s.name,
            int(s.started_at.timestamp()) if s.started_at else None,
            int(s.finished_at.timestamp()) if s.finished_at else None,
        )
        for s in sections
    ]


def start(name: str, ts: int, suffix: bytes = b"\r\x1b[0K") -> bytes:
    return b"\x1b[0Ksection_start:%d:%s%s" % (ts, name.encode(), suffix)


def end(name: str, ts: int, suffix: bytes = b"\r\x1b[0K") -> bytes:
    return b"\x1b[0Ksection_end:%d:%s%s" % (ts, name.encode(), suffix)


# -- the real runner logs ----------------------------------------------------------------------


def test_runner_13_head_as_stored_with_lf_instead_of_cr() -> None:
    sections = parse_sections([TRACE_RUNNER13_HEAD])
    assert spans(sections) == [
        ("resolve_secrets", 1621524382, 1621524382),
        ("prepare_executor", 1621524382, 1621524429),
        ("prepare_script", 1621524429, 1621524456),
        ("get_sources", 1621524456, 1621524510),
        ("restore_cache", 1621524510, 1621524511),
        ("download_artifacts", 1621524511, 1621524516),
        # the excerpt stops inside step_script: a section that never ends has no end
        ("step_script", 1621524516, None),
    ]
    assert [s.seq for s in sections] == list(range(1, 8))
    assert sections[1].duration_s == 47.0
    assert sections[-1].duration_s is None
    assert all(s.started_at is not None and s.started_at.tzinfo is UTC for s in sections)


def test_runner_13_tail_ends_that_started_elsewhere_are_ignored() -> None:
    # step_script's end is here, its start is not: nothing to time for it.
    assert spans(parse_sections([TRACE_RUNNER13_TAIL])) == [
        ("archive_cache", 1621524688, 1621524689),
        ("upload_artifacts_on_success", 1621524689, 1621524691),
        ("cleanup_file_variables", 1621524691, 1621524692),
    ]


def test_runner_11_legacy_build_script_and_empty_after_script() -> None:
    sections = parse_sections([TRACE_RUNNER11])
    assert names(sections) == [
        "prepare_script",
        "get_sources",
        "restore_cache",
        "download_artifacts",
        "build_script",
        "after_script",
        "archive_cache",
        "upload_artifacts_on_success",
    ]
    assert sum(s.duration_s or 0 for s in sections) == 1540587312 - 1540587289


@pytest.mark.parametrize("trace", [TRACE_RUNNER13_HEAD, TRACE_RUNNER13_TAIL, TRACE_RUNNER11])
def test_real_logs_with_their_cr_bytes_restored_parse_the_same(trace: bytes) -> None:
    restored = with_cr(trace)
    assert restored.count(b"\r") == len(re.findall(rb"section_(start|end):", trace))
    assert parse_sections([restored]) == parse_sections([trace])


@pytest.mark.parametrize("size", [1, 2, 7, 64, 4096])
def test_chunk_boundaries_do_not_matter(size: int) -> None:
    data = with_cr(TRACE_RUNNER13_HEAD) + with_cr(TRACE_RUNNER13_TAIL)
    pieces = [data[i : i + size] for i in range(0, len(data), size)]
    assert parse_sections(pieces) == parse_sections([data])


# -- variants of the format ---------------------------------------------------------------------


def test_per_line_timestamp_prefix_of_newer_runners() -> None:
    # Verbatim from gitlab-runner's timestamper test: "01O " and the "+" (append) form.
    data = (
        b"2021-01-01T01:00:00.020010Z 01O section_start:1609462800:foo\r\x1b[0K\n"
        b"2021-01-01T01:00:01.000000Z 01O doing foo\n"
        b"2021-01-01T02:00:00.020010Z 01O+section_end:1609466400:foo\r\x1b[0K\n"
    )
    assert spans(parse_sections([data])) == [("foo", 1609462800, 1609466400)]
    built = TraceBuilder(timestamps=True, begin=T0)
    built.start("step_script", T0 + 1, "Executing").line("$ make", at=T0 + 2).end(
        "step_script", T0 + 9
    )
    assert spans(parse_sections([built.bytes()])) == [("step_script", T0 + 1, T0 + 9)]


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r", b""], ids=["lf", "crlf", "cr", "none"])
def test_line_ending_variants(newline: bytes) -> None:
    data = newline.join(
        [start("get_sources", T0), b"Fetching changes", end("get_sources", T0 + 4), b""]
    )
    assert spans(parse_sections([data])) == [("get_sources", T0, T0 + 4)]


def test_options_ansi_noise_and_markers_mid_line() -> None:
    data = (
        b"\x1b[0;m\x1b[0K\x1b[36;1m\x1b[0;msection_start:%d:get_sources[collapsed=true]\r\x1b[0K"
        b"\x1b[0K\x1b[36;1mGetting source\x1b[0;m\n"
        b"\x1b[32;1mdone\x1b[0;msection_end:%d:get_sources\r\x1b[0Ksection_start:%d:x.y-z_1"
        b"[hide_duration=true, collapsed=true]\r\x1b[0K\n" % (T0, T0 + 3, T0 + 3)
    ) + end("x.y-z_1", T0 + 5)
    assert spans(parse_sections([data])) == [
        ("get_sources", T0, T0 + 3),
        ("x.y-z_1", T0 + 3, T0 + 5),
    ]


def test_an_echoed_command_is_not_a_marker() -> None:
    data = (
        start("step_script", T0)
        + b'\x1b[32;1m$ echo -e "section_start:1714550401:fake\\r\\e[0K"\x1b[0;m\n'
        + b"$ echo section_start:`date +%s`:other\n"
        + b"see section_end:1714550402:step_scriptX for details\n"
        + end("step_script", T0 + 5)
    )
    assert spans(parse_sections([data])) == [("step_script", T0, T0 + 5)]


def test_a_marker_that_is_the_last_byte_of_the_log() -> None:
    data = start("step_script", T0) + b"output\n" + b"section_end:%d:step_script" % (T0 + 2)
    assert spans(parse_sections([data])) == [("step_script", T0, T0 + 2)]


# -- nesting -----------------------------------------------------------------------------------


def test_nested_custom_sections_are_flattened_so_no_second_counts_twice() -> None:
    data = b"".join(
        [
            start("step_script", T0),
            start("install_deps", T0 + 2),
            end("install_deps", T0 + 20),
            start("db_migrate", T0 + 20),  # right after: no zero-length piece in between
            start("seed", T0 + 25),
            end("seed", T0 + 27),
            end("db_migrate", T0 + 30),
            end("step_script", T0 + 100),
            start("after_script", T0 + 100),
            end("after_script", T0 + 103),
        ]
    )
    sections = parse_sections([data])
    assert spans(sections) == [
        ("step_script", T0, T0 + 2),
        ("install_deps", T0 + 2, T0 + 20),
        ("db_migrate", T0 + 20, T0 + 25),
        ("seed", T0 + 25, T0 + 27),
        ("db_migrate", T0 + 27, T0 + 30),
        ("step_script", T0 + 30, T0 + 100),
        ("after_script", T0 + 100, T0 + 103),
    ]
    assert sum(s.duration_s or 0 for s in sections) == 103
    for before, after in itertools.pairwise(sections):
        assert before.finished_at is not None and after.started_at is not None
        assert before.finished_at <= after.started_at


def test_a_section_left_open_inside_another_is_closed_by_its_end() -> None:
    data = b"".join(
        [
            start("step_script", T0),
            start("forgot_to_close", T0 + 5),
            end("step_script", T0 + 50),
            start("after_script", T0 + 50),
            end("after_script", T0 + 52),
        ]
    )
    assert spans(parse_sections([data])) == [
        ("step_script", T0, T0 + 5),
        ("forgot_to_close", T0 + 5, T0 + 50),
        ("after_script", T0 + 50, T0 + 52),
    ]


def test_script_step_sub_sections_do_not_split_step_script() -> None:
    data = b"".join(
        [
            start("step_script", T0),
            start("section_script_step_0", T0 + 1, b"[hide_duration=true,collapsed=true]\r\x1b[0K"),
            b"$ make test\n",
            end("section_script_step_0", T0 + 8),
            end("step_script", T0 + 9),
        ]
    )
    assert spans(parse_sections([data])) == [("step_script", T0, T0 + 9)]


# -- hostile logs ------------------------------------------------------------------------------


def test_truncated_log_unterminated_sections_are_null_not_guessed() -> None:
    data = start("prepare_executor", T0) + end("prepare_executor", T0 + 3)
    data += start("step_script", T0 + 3) + start("compose_up", T0 + 4) + b"Container db  Star"
    assert spans(parse_sections([data])) == [
        ("prepare_executor", T0, T0 + 3),
        ("step_script", T0 + 3, T0 + 4),
        ("compose_up", T0 + 4, None),
    ]


def test_truncated_in_the_middle_of_a_marker() -> None:
    data = start("get_sources", T0) + end("get_sources", T0 + 2) + b"\x1b[0Ksection_start:17145"
    assert spans(parse_sections([data])) == [("get_sources", T0, T0 + 2)]


def test_clock_skew_end_before_start_is_null_never_negative() -> None:
    data = start("step_script", T0 + 100) + end("step_script", T0 + 40)
    data += start("after_script", T0 + 40) + end("after_script", T0 + 41)
    sections = parse_sections([data])
    assert spans(sections) == [("step_script", T0 + 100, None), ("after_script", T0 + 40, T0 + 41)]
    assert all((s.duration_s or 0) >= 0 for s in sections)


def test_timestamps_outside_any_plausible_clock_are_null() -> None:
    data = start("zero", 0) + end("zero", 5)
    data += b"section_start:99999999999999999999:huge\r\x1b[0K" + end("huge", T0)
    data += start("ok", T0) + end("ok", T0 + 1)
    sections = parse_sections([data])
    assert spans(sections) == [("zero", None, None), ("huge", None, None), ("ok", T0, T0 + 1)]


def test_binary_garbage_nul_and_invalid_utf8_are_survived() -> None:
    junk = bytes(range(256)) * 40 + b"\xff\xfe\x00section_\x00start:1:x\r"
    data = (
        junk
        + start("step_script", T0)
        + b"\xc3\x28\xa0\xa1\x00\x00" * 1000
        + end("step_script", T0 + 7)
        + junk
    )
    assert spans(parse_sections([data])) == [("step_script", T0, T0 + 7)]
    assert parse_sections([b"\x00" * 100_000]) == []
    assert parse_sections([]) == []


def test_stray_ends_and_repeated_names() -> None:
    data = (
        end("nothing", T0)
        + start("a", T0)
        + start("a", T0 + 1)
        + end("a", T0 + 2)
        + end("a", T0 + 4)
    )
    assert spans(parse_sections([data])) == [
        ("a", T0, T0 + 1),
        ("a", T0 + 1, T0 + 2),
        ("a", T0 + 2, T0 + 4),
    ]


def test_a_flood_of_sections_is_bounded() -> None:
    parser = SectionParser()
    for i in range(MAX_SEGMENTS + 500):
        parser.feed(start(f"s{i}", T0 + i) + end(f"s{i}", T0 + i + 1))
    sections = parser.close()
    assert len(sections) == MAX_SEGMENTS
    assert parser.dropped == 500


def test_hundred_thousand_lines() -> None:
    lines = []
    for i in range(1_000):
        lines.append(start(f"step_{i}", T0 + i))
        lines.extend(
            b"\x1b[32;1mline %d of some output with \xe2\x9c\x94 symbols\x1b[0;m" % j
            for j in range(98)
        )
        lines.append(end(f"step_{i}", T0 + i + 1))
    data = b"\n".join(lines)
    assert data.count(b"\n") >= 99_999
    sections = parse_sections([data[i : i + 65536] for i in range(0, len(data), 65536)])
    assert len(sections) == 1_000
    assert sections[-1].name == "step_999" and sections[-1].duration_s == 1


def test_a_200_mb_log_is_never_held_in_memory() -> None:
    filler = (b"\x1b[32;1m" + b"x" * 110 + b"\x1b[0;m\n") * 512  # ~60 KiB of output

    def log() -> Iterator[bytes]:
        yield start("step_script", T0)
        sent = 0
        while sent < 200 * 1024 * 1024:
            yield filler
            sent += len(filler)
        yield end("step_script", T0 + 3600)

    tracemalloc.start()
    try:
        parser = SectionParser()
        for chunk in log():
            parser.feed(chunk)
        sections = parser.close()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert parser.bytes_read > 200 * 1024 * 1024
    assert spans(sections) == [("step_script", T0, T0 + 3600)]
    assert peak < 2 * 1024 * 1024, peak


# -- properties --------------------------------------------------------------------------------

_event = st.tuples(
    st.sampled_from(["start", "end", "noise"]),
    st.sampled_from(["a", "b", "step_script", "c.d-e"]),
    st.integers(min_value=T0 - 50, max_value=T0 + 50),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_event, max_size=40), st.integers(min_value=1, max_value=97))
def test_any_log_any_chunking_same_answer_and_never_negative(
    events: list[tuple[str, str, int]], size: int
) -> None:
    parts = []
    for kind, name, ts in events:
        if kind == "start":
            parts.append(start(name, ts) + b"\n")
        elif kind == "end":
            parts.append(end(name, ts) + b"\n")
        else:
            parts.append(b"\x1b[31mnoise section_end:%d\xff\n" % ts)
    data = b"".join(parts)
    whole = parse_sections([data])
    assert parse_sections([data[i : i + size] for i in range(0, len(data), size)]) == whole
    for section in whole:
        assert section.duration_s is None or section.duration_s >= 0
        assert section.started_at is None or section.started_at >= datetime(2000, 1, 1, tzinfo=UTC)
    assert [s.seq for s in whole] == list(range(1, len(whole) + 1))
