"""Runtime GitHub steps joined to their workflow definitions (position first, names confirm)."""

from __future__ import annotations

import textwrap

import pytest
from ci_profile.analysis.link import link_steps, match_job
from ci_profile.core.errors import PipelineFileError
from ci_profile.core.pipelines import parse_github_workflow

WORKFLOW = textwrap.dedent(
    """\
    name: CI
    on: [push, pull_request]
    jobs:
      rust:
        name: Rust ${{ matrix.toolchain }}
        runs-on: ubuntu-latest
        strategy:
          matrix:
            toolchain: [stable, nightly]
        steps:
          - uses: actions/checkout@v4
          - uses: actions-rs/cargo@v1
            with:
              command: build
          - uses: actions-rs/cargo@v1
            with:
              command: test
              args: --all-features
          - uses: actions-rs/cargo@v1
            if: matrix.toolchain == 'nightly'
            with:
              command: test
      e2e:
        runs-on: [self-hosted, linux]
        services:
          postgres:
            image: postgres:16
        steps:
          - name: Setup test environment
            uses: helm/kind-action@v1.10.0
            with:
              cluster_name: e2e
          - run: |
              helm upgrade --install pg bitnami/postgresql --wait
              kubectl wait --for=condition=ready pod -l app=pg
          - name: Post results
            run: ./post.sh
      unit:
        strategy:
          matrix:
            python: ["3.11", "3.12"]
        runs-on: ubuntu-latest
        steps:
          - uses: actions/setup-python@v5
            with:
              python-version: ${{ matrix.python }}
          - run: pytest -q
    """
)


def test_parse_gives_steps_with_spans() -> None:
    workflow = parse_github_workflow(WORKFLOW)
    rust = workflow.jobs["rust"]
    assert [s.uses for s in rust.steps] == ["actions/checkout@v4"] + ["actions-rs/cargo@v1"] * 3
    assert rust.steps[1].with_text == "command=build"
    assert rust.steps[2].with_text == "args=--all-features\ncommand=test"
    assert rust.steps[3].condition == "matrix.toolchain == 'nightly'"
    lines = WORKFLOW.splitlines()
    assert lines[rust.steps[1].line_start - 1].strip() == "- uses: actions-rs/cargo@v1"
    assert lines[rust.steps[1].line_end - 1].strip() == "command: build"
    e2e = workflow.jobs["e2e"]
    assert e2e.services == ("postgres",)
    assert e2e.steps[1].display_name == "Run helm upgrade --install pg bitnami/postgresql --wait"
    assert lines[e2e.line_start - 1] == "  e2e:"


def test_matrix_and_expression_job_names() -> None:
    workflow = parse_github_workflow(WORKFLOW)
    assert (job := match_job(workflow, "Rust nightly")) is not None and job.key == "rust"
    assert (job := match_job(workflow, "unit (3.12)")) is not None and job.key == "unit"
    assert (job := match_job(workflow, "e2e")) is not None and job.key == "e2e"
    assert match_job(workflow, "deploy / release") is None


def test_three_cargo_steps_with_one_name_are_told_apart_by_position() -> None:
    workflow = parse_github_workflow(WORKFLOW)
    names = [
        "Set up job",
        "Run actions/checkout@v4",
        "Run actions-rs/cargo@v1",
        "Run actions-rs/cargo@v1",
        "Run actions-rs/cargo@v1",  # skipped by its if:, still listed
        "Post Run actions/checkout@v4",
        "Complete job",
    ]
    links = link_steps(workflow.jobs["rust"], names)
    assert [link.phase for link in links] == ["pre", "main", "main", "main", "main", "post", "post"]
    commands = [link.definition.with_text if link.definition else None for link in links]
    assert commands[2:5] == ["command=build", "args=--all-features\ncommand=test", "command=test"]
    post = links[5].definition
    assert post is not None and post.uses == "actions/checkout@v4"


def test_user_step_named_post_is_not_taken_for_a_post_step() -> None:
    workflow = parse_github_workflow(WORKFLOW)
    names = [
        "Set up job",
        "Initialize containers",
        "Setup test environment",
        "Run helm upgrade --install pg bitnami/postgresql --wait",
        "Post results",
        "Post Setup test environment",
        "Stop containers",
        "Complete job",
    ]
    links = link_steps(workflow.jobs["e2e"], names)
    assert [link.phase for link in links] == [
        "pre",
        "pre",
        "main",
        "main",
        "main",
        "post",
        "post",
        "post",
    ]
    assert links[4].definition is not None and links[4].definition.run == "./post.sh"
    assert (
        links[5].definition is not None and links[5].definition.uses == "helm/kind-action@v1.10.0"
    )


def test_cancelled_job_with_missing_steps_aligns_by_name() -> None:
    workflow = parse_github_workflow(WORKFLOW)
    names = ["Set up job", "Run actions/setup-python@v5", "Complete job"]
    links = link_steps(workflow.jobs["unit"], names)
    assert links[1].definition is not None and links[1].definition.uses == "actions/setup-python@v5"


def test_without_a_definition_steps_still_get_phases() -> None:
    links = link_steps(
        None,
        [
            "Set up job",
            "Pull ghcr.io/acme/tool:1",
            "Run make test",
            "Post Run actions/cache@v4",
            "Complete job",
        ],
    )
    assert [link.phase for link in links] == ["pre", "pre", "main", "post", "post"]
    assert all(link.definition is None for link in links)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("jobs: [unclosed", "not valid YAML"),
        ("jobs:\n  a:\n    runs-on: x\n  a:\n    runs-on: y\n", "not valid YAML"),
        ("- just\n- a list\n", "mapping at the top level"),
        ("jobs:\n\ta: 1\n", "not valid YAML"),
    ],
)
def test_bad_workflow_files_are_one_line_errors(text: str, message: str) -> None:
    with pytest.raises(PipelineFileError, match=message):
        parse_github_workflow(text, ".github/workflows/bad.yml")


def test_anchor_bomb_is_bounded() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n"
    for level in range(1, 9):
        prev = chr(ord("a") + level - 1)
        name = chr(ord("a") + level)
        bomb += f"{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
    bomb += "jobs:\n  j:\n    runs-on: x\n    steps:\n      - uses: a/b@v1\n        with:\n          big: *i\n"
    workflow = parse_github_workflow(bomb)
    text = workflow.jobs["j"].steps[0].with_text
    assert text is not None and len(text) <= 4100
