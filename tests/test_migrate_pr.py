"""`ci-profile migrate pr` end to end, through the real entry point, against local servers that
behave like the GitHub and GitLab endpoints PyGithub and python-gitlab call."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakeforge import TOKEN, FakeForge
from test_cli import REPO_ROOT, assert_one_line_error, run

SAMPLE = REPO_ROOT / "sample-data"


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("demo")
    result = run(["demo", "--db", "demo.duckdb", "--format", "json"], cwd=workdir)
    assert result.returncode == 0, result.stderr
    return workdir / "demo.duckdb"


@pytest.fixture
def storefront(tmp_path: Path) -> Path:
    repo = tmp_path / "storefront"
    shutil.copytree(SAMPLE / "github" / "acme" / "storefront" / ".github", repo / ".github")
    return repo


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    repo = tmp_path / "warehouse-api"
    source = SAMPLE / "gitlab" / "acme" / "warehouse-api"
    shutil.copytree(source / "ci", repo / "ci")
    shutil.copy(source / ".gitlab-ci.yml", repo / ".gitlab-ci.yml")
    return repo


def _files(repo: Path) -> dict[str, str]:
    return {
        p.relative_to(repo).as_posix(): p.read_text()
        for p in sorted(repo.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def github(storefront: Path) -> Iterator[FakeForge]:
    with FakeForge("github") as forge:
        forge.state.files.update(_files(storefront))
        yield forge


@pytest.fixture
def gitlab(warehouse: Path) -> Iterator[FakeForge]:
    with FakeForge("gitlab") as forge:
        forge.state.files.update(_files(warehouse))
        yield forge


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _github_pr(
    repo: Path, forge: FakeForge, db: Path, *args: str, token: str = TOKEN
) -> subprocess.CompletedProcess[str]:
    command = ["migrate", "pr", "--github", "acme/storefront", "--repo-dir", str(repo)]
    command += ["--db", str(db), "--api-url", forge.url, *args]
    return run(command, cwd=repo.parent, env={"GITHUB_TOKEN": token})


def _gitlab_mr(
    repo: Path, forge: FakeForge, db: Path, *args: str, token: str = TOKEN
) -> subprocess.CompletedProcess[str]:
    command = ["migrate", "pr", "--gitlab", "acme/warehouse-api", "--repo-dir", str(repo)]
    command += ["--db", str(db), "--url", forge.url, *args]
    return run(command, cwd=repo.parent, env={"GITLAB_TOKEN": token})


def _no_token_anywhere(result: subprocess.CompletedProcess[str], forge: FakeForge) -> None:
    assert TOKEN not in result.stdout + result.stderr
    for request in forge.state.requests:
        assert TOKEN not in str(request.body)


def test_github_pr_creates_branch_commit_and_pull_request(
    storefront: Path, github: FakeForge, demo_db: Path
) -> None:
    before = _tree(storefront)
    result = _github_pr(storefront, github, demo_db, "--draft")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "https://github.example/acme/storefront/pull/1"
    writes = [(r.method, r.path.split("?")[0]) for r in github.state.writes]
    assert writes == [
        ("POST", "/repos/acme/storefront/git/trees"),
        ("POST", "/repos/acme/storefront/git/commits"),
        ("POST", "/repos/acme/storefront/git/refs"),
        ("POST", "/repos/acme/storefront/pulls"),
    ]
    tree = github.state.writes[0].body
    assert tree["base_tree"] == "tree0"
    paths = sorted(entry["path"] for entry in tree["tree"])
    assert paths == [
        ".github/workflows/ci.yml",
        ".github/workflows/e2e.yml",
        ".mirrord/ci-integration.json",
        ".mirrord/ci-integration.sh",
        ".mirrord/e2e-e2e-compose.json",
        ".mirrord/e2e-e2e-compose.sh",
    ]
    workflow = next(e for e in tree["tree"] if e["path"] == ".github/workflows/ci.yml")
    assert (
        'mirrord ci start -f "$GITHUB_WORKSPACE"/.mirrord/ci-integration.json'
        in workflow["content"]
    )
    assert "services:" not in workflow["content"].split("  integration:")[1].split("frontend")[0]
    assert github.state.writes[1].body["parents"] == ["base0000"]
    assert github.state.writes[2].body == {
        "ref": "refs/heads/ci-profile/mirrord-migration",
        "sha": "commit1",
    }
    pull = github.state.pulls[0]
    assert pull["base"] == "main" and pull["head"] == "ci-profile/mirrord-migration"
    assert pull["draft"] is True
    body = pull["body"]
    assert "## Measured time in the removed stages" in body
    assert "| `.github/workflows/ci.yml` | `integration` |" in body
    assert "1m45s / 2m18s" in body  # median / p90 of the sample's integration environment
    assert "per month" in body and "## Before merging" in body and "## Rolling back" in body
    assert "KUBECONFIG_DATA" in body and "db_branches" in body
    _no_token_anywhere(result, github)
    assert _tree(storefront) == before  # the working tree is not touched by `pr`


def test_github_pr_refuses_an_existing_branch(
    storefront: Path, github: FakeForge, demo_db: Path
) -> None:
    github.state.branches["ci-profile/mirrord-migration"] = "old0000"
    result = _github_pr(storefront, github, demo_db)
    assert_one_line_error(result, 7, "already exists")
    assert github.state.writes == []


def test_github_pr_force_branch_moves_it(
    storefront: Path, github: FakeForge, demo_db: Path
) -> None:
    github.state.branches["ci-profile/mirrord-migration"] = "old0000"
    result = _github_pr(storefront, github, demo_db, "--force-branch")
    assert result.returncode == 0, result.stderr
    assert github.state.branches["ci-profile/mirrord-migration"] == "commit1"
    methods = [r.method for r in github.state.writes]
    assert methods == ["POST", "POST", "PATCH", "POST"]
    assert github.state.writes[2].body == {"sha": "commit1", "force": True}


@pytest.mark.parametrize(
    ("setup", "fragment"),
    [
        ("no-push", "cannot push to acme/storefront"),
        ("read-only-token", "HTTP 403"),
        ("missing-base", "find base branch `develop`"),
        ("bad-token", "HTTP 401"),
        ("default-branch", "refusing to commit to `main`"),
    ],
)
def test_github_pr_failures_change_nothing(
    storefront: Path, github: FakeForge, demo_db: Path, setup: str, fragment: str
) -> None:
    args: list[str] = []
    token = TOKEN
    if setup == "no-push":
        github.state.can_push = False
    elif setup == "read-only-token":
        github.state.refuse_writes = True
    elif setup == "missing-base":
        args = ["--base", "develop"]
    elif setup == "bad-token":
        token = "wrong-token"
    else:
        args = ["--branch", "main"]
    before = _tree(storefront)
    result = _github_pr(storefront, github, demo_db, *args, token=token)
    assert_one_line_error(result, 7, fragment)
    assert github.state.branches == {"main": "base0000"}
    assert github.state.pulls == []
    assert all(r.method == "GET" or setup == "read-only-token" for r in github.state.requests)
    assert _tree(storefront) == before
    assert token not in result.stderr


def test_github_pr_refuses_when_the_base_branch_moved_on(
    storefront: Path, github: FakeForge, demo_db: Path
) -> None:
    github.state.files[".github/workflows/ci.yml"] += "# a newer commit on main\n"
    result = _github_pr(storefront, github, demo_db)
    assert_one_line_error(result, 7, ".github/workflows/ci.yml differs from the local copy")
    assert github.state.writes == []


def test_gitlab_mr_refuses_when_a_config_exists_remotely(
    warehouse: Path, gitlab: FakeForge, demo_db: Path
) -> None:
    gitlab.state.files[".mirrord/gitlab-integration.json"] = "{}\n"
    result = _gitlab_mr(warehouse, gitlab, demo_db)
    assert_one_line_error(result, 7, ".mirrord/gitlab-integration.json already exists")
    assert gitlab.state.writes == []


def test_github_pr_without_token_says_so(
    storefront: Path, github: FakeForge, demo_db: Path
) -> None:
    result = _github_pr(storefront, github, demo_db, token="")
    assert_one_line_error(result, 7, "no GITHUB_TOKEN or GH_TOKEN")
    assert github.state.requests == []


def test_gitlab_mr_creates_branch_commit_and_merge_request(
    warehouse: Path, gitlab: FakeForge, demo_db: Path
) -> None:
    result = _gitlab_mr(warehouse, gitlab, demo_db, "--draft")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "https://gitlab.example/acme/warehouse-api/-/merge_requests/1"
    writes = [(r.method, r.path.split("?")[0]) for r in gitlab.state.writes]
    assert writes == [
        ("POST", "/api/v4/projects/42/repository/commits"),
        ("POST", "/api/v4/projects/42/merge_requests"),
    ]
    commit = gitlab.state.commits[0]
    assert commit["branch"] == "ci-profile/mirrord-migration"
    assert commit["start_branch"] == "main"
    actions = {a["file_path"]: a["action"] for a in commit["actions"]}
    assert actions == {
        ".gitlab-ci.yml": "update",
        ".mirrord/gitlab-integration.json": "create",
        ".mirrord/gitlab-integration.sh": "create",
    }
    merge_request = gitlab.state.pulls[0]
    assert merge_request["title"].startswith("Draft: CI: run integration")
    assert merge_request["target_branch"] == "main"
    assert "## Measured time in the removed stages" in merge_request["description"]
    assert "e2e-compose" in merge_request["description"]  # listed under "Not changed"
    _no_token_anywhere(result, gitlab)


@pytest.mark.parametrize(
    ("setup", "fragment"),
    [
        ("reporter", "needs the Developer role"),
        ("missing-base", "find base branch `develop`"),
        ("existing-branch", "already exists"),
        ("read-only-token", "HTTP 403"),
    ],
)
def test_gitlab_mr_failures_change_nothing(
    warehouse: Path, gitlab: FakeForge, demo_db: Path, setup: str, fragment: str
) -> None:
    args: list[str] = []
    if setup == "reporter":
        gitlab.state.can_push = False
    elif setup == "missing-base":
        args = ["--base", "develop"]
    elif setup == "existing-branch":
        gitlab.state.branches["ci-profile/mirrord-migration"] = "old0000"
    else:
        gitlab.state.refuse_writes = True
    expected = dict(gitlab.state.branches)
    result = _gitlab_mr(warehouse, gitlab, demo_db, *args)
    assert_one_line_error(result, 7, fragment)
    assert gitlab.state.branches == expected
    assert gitlab.state.pulls == []


def test_pr_needs_exactly_one_provider(storefront: Path, demo_db: Path) -> None:
    result = run(["migrate", "pr", "--repo-dir", str(storefront)], cwd=storefront)
    assert_one_line_error(result, 2, "exactly one of --github")
