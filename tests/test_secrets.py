"""Secrets: full collections through the CLI never let a token out.

Every GitHub, GitLab and Jenkins collection runs as a real process against the local fake
servers with distinctive token values, through retried faults and rate-limit waits (which print
messages), with and without CI_PROFILE_DEBUG, then a rejected token. Stdout, stderr, every column
of every table and view, and the bytes of every file left in the working directory are scanned
for each token, raw and in the encodings a header would carry it (Basic auth, URL quoting).
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import quote

import duckdb
import pytest
from fakegithub import FakeGitHub, secondary_rate_limit, status
from fakegitlab import FakeGitLab
from fakegitlab import status as gl_status
from fakejenkins import FakeJenkins
from gitlab_payloads import ProjectHistory
from jenkins_payloads import JobHistory
from payloads import RepoHistory

GITHUB_TOKEN = "ghp_ScanMeGitHub7f3a9c21d04e5b68aa11223344"
WRONG_GITHUB_TOKEN = "ghp_ScanMeWrongToken0000aaaabbbbccccdddd"
GITLAB_TOKEN = "glpat-ScanMeGitLab-9d8c7b6a5f4e"
JENKINS_USER = "ci-reader"
JENKINS_TOKEN = "11ScanMeJenkins0a1b2c3d4e5f6a7b8c9d"
JOB = "team/service/main"


def forms(secret: str) -> list[str]:
    """The token and the ways a request would carry it."""
    basic = base64.b64encode(f"{JENKINS_USER}:{secret}".encode()).decode()
    return [secret, quote(secret, safe=""), basic, secret[4:-4]]


SECRETS = [
    form
    for token in (GITHUB_TOKEN, WRONG_GITHUB_TOKEN, GITLAB_TOKEN, JENKINS_TOKEN)
    for form in forms(token)
]


def run(
    args: Sequence[str], cwd: Path, env: dict[str, str], debug: bool
) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GITHUB_", "GH_", "GITLAB_", "JENKINS_", "CI_PROFILE_"))
    }
    if debug:
        base["CI_PROFILE_DEBUG"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "ci_profile", *args],
        cwd=cwd,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def table_dumps(db: Path) -> Iterator[tuple[str, str]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        names = [
            r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        ]
        for name in names:
            yield name, repr(con.execute(f'SELECT * FROM "{name}"').fetchall())
    finally:
        con.close()


def assert_clean(where: str, text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"a token leaked into {where}"


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_no_token_in_any_output_table_or_file(tmp_path: Path, debug: bool) -> None:
    outputs: list[subprocess.CompletedProcess[str]] = []
    db = "ci.duckdb"
    with FakeGitHub(tokens=(GITHUB_TOKEN,)) as gh:
        gh.history_repo(RepoHistory("acme", "shop", runs=30))
        gh.inject(status(502), path_contains="/actions/runs", times=1)
        gh.inject(secondary_rate_limit(403, 1), path_contains="/jobs", times=1)
        args = ["collect", "github", "acme/shop", "--since", "2024-05-01", "--api-url", gh.url]
        done = run([*args, "--db", db], tmp_path, {"GITHUB_TOKEN": GITHUB_TOKEN}, debug)
        assert done.returncode == 0, done.stderr
        assert "waiting" in done.stderr  # the rate-limit wait was announced
        outputs.append(done)
        rejected = run([*args, "--db", db], tmp_path, {"GH_TOKEN": WRONG_GITHUB_TOKEN}, debug)
        assert rejected.returncode == 4 and "rejected the token" in rejected.stderr
        outputs.append(rejected)
        assert gh.errors == []
    with FakeGitLab(tokens=(GITLAB_TOKEN,)) as gl:
        history = ProjectHistory(pipelines=8, in_progress=0)
        gl.add_project(history)
        gl.inject(gl_status(429, "Retry later\n", {"Retry-After": "1"}), path_contains="/trace")
        args = ["collect", "gitlab", history.path, "--since", "2024-04-30", "--url", gl.url]
        done = run(
            [*args, "--max-rate", "0", "--db", db], tmp_path, {"GITLAB_TOKEN": GITLAB_TOKEN}, debug
        )
        assert done.returncode == 0, done.stderr
        outputs.append(done)
        assert gl.errors == []
    with FakeJenkins(users={JENKINS_USER: JENKINS_TOKEN}) as fj:
        fj.add_job(JobHistory(JOB, builds=8, in_progress=0))
        env = {"JENKINS_USER": JENKINS_USER, "JENKINS_TOKEN": JENKINS_TOKEN, "JENKINS_URL": fj.url}
        done = run(
            ["collect", "jenkins", JOB, "--since", "2024-05-01", "--db", db], tmp_path, env, debug
        )
        assert done.returncode == 0, done.stderr
        outputs.append(done)
        assert fj.errors == []
    for output_format in ("json", "markdown", "csv", "table"):
        analyzed = run(["analyze", "--db", db, "--format", output_format], tmp_path, {}, debug)
        assert analyzed.returncode == 0, analyzed.stderr
        outputs.append(analyzed)

    for index, output in enumerate(outputs):
        assert_clean(f"stdout of {output.args[3:5]} #{index}", output.stdout)
        assert_clean(f"stderr of {output.args[3:5]} #{index}", output.stderr)
    tables = dict(table_dumps(tmp_path / db))
    assert {"runs", "jobs", "steps", "pipeline_files", "cursors", "http_etags"} <= set(tables)
    assert "acme/shop" in tables["runs"] and JOB in tables["runs"]
    for name, dump in tables.items():
        assert_clean(f"table {name}", dump)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files
    for file in files:
        assert_clean(f"file {file.name}", file.read_bytes().decode("latin-1"))
