"""GitLab job logs -> timed sections, read as a stream of bytes (a 200 MB trace is never held).

The runner brackets each phase of a job with collapsible-section markers
(``section_start:<unix seconds>:<name>\\r\\033[0K`` ... ``section_end:<ts>:<name>\\r\\033[0K``,
``helpers/build_section.go``); scripts may emit their own, nested inside ``step_script``. The
markers are searched for anywhere in the byte stream, so the per-line timestamp prefix of newer
runners (``2021-01-01T01:00:00.020010Z 01O ``), ANSI colour noise before a marker, CR/LF
variants (including copies whose CR became LF), NUL bytes and invalid UTF-8 do not matter. A
marker's name must be followed by its optional ``[options]`` and then CR, LF, ESC or the end of
the log, so an echoed command (``echo -e "section_start:1:x\\r\\e[0K"``) is not a marker.

Sections nest. Every second of a job must land in one step, so nesting is *flattened*: when a
section opens inside another, the outer one's current segment ends there and resumes (as a
further step with the outer name) when the inner one ends; zero-length resumptions are dropped.
An inner section that is still open when an enclosing one ends is closed at that end (it cannot
outlive its parent; GitLab's log view shows it the same way). A section still open at the end of
the log, a timestamp outside 2000..2100, or an end before its start (clock skew) leaves the
affected time NULL: never a guess, never a negative duration.

``section_script_step_<n>`` sub-sections, which the bash shell adds around each command when
``FF_SCRIPT_SECTIONS`` is on, do not split ``step_script``: their per-command timing cannot be
joined to the YAML reliably, and the step keeps its whole script.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["MAX_SEGMENTS", "Section", "SectionParser", "parse_sections"]

# A marker: kind, unix seconds, name (GitLab's `build_trace_section_regex` character set), then
# options such as [collapsed=true], then (lookahead) CR, LF or ESC. \d{1,20} bounds the digits.
_MARKER = re.compile(
    rb"section_(start|end):(\d{1,20}):([A-Za-z0-9_.-]{1,255})(\[[^\]\r\n\x1b]{0,200}\])?"
    rb"(?=[\r\n\x1b])"
)
# Longest possible marker, plus its lookahead byte: what must be kept across chunk boundaries.
_CARRY = len("section_start:") + 20 + 1 + 255 + 202 + 1
_SCRIPT_STEP = re.compile(r"^section_script_step_\d+$")
_MIN_TS = 946_684_800  # 2000-01-01
_MAX_TS = 4_102_444_800  # 2100-01-01
MAX_SEGMENTS = 5_000
_MAX_DEPTH = 64


@dataclass(frozen=True, slots=True)
class Section:
    """One step's worth of a job log: a section, or one segment of a section split by nesting."""

    seq: int
    name: str
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


@dataclass(slots=True)
class _Segment:
    name: str
    start: int | None
    end: int | None
    ended: bool = False
    first: bool = True


@dataclass(slots=True)
class _Open:
    name: str
    segment: int | None  # index of its running segment, None while a child runs


def _timestamp(raw: bytes) -> int | None:
    value = int(raw)
    return value if _MIN_TS <= value < _MAX_TS else None


class SectionParser:
    """Feed raw trace bytes in chunks of any size; :meth:`close` returns the sections."""

    def __init__(self) -> None:
        self._tail = b""
        self._stack: list[_Open] = []
        self._segments: list[_Segment] = []
        self.bytes_read = 0
        self.markers = 0
        self.dropped = 0  # sections not recorded because the job had too many
        self._closed = False

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        self.bytes_read += len(chunk)
        buffer = self._tail + chunk
        last_end = 0
        for match in _MARKER.finditer(buffer):
            self._marker(match)
            last_end = match.end()
        # Keep only what could still begin a marker completed by the next chunk.
        self._tail = buffer[max(last_end, len(buffer) - _CARRY) :]

    def close(self) -> list[Section]:
        """Finish the stream (a truncated end is fine) and return the steps in log order."""
        if not self._closed:
            self._closed = True
            # The end of the log terminates a marker that was the very last thing in it.
            self.feed(b"\n")
            self.bytes_read -= 1
            self._tail = b""
        return [
            Section(
                seq=index,
                name=segment.name,
                started_at=_moment(segment.start),
                finished_at=_moment(segment.end)
                if segment.start is not None
                and segment.end is not None
                and segment.end >= segment.start
                else None,
            )
            for index, segment in enumerate(self._kept(), 1)
        ]

    # -- internals -------------------------------------------------------------------------

    def _kept(self) -> list[_Segment]:
        return [
            s
            for s in self._segments
            if s.first or not (s.ended and s.start is not None and s.start == s.end)
        ]

    def _marker(self, match: re.Match[bytes]) -> None:
        self.markers += 1
        kind = match.group(1)
        ts = _timestamp(match.group(2))
        name = match.group(3).decode("ascii")
        if _SCRIPT_STEP.match(name):
            return
        if kind == b"start":
            self._start(name, ts)
        else:
            self._end(name, ts)

    def _start(self, name: str, ts: int | None) -> None:
        if len(self._segments) >= MAX_SEGMENTS or len(self._stack) >= _MAX_DEPTH:
            self.dropped += 1
            return
        if self._stack:
            self._close_segment(self._stack[-1], ts)
        self._segments.append(_Segment(name, ts, None))
        self._stack.append(_Open(name, len(self._segments) - 1))

    def _end(self, name: str, ts: int | None) -> None:
        depth = next(
            (i for i in range(len(self._stack) - 1, -1, -1) if self._stack[i].name == name), None
        )
        if depth is None:
            return  # an end without a start: nothing to time
        while len(self._stack) > depth:
            self._close_segment(self._stack.pop(), ts)
        if self._stack and len(self._segments) < MAX_SEGMENTS:
            parent = self._stack[-1]
            self._segments.append(_Segment(parent.name, ts, None, first=False))
            parent.segment = len(self._segments) - 1

    def _close_segment(self, entry: _Open, ts: int | None) -> None:
        if entry.segment is not None:
            segment = self._segments[entry.segment]
            segment.end, segment.ended = ts, True
            entry.segment = None


def _moment(ts: int | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, tz=UTC)


def parse_sections(chunks: Iterable[bytes]) -> list[Section]:
    """All sections of a log given as byte chunks (a file, an HTTP stream, a test string)."""
    parser = SectionParser()
    for chunk in chunks:
        parser.feed(chunk)
    return parser.close()
