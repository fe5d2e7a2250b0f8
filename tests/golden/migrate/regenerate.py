"""Rewrite the expected files of every golden migration case from the current code.

    python tests/golden/migrate/regenerate.py

Review the resulting `git diff` before committing: the goldens are the specification.
Each case is planned on a copy named `input` (the directory name is the default target).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from ci_profile.migrate.plan import build_plan, unified_diff, write
from ci_profile.migrate.render import to_json

HERE = Path(__file__).resolve().parent


def main() -> None:
    for case in sorted(p for p in HERE.iterdir() if (p / "input").is_dir()):
        with tempfile.TemporaryDirectory() as scratch:
            repo = Path(scratch) / "input"
            shutil.copytree(case / "input", repo)
            plan = build_plan(repo)
            (case / "plan.json").write_text(to_json(plan) + "\n")
            (case / "expected.diff").write_bytes(unified_diff(plan).encode())
            expected = case / "expected"
            shutil.rmtree(expected, ignore_errors=True)
            for path in write(plan, repo):
                target = expected / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes((repo / path).read_bytes())
        print(f"{case.name}: {len(plan.findings)} findings, {len(plan.changes)} files")


if __name__ == "__main__":
    main()
