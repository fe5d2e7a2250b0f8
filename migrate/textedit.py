"""Line-span edits on the original text of a file: the file is never re-serialized.

Lines are 1-based and inclusive, as in the parsers. New lines take the file's own line ending
(CRLF stays CRLF), and a file without a final newline still has none afterwards.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace lines ``start..end`` by ``lines``; ``end == start - 1`` inserts before ``start``."""

    start: int
    end: int
    lines: tuple[str, ...] = ()


def newline_of(text: str) -> str:
    first = text.find("\n")
    return "\r\n" if first > 0 and text[first - 1] == "\r" else "\n"


def indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def attached_start(lines: Sequence[str], start: int) -> int:
    """Move ``start`` up over the comment lines directly above it (no blank line between) that
    are indented at least as deep: they describe the node and go with it."""
    depth = indent_of(lines[start - 1])
    while start > 1:
        above = lines[start - 2]
        if above.strip().startswith("#") and indent_of(above) >= depth:
            start -= 1
        else:
            break
    return start


def apply(text: str, edits: Sequence[Edit]) -> str:
    """Apply non-overlapping edits (any order) to ``text``."""
    nl = newline_of(text)
    lines = _split(text)
    missing_final = bool(lines) and not lines[-1].endswith(("\n", "\r"))
    if missing_final:
        lines[-1] += nl
    ordered = sorted(edits, key=lambda e: (e.start, e.end))
    for before, after in itertools.pairwise(ordered):
        if after.start <= before.end:
            raise ValueError(f"overlapping edits at lines {before.start} and {after.start}")
    for edit in reversed(ordered):
        lines[edit.start - 1 : edit.end] = [line + nl for line in edit.lines]
    result = "".join(lines)
    if missing_final and result.endswith(nl):
        result = result[: -len(nl)]
    return result


def _split(text: str) -> list[str]:
    # Only "\n" ends a line (as for the YAML parser); "\r\n" keeps its "\r".
    return re.findall(r"[^\n]*\n|[^\n]+$", text)


def plain_lines(text: str) -> list[str]:
    """The lines of ``text`` without their endings (what spans index into)."""
    return [line.rstrip("\r\n") for line in _split(text)]
