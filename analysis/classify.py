"""Step classification: which of the fixed categories a CI step's time belongs to.

Rules are data (``rules.toml`` next to this module), an ordered list in which the first
matching rule wins. A rule is a set of regular expressions over the facts known about a step
(provider, name, action reference, command text, action inputs, GitLab section, phase, and the
job/stage name); every condition a rule has must match (AND), and a condition on a fact that is
unknown (``None``) does not match. Patterns are compiled IGNORECASE | MULTILINE and applied with
``search``. Every classified step records the id of the rule that matched, so any number can be
explained; a step no rule matches is ``("other", "unmatched")``.

When a step's definition is unknown (``uses`` and ``run`` both ``None``), its GitHub display name
still says what it ran: ``Run owner/repo@ref`` is read as ``uses`` and ``Run <command>`` as
``run`` (see :func:`effective_facts`), so command rules also classify name-only steps.

:class:`Classifier` memoises results for repeated steps; :func:`rules_fingerprint` lets callers
cache stored results per rule list.

This module imports nothing from the project except :class:`ConfigError`: it is pure and cheap,
and classification runs at analysis time over stored data.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Protocol

from ci_profile.core.errors import ConfigError

__all__ = [
    "CATEGORIES",
    "RULE_CATEGORIES",
    "UNMATCHED_RULE_ID",
    "Classifier",
    "LazyPattern",
    "Pattern",
    "Rule",
    "StepFacts",
    "build_rules",
    "classify",
    "default_rules",
    "effective_facts",
    "parse_rules_toml",
    "rules_fingerprint",
]

CATEGORIES: tuple[str, ...] = (
    "queue",
    "setup",
    "dependencies",
    "environment",
    "build",
    "test",
    "lint",
    "teardown",
    "publish",
    "other",
)

#: Categories a rule may assign. ``queue`` is measured (job created -> started), never matched.
RULE_CATEGORIES: tuple[str, ...] = tuple(c for c in CATEGORIES if c != "queue")

#: The rule id recorded for a step that no rule matched.
UNMATCHED_RULE_ID = "unmatched"

PATTERN_FLAGS = re.IGNORECASE | re.MULTILINE

# Bump when the matching semantics below change, so cached results keyed by the fingerprint
# are invalidated even if the rule list itself did not change.
_ENGINE_VERSION = 1

# TOML key -> Rule attribute, in Rule field order.
_CONDITION_KEYS: tuple[tuple[str, str], ...] = (
    ("provider", "provider"),
    ("name", "name"),
    ("uses", "uses"),
    ("run", "run"),
    ("with", "with_"),
    ("section", "section"),
    ("phase", "phase"),
    ("job_name", "job_name"),
)
_ALLOWED_KEYS: frozenset[str] = frozenset(
    {"id", "category", "description", "with_"} | {toml for toml, _ in _CONDITION_KEYS}
)
_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")

# A GitHub display name "Run <x>" names an action when <x> is an action reference: owner/repo
# (optionally /path) @ref, a docker:// image, or a local action under ./.github/. Anything else
# after "Run " is the first line of a `run:` script.
_RUN_PREFIX = "Run "
_ACTION_REF_RE = re.compile(
    r"(?:[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@\S+|docker://\S+|\./\.github/\S+)"
)


@dataclass(frozen=True, slots=True)
class StepFacts:
    """What is known about one step, as the provider shows it plus the pipeline definition."""

    provider: str
    name: str
    uses: str | None = None
    run: str | None = None
    with_: str | None = None
    section: str | None = None
    phase: str = "main"
    job_name: str | None = None


class Pattern(Protocol):
    """What a rule condition is: a compiled ``re.Pattern`` or a :class:`LazyPattern`."""

    @property
    def pattern(self) -> str: ...

    def search(self, string: str) -> object: ...


class LazyPattern:
    """A shipped rule's pattern, compiled when first matched. Compiling all of them took a
    fifth of a second at every start, and an analysis of a current classification matches
    none; the tests compile every shipped pattern."""

    __slots__ = ("_compiled", "pattern")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._compiled: re.Pattern[str] | None = None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LazyPattern) and other.pattern == self.pattern

    def __hash__(self) -> int:
        return hash(self.pattern)

    def compiled(self) -> re.Pattern[str]:
        if self._compiled is None:
            self._compiled = re.compile(self.pattern, PATTERN_FLAGS)
        return self._compiled

    def search(self, string: str) -> re.Match[str] | None:
        return self.compiled().search(string)


@dataclass(frozen=True, slots=True)
class Rule:
    """One classification rule; every present condition must match (``re.search``)."""

    id: str
    category: str
    description: str
    provider: Pattern | None
    name: Pattern | None
    uses: Pattern | None
    run: Pattern | None
    with_: Pattern | None
    section: Pattern | None
    phase: Pattern | None
    # Extension beyond the original interface (trailing, defaulted, so existing constructions
    # keep working): matched against StepFacts.job_name (GitLab job / Jenkins stage name).
    job_name: Pattern | None = None

    def conditions(self) -> tuple[Pattern | None, ...]:
        """Every condition, present or not, in field order."""
        return tuple(getattr(self, attr) for _, attr in _CONDITION_KEYS)


# --------------------------------------------------------------------------------------------
# matching


def _strip_ref(uses: str) -> str:
    """``actions/checkout@v4`` -> ``actions/checkout``; references without ``@`` unchanged."""
    return uses.strip().split("@", 1)[0]


def effective_facts(facts: StepFacts) -> tuple[str | None, str | None]:
    """The ``(uses, run)`` the rules see: the action ref without its ``@version``, and, when the
    step's definition is unknown, what its GitHub-style ``Run <...>`` display name carries."""
    uses = facts.uses
    run = facts.run
    if uses is None and run is None and facts.name.startswith(_RUN_PREFIX):
        rest = facts.name[len(_RUN_PREFIX) :].strip()
        if rest:
            if _ACTION_REF_RE.fullmatch(rest):
                uses = rest
            else:
                run = rest
    return (None if uses is None else _strip_ref(uses)), run


def _hit(pattern: Pattern | None, value: str | None) -> bool:
    if pattern is None:
        return True
    if value is None:
        return False
    return pattern.search(value) is not None


def classify(facts: StepFacts, rules: Sequence[Rule]) -> tuple[str, str]:
    """``(category, rule_id)`` of the first rule matching ``facts``; ``("other", "unmatched")``
    when none does."""
    uses, run = effective_facts(facts)
    # Cheap and selective conditions first; the command text is usually the longest.
    for rule in rules:
        if (
            _hit(rule.provider, facts.provider)
            and _hit(rule.phase, facts.phase)
            and _hit(rule.section, facts.section)
            and _hit(rule.uses, uses)
            and _hit(rule.with_, facts.with_)
            and _hit(rule.name, facts.name)
            and _hit(rule.job_name, facts.job_name)
            and _hit(rule.run, run)
        ):
            return rule.category, rule.id
    return "other", UNMATCHED_RULE_ID


class Classifier:
    """``classify`` over many steps with one rule list, remembering the answer for facts already
    seen: the same step definition recurs in every run of a pipeline, so analysis over stored
    runs classifies each distinct step once. ``fingerprint`` identifies the rule list."""

    __slots__ = ("_cache", "_max_cache", "fingerprint", "rules")

    def __init__(self, rules: Sequence[Rule], max_cache: int = 100_000) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules)
        self.fingerprint: str = rules_fingerprint(self.rules)
        self._cache: dict[StepFacts, tuple[str, str]] = {}
        self._max_cache = max_cache

    def __call__(self, facts: StepFacts) -> tuple[str, str]:
        hit = self._cache.get(facts)
        if hit is None:
            hit = classify(facts, self.rules)
            if len(self._cache) >= self._max_cache:
                self._cache.clear()
            self._cache[facts] = hit
        return hit


# --------------------------------------------------------------------------------------------
# building and validating rules


def _describe(raw: Mapping[str, object], origin: str) -> str:
    rid = raw.get("id")
    return f"rule {rid!r}" if isinstance(rid, str) and rid else origin


def _compile(label: str, field: str, value: object, *, checked: bool) -> Pattern:
    """``checked``: a shipped pattern, compiled when first used."""
    if checked and isinstance(value, str):
        return LazyPattern(value)
    if not isinstance(value, str):
        raise ConfigError(
            f"{label}: {field!r} must be a regular expression string, not {type(value).__name__}"
        )
    if value == "":
        raise ConfigError(f"{label}: {field!r} is an empty pattern (it would match everything)")
    try:
        return re.compile(value, PATTERN_FLAGS)
    except re.error as exc:
        where = "" if exc.pos is None else f" at position {exc.pos}"
        raise ConfigError(
            f"{label}: {field!r} pattern does not compile: {exc.msg}{where}"
        ) from None


def _parse_rule(raw: object, origin: str, *, checked: bool = False) -> Rule:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{origin}: a rule must be a table, not {type(raw).__name__}")
    label = _describe(raw, origin)
    for key in raw:
        if key not in _ALLOWED_KEYS:
            allowed = ", ".join(sorted(_ALLOWED_KEYS - {"with_"}))
            raise ConfigError(f"{label}: unknown key {key!r} (allowed: {allowed})")
    rid = raw.get("id")
    if not isinstance(rid, str) or not rid:
        raise ConfigError(f"{origin}: missing 'id' (a non-empty string)")
    if not _ID_RE.fullmatch(rid):
        raise ConfigError(f"{label}: id must be letters, digits, '-', '_', '.' or ':'")
    category = raw.get("category")
    if not isinstance(category, str) or category not in RULE_CATEGORIES:
        raise ConfigError(
            f"{label}: unknown category {category!r} (expected one of {', '.join(RULE_CATEGORIES)})"
        )
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise ConfigError(f"{label}: 'description' must be a string")
    if "with" in raw and "with_" in raw:
        raise ConfigError(f"{label}: give 'with' or 'with_', not both")
    patterns: dict[str, Pattern | None] = {}
    for toml_key, attr in _CONDITION_KEYS:
        key = toml_key
        if toml_key == "with" and "with" not in raw and "with_" in raw:
            key = "with_"
        patterns[attr] = _compile(label, key, raw[key], checked=checked) if key in raw else None
    if all(p is None for p in patterns.values()):
        conditions = ", ".join(toml for toml, _ in _CONDITION_KEYS)
        raise ConfigError(f"{label}: has no condition (give at least one of {conditions})")
    return Rule(
        id=rid,
        category=category,
        description=description,
        provider=patterns["provider"],
        name=patterns["name"],
        uses=patterns["uses"],
        run=patterns["run"],
        with_=patterns["with_"],
        section=patterns["section"],
        phase=patterns["phase"],
        job_name=patterns["job_name"],
    )


def _check_unique(rules: Sequence[Rule], default_ids: frozenset[str]) -> None:
    seen: set[str] = set()
    for rule in rules:
        if rule.id in seen:
            hint = (
                " (a default rule has this id: disable it to replace it)"
                if rule.id in default_ids
                else ""
            )
            raise ConfigError(f"rule {rule.id!r}: duplicate rule id{hint}")
        seen.add(rule.id)


def parse_rules_toml(text: str, source: str = "rules.toml", *, checked: bool = False) -> list[Rule]:
    """Parse a rules file: an array of tables ``[[rule]]`` (see ``rules.toml``). ``checked``:
    the shipped file, whose patterns are compiled when first used."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    tables = data.get("rule")
    if not isinstance(tables, list):
        raise ConfigError(f"{source}: expected an array of tables [[rule]]")
    rules = [
        _parse_rule(t, f"{source} rule #{i + 1}", checked=checked) for i, t in enumerate(tables)
    ]
    _check_unique(rules, frozenset())
    return rules


@functools.cache
def _default_rules() -> tuple[Rule, ...]:
    resource = resources.files("ci_profile.analysis").joinpath("rules.toml")
    text = resource.read_text(encoding="utf-8")
    return tuple(parse_rules_toml(text, "rules.toml", checked=True))


def default_rules() -> list[Rule]:
    """The rules shipped with the package, in order (parsed once, then cached)."""
    return list(_default_rules())


def build_rules(
    user_rules: Sequence[Mapping[str, object]] = (),
    disabled: Iterable[str] = (),
) -> list[Rule]:
    """User rules first (they win, being earlier), then the default rules minus ``disabled``.

    User rules have the keys of a ``[[rule]]`` table. Any problem (unknown key or category,
    duplicate id, a pattern that does not compile, a rule without conditions, an unknown id in
    ``disabled``) raises :class:`ConfigError` with a one-line message naming the rule.
    """
    defaults = _default_rules()
    default_ids = frozenset(r.id for r in defaults)
    off: set[str] = set()
    for rid in [disabled] if isinstance(disabled, str) else disabled:
        if not isinstance(rid, str) or rid not in default_ids:
            raise ConfigError(f"cannot disable rule {rid!r}: no default rule has that id")
        off.add(rid)
    if isinstance(user_rules, Mapping):
        raise ConfigError("user rules must be a list of tables ([[rule]]), not a single table")
    parsed = [_parse_rule(raw, f"user rule #{i + 1}") for i, raw in enumerate(user_rules)]
    rules = parsed + [r for r in defaults if r.id not in off]
    _check_unique(rules, default_ids - off)
    return rules


def rules_fingerprint(rules: Sequence[Rule]) -> str:
    """A stable sha256 (hex) of what decides classification: ids, categories, patterns, order."""
    payload = [
        [
            rule.id,
            rule.category,
            *(None if p is None else p.pattern for p in rule.conditions()),
        ]
        for rule in rules
    ]
    blob = json.dumps(
        {"engine": _ENGINE_VERSION, "flags": int(PATTERN_FLAGS), "rules": payload},
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()
