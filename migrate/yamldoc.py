"""Locating nodes in a pipeline file: key and item line spans, block or flow style, alias bombs.

The parsers in ``core`` give jobs and steps with their spans; a rewrite also needs the spans of
a job's own keys and of sequence items, which this reads from the same round-trip parse.
"""

from __future__ import annotations

from typing import Any

from ci_profile.core.errors import PipelineFileError
from ci_profile.core.pipelines import round_trip_yaml, yaml_errors
from ruamel.yaml.comments import CommentedMap, CommentedSeq

# More nodes than this, counting every alias as often as it is used, is an alias bomb.
MAX_EXPANDED_NODES = 200_000


def load(text: str, path: str) -> Any:
    """The last document of ``text`` (GitLab components have a ``spec:`` header document)."""
    with yaml_errors(path):
        documents = [d for d in round_trip_yaml().load_all(text) if d is not None]
    document = documents[-1] if documents else None
    check_expansion(document, path)
    return document


def check_expansion(document: Any, path: str) -> None:
    """Refuse a document whose aliases would expand past ``MAX_EXPANDED_NODES`` nodes."""
    budget = MAX_EXPANDED_NODES
    stack = [document]
    while stack:
        node = stack.pop()
        budget -= 1
        if budget < 0:
            raise PipelineFileError(
                f"{path}: YAML aliases expand beyond {MAX_EXPANDED_NODES} nodes (an alias bomb?)"
            )
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def last_content_line(lines: list[str], start: int, end: int) -> int:
    while end > start and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
        end -= 1
    return end


def key_line(mapping: CommentedMap, key: Any) -> int:
    return int(mapping.lc.key(key)[0]) + 1


def key_spans(mapping: CommentedMap, end: int, lines: list[str]) -> dict[str, tuple[int, int]]:
    """Spans of the keys written in ``mapping`` itself, the last one ending by ``end``."""
    keys = [k for k in mapping.lc.data if k in mapping]
    spans: dict[str, tuple[int, int]] = {}
    for position, key in enumerate(keys):
        start = key_line(mapping, key)
        stop = key_line(mapping, keys[position + 1]) - 1 if position + 1 < len(keys) else end
        spans[str(key)] = (start, last_content_line(lines, start, max(start, stop)))
    return spans


def item_spans(seq: CommentedSeq, end: int, lines: list[str]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for index in range(len(seq)):
        start = int(seq.lc.item(index)[0]) + 1
        stop = int(seq.lc.item(index + 1)[0]) if index + 1 < len(seq) else end
        spans.append((start, last_content_line(lines, start, max(start, stop))))
    return spans


def is_block(node: Any) -> bool:
    """A block-style mapping or sequence (one entry per line), not ``{...}`` / ``[...]``."""
    if not isinstance(node, CommentedMap | CommentedSeq):
        return False
    return not node.fa.flow_style()


def single_quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
