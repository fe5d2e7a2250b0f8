"""Load the bundled Jenkins sample: recorded API responses, through the live normalizers.

Layout: ``<root>/jenkins/<folder>/.../<job>/ci-history/builds.json`` (the body of
``/job/.../api/json?tree=...,allBuilds[...]`` as ci-profile asks for it), ``describe.json``
(build number -> body of ``N/wfapi/describe?fullStages=true``) and the job's ``Jenkinsfile``,
stored as the pipeline definition at every build's commit. The job's full name is its folder
path under ``<root>/jenkins``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ci_profile.collectors.jenkins_records import (
    PIPELINE_PATH,
    PROVIDER,
    job_info,
    records_for_build,
)
from ci_profile.core.errors import SampleDataError
from ci_profile.core.records import Batch, PipelineFile
from ci_profile.core.shared_store import CollectionStore

if TYPE_CHECKING:
    from ci_profile.collectors.sample import SampleResult


def load_jenkins_sample(folder: Path, store: CollectionStore) -> SampleResult:
    """``folder`` is ``<root>/jenkins``: one directory per job, nested in its folders."""
    # Imported here: collectors.sample imports this module to register the loader.
    from ci_profile.collectors.sample import SampleResult, _read_json

    result = SampleResult(projects=[], runs=0, jobs=0, steps=0)
    for history in sorted(folder.glob("**/ci-history")):
        job_dir = history.parent
        data = _read_json(history / "builds.json")
        describes = _read_json(history / "describe.json")
        if not isinstance(data, Mapping) or not isinstance(describes, Mapping):
            raise SampleDataError(f"sample data in {history} is not shaped like Jenkins' API")
        job = job_info(data, job_dir.relative_to(folder).as_posix())
        batch = Batch()
        for build in data.get("allBuilds") or []:
            if not isinstance(build, Mapping) or not isinstance(build.get("number"), int):
                raise SampleDataError(f"{history / 'builds.json'}: a build without a number")
            describe = describes.get(str(build["number"]))
            records, _ = records_for_build(
                job, build, describe if isinstance(describe, Mapping) else None
            )
            batch.extend(records)
        jenkinsfile = job_dir / PIPELINE_PATH
        content = jenkinsfile.read_text(encoding="utf-8") if jenkinsfile.is_file() else None
        for sha in sorted({r.sha for r in batch.runs if r.sha}):
            batch.pipeline_files.append(
                PipelineFile(PROVIDER, job.project, PIPELINE_PATH, sha, content)
            )
        store.write(batch)
        result.add(job.project, batch)
    return result
