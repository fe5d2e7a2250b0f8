"""Run every benchmark, one after another, each in its own process, and print their tables.

    python benchmarks/all.py                 # the sizes in benchmarks/README.md (about 1.5 hours)
    python benchmarks/all.py --jobs 10000 --runs 100 --pipelines 50    # a quick pass (3 minutes)

Order: API cost on GitHub and on GitLab (local fake servers, 100 ms per request), store ingest,
then ``analyze`` on a generated history (``run.py``, which generates and classifies it) and the
dashboard's loads on that same database. The generated database lives in a temporary folder,
removed at the end.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _run(title: str, script: str, *args: str) -> int:
    sys.stdout.write(f"\n## {title}\n\n")
    sys.stdout.flush()
    return subprocess.run([sys.executable, str(HERE / script), *args], check=False).returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--jobs", type=int, default=None, help="one size for ingest, analyze and the dashboard"
    )
    parser.add_argument("--runs", type=int, default=1000, help="runs for the GitHub API cost")
    parser.add_argument(
        "--pipelines", type=int, default=1000, help="pipelines for the GitLab API cost"
    )
    args = parser.parse_args()
    sizes = [] if args.jobs is None else ["--jobs", str(args.jobs)]
    workdir = Path(tempfile.mkdtemp(prefix="ci-profile-bench-all-"))
    db = workdir / "history.duckdb"
    try:
        codes = [
            _run("API cost, GitHub", "api_cost.py", "--runs", str(args.runs)),
            _run("API cost, GitLab", "api_cost_gitlab.py", "--pipelines", str(args.pipelines)),
            _run("Store ingest", "ingest.py", *sizes),
            _run("analyze, every section", "run.py", "--db", str(db), *sizes),
            _run("Dashboard loads", "dashboard_bench.py", str(db)),
        ]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    sys.exit(max(codes))


if __name__ == "__main__":
    main()
