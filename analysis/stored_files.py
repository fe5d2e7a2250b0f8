"""A job's pipeline file as last stored, for planning its migration without a checkout."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb


@dataclass(frozen=True)
class StoredPipeline:
    """A job's pipeline file as last stored, and every file stored at that commit (GitLab
    includes), for planning its migration without a checkout."""

    provider: str
    path: str
    sha: str
    yaml_job: str | None
    files: dict[str, str]


def stored_pipeline(
    con: duckdb.DuckDBPyConnection, provider: str, project: str, pipeline: str, job: str
) -> StoredPipeline | None:
    """The newest run of ``job`` whose pipeline file is stored, and the files at its commit."""
    row = con.execute(
        """
        SELECT r.pipeline_path, r.sha, f.yaml_job
        FROM jobs j
        JOIN runs r ON r.provider = j.provider AND r.project = j.project
                   AND r.run_id = j.run_id AND r.attempt = j.attempt
        LEFT JOIN job_facts f ON f.jid = hash(j.provider, j.project, j.job_id)
        WHERE j.provider = ? AND j.project = ? AND j.name = ?
          AND coalesce(r.pipeline, r.pipeline_path, '(unknown pipeline)') = ?
          AND EXISTS (SELECT 1 FROM pipeline_files pf
                      WHERE pf.provider = r.provider AND pf.project = r.project
                        AND pf.path = r.pipeline_path AND pf.sha = r.sha
                        AND pf.content IS NOT NULL)
        ORDER BY r.created_at DESC, r.run_id DESC, r.attempt DESC
        LIMIT 1
        """,
        [provider, project, job, pipeline],
    ).fetchone()
    if row is None:
        return None
    path, sha, yaml_job = row
    files = con.execute(
        "SELECT path, content FROM pipeline_files "
        "WHERE provider = ? AND project = ? AND sha = ? AND content IS NOT NULL ORDER BY path",
        [provider, project, sha],
    ).fetchall()
    return StoredPipeline(provider, str(path), str(sha), yaml_job, {p: c for p, c in files})
