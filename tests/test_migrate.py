"""Unit tests for migration's pure parts, and bad input through the real entry point."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from ci_profile.migrate import mirrord, signatures
from ci_profile.migrate.model import Target
from ci_profile.migrate.textedit import Edit, apply, attached_start
from test_cli import REPO_ROOT, assert_one_line_error, run

SAMPLE = REPO_ROOT / "sample-data"


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("kind create cluster --name e2e --wait 5m", {signatures.KIND}),
        ("kind load docker-image app:dev", {signatures.KIND}),
        ("minikube start --driver=docker", {signatures.MINIKUBE}),
        ("curl -sfL https://get.k3s.io | sh -", {signatures.K3D}),
        ("k3d cluster create ci", {signatures.K3D}),
        ("helm upgrade --install pg bitnami/postgresql --wait", {signatures.HELM}),
        ("helm upgrade -i app ./chart", {signatures.HELM}),
        ("kubectl wait --for=condition=available deployment/x", {signatures.KUBECTL}),
        ("kubectl rollout status deploy/x", {signatures.KUBECTL}),
        ("skaffold run --tail=false", {signatures.SKAFFOLD}),
        ("timeout 600 tilt ci", {signatures.TILT}),
        ("docker compose -f a.yml -f b.yml up --build -d", {signatures.COMPOSE}),
        ("docker-compose down -v --remove-orphans", {signatures.COMPOSE}),
        ("docker run -d -p 5432:5432 postgres:16", {signatures.DATABASE}),
        ("# kind create cluster", set()),
        ("echo done  # kind create cluster", set()),
        ("helm template ./chart", set()),
        ("helm package charts/app", set()),
        ("kubectl get pods", set()),
        ("docker compose version", set()),
    ],
)
def test_command_patterns(command: str, expected: set[str]) -> None:
    assert signatures.command_patterns(command) == expected


def test_look_alike_signals() -> None:
    assert signatures.cluster_under_test(["ct install --all"], []) is not None
    assert signatures.cluster_under_test([], ["helm/chart-testing-action@v2"]) is not None
    assert signatures.cluster_under_test(["operator-sdk run bundle x"], []) is not None
    assert signatures.cluster_under_test(["helm upgrade --install a ./chart"], []) is None
    assert signatures.packages_chart(["helm package charts/app"])
    assert signatures.only_builds_images("docker build -t x .\ndocker push x")
    assert not signatures.only_builds_images("docker build -t x .\ndocker run x pytest")
    assert signatures.tests_inside_environment("docker compose run --rm tests pytest")
    assert signatures.hidden_provisioning("make e2e-cluster") == "make e2e-cluster"
    assert signatures.hidden_provisioning("make lint") is None


def test_target_hints() -> None:
    assert signatures.helm_release_of_local_chart("helm upgrade --install pay ./deploy") == "pay"
    assert signatures.helm_release_of_local_chart("helm upgrade --install pg bitnami/pg") is None
    assert signatures.waited_deployment("kubectl rollout status deploy/web") == "web"
    assert signatures.local_port(["DB: localhost:5432 URL: http://localhost:8000"]) == 8000


def test_config_uses_mirrords_key_names() -> None:
    config = mirrord.config(Target("deployment/orders", "staging", 8080))
    incoming = config["feature"]["network"]["incoming"]
    assert config["target"] == {"path": "deployment/orders", "namespace": "staging"}
    assert incoming["mode"] == "steal"
    assert incoming["ports"] == incoming["http_filter"]["ports"] == [8080]
    assert incoming["http_filter"]["header_filter"] == "^baggage: .*mirrord-session={{ key }}.*$"
    assert json.loads(mirrord.config_text(Target("deployment/a", "ns", 1))) is not None


def test_db_branch_suggestions() -> None:
    assert mirrord.db_branch("postgres:16", "DATABASE_URL") == {
        "type": "pg",
        "version": "16",
        "connection": {"url": "DATABASE_URL"},
        "copy": {"mode": "schema"},
    }
    assert mirrord.db_branch("redis:7", None) == {
        "type": "redis",
        "version": "7",
        "connection": {"url": "REDIS_URL"},
    }
    assert mirrord.db_branch("nginx:1", None) is None


def test_span_edits_keep_line_endings_and_a_missing_final_newline() -> None:
    text = "a\r\nb\r\nc"
    assert apply(text, [Edit(2, 2, ("x", "y")), Edit(4, 3, ("z",))]) == "a\r\nx\r\ny\r\nc\r\nz"
    assert apply("a\nb\n", [Edit(1, 0, ("top",))]) == "top\na\nb\n"
    with pytest.raises(ValueError):
        apply("a\nb\n", [Edit(1, 2), Edit(2, 2)])


def test_attached_comments_go_with_their_node() -> None:
    lines = ["jobs:", "  # about x", "  # more", "  x: 1"]
    assert attached_start(lines, 4) == 2
    assert attached_start(["a: 1", "", "  # loose", "", "  x: 1"], 5) == 5


def _repo_with(tmp_path: Path, name: str, content: str | bytes) -> Path:
    file = tmp_path / "repo" / name
    file.parent.mkdir(parents=True)
    if isinstance(content, bytes):
        file.write_bytes(content)
    else:
        file.write_text(content)
    return tmp_path / "repo"


BOMB = (
    "a: &a [x, x, x, x, x, x, x, x, x]\n"
    + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(8)
    )
    + "on: push\njobs:\n  j:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo\n"
)


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        (".github/workflows/ci.yml", "jobs: [unclosed\n", "not valid YAML at line"),
        (".github/workflows/ci.yml", BOMB, "an alias bomb"),
        (".github/workflows/ci.yml", "jobs:\n\tbuild:\n\t\truns-on: x\n", "not valid YAML"),
        (".github/workflows/ci.yml", "jobs:\n  a: {}\n  a: {}\n", "duplicate key"),
        (".gitlab-ci.yml", "test:\n  script: [a\n", "not valid YAML"),
        (".github/workflows/ci.yml", b"\xff\xfe not text", "not UTF-8"),
        ("Jenkinsfile", "pipeline {}\n", "only Jenkinsfile found"),
        ("README.md", "# nothing\n", "no pipeline files"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    tmp_path: Path, name: str, content: str | bytes, fragment: str
) -> None:
    repo = _repo_with(tmp_path, name, content)
    before = {p: p.read_bytes() for p in repo.rglob("*") if p.is_file()}
    result = run(["migrate", "plan", "--repo-dir", str(repo), "--write"], cwd=tmp_path)
    assert result.returncode in (5, 6), result.stderr
    assert_one_line_error(result, result.returncode, fragment)
    assert {p: p.read_bytes() for p in repo.rglob("*") if p.is_file()} == before


def test_missing_database_is_an_error_only_when_asked_for(tmp_path: Path) -> None:
    repo = tmp_path / "storefront"
    shutil.copytree(SAMPLE / "github" / "acme" / "storefront" / ".github", repo / ".github")
    missing = run(["migrate", "plan", "--repo-dir", str(repo), "--db", "nope.duckdb"], cwd=tmp_path)
    assert_one_line_error(missing, 3, "no database at nope.duckdb")
    default = run(["migrate", "plan", "--repo-dir", str(repo)], cwd=tmp_path)
    assert default.returncode == 0, default.stderr
    assert "no database at ci-profile.duckdb" in default.stdout


def test_demo_then_plan_shows_measured_findings(tmp_path: Path) -> None:
    """The README flow: `ci-profile demo`, then `migrate plan` on a sample repository."""
    assert run(["demo", "--format", "json"], cwd=tmp_path).returncode == 0
    for repo, jobs in [
        ("github/acme/payments-api", {"e2e-kind": "rewrite", "soak": "skip"}),
        ("github/acme/storefront", {"integration": "rewrite", "e2e-compose": "rewrite"}),
        ("gitlab/acme/warehouse-api", {"integration": "rewrite", "e2e-compose": "manual"}),
    ]:
        result = run(
            ["migrate", "plan", "--repo-dir", str(SAMPLE / repo), "--format", "json"], cwd=tmp_path
        )
        assert result.returncode == 0, result.stderr
        findings = {f["job"]: f for f in json.loads(result.stdout)}
        for job, action in jobs.items():
            assert findings[job]["action"] == action
            assert findings[job]["evidence"]["runs"] > 10
        assert all(f["reason"] for f in findings.values())
    kind = findings_of(tmp_path, "github/acme/payments-api")["e2e-kind"]["evidence"]
    assert kind["environment_median_s"] > 300 and kind["saving_per_run_s"] > 0
    # The saving is the environment minus (at least) the session start, never more.
    assert kind["saving_per_run_s"] <= kind["environment_median_s"] - kind["session_start_s"]
    assert kind["environment_median_s"] <= kind["environment_p90_s"]
    slower = run(
        [
            "migrate",
            "plan",
            "--repo-dir",
            str(SAMPLE / "github/acme/payments-api"),
            "--format",
            "json",
            "--session-start-cost",
            "2m",
        ],
        cwd=tmp_path,
    )
    costly = {f["job"]: f for f in json.loads(slower.stdout)}["e2e-kind"]["evidence"]
    assert costly["saving_per_run_s"] == pytest.approx(kind["saving_per_run_s"] - 100, abs=1)


def findings_of(cwd: Path, repo: str) -> dict[str, dict[str, object]]:
    result = run(["migrate", "plan", "--repo-dir", str(SAMPLE / repo), "--format", "json"], cwd=cwd)
    return {f["job"]: f for f in json.loads(result.stdout)}


def _github_plan(tmp_path: Path, steps: str) -> list[dict[str, object]]:
    from ci_profile.migrate.plan import build_plan

    repo = _repo_with(
        tmp_path,
        ".github/workflows/ci.yml",
        "on: push\njobs:\n  job:\n    runs-on: ubuntu-latest\n    steps:\n" + steps,
    )
    return [f.as_dict() for f in build_plan(repo).findings]


def test_helpers_of_an_environment_are_no_environment_alone(tmp_path: Path) -> None:
    steps = "      - run: helm repo add bitnami https://charts.bitnami.com\n      - run: helm template .\n"
    assert _github_plan(tmp_path / "a", steps) == []
    steps = "      - run: ./wait-for-it.sh api.example.com:443\n      - run: pytest\n"
    assert _github_plan(tmp_path / "b", steps) == []


def test_a_deploy_without_a_throwaway_cluster_is_skipped(tmp_path: Path) -> None:
    steps = "      - run: kubectl apply -f k8s/\n      - run: pytest tests/smoke\n"
    (finding,) = _github_plan(tmp_path, steps)
    assert finding["action"] == "skip"
    assert "long-lived cluster (this job creates none)" in str(finding["reason"])


def test_a_step_that_builds_and_tests_is_manual(tmp_path: Path) -> None:
    steps = "      - run: |\n          kind create cluster\n          go test ./...\n"
    (finding,) = _github_plan(tmp_path, steps)
    assert finding["action"] == "manual"
    assert "split it" in str(finding["reason"])


def test_a_plan_from_stored_files_matches_the_checkout_and_stays_in_its_scratch_dir(
    tmp_path: Path,
) -> None:
    from ci_profile.core.errors import MigrationError
    from ci_profile.migrate.plan import build_plan, plan_stored, unified_diff

    repo = REPO_ROOT / "sample-data/github/acme/payments-api"
    files = {
        p.relative_to(repo).as_posix(): p.read_text(encoding="utf-8")
        for p in (repo / ".github/workflows").glob("*.yml")
    }
    escape = tmp_path / "escaped.yml"
    stored = plan_stored({**files, f"../../../..{escape}": "jobs: {}\n"})
    assert not escape.exists()
    assert unified_diff(stored) == unified_diff(build_plan(repo))
    assert [f.job for f in stored.rewrites] == ["e2e-kind"]
    with pytest.raises(MigrationError) as caught:
        plan_stored({"Jenkinsfile": "pipeline {}\n"})
    assert str(caught.value).startswith("the stored pipeline files: only Jenkinsfile found")
