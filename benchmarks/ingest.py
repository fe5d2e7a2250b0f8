"""Benchmark the store's ingest: jobs per second through ``Store.write``, database size, peak RSS.

    python benchmarks/ingest.py                      # 10k, 100k and 1M jobs
    python benchmarks/ingest.py --jobs 10000 --batch-runs 50

Each size runs in a fresh process (so its peak RSS is its own) that writes a generated history
into a new database in a temporary folder: 6 jobs per run, 8 steps per job (so 1M jobs are
167k runs and 8M steps), with realistic names, labels, mixed outcomes and NULLs. Records are
built batch by batch outside the timed part; only ``Store.write`` (Arrow conversion, upserts,
step replacement, the commit) is timed. Batches default to 500 runs (3,000 jobs); the GitHub
collector commits every 50 runs, which ``--batch-runs 50`` measures. Every database is deleted.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ci_profile.core.records import Batch, Job, Run, Step
from ci_profile.core.store import Store

JOBS_PER_RUN = 6
STEPS_PER_JOB = 8
JOB_NAMES = ("lint", "unit (3.11)", "unit (3.12)", "integration", "build image", "deploy preview")
STEP_NAMES = (
    "Set up job",
    "Run actions/checkout@v4",
    "Run actions/setup-python@v5",
    "Run pip install -r requirements.txt",
    "Run docker compose up -d --wait",
    "Run pytest -q",
    "Post Run actions/checkout@v4",
    "Complete job",
)
START = datetime(2024, 1, 1, tzinfo=UTC)


def batch(first_run: int, runs: int, rng: random.Random) -> Batch:
    out = Batch()
    for number in range(first_run, first_run + runs):
        created = START + timedelta(seconds=number * 97)
        project = f"acme/service-{number % 12}"
        conclusion = "failure" if rng.random() < 0.1 else "success"
        out.runs.append(
            Run(
                "github",
                project,
                str(10_000_000 + number),
                1,
                "CI",
                ".github/workflows/ci.yml",
                "push",
                "main",
                f"{number:040x}",
                "completed",
                conclusion,
                created,
                created + timedelta(seconds=4),
                created + timedelta(seconds=600),
                f"https://github.com/{project}/actions/runs/{10_000_000 + number}",
                number,
                created + timedelta(seconds=601),
            )
        )
        for j, name in enumerate(JOB_NAMES[:JOBS_PER_RUN]):
            job_id = str(50_000_000 + number * JOBS_PER_RUN + j)
            started = created + timedelta(seconds=5 + rng.randint(0, 90))
            out.jobs.append(
                Job(
                    "github",
                    project,
                    job_id,
                    str(10_000_000 + number),
                    1,
                    name,
                    None,
                    "completed",
                    conclusion if j == 3 else "success",
                    created,
                    started,
                    started + timedelta(seconds=300),
                    (started - created).total_seconds(),
                    f"GitHub Actions {rng.randint(1, 90)}",
                    ("ubuntu-latest",),
                    f"https://github.com/{project}/actions/runs/{number}/job/{job_id}",
                )
            )
            at = started
            for seq, step in enumerate(STEP_NAMES[:STEPS_PER_JOB], 1):
                length = timedelta(seconds=rng.uniform(0.5, 60))
                out.steps.append(
                    Step(
                        "github",
                        project,
                        job_id,
                        seq if seq < 7 else seq + 9,
                        step,
                        "completed",
                        "success",
                        at,
                        at + length,
                        "api",
                        None if seq != 5 else "docker compose up -d --wait",
                    )
                )
                at += length
    return out


def one_size(jobs: int, batch_runs: int) -> dict[str, float]:
    rng = random.Random(7)
    runs_total = jobs // JOBS_PER_RUN
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ingest.duckdb"
        written = 0.0
        with Store.open(path) as store:
            for first in range(0, runs_total, batch_runs):
                part = batch(first, min(batch_runs, runs_total - first), rng)
                start = time.perf_counter()
                store.write(part)
                written += time.perf_counter() - start
            counts = store.counts()
        size = sum(f.stat().st_size for f in Path(folder).iterdir())
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "jobs": counts["jobs"],
        "steps": counts["steps"],
        "seconds": written,
        "jobs_per_s": counts["jobs"] / written,
        "db_mb": size / 1e6,
        "peak_rss_mb": peak_kb / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, action="append", help="repeatable")
    parser.add_argument("--batch-runs", type=int, default=500)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = args.jobs or [10_000, 100_000, 1_000_000]
    if args.one:
        print(json.dumps(one_size(sizes[0], args.batch_runs)))
        return
    print(f"batch: {args.batch_runs} runs ({args.batch_runs * JOBS_PER_RUN} jobs)")
    header = ("jobs", 10), ("steps", 10), ("write s", 8), ("jobs/s", 9), ("DB MB", 7)
    print(" ".join(f"{name:>{width}}" for name, width in header), f"{'peak RSS MB':>12}")
    for size in sizes:
        done = subprocess.run(
            [
                sys.executable,
                __file__,
                "--one",
                "--jobs",
                str(size),
                "--batch-runs",
                str(args.batch_runs),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        r = json.loads(done.stdout)
        print(
            f"{r['jobs']:>10,} {r['steps']:>10,} {r['seconds']:>8.2f} {r['jobs_per_s']:>9,.0f} "
            f"{r['db_mb']:>7.1f} {r['peak_rss_mb']:>12.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
