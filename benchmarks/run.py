"""Benchmark `ci-profile analyze` (every section) on a generated history of a million jobs.

One command runs everything and prints a table::

    python benchmarks/run.py                     # 1,000,000 jobs in a temporary folder
    python benchmarks/run.py --jobs 100000       # smaller
    python benchmarks/run.py --db /tmp/b.duckdb  # keep (and reuse) the generated database
    python benchmarks/run.py --skip-cold         # skip the first run (classification refresh)

Scenarios, each a fresh `ci-profile` process (wall time, CPU time of the process and its
threads, peak resident memory from ``wait4``):

- ``cold``: the first `analyze` after generating: classifies every step (analysis/refresh.py),
  then computes every section (on a kept, already classified ``--db`` it is labelled so);
- ``warm``: the same command again (classification is current);
- ``breakdown only``: ``--section none``;
- ``floor``: the bare DuckDB aggregate over the same tables (steps x step_classes x jobs, sum
  of step seconds by category) in a plain Python process: what any analysis of every step
  costs at least.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
FLOOR_SQL = """
SELECT c.category, sum(epoch(s.finished_at) - epoch(s.started_at)) AS seconds
FROM steps s
JOIN step_classes c USING (provider, project, job_id, seq)
JOIN jobs j USING (provider, project, job_id)
WHERE s.finished_at >= s.started_at
GROUP BY c.category
"""


@dataclass
class Measure:
    name: str
    wall_s: float
    cpu_s: float
    peak_mb: float
    exit_code: int
    load: float


def measure(name: str, argv: list[str], cwd: Path) -> Measure:
    load = os.getloadavg()[0]
    start = time.perf_counter()
    process = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    stderr = process.stderr.read().decode() if process.stderr else ""
    if process.stderr:
        process.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.stderr.write(f"{name}: exit {code}\n{stderr}\n")
    return Measure(
        name,
        wall,
        usage.ru_utime + usage.ru_stime,
        usage.ru_maxrss / 1024,
        code,
        load,
    )


def _classified(db: Path) -> bool:
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        row = con.execute("SELECT count(*) FROM classification_state").fetchone()
    return bool(row and row[0])


def analyze(db: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "ci_profile",
        "analyze",
        "--db",
        str(db),
        "--format",
        "json",
        *extra,
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--groups", type=int, default=100)
    parser.add_argument(
        "--db", type=Path, default=None, help="database to generate or reuse (kept, classified)"
    )
    parser.add_argument("--skip-cold", action="store_true")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="ci-profile-bench-"))
    try:
        source = args.db or workdir / "generated.duckdb"
        if not source.exists():
            started = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    str(HERE / "generate.py"),
                    str(source),
                    "--jobs",
                    str(args.jobs),
                    "--groups",
                    str(args.groups),
                ],
                check=True,
            )
            sys.stdout.write(f"generated in {time.perf_counter() - started:.1f}s\n")
        # Used in place: once classified, a kept --db makes later benchmark runs warm.
        db = source
        results: list[Measure] = []
        if args.skip_cold:
            subprocess.run(
                analyze(db, "--section", "none"), cwd=workdir, check=True, stdout=subprocess.DEVNULL
            )
        else:
            label = "first run, already classified" if _classified(db) else "cold"
            results.append(measure(f"{label} (classify + every section)", analyze(db), workdir))
        results.append(measure("warm (every section)", analyze(db), workdir))
        results.append(measure("warm, breakdown only", analyze(db, "--section", "none"), workdir))
        floor = [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1], read_only=True); "
            "c.execute(sys.argv[2]).fetchall()",
            str(db),
            FLOOR_SQL,
        ]
        results.append(measure("floor: bare DuckDB aggregate", floor, workdir))
        cpus = os.cpu_count()
        sys.stdout.write(f"\n{args.jobs:,} jobs requested; {cpus} CPUs\n\n")
        sys.stdout.write(
            "| scenario | wall | CPU | peak RSS | load before |\n|---|---:|---:|---:|---:|\n"
        )
        for m in results:
            flag = "" if m.exit_code == 0 else f" (exit {m.exit_code})"
            sys.stdout.write(
                f"| {m.name}{flag} | {m.wall_s:.1f} s | {m.cpu_s:.1f} s | {m.peak_mb:,.0f} MB "
                f"| {m.load:.1f} |\n"
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
