"""Reading .gitlab-ci.yml (core.gitlab_ci) and joining log sections to it (link_gitlab)."""

from __future__ import annotations

import textwrap

import pytest
from ci_profile.analysis.classify import default_rules
from ci_profile.analysis.link_gitlab import link_gitlab
from ci_profile.core.errors import PipelineFileError
from ci_profile.core.gitlab_ci import Include, glob_match, parse_gitlab_ci, parse_includes
from gitlab_payloads import CONFIG, REVIEW_CONFIG, TEMPLATES

INCLUDES = {"ci/templates.yml": TEMPLATES}


def test_the_payload_config_resolves_extends_includes_and_references() -> None:
    ci = parse_gitlab_ci(CONFIG, includes=INCLUDES)
    assert ci.stages == ("lint", "build", "test", "deploy")
    assert ci.local_includes == ("ci/templates.yml",)
    integration = ci.jobs["integration"]
    assert integration.stage == "test"
    assert integration.image == "python:3.12"  # from the included .python template
    assert integration.services == ("postgres:16", "redis:7")
    assert integration.before_script == ("pip install -r requirements.txt",)
    # !reference [.migrate, script] is spliced in, nested lists flattened
    assert integration.script[1] == "alembic upgrade head"
    assert integration.script[-1] == "pytest -q tests/integration"
    assert integration.after_script == ("cat logs/*.log || true",)
    assert integration.main_script is not None
    assert integration.main_script.startswith("pip install -r requirements.txt\necho -e")
    assert integration.extends == (".python",)
    assert ci.jobs[".python"].hidden and ci.jobs[".python"].path == "ci/templates.yml"
    review = ci.jobs["review"]
    assert review.is_trigger and review.trigger_include == ("ci/review.yml",)
    assert review.before_script == ()  # trigger jobs run no script
    assert ci.has_triggers
    # Line spans point into the file the job is defined in.
    lines = CONFIG.splitlines()
    assert lines[integration.line_start - 1] == "integration:"
    assert lines[integration.line_end - 1].strip() == "- cat logs/*.log || true"
    start, stop = integration.spans["script"]
    assert lines[start - 1].strip() == "script:" and lines[stop - 1].strip().startswith("- pytest")


def test_without_its_includes_a_job_keeps_what_it_says_itself() -> None:
    ci = parse_gitlab_ci(CONFIG)
    unit = ci.jobs["unit"]
    assert unit.script == ("pytest -q tests/unit",)
    assert unit.before_script == () and unit.image is None


def test_defaults_inherit_anchors_merge_keys_and_hidden_jobs() -> None:
    text = textwrap.dedent(
        """\
        image: ruby:3.3
        default:
          before_script: [bundle install]
          after_script: [echo done]
        .base: &base
          services: [{name: mysql:8, alias: db}]
          tags: [docker]
        rspec:
          <<: *base
          script: [bundle exec rspec]
        plain:
          inherit:
            default: false
          script: [make]
        partial:
          inherit:
            default: [after_script]
          script: [make check]
        deploy:
          stage: deploy
          image: {name: alpine:3, entrypoint: [""]}
          script: ./deploy.sh
        """
    )
    ci = parse_gitlab_ci(text)
    rspec = ci.jobs["rspec"]
    assert rspec.services == ("mysql:8",) and rspec.image == "ruby:3.3"
    assert rspec.before_script == ("bundle install",) and rspec.after_script == ("echo done",)
    assert ci.jobs["plain"].before_script == () and ci.jobs["plain"].image is None
    assert ci.jobs["partial"].before_script == () and ci.jobs["partial"].after_script == (
        "echo done",
    )
    assert ci.jobs["deploy"].image == "alpine:3" and ci.jobs["deploy"].script == ("./deploy.sh",)
    assert ci.jobs[".base"].hidden and ci.jobs[".base"].stage is None
    assert ci.jobs["rspec"].stage == "test"  # GitLab's default stage
    # Spans cover the job's own keys, not what a merge key brought in.
    assert set(rspec.spans) == {"script"}


def test_extends_chains_merge_mappings_and_replace_lists() -> None:
    text = textwrap.dedent(
        """\
        .a:
          image: {name: node:20}
          script: [npm ci]
          variables: {A: "1"}
        .b:
          extends: .a
          script: [npm test]
        job:
          extends: [.b]
          image: {entrypoint: [sh]}
        """
    )
    job = parse_gitlab_ci(text).jobs["job"]
    assert job.image == "node:20"  # deep-merged mapping keeps name
    assert job.script == ("npm test",)


def test_includes_of_every_kind_and_wildcards() -> None:
    text = textwrap.dedent(
        """\
        include:
          - /ci/a.yml
          - local: ci/jobs/*.yml
          - remote: https://example.com/ci.yml
          - template: Auto-DevOps.gitlab-ci.yml
          - project: group/templates
            ref: main
            file: [/python.yml, docker.yml]
          - component: $CI_SERVER_FQDN/group/component@1.0
        """
    )
    assert parse_includes(text) == (
        Include("local", "ci/a.yml"),
        Include("local", "ci/jobs/*.yml"),
        Include("remote", "https://example.com/ci.yml"),
        Include("template", "Auto-DevOps.gitlab-ci.yml"),
        Include("project", "python.yml", "group/templates"),
        Include("project", "docker.yml", "group/templates"),
        Include("component", "$CI_SERVER_FQDN/group/component@1.0"),
    )
    assert parse_includes("include: ci/one.yml\n") == (Include("local", "ci/one.yml"),)
    assert glob_match("ci/jobs/*.yml", "ci/jobs/a.yml")
    assert not glob_match("ci/jobs/*.yml", "ci/jobs/deep/a.yml")
    assert glob_match("ci/**.yml", "ci/jobs/deep/a.yml")
    ci = parse_gitlab_ci(
        text, includes={"ci/jobs/x.yml": "x:\n  script: [echo x]\n", "ci/a.yml": None}
    )
    assert ci.jobs["x"].path == "ci/jobs/x.yml"


def test_a_job_redefined_by_the_including_file_is_deep_merged() -> None:
    included = "build:\n  image: golang:1.22\n  script: [go build ./...]\n"
    ci = parse_gitlab_ci(
        "include: ci/b.yml\nbuild:\n  stage: build\n", includes={"ci/b.yml": included}
    )
    build = ci.jobs["build"]
    assert (build.stage, build.image, build.script) == ("build", "golang:1.22", ("go build ./...",))
    assert build.path == ".gitlab-ci.yml"


def test_component_files_with_a_spec_header_document() -> None:
    text = "spec:\n  inputs:\n    stage: {default: test}\n---\nlint:\n  script: [make lint]\n"
    assert parse_gitlab_ci(text).jobs["lint"].script == ("make lint",)


def test_runtime_names_of_parallel_and_matrix_jobs() -> None:
    ci = parse_gitlab_ci("rspec:\n  parallel: 3\n  script: [rspec]\ndeploy:\n  script: [x]\n")
    assert ci.match_job("rspec 2/3") is ci.jobs["rspec"]
    assert ci.match_job("deploy: [aws, us-east-1]") is ci.jobs["deploy"]
    assert ci.match_job("unknown") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: [unclosed\n", "not valid YAML at line"),
        ("- just\n- a list\n", "mapping at the top level"),
        ("a:\n  script: x\na:\n  script: y\n", "not valid YAML"),
        (".a:\n  extends: .b\n.b:\n  extends: .a\njob:\n  extends: .a\n", "loops"),
    ],
)
def test_bad_files_fail_with_one_line(text: str, message: str) -> None:
    with pytest.raises(PipelineFileError, match=message) as info:
        parse_gitlab_ci(text)
    assert "\n" not in str(info.value)


def test_yaml_alias_bomb_is_bounded() -> None:
    bomb = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for level, name in enumerate("bcdefghi"):
        prev = "abcdefghi"[level]
        bomb.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
    bomb.append("job:\n  script: *i")
    with pytest.raises(PipelineFileError, match="alias bomb"):
        parse_gitlab_ci("\n".join(bomb) + "\n")


def test_empty_and_comment_only_files() -> None:
    assert parse_gitlab_ci("").jobs == {}
    assert parse_gitlab_ci("# nothing yet\n").jobs == {}


# -- link_gitlab -------------------------------------------------------------------------------

SECTIONS = [
    "resolve_secrets",
    "prepare_executor",
    "get_sources",
    "step_script",
    "db_migrate",
    "step_script",
    "after_script",
    "upload_artifacts_on_success",
    "cleanup_file_variables",
]


def test_link_sets_section_and_the_scripts_each_section_ran() -> None:
    linked = link_gitlab(CONFIG, "integration", SECTIONS, includes=INCLUDES)
    assert [link.section for link in linked] == SECTIONS
    assert [link.phase for link in linked] == [
        "pre",
        "pre",
        "pre",
        "main",
        "main",
        "main",
        "post",
        "post",
        "post",
    ]
    assert {link.yaml_job for link in linked} == {"integration"}
    script = linked[3].run
    assert script is not None and script.splitlines()[0] == "pip install -r requirements.txt"
    assert script.splitlines()[-1] == "pytest -q tests/integration"
    assert linked[5].run == script  # the resumed part of step_script ran the same script
    assert linked[4].run is None  # a custom section: only its name is known
    assert linked[6].run == "cat logs/*.log || true"
    assert linked[1].with_ == "image=python:3.12\nservices=postgres:16\nservices=redis:7"
    assert linked[0].run is None and linked[7].run is None


def test_link_legacy_build_script_and_matrix_names() -> None:
    linked = link_gitlab(CONFIG, "unit", ["build_script"])
    assert linked[0].run == "pytest -q tests/unit"
    child = link_gitlab(REVIEW_CONFIG, "deploy-review: [eu]", ["step_script"])
    assert child[0].run is not None and child[0].run.startswith("helm upgrade --install")


def test_link_without_a_usable_file_still_gives_the_section() -> None:
    for content, job in [
        (None, "unit"),
        ("{{not yaml", "unit"),
        (CONFIG, "no-such-job"),
        (CONFIG, None),
    ]:
        linked = link_gitlab(content, job, ["step_script", "get_sources"])
        assert [(link.section, link.run, link.yaml_job) for link in linked] == [
            ("step_script", None, None),
            ("get_sources", None, None),
        ]


def test_linked_facts_classify_with_the_shipped_rules() -> None:
    from ci_profile.analysis.classify import StepFacts, classify

    rules = default_rules()
    linked = link_gitlab(CONFIG, "integration", SECTIONS, includes=INCLUDES)
    got = [
        classify(
            StepFacts(
                "gitlab",
                name,
                run=link.run,
                with_=link.with_,
                section=link.section,
                phase=link.phase,
                job_name="integration",
            ),
            rules,
        )[0]
        for name, link in zip(SECTIONS, linked, strict=True)
    ]
    assert got[3] == "test" and got[4] == "environment" and got[6] == "teardown"
    assert "other" not in got
