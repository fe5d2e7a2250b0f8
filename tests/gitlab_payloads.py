"""Factories for GitLab REST v4 payloads with the field sets of the real examples, and traces.

Shapes follow GitLab's documentation examples (``doc/api/pipelines.md``: the slim list item and
the single-pipeline detail with ``started_at``/``finished_at``/``duration``/``queued_duration``;
``doc/api/jobs.md``: pipeline jobs with ``commit``, ``pipeline``, ``runner``, ``tag_list``,
``user``; bridges with ``downstream_pipeline``). Times carry milliseconds and ``Z``. Traces are
built the way gitlab-runner writes them (``section_start:<ts>:<name>\\r\\033[0K``, a bold-cyan
header line, optionally the per-line timestamp prefix of newer runners), and the three real
trace excerpts from gitlab-runner's corpus are kept verbatim below (their CRs had become LFs;
:func:`with_cr` restores them). :class:`ProjectHistory` builds a coherent, seeded history of
one project for :class:`fakegitlab.FakeGitLab`. Nothing here touches the network or the disk.
"""

from __future__ import annotations

import copy
import hashlib
import random
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

JSON = dict[str, Any]
WEB_URL = "https://gitlab.example.com"

__all__ = [
    "CONFIG",
    "JSON",
    "REVIEW_CONFIG",
    "TEMPLATES",
    "TRACE_RUNNER11",
    "TRACE_RUNNER13_HEAD",
    "TRACE_RUNNER13_TAIL",
    "WEB_URL",
    "ProjectHistory",
    "TraceBuilder",
    "bridge",
    "iso_ms",
    "job",
    "parse_ts",
    "pipeline_detail",
    "pipeline_item",
    "project",
    "runner",
    "user",
    "with_cr",
]

# ---------------------------------------------------------------------------- real excerpts
# gitlab-org/gitlab-runner @ d79f3e7b, common/buildlogger/internal/testdata/corpus: log-1 lines
# 1-56 and 2569-2590 (runner 13.12.0-rc1, May 2021), log-3 complete (runner 11.4.0-rc1, 2018).
TRACE_RUNNER13_HEAD = (
    b"\x1b[0KRunning with gitlab-runner 13.12.0-rc1 (b21d5c5b)\n"
    b"\x1b[0;m\x1b[0K  on gitlab-org-docker ih9XD9p3\n"
    b"\x1b[0;m\x1b[0K  feature flags: FF_GITLAB_REGISTRY_HELPER_IMAGE:true, FF_SKI"
    b"P_DOCKER_MACHINE_PROVISION_ON_CREATION_FAILURE:true\n"
    b"\x1b[0;msection_start:1621524382:resolve_secrets\n"
    b"\x1b[0K\x1b[0K\x1b[36;1mResolving secrets\x1b[0;m\n"
    b"\x1b[0;msection_end:1621524382:resolve_secrets\n"
    b"\x1b[0Ksection_start:1621524382:prepare_executor\n"
    b'\x1b[0K\x1b[0K\x1b[36;1mPreparing the "docker+machine" executor\x1b[0;m\n'
    b"\x1b[0;m\x1b[0KUsing Docker executor with image registry.gitlab.com/gitlab-o"
    b"rg/gitlab-runner/ci:1.13.8-12 ...\n"
    b"\x1b[0;m\x1b[0KStarting service docker:20.10.2-dind ...\n"
    b"\x1b[0;m\x1b[0KPulling docker image docker:20.10.2-dind ...\n"
    b"\x1b[0;m\x1b[0KUsing docker image sha256:7569a61fe0d5af655280b516bb2654a1ef0"
    b"3f7a3d67549543b65d81dbeea372e for docker:20.10.2-dind with digest dock"
    b"er@sha256:8f4e9ddda1049e6935f9fc7f5cad0bd1001fbf59188616f19b620fd7b6e9"
    b"5ba2 ...\n"
    b"\x1b[0;m\x1b[0KWaiting for services to be up and running...\n"
    b"\x1b[0;m\x1b[0KAuthenticating with credentials from job payload (GitLab Regi"
    b"stry)\n"
    b"\x1b[0;m\x1b[0KPulling docker image registry.gitlab.com/gitlab-org/gitlab-ru"
    b"nner/ci:1.13.8-12 ...\n"
    b"\x1b[0;m\x1b[0KUsing docker image sha256:ae3c432ccac98231f52393c158c545eb689"
    b"584defed228600b87e2fe4e4fa1e9 for registry.gitlab.com/gitlab-org/gitla"
    b"b-runner/ci:1.13.8-12 with digest registry.gitlab.com/gitlab-org/gitla"
    b"b-runner/ci@sha256:0436a4d75851db641f3c704688e0e27a3e208f4bc948503c1b3"
    b"5b7e1691b5cf6 ...\n"
    b"\x1b[0;msection_end:1621524429:prepare_executor\n"
    b"\x1b[0Ksection_start:1621524429:prepare_script\n"
    b"\x1b[0K\x1b[0K\x1b[36;1mPreparing environment\x1b[0;m\n"
    b"\x1b[0;mRunning on runner-ih9xd9p3-project-250833-concurrent-0 via runner"
    b"-ih9xd9p3-org-ci-1621524292-bb661501...\n"
    b"section_end:1621524456:prepare_script\n"
    b"\x1b[0Ksection_start:1621524456:get_sources\n"
    b"\x1b[0K\x1b[0K\x1b[36;1mGetting source from Git repository\x1b[0;m\n"
    b'\x1b[0;m\x1b[32;1m$ eval "$CI_PRE_CLONE_SCRIPT"\x1b[0;m\n'
    b"\x1b[32;1mFetching changes...\x1b[0;m\n"
    b"Initialized empty Git repository in /builds/gitlab-org/gitlab-runner/."
    b"git/\n"
    b"\x1b[32;1mCreated fresh repository.\x1b[0;m\n"
    b"\x1b[32;1mChecking out 7a6612da as v13.12.0...\x1b[0;m\n"
    b"\n"
    b"\x1b[32;1mSkipping Git submodules setup\x1b[0;m\n"
    b"section_end:1621524510:get_sources\n"
    b"\x1b[0Ksection_start:1621524510:restore_cache\n"
    b"\x1b[0K\x1b[0K\x1b[36;1mRestoring cache\x1b[0;m\n"
    b"\x1b[0;m\x1b[32;1mChecking cache for unit test 1/8-v13-12-0-2...\x1b[0;m\n"
    b"\x1b[31;1mFATAL: file does not exist                        \x1b[0;m \n"
    b"\x1b[0;33mFailed to extract cache\x1b[0;m\n"
    b"section_end:1621524511:restore_cache\n"
    b"\x1b[0Ksection_start:1621524511:download_artifacts\n"
    b"\x1b[0K\x1b[0K\x1b[36;1mDownloading artifacts\x1b[0;m\n"
    b"\x1b[0;m\x1b[32;1mDownloading artifacts for helper images (1280281190)...\x1b[0"
    b";m\n"
    b"Downloading artifacts from coordinator... ok      \x1b[0;m  id\x1b[0;m=12802"
    b"81190 status\x1b[0;m=200 token\x1b[0;m=zaM3ywFV\n"
    b"\x1b[32;1mDownloading artifacts for clone test repo (1280281192)...\x1b[0;m\n"
    b"Downloading artifacts from coordinator... ok      \x1b[0;m  id\x1b[0;m=12802"
    b"81192 status\x1b[0;m=200 token\x1b[0;m=xzA1hsVL\n"
    b"\x1b[32;1mDownloading artifacts for tests definitions (1280281194)...\x1b[0;"
    b"m\n"
    b"Downloading artifacts from coordinator... ok      \x1b[0;m  id\x1b[0;m=12802"
    b"81194 status\x1b[0;m=200 token\x1b[0;m=kQK1ELdZ\n"
    b"section_end:1621524516:download_artifacts\n"
    b"\x1b[0Ksection_start:1621524516:step_script\n"
    b'\x1b[0K\x1b[0K\x1b[36;1mExecuting "step_script" stage of the job script\x1b[0;m\n'
    b"\x1b[0;m\x1b[0KUsing docker image sha256:ae3c432ccac98231f52393c158c545eb689"
    b"584defed228600b87e2fe4e4fa1e9 for registry.gitlab.com/gitlab-org/gitla"
    b"b-runner/ci:1.13.8-12 with digest registry.gitlab.com/gitlab-org/gitla"
    b"b-runner/ci@sha256:0436a4d75851db641f3c704688e0e27a3e208f4bc948503c1b3"
    b"5b7e1691b5cf6 ...\n"
    b'\x1b[0;m\x1b[32;1m$ mkdir -p "$GOCACHE"\x1b[0;m\n'
    b"\x1b[32;1m$ source ci/touch_make_dependencies\x1b[0;m\n"
    b"touching out/binaries/gitlab-runner-helper/gitlab-runner-helper.x86_64"
    b"-windows.exe\n"
    b"touching out/binaries/gitlab-runner-helper/gitlab-runner-helper.x86_64"
    b"\n"
    b"touching out/binaries/gitlab-runner-helper/gitlab-runner-helper.s390x\n"
    b"touching out/binaries/gitlab-runner-helper/gitlab-runner-helper.arm\n"
    b"touching out/binaries/gitlab-runner-helper/gitlab-runner-helper.arm64\n"
)
TRACE_RUNNER13_TAIL = (
    b"PASS\n"
    b"coverage: 100.0% of statements in gitlab.com/gitlab-org/gitlab-runner/"
    b"...\n"
    b"ok  \tgitlab.com/gitlab-org/gitlab-runner/commands/helpers/meter\t0.005s"
    b"\tcoverage: 100.0% of statements in gitlab.com/gitlab-org/gitlab-runner"
    b"/...\n"
    b"section_end:1621524688:step_script\n"
    b"\x1b[0Ksection_start:1621524688:archive_cache\n"
    b"\x1b[0K\x1b[0K\x1b[36;1mSaving cache for successful job\x1b[0;m\n"
    b"\x1b[0;m\x1b[32;1mCreating cache unit test 1/8-v13-12-0-2...\x1b[0;m\n"
    b"\x1b[0;33mWARNING: /builds/gitlab-org/gitlab-runner/.gocache-false/: no m"
    b"atching files\x1b[0;m \n"
    b"Uploading cache.zip to https://storage.googleapis.com/gitlab-org-ci-ru"
    b"nners-cache/project/250833/unit%20test%201/8-v13-12-0-2\x1b[0;m \n"
    b"\x1b[32;1mCreated cache\x1b[0;m\n"
    b"section_end:1621524689:archive_cache\n"
    b"\x1b[0Ksection_start:1621524689:upload_artifacts_on_success\n"
    b"\x1b[0K\x1b[0K\x1b[36;1mUploading artifacts for successful job\x1b[0;m\n"
    b"\x1b[0;m\x1b[32;1mUploading artifacts...\x1b[0;m\n"
    b".cover/*: found 15 matching files and directories \x1b[0;m \n"
    b".testoutput/*: found 15 matching files and directories\x1b[0;m \n"
    b'Uploading artifacts as "archive" to coordinator... ok\x1b[0;m  id\x1b[0;m=12'
    b"80281226 status\x1b[0;m=201 token\x1b[0;m=LzAr9-as\n"
    b"section_end:1621524691:upload_artifacts_on_success\n"
    b"\x1b[0Ksection_start:1621524691:cleanup_file_variables\n"
    b"\x1b[0K\x1b[0K\x1b[36;1mCleaning up file based variables\x1b[0;m\n"
    b"\x1b[0;msection_end:1621524692:cleanup_file_variables\n"
    b"\x1b[0K\x1b[32;1mJob succeeded\n"
    b"\x1b[0;m"
)
TRACE_RUNNER11 = (
    b"\x1b[0KRunning with gitlab-runner 11.4.0-rc1 (1ff344e1)\n"
    b"\x1b[0;m\x1b[0K  on docker-auto-scale ed2dce3a\n"
    b"\x1b[0;m\x1b[0KUsing Docker executor with image alpine:3.7 ...\n"
    b"\x1b[0;m\x1b[0KPulling docker image alpine:3.7 ...\n"
    b"\x1b[0;m\x1b[0KUsing docker image sha256:34ea7509dcad10aa92310f2b41e3afbabed"
    b"0811ee3a902d6d49cb90f075fe444 for alpine:3.7 ...\n"
    b"\x1b[0;msection_start:1540587289:prepare_script\n"
    b"\x1b[0KRunning on runner-ed2dce3a-project-250833-concurrent-0 via runner-"
    b"ed2dce3a-srm-1540587233-a2720091...\n"
    b"section_end:1540587291:prepare_script\n"
    b"\x1b[0Ksection_start:1540587291:get_sources\n"
    b"\x1b[0K\x1b[32;1mCloning repository...\x1b[0;m\n"
    b"Cloning into '/builds/gitlab-org/gitlab-runner'...\n"
    b"\x1b[32;1mChecking out cf91d5e1 as v11.4.2...\x1b[0;m\n"
    b"\x1b[32;1mSkipping Git submodules setup\x1b[0;m\n"
    b"section_end:1540587303:get_sources\n"
    b"\x1b[0Ksection_start:1540587303:restore_cache\n"
    b"\x1b[0Ksection_end:1540587305:restore_cache\n"
    b"\x1b[0Ksection_start:1540587305:download_artifacts\n"
    b"\x1b[0K\x1b[32;1mDownloading artifacts for code_quality (113296602)...\x1b[0;m\n"
    b"Downloading artifacts from coordinator... ok      \x1b[0;m  id\x1b[0;m=11329"
    b"6602 status\x1b[0;m=200 token\x1b[0;m=9voFyq8b\n"
    b"section_end:1540587306:download_artifacts\n"
    b"\x1b[0Ksection_start:1540587306:build_script\n"
    b"\x1b[0K\x1b[32;1m$ unset GPG_KEY\x1b[0;m\n"
    b'\x1b[32;1m$ if [ "$(cat gl-code-quality-report.json)" != "[]" ] ; then # '
    b"collapsed multi-line command\x1b[0;m\n"
    b"section_end:1540587308:build_script\n"
    b"\x1b[0Ksection_start:1540587308:after_script\n"
    b"\x1b[0Ksection_end:1540587309:after_script\n"
    b"\x1b[0Ksection_start:1540587309:archive_cache\n"
    b"\x1b[0Ksection_end:1540587311:archive_cache\n"
    b"\x1b[0Ksection_start:1540587311:upload_artifacts_on_success\n"
    b"\x1b[0Ksection_end:1540587312:upload_artifacts_on_success\n"
    b"\x1b[0K\x1b[32;1mJob succeeded\n"
    b"\x1b[0;m"
)

_MARKER_LF = re.compile(rb"(section_(?:start|end):\d+:[A-Za-z0-9_.-]+(?:\[[^\]]*\])?)\n(\x1b\[0K)")


def with_cr(trace: bytes) -> bytes:
    """Undo the corpus copy's CR -> LF damage: ``section_x:ts:name\\r\\033[0K`` as runners write."""
    return _MARKER_LF.sub(rb"\1\r\2", trace)


# ---------------------------------------------------------------------------- formatting


def iso_ms(dt: datetime) -> str:
    """GitLab style: UTC with milliseconds and ``Z`` (``2022-09-21T01:05:14.197Z``)."""
    dt = dt.astimezone(UTC)
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{dt.microsecond // 1000:03d}Z"


def parse_ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _sha(seed: str) -> str:
    return hashlib.sha1(seed.encode()).hexdigest()


def _when(value: datetime | None) -> str | None:
    return iso_ms(value) if value is not None else None


# ---------------------------------------------------------------------------- objects


def user(username: str = "root", user_id: int = 1, *, web_url: str = WEB_URL) -> JSON:
    return {
        "id": user_id,
        "username": username,
        "name": username.replace(".", " ").title(),
        "state": "active",
        "avatar_url": f"https://www.gravatar.com/avatar/{_sha(username)[:32]}?s=80&d=identicon",
        "web_url": f"{web_url}/{username}",
    }


def project(
    path: str, project_id: int, *, visibility: str = "private", web_url: str = WEB_URL
) -> JSON:
    """``GET /projects/:id`` (the fields a collector can rely on, plus a few more)."""
    namespace, _, name = path.rpartition("/")
    return {
        "id": project_id,
        "description": None,
        "name": name,
        "name_with_namespace": " / ".join(p.title() for p in path.split("/")),
        "path": name,
        "path_with_namespace": path,
        "created_at": "2021-03-04T10:11:12.345Z",
        "default_branch": "main",
        "ssh_url_to_repo": f"git@{web_url.split('://')[1]}:{path}.git",
        "http_url_to_repo": f"{web_url}/{path}.git",
        "web_url": f"{web_url}/{path}",
        "visibility": visibility,
        "namespace": {
            "id": project_id // 7,
            "name": namespace.rsplit("/", 1)[-1].title(),
            "path": namespace.rsplit("/", 1)[-1],
            "kind": "group",
            "full_path": namespace,
            "parent_id": None,
            "web_url": f"{web_url}/groups/{namespace}",
        },
        "archived": False,
        "ci_config_path": "",
        "builds_access_level": "enabled",
        "public_jobs": True,
    }


def pipeline_detail(
    pipeline_id: int,
    *,
    project_id: int,
    project_path: str,
    iid: int,
    sha: str,
    ref: str = "main",
    status: str = "success",
    source: str = "push",
    name: str | None = None,
    created: datetime,
    started: datetime | None,
    finished: datetime | None,
    updated: datetime,
    duration: int | None = None,
    queued_duration: int | None = None,
    username: str = "root",
    web_url: str = WEB_URL,
) -> JSON:
    """``GET /projects/:id/pipelines/:pipeline_id``, field for field as in the docs example."""
    if duration is None and started is not None and finished is not None:
        duration = int((finished - started).total_seconds())
    if queued_duration is None and started is not None:
        queued_duration = int((started - created).total_seconds()) or None
    labels = {"success": "passed", "failed": "failed", "canceled": "canceled", "running": "running"}
    text = labels.get(status, status)
    return {
        "id": pipeline_id,
        "iid": iid,
        "project_id": project_id,
        "name": name,
        "sha": sha,
        "ref": ref,
        "status": status,
        "source": source,
        "created_at": iso_ms(created),
        "updated_at": iso_ms(updated),
        "web_url": f"{web_url}/{project_path}/-/pipelines/{pipeline_id}",
        "before_sha": "0" * 40 if source != "push" else _sha(f"before {sha}"),
        "tag": False,
        "yaml_errors": None,
        "user": user(username),
        "started_at": _when(started),
        "finished_at": _when(finished),
        "committed_at": None,
        "duration": duration,
        "queued_duration": queued_duration,
        "coverage": None,
        "detailed_status": {
            "icon": f"status_{status}",
            "text": text,
            "label": text,
            "group": status,
            "tooltip": text,
            "has_details": False,
            "details_path": f"/{project_path}/-/pipelines/{pipeline_id}",
            "illustration": None,
            "favicon": f"/assets/ci_favicons/favicon_status_{status}.png",
        },
    }


_SLIM = ("id", "iid", "project_id", "status", "source", "ref", "sha", "name", "web_url",
         "created_at", "updated_at")  # fmt: skip


def pipeline_item(detail: JSON) -> JSON:
    """The slim representation the pipeline list returns."""
    return {key: detail[key] for key in _SLIM}


def runner(runner_id: int, description: str, *, shared: bool = True) -> JSON:
    return {
        "id": runner_id,
        "description": description,
        "ip_address": None,
        "active": True,
        "paused": False,
        "is_shared": shared,
        "runner_type": "instance_type" if shared else "project_type",
        "name": "gitlab-runner",
        "online": True,
        "status": "online",
    }


def _commit(sha: str, message: str, created: datetime) -> JSON:
    return {
        "author_email": "dev@example.com",
        "author_name": "Dev Eloper",
        "created_at": iso_ms(created),
        "id": sha,
        "message": message,
        "short_id": sha[:8],
        "title": message.splitlines()[0],
    }


def job(
    job_id: int,
    name: str,
    *,
    stage: str,
    status: str,
    pipeline: JSON,
    created: datetime,
    started: datetime | None = None,
    finished: datetime | None = None,
    queued_duration: float | None = None,
    runner_obj: JSON | None = None,
    tags: tuple[str, ...] = (),
    allow_failure: bool = False,
    failure_reason: str | None = None,
    web_url: str = WEB_URL,
    project_path: str = "acme/shop",
) -> JSON:
    """An entry of ``GET /projects/:id/pipelines/:pipeline_id/jobs`` (``Job`` entity)."""
    duration = (finished - started).total_seconds() if started and finished else None
    out: JSON = {
        "commit": _commit(pipeline["sha"], "Update the shop", created - timedelta(minutes=3)),
        "coverage": None,
        "archived": False,
        "allow_failure": allow_failure,
        "created_at": iso_ms(created),
        "started_at": _when(started),
        "finished_at": _when(finished),
        "erased_at": None,
        "duration": round(duration, 3) if duration is not None else None,
        "queued_duration": round(queued_duration, 3) if queued_duration is not None else None,
        "artifacts_file": None,
        "artifacts": [],
        "artifacts_expire_at": None,
        "tag_list": sorted(tags),
        "id": job_id,
        "name": name,
        "pipeline": {
            "id": pipeline["id"],
            "project_id": pipeline["project_id"],
            "ref": pipeline["ref"],
            "sha": pipeline["sha"],
            "status": pipeline["status"],
        },
        "ref": pipeline["ref"],
        "runner": runner_obj,
        "runner_manager": None,
        "stage": stage,
        "status": status,
        "tag": False,
        "web_url": f"{web_url}/{project_path}/-/jobs/{job_id}",
        "project": {"ci_job_token_scope_enabled": False},
        "user": user(),
    }
    if status == "failed":
        out["failure_reason"] = failure_reason or "script_failure"
    if finished is not None and status in ("success", "failed"):
        out["artifacts"] = [
            {"file_type": "trace", "size": 1500, "filename": "job.log", "file_format": None}
        ]
    return out


def bridge(
    bridge_id: int,
    name: str,
    *,
    stage: str,
    status: str,
    pipeline: JSON,
    created: datetime,
    started: datetime | None,
    finished: datetime | None,
    downstream: JSON | None,
    web_url: str = WEB_URL,
    project_path: str = "acme/shop",
) -> JSON:
    """An entry of ``GET /projects/:id/pipelines/:pipeline_id/bridges``."""
    duration = (finished - started).total_seconds() if started and finished else None
    return {
        "commit": _commit(pipeline["sha"], "Update the shop", created - timedelta(minutes=3)),
        "coverage": None,
        "allow_failure": False,
        "created_at": iso_ms(created),
        "started_at": _when(started),
        "finished_at": _when(finished),
        "erased_at": None,
        "duration": round(duration, 3) if duration is not None else None,
        "queued_duration": 0.012 if started else None,
        "id": bridge_id,
        "name": name,
        "pipeline": {
            "id": pipeline["id"],
            "iid": pipeline["iid"],
            "project_id": pipeline["project_id"],
            "ref": pipeline["ref"],
            "sha": pipeline["sha"],
            "status": pipeline["status"],
            "source": pipeline["source"],
            "created_at": pipeline["created_at"],
            "updated_at": pipeline["updated_at"],
            "web_url": pipeline["web_url"],
        },
        "ref": pipeline["ref"],
        "stage": stage,
        "status": status,
        "tag": False,
        "web_url": f"{web_url}/{project_path}/-/jobs/{bridge_id}",
        "user": user(),
        "downstream_pipeline": downstream,
    }


def downstream_of(detail: JSON) -> JSON:
    keys = ("id", "sha", "ref", "status", "created_at", "updated_at", "web_url")
    return {**{k: detail[k] for k in keys}, "project_id": detail["project_id"]}


# ---------------------------------------------------------------------------- traces


class TraceBuilder:
    """Writes a job log the way gitlab-runner does. ``timestamps``: the FF_TIMESTAMPS prefix."""

    def __init__(
        self, *, timestamps: bool = False, version: str = "17.11.0", begin: float = 1714550400.0
    ) -> None:
        self.timestamps = timestamps
        self.parts: list[bytes] = []
        self.clock = begin
        self.line(f"\x1b[0KRunning with gitlab-runner {version} (c7e9a1f2)", at=None)
        self.line(
            "\x1b[0;m\x1b[0K  on shared-runner-7 t3_AbCdEfGh, system ID: s_0123456789ab", at=None
        )

    def _prefix(self, at: float | None) -> bytes:
        if not self.timestamps:
            return b""
        moment = datetime.fromtimestamp(at if at is not None else self.clock, tz=UTC)
        return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond:06d}Z 00O ".encode()

    def line(self, text: str | bytes, *, at: float | None = None) -> TraceBuilder:
        if at is not None:
            self.clock = at
        data = text.encode() if isinstance(text, str) else text
        self.parts.append(self._prefix(at) + data + b"\n")
        return self

    def start(
        self, name: str, ts: int, header: str | None = None, options: str = ""
    ) -> TraceBuilder:
        self.clock = float(ts)
        head = f"\x1b[0K\x1b[36;1m{header}\x1b[0;m" if header else ""
        return self.line(f"\x1b[0Ksection_start:{ts}:{name}{options}\r\x1b[0K{head}", at=ts)

    def end(self, name: str, ts: int) -> TraceBuilder:
        return self.line(f"\x1b[0Ksection_end:{ts}:{name}\r\x1b[0K", at=ts)

    def bytes(self) -> bytes:
        return b"".join(self.parts)


HEADERS = {
    "prepare_executor": 'Preparing the "docker" executor',
    "prepare_script": "Preparing environment",
    "get_sources": "Getting source from Git repository",
    "restore_cache": "Restoring cache",
    "download_artifacts": "Downloading artifacts",
    "step_script": 'Executing "step_script" stage of the job script',
    "after_script": "Running after_script",
    "archive_cache": "Saving cache for successful job",
    "upload_artifacts_on_success": "Uploading artifacts for successful job",
    "upload_artifacts_on_failure": "Uploading artifacts for failed job",
    "cleanup_file_variables": "Cleaning up project directory and file based variables",
}


# ---------------------------------------------------------------------------- pipeline files

TEMPLATES = """\
.python:
  image: python:3.12
  before_script:
    - pip install -r requirements.txt
  cache:
    key: pip
    paths: [.cache/pip]

.migrate:
  script:
    - echo -e "\\e[0Ksection_start:`date +%s`:db_migrate[collapsed=true]\\r\\e[0KMigrating"
    - alembic upgrade head
    - echo -e "\\e[0Ksection_end:`date +%s`:db_migrate\\r\\e[0K"
"""

CONFIG = """\
include:
  - local: /ci/templates.yml

stages: [lint, build, test, deploy]

lint:
  extends: .python
  stage: lint
  script:
    - ruff check .

build-image:
  stage: build
  image: docker:27
  services: [docker:27-dind]
  script:
    - docker build -t $CI_REGISTRY_IMAGE:$CI_COMMIT_SHA .
    - docker push $CI_REGISTRY_IMAGE:$CI_COMMIT_SHA

unit:
  extends: .python
  stage: test
  script:
    - pytest -q tests/unit

integration:
  extends: .python
  stage: test
  services:
    - postgres:16
    - name: redis:7
      alias: cache
  retry: 1
  script:
    - !reference [.migrate, script]
    - pytest -q tests/integration
  after_script:
    - cat logs/*.log || true

review:
  stage: deploy
  trigger:
    include: ci/review.yml
    strategy: depend
  rules:
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"

deploy-production:
  stage: deploy
  script:
    - ./deploy.sh production
  rules:
    - if: $CI_COMMIT_BRANCH == "main"
      when: manual
"""

REVIEW_CONFIG = """\
stages: [deploy, test]

deploy-review:
  stage: deploy
  image: alpine/helm:3.14
  script:
    - helm upgrade --install shop-$CI_MERGE_REQUEST_IID ./chart --wait --timeout 5m

smoke:
  stage: test
  image: curlimages/curl:8.8.0
  script:
    - curl -fsS --retry 5 https://review-$CI_MERGE_REQUEST_IID.example.com/health
"""

FILES = {".gitlab-ci.yml": CONFIG, "ci/templates.yml": TEMPLATES, "ci/review.yml": REVIEW_CONFIG}


# ---------------------------------------------------------------------------- history


@dataclass(frozen=True)
class _Spec:
    name: str
    stage: str
    script_s: tuple[float, float]
    executor_s: tuple[float, float] = (3.0, 12.0)
    fail_p: float = 0.0
    after_script: bool = False
    migrate: bool = False
    retry: bool = False


_PARENT = (
    _Spec("lint", "lint", (10, 40)),
    _Spec("build-image", "build", (60, 180), executor_s=(15, 40)),
    _Spec("unit", "test", (40, 200), fail_p=0.06),
    _Spec(
        "integration",
        "test",
        (60, 240),
        executor_s=(20, 60),
        fail_p=0.2,
        after_script=True,
        migrate=True,
        retry=True,
    ),
)
_CHILD = (
    _Spec("deploy-review", "deploy", (60, 200), fail_p=0.05),
    _Spec("smoke", "test", (5, 20)),
)
_RUNNERS = (
    runner(11, "shared-runner-7"),
    runner(12, "shared-runner-9"),
    runner(31, "k8s-large-01", shared=False),
)


@dataclass
class _Sim:
    """One pipeline tree's simulation state."""

    rng: random.Random
    cutoff: float | None
    next_job: int
    jobs: list[JSON] = field(default_factory=list)
    traces: dict[int, bytes] = field(default_factory=dict)
    expected: dict[int, list[tuple[str, int | None, int | None]]] = field(default_factory=dict)
    last_event: float = 0.0


@dataclass
class ProjectHistory:
    """A coherent history of one GitLab project: pipelines (some with a child pipeline),
    jobs including retried ones, traces, and the pipeline files at every commit."""

    path: str = "acme/platform/shop"
    pipelines: int = 20
    seed: int = 7
    in_progress: int = 1
    cancelled_p: float = 0.05
    start: datetime = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    spacing_s: float = 1800.0
    project_id: int = 4242
    visibility: str = "private"
    timestamps_p: float = 0.5
    details: dict[int, JSON] = field(default_factory=dict)
    jobs: dict[int, list[JSON]] = field(default_factory=dict)
    bridges: dict[int, list[JSON]] = field(default_factory=dict)
    traces: dict[int, bytes] = field(default_factory=dict)
    expected: dict[int, list[tuple[str, int | None, int | None]]] = field(default_factory=dict)
    files: dict[tuple[str, str], str] = field(default_factory=dict)
    parents: dict[int, int] = field(default_factory=dict)
    _unfinished: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        for index in range(self.pipelines):
            unfinished = index >= self.pipelines - self.in_progress
            self._build(index, unfinished=unfinished)

    # -- public --------------------------------------------------------------------------

    @property
    def project(self) -> JSON:
        return project(self.path, self.project_id, visibility=self.visibility)

    def top_level(self) -> list[JSON]:
        return [d for d in self.details.values() if d["source"] != "parent_pipeline"]

    def in_progress_ids(self) -> list[int]:
        return sorted(p for p in self._unfinished if self.details[p]["status"] == "running")

    def finish(self, pipeline_id: int) -> None:
        """Let an unfinished pipeline run to its end (same ids, same timings so far)."""
        index = (pipeline_id - 5000) // 3
        self._unfinished.discard(pipeline_id)
        self._build(index, unfinished=False)

    def extend(self, count: int) -> list[int]:
        first = self.pipelines
        self.pipelines += count
        for index in range(first, self.pipelines):
            self._build(index, unfinished=False)
        return [5000 + 3 * i for i in range(first, self.pipelines)]

    def retry_job(self, pipeline_id: int, name: str, *, at: datetime) -> JSON:
        """Someone retries a finished job: a new job with a new id; the pipeline is updated."""
        detail = self.details[pipeline_id]
        old = max((j for j in self.jobs[pipeline_id] if j["name"] == name), key=lambda j: j["id"])
        new_id = max(j["id"] for js in self.jobs.values() for j in js) + 1000
        started = at + timedelta(seconds=5.25)
        t0 = int(started.timestamp()) + 1
        sections = [
            ("prepare_executor", t0, t0 + 9),
            ("get_sources", t0 + 9, t0 + 12),
            ("step_script", t0 + 12, t0 + 80),
            ("cleanup_file_variables", t0 + 80, t0 + 81),
        ]
        builder = TraceBuilder(begin=started.timestamp())
        for section, a, b in sections:
            builder.start(section, a, HEADERS.get(section)).line("working", at=a).end(section, b)
        finished = datetime.fromtimestamp(t0 + 81.3, tz=UTC)
        fresh = job(new_id, name, stage=old["stage"], status="success", pipeline=detail, created=at,
                    started=started, finished=finished, queued_duration=5.25, runner_obj=_RUNNERS[0],
                    project_path=self.path)  # fmt: skip
        self.jobs[pipeline_id].insert(0, fresh)
        self.traces[new_id] = builder.bytes()
        self.expected[new_id] = [(s, a, b) for s, a, b in sections]
        detail.update(
            updated_at=iso_ms(finished + timedelta(milliseconds=120)),
            finished_at=iso_ms(finished),
            status="success",
        )
        return fresh

    def all_jobs(self) -> list[JSON]:
        return [j for js in self.jobs.values() for j in js]

    def expected_steps(self) -> int:
        return sum(len(v) for v in self.expected.values())

    # -- simulation ----------------------------------------------------------------------

    def _build(self, index: int, *, unfinished: bool) -> None:
        rng = random.Random(f"{self.seed}:{index}")
        t0 = self.start + timedelta(seconds=index * self.spacing_s + rng.uniform(0, 600))
        pid = 5000 + 3 * index
        sha = _sha(f"{self.path}:{index}")
        kind = rng.random()
        source, ref = (
            ("push", "main")
            if kind < 0.35
            else ("push", f"feat/change-{index}")
            if kind < 0.55
            else ("merge_request_event", f"refs/merge-requests/{index}/head")
            if kind < 0.9
            else ("schedule", "main")
        )
        for path, text in FILES.items():
            self.files[(path, sha)] = text
        cutoff = None
        if unfinished:
            cutoff = t0.timestamp() + rng.uniform(200, 500)
            self._unfinished.add(pid)
        cancel_at = (
            t0.timestamp() + rng.uniform(150, 400)
            if rng.random() < self.cancelled_p and not unfinished
            else None
        )
        sim = _Sim(rng, cutoff, 100_000 + index * 100)
        detail = pipeline_detail(pid, project_id=self.project_id, project_path=self.path, iid=index + 1, sha=sha, ref=ref, status="created", source=source, name="Nightly" if source == "schedule" else None, created=t0, started=None, finished=None, updated=t0)  # fmt: skip
        clock = t0.timestamp() + rng.uniform(0.5, 3)
        outcome = "success"
        statuses: list[str] = []
        children: list[JSON] = []
        for stage in ("lint", "build", "test", "deploy"):
            specs = [s for s in _PARENT if s.stage == stage]
            if stage == "deploy":
                ends = [clock]
                if source == "merge_request_event":
                    status, end = self._child(pid, detail, clock, sim, cancel_at, outcome, children)
                    statuses.append(status)
                    ends.append(end)
                if ref == "main" and source == "push":
                    sim.jobs.append(
                        job(
                            sim.next_job,
                            "deploy-production",
                            stage="deploy",
                            status="manual" if outcome == "success" else "skipped",
                            pipeline=detail,
                            created=t0,
                            project_path=self.path,
                        )
                    )
                    sim.next_job += 1
                clock = max(ends)
                continue
            stage_end = clock
            for spec in specs:
                status, end = self._job(spec, detail, t0, clock, sim, cancel_at, outcome)
                statuses.append(status)
                stage_end = max(stage_end, end)
            if "failed" in statuses:
                outcome = "failed"
            if "canceled" in statuses:
                outcome = "canceled"
            clock = stage_end + rng.uniform(0.5, 2)
        running = any(s in ("running", "pending", "created") for s in statuses)
        final = (
            "running"
            if running
            else "canceled"
            if "canceled" in statuses
            else "failed"
            if "failed" in statuses
            else "success"
        )
        started_jobs = [parse_ts(j["started_at"]) for j in sim.jobs if j["started_at"]]
        finished_jobs = [parse_ts(j["finished_at"]) for j in sim.jobs if j["finished_at"]]
        started = min(started_jobs) if started_jobs else None
        finished = max(finished_jobs) if finished_jobs and not running else None
        if final == "canceled" and cancel_at is not None:
            finished = datetime.fromtimestamp(cancel_at, tz=UTC)
        updated = (
            (finished + timedelta(milliseconds=rng.randint(40, 400)))
            if finished
            else datetime.fromtimestamp(max(sim.last_event, t0.timestamp()), tz=UTC)
        )
        detail.update(pipeline_detail(pid, project_id=self.project_id, project_path=self.path, iid=index + 1, sha=sha, ref=ref, status=final, source=source, name=detail["name"], created=t0, started=started, finished=finished, updated=updated))  # fmt: skip
        for item in sim.jobs:
            if item["pipeline"]["id"] == pid:
                item["pipeline"]["status"] = final
        self.details[pid] = detail
        self.jobs[pid] = sorted(
            (j for j in sim.jobs if j["pipeline"]["id"] == pid), key=lambda j: -j["id"]
        )
        for child in children:
            cid = child["id"]
            self.details[cid] = child
            self.jobs[cid] = sorted(
                (j for j in sim.jobs if j["pipeline"]["id"] == cid), key=lambda j: -j["id"]
            )
            self.parents[cid] = pid
        for jid, trace in sim.traces.items():
            self.traces[jid] = trace
        self.expected.update(sim.expected)

    def _child(
        self,
        pid: int,
        parent: JSON,
        clock: float,
        sim: _Sim,
        cancel_at: float | None,
        outcome: str,
        children: list[JSON],
    ) -> tuple[str, float]:
        bridge_id = sim.next_job
        sim.next_job += 1
        created = parse_ts(parent["created_at"])
        if outcome != "success" or (sim.cutoff is not None and clock > sim.cutoff):
            status = "skipped" if outcome != "success" else "created"
            self.bridges[pid] = [
                bridge(
                    bridge_id,
                    "review",
                    stage="deploy",
                    status=status,
                    pipeline=parent,
                    created=created,
                    started=None,
                    finished=None,
                    downstream=None,
                    project_path=self.path,
                )
            ]
            return status, clock
        cid = pid + 1
        child_t0 = datetime.fromtimestamp(clock + 0.4, tz=UTC)
        child = pipeline_detail(cid, project_id=self.project_id, project_path=self.path, iid=parent["iid"] + 10_000, sha=parent["sha"], ref=parent["ref"], status="running", source="parent_pipeline", created=child_t0, started=None, finished=None, updated=child_t0)  # fmt: skip
        cclock = clock + 1.5
        statuses: list[str] = []
        for stage in ("deploy", "test"):
            end_stage = cclock
            for spec in (s for s in _CHILD if s.stage == stage):
                status, end = self._job(
                    spec,
                    child,
                    child_t0,
                    cclock,
                    sim,
                    cancel_at,
                    "failed" if "failed" in statuses else "success",
                )
                statuses.append(status)
                end_stage = max(end_stage, end)
            cclock = end_stage + 1
        running = any(s in ("running", "pending", "created") for s in statuses)
        final = (
            "running"
            if running
            else "canceled"
            if "canceled" in statuses
            else "failed"
            if "failed" in statuses
            else "success"
        )
        mine = [j for j in sim.jobs if j["pipeline"]["id"] == cid]
        started = min((parse_ts(j["started_at"]) for j in mine if j["started_at"]), default=None)
        finished = (
            max((parse_ts(j["finished_at"]) for j in mine if j["finished_at"]), default=None)
            if not running
            else None
        )
        updated = finished + timedelta(milliseconds=90) if finished else child_t0
        child.update(pipeline_detail(cid, project_id=self.project_id, project_path=self.path, iid=parent["iid"] + 10_000, sha=parent["sha"], ref=parent["ref"], status=final, source="parent_pipeline", created=child_t0, started=started, finished=finished, updated=updated))  # fmt: skip
        for item in mine:
            item["pipeline"]["status"] = final
        children.append(child)
        self.bridges[pid] = [
            bridge(
                bridge_id,
                "review",
                stage="deploy",
                status=final,
                pipeline=parent,
                created=created,
                started=child_t0,
                finished=finished,
                downstream=downstream_of(child),
                project_path=self.path,
            )
        ]
        return final, (finished.timestamp() if finished else cclock)

    def _job(
        self,
        spec: _Spec,
        pipeline: JSON,
        created: datetime,
        ready: float,
        sim: _Sim,
        cancel_at: float | None,
        outcome: str,
    ) -> tuple[str, float]:
        rng = sim.rng
        status, end = self._attempt(
            spec, pipeline, created, ready, sim, cancel_at, outcome, retried=False
        )
        if status == "failed" and spec.retry and rng.random() < 0.7:
            status, end = self._attempt(
                spec,
                pipeline,
                datetime.fromtimestamp(end + 0.3, tz=UTC),
                end + 0.3,
                sim,
                cancel_at,
                outcome,
                retried=True,
            )
        return status, end

    def _attempt(
        self,
        spec: _Spec,
        pipeline: JSON,
        created: datetime,
        ready: float,
        sim: _Sim,
        cancel_at: float | None,
        outcome: str,
        *,
        retried: bool,
    ) -> tuple[str, float]:
        rng = sim.rng
        job_id = sim.next_job
        sim.next_job += 1
        common: JSON = {
            "stage": spec.stage,
            "pipeline": pipeline,
            "created": created,
            "project_path": self.path,
            "tags": ("docker",),
        }
        if outcome != "success":
            sim.jobs.append(job(job_id, spec.name, status="skipped", **common))
            return "skipped", ready
        queue = rng.lognormvariate(1.6, 0.7)
        begin = ready + queue
        if sim.cutoff is not None and begin > sim.cutoff:
            sim.jobs.append(
                job(
                    job_id,
                    spec.name,
                    status="pending" if ready <= sim.cutoff else "created",
                    **common,
                )
            )
            sim.last_event = max(sim.last_event, min(ready, sim.cutoff))
            return "pending", ready
        if cancel_at is not None and begin > cancel_at:
            sim.jobs.append(job(job_id, spec.name, status="canceled", **common))
            return "canceled", cancel_at
        fails = rng.random() < spec.fail_p * (0.5 if retried else 1)
        t = int(begin) + 1
        plan: list[tuple[str, float]] = [
            ("prepare_executor", rng.uniform(*spec.executor_s)),
            ("prepare_script", rng.uniform(0.4, 2.5)),
            ("get_sources", rng.uniform(1, 6)),
            ("restore_cache", rng.uniform(0.5, 8)),
        ]
        if spec.stage in ("test", "deploy"):
            plan.append(("download_artifacts", rng.uniform(0.5, 3)))
        plan.append(("step_script", rng.uniform(*spec.script_s)))
        if spec.after_script:
            plan.append(("after_script", rng.uniform(0.5, 3)))
        plan += [
            ("archive_cache", rng.uniform(0.5, 4)),
            (
                "upload_artifacts_on_failure" if fails else "upload_artifacts_on_success",
                rng.uniform(0.5, 3),
            ),
            ("cleanup_file_variables", rng.uniform(0, 1)),
        ]
        builder = TraceBuilder(
            timestamps=rng.random() < self.timestamps_p,
            version="18.7.1" if rng.random() < 0.5 else "17.11.0",
            begin=begin,
        )
        expected: list[tuple[str, int | None, int | None]] = []
        stop = min(x for x in (cancel_at, sim.cutoff, float("inf")) if x is not None)
        status = "failed" if fails else "success"
        for name, seconds in plan:
            a, b = t, t + max(0, round(seconds))
            if a > stop:
                break
            builder.start(
                name, a, HEADERS.get(name), "[collapsed=true]" if name == "get_sources" else ""
            )
            if name == "step_script" and spec.migrate and b - a > 20:
                m1, m2 = a + 2, a + 2 + rng.randint(5, 15)
                builder.line("$ alembic upgrade head", at=a + 1)
                builder.start("db_migrate", m1, "Migrating", "[collapsed=true]").line(
                    "INFO  [alembic] Running upgrade -> 3f2a", at=m1
                )
                if m2 > stop:
                    expected += [(name, a, m1), ("db_migrate", m1, None)]
                    break
                builder.end("db_migrate", m2)
                expected += [(name, a, m1), ("db_migrate", m1, m2)]
                a = m2
            else:
                builder.line(f"$ {spec.name} work", at=a)
            if b > stop:
                expected.append((name, a, None))
                break
            builder.line("done", at=b)
            builder.end(name, b)
            expected.append((name, a, b))
            t = b
        else:
            builder.line(
                "\x1b[32;1mJob succeeded\x1b[0;m"
                if not fails
                else "\x1b[31;1mERROR: Job failed: exit code 1\x1b[0;m",
                at=t,
            )
            started = datetime.fromtimestamp(begin, tz=UTC)
            finished = datetime.fromtimestamp(t + rng.uniform(0.05, 0.6), tz=UTC)
            sim.jobs.append(
                job(
                    job_id,
                    spec.name,
                    status=status,
                    started=started,
                    finished=finished,
                    queued_duration=queue,
                    runner_obj=rng.choice(_RUNNERS),
                    **common,
                )
            )
            sim.traces[job_id] = builder.bytes()
            sim.expected[job_id] = _flat(expected)
            sim.last_event = max(sim.last_event, finished.timestamp())
            return status, finished.timestamp()
        started = datetime.fromtimestamp(begin, tz=UTC)
        if cancel_at is not None and stop == cancel_at:
            builder.line("\x1b[31;1mERROR: Job failed: canceled\x1b[0;m", at=stop)
            finished = datetime.fromtimestamp(cancel_at, tz=UTC)
            sim.jobs.append(
                job(
                    job_id,
                    spec.name,
                    status="canceled",
                    started=started,
                    finished=finished,
                    queued_duration=queue,
                    runner_obj=rng.choice(_RUNNERS),
                    **common,
                )
            )
            sim.traces[job_id] = builder.bytes()
            sim.expected[job_id] = _flat(expected)
            return "canceled", cancel_at
        sim.jobs.append(
            job(
                job_id,
                spec.name,
                status="running",
                started=started,
                queued_duration=queue,
                runner_obj=rng.choice(_RUNNERS),
                **common,
            )
        )
        sim.last_event = max(sim.last_event, begin)
        return "running", stop


def _flat(
    expected: list[tuple[str, int | None, int | None]],
) -> list[tuple[str, int | None, int | None]]:
    """Drop zero-length resumptions, as the parser does (a first segment is always kept)."""
    out: list[tuple[str, int | None, int | None]] = []
    seen: set[str] = set()
    for name, a, b in expected:
        if name in seen and a is not None and a == b:
            continue
        seen.add(name)
        out.append((name, a, b))
    return out


def copy_of(value: Any) -> Any:
    return copy.deepcopy(value)
