"""Tests for step classification (analysis/classify.py + analysis/rules.toml).

The bulk of the cases live in tests/data/classify_cases.toml: steps copied from real public
pipelines (the source of each is named there). This module runs that corpus and tests the
engine itself: matching semantics, the `Run <...>` name derivation, user rules, disabling,
validation errors and the fingerprint.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from ci_profile.analysis.classify import (
    CATEGORIES,
    RULE_CATEGORIES,
    Classifier,
    LazyPattern,
    Rule,
    StepFacts,
    build_rules,
    classify,
    default_rules,
    effective_facts,
    rules_fingerprint,
)
from ci_profile.core.errors import ConfigError

CASES_FILE = Path(__file__).parent / "data" / "classify_cases.toml"


def _load_cases() -> list[dict[str, Any]]:
    with CASES_FILE.open("rb") as fh:
        data = tomllib.load(fh)
    cases = data["case"]
    assert isinstance(cases, list)
    return cases


CASES = _load_cases()


def _facts(case: Mapping[str, Any]) -> StepFacts:
    return StepFacts(
        provider=case["provider"],
        name=case["name"],
        uses=case.get("uses"),
        run=case.get("run"),
        with_=case.get("with"),
        section=case.get("section"),
        phase=case.get("phase", "main"),
        job_name=case.get("job_name"),
    )


def _case_id(case: Mapping[str, Any]) -> str:
    return f"{case['provider']}:{case['name'][:60]}"


@pytest.fixture(scope="module")
def rules() -> list[Rule]:
    return default_rules()


# ---------------------------------------------------------------------------------------------
# the real-workflow corpus


def test_corpus_is_large_and_well_formed() -> None:
    assert len(CASES) >= 150
    allowed = {
        "src",
        "provider",
        "name",
        "uses",
        "run",
        "with",
        "section",
        "phase",
        "job_name",
        "expect",
        "rule",
    }
    for case in CASES:
        assert set(case) <= allowed, case
        assert case["provider"] in {"github", "gitlab", "jenkins"}
        assert case["expect"] in CATEGORIES
        assert case.get("src"), case


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_real_step(case: dict[str, Any], rules: list[Rule]) -> None:
    category, rule_id = classify(_facts(case), rules)
    assert category == case["expect"], f"{case['src']}: matched rule {rule_id!r}"
    if "rule" in case:
        assert rule_id == case["rule"], f"{case['src']}: category right, rule {rule_id!r}"


def test_corpus_covers_every_assignable_category() -> None:
    seen = {c["expect"] for c in CASES}
    assert seen >= set(RULE_CATEGORIES)


# ---------------------------------------------------------------------------------------------
# default rule set invariants


def test_default_rule_ids_unique_and_kebab_case(rules: list[Rule]) -> None:
    ids = [r.id for r in rules]
    assert len(ids) == len(set(ids))
    for rid in ids:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", rid), rid


def test_default_rule_categories_valid(rules: list[Rule]) -> None:
    for rule in rules:
        assert rule.category in CATEGORIES
        assert rule.category != "queue"
        assert rule.description


def test_default_rules_cover_every_category_but_queue(rules: list[Rule]) -> None:
    assert {r.category for r in rules} == set(CATEGORIES) - {"queue"}


def test_default_rules_are_cached_but_returned_as_fresh_lists() -> None:
    a, b = default_rules(), default_rules()
    assert a == b
    assert a is not b
    a.clear()
    assert default_rules() == b
    assert all(x is y for x, y in zip(default_rules(), b, strict=True))


def test_every_shipped_pattern_compiles_case_insensitive_multiline(rules: list[Rule]) -> None:
    """The shipped patterns are compiled when first matched (LazyPattern), so a broken one
    would only fail in a user's classification: compile every one here."""
    compiled = 0
    for rule in rules:
        for pat in rule.conditions():
            if pat is not None:
                assert isinstance(pat, LazyPattern)
                assert pat.compiled().flags & re.IGNORECASE
                assert pat.compiled().flags & re.MULTILINE
                compiled += 1
    assert compiled > 250


def test_user_rule_patterns_are_compiled_when_loaded() -> None:
    with pytest.raises(ConfigError, match="does not compile"):
        build_rules([{"id": "mine", "category": "test", "run": "pytest("}])
    (mine, *_) = build_rules([{"id": "mine", "category": "test", "run": "pytest"}])
    assert isinstance(mine.run, re.Pattern)


def test_every_default_rule_has_a_condition(rules: list[Rule]) -> None:
    for rule in rules:
        assert any(c is not None for c in rule.conditions()), rule.id


def test_corpus_exercises_many_distinct_rules() -> None:
    used = {c["rule"] for c in CASES if "rule" in c}
    assert len(used) >= 100


# ---------------------------------------------------------------------------------------------
# matching semantics


def _rule(**kw: object) -> Rule:
    raw: dict[str, object] = {"id": "t", "category": "test"}
    raw.update(kw)
    return build_rules([raw])[0]


def test_unmatched_is_other() -> None:
    facts = StepFacts(provider="github", name="Frobnicate the widgets", run="./frob")
    assert classify(facts, []) == ("other", "unmatched")
    assert classify(facts, default_rules()) == ("other", "unmatched")


def test_conditions_are_anded() -> None:
    rule = _rule(provider="^github$", run="pytest")
    assert classify(StepFacts("github", "x", run="pytest"), [rule]) == ("test", "t")
    assert classify(StepFacts("gitlab", "x", run="pytest"), [rule]) == ("other", "unmatched")
    assert classify(StepFacts("github", "x", run="make"), [rule]) == ("other", "unmatched")


def test_condition_on_unknown_fact_does_not_match() -> None:
    run_rule = _rule(run=".")
    step = StepFacts("github", "Checkout", uses="actions/checkout@v4")
    assert classify(step, [run_rule]) == ("other", "unmatched")
    uses_rule = _rule(uses=".")
    assert classify(StepFacts("github", "x", run="ls"), [uses_rule]) == ("other", "unmatched")
    with_rule = _rule(**{"with": "."})
    assert classify(StepFacts("github", "x", uses="a/b@v1"), [with_rule]) == ("other", "unmatched")


def test_first_match_wins() -> None:
    first = build_rules([{"id": "a", "category": "lint", "run": "x"}])[0]
    second = build_rules([{"id": "b", "category": "build", "run": "x"}])[0]
    step = StepFacts("github", "s", run="x")
    assert classify(step, [first, second]) == ("lint", "a")
    assert classify(step, [second, first]) == ("build", "b")


def test_matching_is_case_insensitive_and_multiline() -> None:
    rule = _rule(run="^pytest$")
    assert classify(StepFacts("github", "s", run="cd app\nPYTEST\n"), [rule]) == ("test", "t")


def test_uses_matched_without_version_suffix() -> None:
    rule = _rule(uses="^actions/checkout$")
    for ref in ("actions/checkout@v4", "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1"):
        assert classify(StepFacts("github", "c", uses=ref), [rule]) == ("test", "t")
    assert effective_facts(StepFacts("github", "c", uses="docker://alpine:3"))[0] == (
        "docker://alpine:3"
    )
    assert effective_facts(StepFacts("github", "c", uses="./.github/actions/x"))[0] == (
        "./.github/actions/x"
    )


def test_name_derivation_of_run_and_uses() -> None:
    assert effective_facts(StepFacts("github", "Run pytest -q")) == (None, "pytest -q")
    assert effective_facts(StepFacts("github", "Run actions/setup-go@v5")) == (
        "actions/setup-go",
        None,
    )
    assert effective_facts(StepFacts("github", "Run github/codeql-action/init@v3")) == (
        "github/codeql-action/init",
        None,
    )
    assert effective_facts(StepFacts("github", "Run ./.github/actions/setup")) == (
        "./.github/actions/setup",
        None,
    )
    # a script path is a command, not a local action
    assert effective_facts(StepFacts("github", "Run ./scripts/test.sh")) == (
        None,
        "./scripts/test.sh",
    )
    # no derivation when the definition is known, or the name is not a "Run " name
    assert effective_facts(StepFacts("github", "Run tests", run="make check")) == (
        None,
        "make check",
    )
    assert effective_facts(StepFacts("github", "Run", run=None)) == (None, None)
    assert effective_facts(StepFacts("github", "Running pytest")) == (None, None)
    assert effective_facts(StepFacts("github", "Run tests", uses="a/b@v1")) == ("a/b", None)


def test_name_derived_command_uses_the_same_rules(rules: list[Rule]) -> None:
    known = StepFacts("github", "Run go test ./...", run="go test ./...")
    unknown = StepFacts("github", "Run go test ./...")
    assert classify(known, rules) == classify(unknown, rules) == ("test", "go-test")


def test_structural_steps_win_over_the_action_they_belong_to(rules: list[Rule]) -> None:
    # a Post step may be joined to its action's `uses`; it is still teardown
    post = StepFacts("github", "Post Run actions/cache@v4", uses="actions/cache@v4", phase="post")
    assert classify(post, rules) == ("teardown", "gh-post-step")
    pre = StepFacts("github", "Pre Run step-security/harden-runner@v2", phase="pre")
    assert classify(pre, rules) == ("setup", "gh-pre-step")


def test_misleading_setup_name_with_cluster_action(rules: list[Rule]) -> None:
    step = StepFacts("github", "Setup test environment", uses="helm/kind-action@v1.10.0")
    assert classify(step, rules) == ("environment", "kind-action")
    # and with only the name known
    assert classify(StepFacts("github", "Setup test environment"), rules)[0] == "environment"


def test_gitlab_step_script_is_classified_by_its_script(rules: list[Rule]) -> None:
    base = {"provider": "gitlab", "name": "step_script", "section": "step_script"}
    expectations = {
        "pip install -r requirements.txt\npytest --junitxml=report.xml": "test",
        "npm ci\nnpm run lint": "lint",
        "kind create cluster\nkubectl apply -f k8s/": "environment",
        "docker build -t $CI_REGISTRY_IMAGE .\ndocker push $CI_REGISTRY_IMAGE": "publish",
        "go build ./...": "build",
    }
    for script, category in expectations.items():
        facts = StepFacts(
            provider=base["provider"], name=base["name"], section=base["section"], run=script
        )
        assert classify(facts, rules)[0] == category, script


# ---------------------------------------------------------------------------------------------
# user rules and disabling


def test_user_rule_placed_first_wins(rules: list[Rule]) -> None:
    step = StepFacts("github", "Run make e2e", run="make e2e")
    assert classify(step, rules) == ("test", "make-test-target")
    custom = build_rules(
        [
            {
                "id": "our-e2e-builds-env",
                "category": "environment",
                "description": "our make e2e only stands the stack up",
                "run": r"^make\s+e2e$",
            }
        ]
    )
    assert custom[0].id == "our-e2e-builds-env"
    assert classify(step, custom) == ("environment", "our-e2e-builds-env")
    assert len(custom) == len(rules) + 1


def test_user_rule_with_alias_and_all_keys() -> None:
    built = build_rules(
        [
            {
                "id": "all-keys",
                "category": "build",
                "provider": "github",
                "name": "Build",
                "uses": "^acme/build$",
                "with_": "^target=release$",
                "phase": "main",
            },
            {
                "id": "section-rule",
                "category": "setup",
                "section": "^custom_prepare$",
                "run": ".",
            },
        ]
    )
    first = built[0]
    assert first.with_ is not None and first.with_.pattern == "^target=release$"
    step = StepFacts("github", "Build it", uses="acme/build@v2", with_="target=release")
    assert classify(step, built) == ("build", "all-keys")
    assert built[1].section is not None


def test_disabling_a_default_rule(rules: list[Rule]) -> None:
    step = StepFacts("github", "Initialize containers", phase="pre")
    assert classify(step, rules) == ("environment", "gh-initialize-containers")
    without = build_rules(disabled=["gh-initialize-containers"])
    assert "gh-initialize-containers" not in {r.id for r in without}
    assert len(without) == len(rules) - 1
    # the next rule that matches takes over
    assert classify(step, without) == ("setup", "phase-pre")


def test_disabled_default_id_may_be_reused_by_a_user_rule() -> None:
    replaced = build_rules(
        [
            {
                "id": "gh-initialize-containers",
                "category": "setup",
                "name": "^Initialize containers$",
            }
        ],
        disabled=["gh-initialize-containers"],
    )
    step = StepFacts("github", "Initialize containers", phase="pre")
    assert classify(step, replaced) == ("setup", "gh-initialize-containers")


def test_disabled_accepts_a_single_string() -> None:
    assert "checkout" not in {r.id for r in build_rules(disabled="checkout")}


def test_build_rules_defaults_equal_default_rules(rules: list[Rule]) -> None:
    assert build_rules() == rules


# ---------------------------------------------------------------------------------------------
# validation errors: one line, naming the rule and the problem


def _config_error(*args: Any, **kwargs: Any) -> str:
    with pytest.raises(ConfigError) as info:
        build_rules(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_error_bad_regex() -> None:
    msg = _config_error([{"id": "broken", "category": "test", "run": "pytest("}])
    assert "broken" in msg and "run" in msg and "compile" in msg


def test_error_unknown_category() -> None:
    msg = _config_error([{"id": "odd", "category": "testing", "run": "x"}])
    assert "odd" in msg and "testing" in msg and "category" in msg


def test_error_queue_is_not_assignable() -> None:
    msg = _config_error([{"id": "q", "category": "queue", "name": "x"}])
    assert "q" in msg and "queue" in msg


def test_error_unknown_key() -> None:
    msg = _config_error([{"id": "typo", "category": "test", "command": "pytest"}])
    assert "typo" in msg and "command" in msg and "unknown key" in msg


def test_error_duplicate_user_ids() -> None:
    msg = _config_error(
        [
            {"id": "twice", "category": "test", "run": "a"},
            {"id": "twice", "category": "lint", "run": "b"},
        ]
    )
    assert "twice" in msg and "duplicate" in msg


def test_error_user_id_clashes_with_enabled_default() -> None:
    msg = _config_error([{"id": "checkout", "category": "setup", "uses": "x"}])
    assert "checkout" in msg and "duplicate" in msg and "disable" in msg


def test_error_rule_without_condition() -> None:
    msg = _config_error([{"id": "empty", "category": "test", "description": "nothing"}])
    assert "empty" in msg and "condition" in msg


def test_error_unknown_disabled_id() -> None:
    msg = _config_error(disabled=["no-such-rule"])
    assert "no-such-rule" in msg


def test_error_missing_id_names_the_position() -> None:
    msg = _config_error([{"id": "ok", "category": "test", "run": "x"}, {"category": "test"}])
    assert "#2" in msg and "id" in msg


def test_error_pattern_not_a_string_or_empty() -> None:
    msg = _config_error([{"id": "num", "category": "test", "run": 5}])
    assert "num" in msg and "run" in msg
    msg = _config_error([{"id": "blank", "category": "test", "name": ""}])
    assert "blank" in msg and "empty" in msg


def test_error_rule_not_a_table() -> None:
    msg = _config_error(["pytest"])
    assert "#1" in msg


def test_error_both_with_spellings() -> None:
    msg = _config_error([{"id": "w", "category": "test", "with": "a", "with_": "b"}])
    assert "w" in msg and "with" in msg


def test_config_error_is_the_project_error() -> None:
    from ci_profile.core.errors import CIProfileError

    with pytest.raises(CIProfileError):
        build_rules([{"id": "x", "category": "nope", "run": "y"}])


# ---------------------------------------------------------------------------------------------
# fingerprint


def test_fingerprint_is_stable_hex(rules: list[Rule]) -> None:
    fp = rules_fingerprint(rules)
    assert re.fullmatch(r"[0-9a-f]{64}", fp)
    assert fp == rules_fingerprint(default_rules())
    assert fp == rules_fingerprint(build_rules())


def test_fingerprint_changes_with_order(rules: list[Rule]) -> None:
    swapped = [rules[1], rules[0], *rules[2:]]
    assert rules_fingerprint(swapped) != rules_fingerprint(rules)


def test_fingerprint_changes_with_rules(rules: list[Rule]) -> None:
    base = rules_fingerprint(rules)
    assert rules_fingerprint(build_rules(disabled=["checkout"])) != base
    extra = build_rules([{"id": "mine", "category": "lint", "run": "x"}])
    assert rules_fingerprint(extra) != base
    other_pattern = build_rules([{"id": "mine", "category": "lint", "run": "y"}])
    assert rules_fingerprint(other_pattern) != rules_fingerprint(extra)
    other_category = build_rules([{"id": "mine", "category": "build", "run": "x"}])
    assert rules_fingerprint(other_category) != rules_fingerprint(extra)


def test_fingerprint_ignores_descriptions() -> None:
    a = build_rules([{"id": "mine", "category": "lint", "run": "x", "description": "one"}])
    b = build_rules([{"id": "mine", "category": "lint", "run": "x", "description": "two"}])
    assert rules_fingerprint(a) == rules_fingerprint(b)


def test_fingerprint_of_empty_list() -> None:
    assert re.fullmatch(r"[0-9a-f]{64}", rules_fingerprint([]))


# ---------------------------------------------------------------------------------------------
# extensions: job_name conditions and the memoising Classifier


def test_job_name_condition_in_user_rules() -> None:
    rules = build_rules(
        [{"id": "release-job", "category": "publish", "job_name": "^release$", "section": "."}]
    )
    assert rules[0].job_name is not None
    step = StepFacts(
        "gitlab", "step_script", section="step_script", run="./ship.sh", job_name="release"
    )
    assert classify(step, rules) == ("publish", "release-job")
    # no job name known: the condition does not match
    unnamed = StepFacts("gitlab", "step_script", section="step_script", run="./ship.sh")
    assert classify(unnamed, rules[:1]) == ("other", "unmatched")


def test_rule_keeps_its_ten_positional_fields() -> None:
    pattern = re.compile("x")
    rule = Rule("r", "test", "d", None, None, None, pattern, None, None, None)
    assert rule.job_name is None
    assert classify(StepFacts("github", "s", run="x"), [rule]) == ("test", "r")


def test_gitlab_job_name_decides_deploys_and_unknown_scripts(rules: list[Rule]) -> None:
    def gl(job: str, run: str | None) -> tuple[str, str]:
        facts = StepFacts("gitlab", "step_script", section="step_script", run=run, job_name=job)
        return classify(facts, rules)

    deploy = "helm upgrade --install app ./chart --namespace app --wait"
    assert gl("deploy-production", deploy) == ("publish", "deploy-named-job")
    assert gl("review", deploy) == ("environment", "helm-install")
    assert gl("unit-tests", None) == ("test", "gl-job-test")
    assert gl("lint", "./tools/ci-entrypoint") == ("lint", "gl-job-lint")
    assert gl("something", None) == ("other", "gl-script-unrecognised")


def test_classifier_memoises_and_matches_classify(rules: list[Rule]) -> None:
    clf = Classifier(rules, max_cache=2)
    assert clf.fingerprint == rules_fingerprint(rules)
    steps = [_facts(c) for c in CASES[:20]]
    for facts in steps:
        assert clf(facts) == classify(facts, rules)
        assert clf(facts) == classify(facts, rules)
    assert len(clf._cache) <= 2


# ---------------------------------------------------------------------------------------------
# every default rule is exercised: by the real-workflow corpus above, or else by one canonical
# example of the command/action/name form it exists for (these forms are the ones seen in the
# workflows the corpus was taken from; each is the typical invocation of the tool concerned)

RULE_EXAMPLES: dict[str, StepFacts] = {
    "phase-pre": StepFacts("github", "Initialize ./.github/actions/foo", phase="pre"),
    "gh-create-custom-image": StepFacts("github", "Create custom image", phase="post"),
    "phase-post": StepFacts("github", "Save runner state", phase="post"),
    "jenkins-docker-with-run": StepFacts(
        "jenkins", "Record trace of a Docker image run in a container"
    ),
    "jenkins-publish-reports": StepFacts("jenkins", "Publish HTML reports"),
    "jenkins-notify": StepFacts("jenkins", "Send Slack Message"),
    "jenkins-quality-gate": StepFacts(
        "jenkins", "Wait for SonarQube analysis to be completed and return quality gate status"
    ),
    "jenkins-wait": StepFacts("jenkins", "Sleep"),
    "actions-rs-cargo-publish": StepFacts(
        "github",
        "Publish",
        uses="actions-rs/cargo@v1",
        with_="args=--token ${{ secrets.CRATES_TOKEN }}\ncommand=publish",
    ),
    "actions-rs-cargo-install": StepFacts(
        "github",
        "Install cargo-audit",
        uses="actions-rs/cargo@v1",
        with_="args=cargo-audit\ncommand=install",
    ),
    "maturin-publish": StepFacts(
        "github",
        "Publish to PyPI",
        uses="PyO3/maturin-action@v1",
        with_="args=--non-interactive --skip-existing wheels-*/*\ncommand=upload",
    ),
    "goreleaser-install-only": StepFacts(
        "github",
        "Install GoReleaser",
        uses="goreleaser/goreleaser-action@v6",
        with_="install-only=true",
    ),
    "goreleaser-release": StepFacts(
        "github",
        "Run GoReleaser",
        uses="goreleaser/goreleaser-action@v6",
        with_="args=release --clean\ndistribution=goreleaser\nversion=~> v2",
    ),
    "gradle-build-action-test": StepFacts(
        "github", "Run tests", uses="gradle/gradle-build-action@v2", with_="arguments=test"
    ),
    "gradle-build-action-publish": StepFacts(
        "github", "Publish", uses="gradle/gradle-build-action@v2", with_="arguments=publish"
    ),
    "gradle-build-action-build": StepFacts(
        "github", "Build", uses="gradle/gradle-build-action@v2", with_="arguments=build -x test"
    ),
    "pnpm-setup-run-install": StepFacts(
        "github", "Install pnpm", uses="pnpm/action-setup@v4", with_="run_install=true\nversion=9"
    ),
    "conda-environment-file": StepFacts(
        "github",
        "Setup conda",
        uses="conda-incubator/setup-miniconda@v3",
        with_="activate-environment=test\nenvironment-file=environment.yml",
    ),
    "cypress-install-only": StepFacts(
        "github", "Install Cypress", uses="cypress-io/github-action@v6", with_="runTests=false"
    ),
    "android-emulator-runner": StepFacts(
        "github",
        "Run instrumented tests",
        uses="reactivecircus/android-emulator-runner@v2",
        with_="api-level=29\nscript=./gradlew connectedCheck",
    ),
    "other-cache-actions": StepFacts(
        "github",
        "Cache apt packages",
        uses="awalsh128/cache-apt-pkgs-action@latest",
        with_="packages=libpq-dev",
    ),
    "other-cluster-actions": StepFacts(
        "github", "Install microk8s", uses="balchua/microk8s-action@v0.4.3"
    ),
    "skaffold-action-build": StepFacts(
        "github",
        "Build images",
        uses="hiberbee/github-action-skaffold@1.27.0",
        with_="command=build",
    ),
    "compose-action": StepFacts(
        "github",
        "Run docker compose",
        uses="hoverkraft-tech/compose-action@v2",
        with_="compose-file=./docker-compose.yml",
    ),
    "localstack-action": StepFacts(
        "github", "Start LocalStack", uses="LocalStack/setup-localstack@v0.2.3"
    ),
    "test-runner-actions": StepFacts("github", "Run tests", uses="julia-actions/julia-runtest@v1"),
    "test-report-actions": StepFacts(
        "github",
        "Test Report",
        uses="dorny/test-reporter@v1",
        with_="name=JEST Tests\npath=reports/jest-*.xml\nreporter=jest-junit",
    ),
    "notify-actions": StepFacts("github", "Notify Slack", uses="slackapi/slack-github-action@v1"),
    "build-actions": StepFacts("github", "Build wheels", uses="pypa/cibuildwheel@v2.21"),
    "action-path-lint": StepFacts("github", "Lint", uses="./.github/actions/lint"),
    "action-path-setup": StepFacts("github", "Restore env", uses="./.github/actions/env"),
    "security-test-commands": StepFacts(
        "github", "Run Snyk", run="snyk test --severity-threshold=high"
    ),
    "dry-run-validate": StepFacts(
        "github", "Validate manifests", run="kubectl apply --dry-run=server -f deploy/"
    ),
    "compose-run-tests-service": StepFacts(
        "github", "Run tests", run="docker compose run --rm tests"
    ),
    "jvm-other-test": StepFacts("github", "Test", run="sbt +test"),
    "mirrord-exec-tests": StepFacts(
        "github",
        "Integration tests",
        run="mirrord exec -f .mirrord/mirrord-ci.json -- go test ./integration/...",
    ),
    "ko-publish": StepFacts("github", "Publish image", run="ko build ./cmd/app --bare"),
    "build-tool-publish": StepFacts(
        "github", "Publish to Maven Central", run="./mvnw -B deploy -DskipTests"
    ),
    "release-commands": StepFacts("github", "Release", run="npx semantic-release"),
    "coverage-upload": StepFacts(
        "github", "Upload coverage", run="bash <(curl -s https://codecov.io/bash)"
    ),
    "upload-to-storage": StepFacts(
        "github", "Sync site", run="aws s3 sync ./public s3://my-site --delete"
    ),
    "deploy-commands": StepFacts("github", "Fly.io", run="flyctl deploy --remote-only"),
    "git-push": StepFacts(
        "github", "Commit generated docs", run='git add docs\ngit commit -m "docs"\ngit push'
    ),
    "sign-and-attest": StepFacts("github", "Sign", run="cosign sign --yes ghcr.io/o/r@${DIGEST}"),
    "minikube-start": StepFacts(
        "github",
        "Start minikube",
        run="minikube start --driver=docker --kubernetes-version=v1.30.0",
    ),
    "cloud-cluster-create": StepFacts(
        "github", "Create cluster", run="eksctl create cluster -f cluster.yaml"
    ),
    "docker-run-detached": StepFacts(
        "github",
        "Start Postgres",
        run="docker run -d --name pg -e POSTGRES_PASSWORD=pg -p 5432:5432 postgres:16",
    ),
    "localstack-emulators": StepFacts("github", "Start LocalStack", run="localstack start -d"),
    "npm-env-script": StepFacts("github", "Start server", run="npm start"),
    "js-monorepo-build": StepFacts("github", "Build", run="npx nx affected --target=build"),
    "iac-plan": StepFacts("github", "Plan", run="terraform plan -out=tfplan"),
    "goreleaser-build": StepFacts("github", "Snapshot", run="goreleaser build --snapshot --clean"),
    "helm-package": StepFacts("github", "Package chart", run="helm package charts/app -d dist"),
    "go-lint": StepFacts("github", "Vet", run="go vet ./..."),
    "jvm-lint": StepFacts("github", "Checkstyle", run="./gradlew checkstyleMain spotlessCheck"),
    "language-lint-commands": StepFacts("github", "RuboCop", run="bundle exec rubocop --parallel"),
    "docs-lint": StepFacts("github", "Links", run="lychee --no-progress './**/*.md'"),
    "jvm-deps": StepFacts("github", "Resolve", run="./mvnw -B dependency:go-offline"),
    "download-artifacts-cli": StepFacts(
        "github", "Fetch build", run="gh run download ${{ github.event.workflow_run.id }} -n dist"
    ),
    "builder-setup": StepFacts(
        "github", "Set up builder", run="docker buildx create --use --name builder"
    ),
    "python-venv": StepFacts("github", "Create venv", run="python -m venv .venv"),
    "workspace-cleanup": StepFacts("github", "Remove build dir", run="rm -rf build/"),
    "background-process": StepFacts(
        "github",
        "Start services",
        run="./bin/server --port 8080 &\nsleep 5\ncurl -f http://localhost:8080/health",
    ),
    "script-path-setup": StepFacts("github", "Prepare", run="./ci/setup-env.sh"),
    "gl-job-teardown": StepFacts(
        "gitlab", "step_script", section="step_script", job_name="cleanup", run=None
    ),
    "gl-job-environment": StepFacts(
        "gitlab", "step_script", section="step_script", job_name="review", run=None
    ),
    "gl-job-test": StepFacts("gitlab", "step_script", section="step_script", job_name="unit-tests"),
    "gl-job-publish": StepFacts("gitlab", "step_script", section="step_script", job_name="pages"),
    "gl-job-build": StepFacts(
        "gitlab", "step_script", section="step_script", job_name="build-image"
    ),
    "name-cache-save": StepFacts("github", "Save build cache"),
    "name-teardown": StepFacts("github", "Cleanup"),
    "name-runner-prep": StepFacts("github", "Free disk space"),
    "name-deploy-preview": StepFacts("github", "Deploy preview"),
    "name-checkout": StepFacts("github", "Checkout repository"),
    "name-build-image": StepFacts("github", "Build Docker image"),
    "name-build": StepFacts("github", "Compile"),
}


@pytest.mark.parametrize("rule_id", sorted(RULE_EXAMPLES))
def test_rule_example(rule_id: str, rules: list[Rule]) -> None:
    assert classify(RULE_EXAMPLES[rule_id], rules)[1] == rule_id


def test_every_default_rule_is_exercised(rules: list[Rule]) -> None:
    exercised = {c["rule"] for c in CASES if "rule" in c} | set(RULE_EXAMPLES)
    missing = [r.id for r in rules if r.id not in exercised]
    assert not missing, missing


def test_deploy_is_publish_only_for_long_lived_targets(rules: list[Rule]) -> None:
    helm = "helm upgrade --install payments ./deploy/chart --set image.tag=${{ github.sha }} --wait"
    # a deploy into the kind cluster an e2e job just created builds the test environment
    in_e2e = StepFacts("github", "Deploy payments", run=helm, job_name="e2e-kind")
    assert classify(in_e2e, rules) == ("environment", "helm-install")
    # the same command in a deploy job, or a step naming a long-lived target, ships
    in_deploy_job = StepFacts("github", "Deploy payments", run=helm, job_name="deploy")
    assert classify(in_deploy_job, rules) == ("publish", "deploy-named-job")
    to_prod = StepFacts("github", "Deploy to production", run=helm, job_name="cd")
    assert classify(to_prod, rules) == ("publish", "deploy-named-command")
    # ... unless the same step also creates a local cluster
    local = StepFacts(
        "github", "Deploy to production", run="kind create cluster\n" + helm, job_name="cd"
    )
    assert classify(local, rules)[0] == "environment"
