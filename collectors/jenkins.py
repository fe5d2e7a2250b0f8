"""Jenkins: enumerate a job's builds, fetch each build's stages and steps, normalize, store.

Provider facts this relies on (README "Collecting from Jenkins"): wfapi's run list stops at 10
runs and core's ``builds`` at 100, so builds are enumerated with ``allBuilds[...]{M,N}`` ranges
of the core remote API, newest first; each build's stages and their flow nodes come from
``N/wfapi/describe?fullStages=true`` (Pipeline: Stage View plugin). Auth is HTTP basic with an
API token, which needs no CSRF crumb; the collector only sends GETs.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote

import httpx
from ci_profile.collectors.common import CollectResult, Progress
from ci_profile.collectors.http import HttpClient, Response, RetryPolicy, WaitHook
from ci_profile.collectors.jenkins_records import (
    PROVIDER,
    JobInfo,
    job_info,
    records_for_build,
    revision_of,
)
from ci_profile.core.config import Secret
from ci_profile.core.errors import AuthError, NotFoundError, ProviderError, UsageError
from ci_profile.core.records import Batch
from ci_profile.core.shared_store import CollectionStore
from ci_profile.core.times import from_epoch_ms, iso_z, parse_iso

__all__ = ["PROVIDER", "JenkinsCollector", "job_url", "make_client", "make_http"]

PAGE = 100
BATCH_BUILDS = 20
DEFAULT_SINCE = timedelta(days=30)
BUILD_FIELDS = (
    "number,url,result,building,inProgress,timestamp,duration,builtOn,"
    "actions[_class,causes[_class,shortDescription,userId],"
    "lastBuiltRevision[SHA1,branch[SHA1,name]],queuingDurationMillis,queuingTimeMillis]"
)
JOB_FIELDS = "_class,name,fullName,displayName,fullDisplayName,url,jobs[name]{0,10}"
FOLDER_MARKERS = ("Folder", "MultiBranch", "OrganizationFolder")
_GONE = object()  # a build deleted between listing and fetching


def make_client(
    base_url: str,
    auth: tuple[str, Secret] | None,
    *,
    transport: httpx.BaseTransport | None = None,
    timeout_s: float = 30.0,
) -> httpx.Client:
    """An httpx client for one Jenkins: basic auth with an API token (no crumb for GETs)."""
    return httpx.Client(
        base_url=base_url,
        auth=httpx.BasicAuth(auth[0], auth[1].reveal()) if auth is not None else None,
        headers={"Accept": "application/json", "User-Agent": "ci-profile"},
        timeout=timeout_s,
        transport=transport,
        follow_redirects=True,
    )


def make_http(
    client: httpx.Client,
    *,
    concurrency: int = 2,
    max_requests: int | None = None,
    on_wait: WaitHook | None = None,
    policy: RetryPolicy | None = None,
    sleep: Callable[[float], None] | None = None,
) -> HttpClient:
    return HttpClient(
        client,
        provider="Jenkins",
        policy=policy,
        concurrency=concurrency,
        max_requests=max_requests,
        on_wait=on_wait,
        sleep=sleep or time.sleep,
    )


def job_segments(job_path: str) -> list[str]:
    """``team/service/main`` -> its folder and job names."""
    text = job_path.strip().strip("/")
    parts = text.split("/")
    if not text or any(not part.strip() for part in parts):
        raise UsageError(f"expected a Jenkins job path such as team/service/main, got {job_path!r}")
    return parts


def job_url(segments: Sequence[str]) -> str:
    """Folder and job names -> ``/job/team/job/service/job/main`` (each name URL-encoded, so a
    multibranch branch ``feature%2Fx`` becomes ``feature%252Fx`` as Jenkins writes it)."""
    return "".join(f"/job/{quote(name, safe='')}" for name in segments)


class JenkinsCollector:
    """Collect one job's builds into the store; a second collection fetches only what is new
    or was still running."""

    def __init__(
        self,
        http: HttpClient,
        store: CollectionStore,
        job_path: str,
        *,
        authenticated: bool = True,
        concurrency: int = 2,
        progress: Progress | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.segments = job_segments(job_path)
        self.requested = "/".join(self.segments)
        self.http = http
        self.store = store
        self.authenticated = authenticated
        self.concurrency = max(1, concurrency)
        self.progress = progress
        self.now = now
        self.base = job_url(self.segments)
        self.result = CollectResult(project=self.requested)
        self.job = JobInfo(self.requested, self.requested, True)
        self._stage_view: bool | None = None
        self._lock = threading.Lock()
        self._warned: set[str] = set()

    # -- the walk -------------------------------------------------------------------------

    def collect(self, since: datetime | None) -> CollectResult:
        start = since or self.now() - DEFAULT_SINCE
        try:
            first = self._job_page()
            self.job = self._identify(first)
            self.result.project = project = self.job.project
            old_cursor = int(self.store.cursor(PROVIDER, project, "builds") or 0)
            listed_from = parse_iso(self.store.cursor(PROVIDER, project, "builds:from"))
            # Listing from further back than ever before walks past the cursor (backfill).
            stop_at = old_cursor if listed_from is not None and start >= listed_from else 0
            known = {int(r) for r in self.store.finished_runs(PROVIDER, project) if r.isdigit()}
            builds = self._list(first, start, stop_at, self._stored_unfinished(project))
            self.result.runs_listed = len(builds)
            if self.progress:
                self.progress.listed(len(builds))
            todo = sorted(
                (b for b in builds if int(b["number"]) not in known or _running(b)),
                key=lambda b: int(b["number"]),
            )
            in_scope = sorted(int(b["number"]) for b in builds)
            done = set(known) - {int(b["number"]) for b in todo}
            self._branch_from_parent(todo)
            cursor = old_cursor
            for offset in range(0, len(todo), BATCH_BUILDS):
                chunk = todo[offset : offset + BATCH_BUILDS]
                batch = self._fetch(chunk, done)
                cursor = max(cursor, _prefix_cursor(in_scope, done, stop_at))
                batch.cursors[(PROVIDER, project, "builds")] = str(cursor)
                self._commit(batch, len(chunk))
            cursor = max(cursor, _prefix_cursor(in_scope, done, stop_at))
            start_mark = min(start, listed_from) if listed_from is not None else start
            self.store.write(
                Batch(
                    cursors={
                        (PROVIDER, project, "builds"): str(cursor),
                        (PROVIDER, project, "builds:from"): iso_z(start_mark),
                    }
                )
            )
        finally:
            stats = self.http.stats
            self.result.requests = stats.requests
            self.result.retries = stats.retries
        return self.result

    def _list(
        self, first: Mapping[str, Any], start: datetime, stop_at: int, unfinished: set[int]
    ) -> list[Mapping[str, Any]]:
        """Builds newer than ``stop_at`` and not created before ``start``, newest first, plus
        stored builds that were unfinished last time, however old they are now."""
        wanted: list[Mapping[str, Any]] = []
        page: Sequence[Any] = first.get("allBuilds") or []
        offset = 0
        while True:
            finished = len(page) < PAGE
            lowest: int | None = None
            for build in page:
                if not isinstance(build, Mapping) or not isinstance(build.get("number"), int):
                    continue
                number = build["number"]
                lowest = number if lowest is None else min(lowest, number)
                if number <= stop_at:
                    finished = True
                    continue
                created = from_epoch_ms(build.get("timestamp"))
                if created is not None and created < start and number not in unfinished:
                    finished = True  # numbers and creation times grow together
                    continue
                wanted.append(build)
            if lowest is not None and any(stop_at < n < lowest for n in unfinished):
                finished = len(page) < PAGE  # keep walking down to a build left unfinished
            if finished:
                return wanted
            offset += PAGE
            data = self._get_json(
                f"{self.base}/api/json",
                {"tree": f"allBuilds[{BUILD_FIELDS}]{{{offset},{offset + PAGE}}}"},
            )
            page = data.get("allBuilds") or []

    def _stored_unfinished(self, project: str) -> set[int]:
        return {
            int(r.run_id)
            for r in self.store.stored_runs(PROVIDER, project)
            if r.status != "completed" and r.run_id.isdigit()
        }

    def _fetch(self, chunk: Sequence[Mapping[str, Any]], done: set[int]) -> Batch:
        batch = Batch()
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            for build, describe in zip(chunk, pool.map(self._describe, chunk), strict=True):
                number = int(build["number"])
                if describe is _GONE:
                    done.add(number)
                    continue
                part, warnings = records_for_build(
                    self.job, build, describe if isinstance(describe, Mapping) else None
                )
                for warning in warnings:
                    self._warn(warning)
                if part.runs and part.runs[0].status == "completed":
                    done.add(number)
                batch.extend(part)
        return batch

    def _commit(self, batch: Batch, fetched: int) -> None:
        self.store.write(batch)
        self.result.runs_fetched += fetched
        self.result.runs += len(batch.runs)
        self.result.jobs += len(batch.jobs)
        self.result.steps += len(batch.steps)
        if self.progress:
            self.progress.fetched(fetched)

    # -- requests -------------------------------------------------------------------------

    def _job_page(self) -> Mapping[str, Any]:
        """The job and its newest builds, in one request."""
        tree = f"{JOB_FIELDS},allBuilds[{BUILD_FIELDS}]{{0,{PAGE}}}"
        try:
            return self._get_json(f"{self.base}/api/json", {"tree": tree})
        except NotFoundError:
            self._check_root()
            hint = (
                " (a branch name containing '/' is written with %2F: team/app/feature%2Fx)"
                if len(self.segments) > 2
                else ""
            )
            raise NotFoundError(
                f"Jenkins: job {self.requested} not found, or the user cannot see it{hint}"
            ) from None

    def _identify(self, data: Mapping[str, Any]) -> JobInfo:
        klass = str(data.get("_class") or "")
        if "allBuilds" not in data and any(marker in klass for marker in FOLDER_MARKERS):
            names = [
                str(j["name"])
                for j in data.get("jobs") or []
                if isinstance(j, Mapping) and j.get("name")
            ]
            inside = f"; it holds {', '.join(names)}" if names else ""
            example = f"{self.requested}/{names[0]}" if names else f"{self.requested}/main"
            raise UsageError(
                f"Jenkins: {self.requested} is a folder or multibranch project, not a job"
                f"{inside}; name a job inside it, e.g. {example}"
            )
        return job_info(data, self.requested)

    def _branch_from_parent(self, builds: Sequence[Mapping[str, Any]]) -> None:
        """A build without git data takes its branch from a multibranch job's name (asked only
        when some build needs it)."""
        if len(self.segments) < 2 or all(revision_of(b)[1] for b in builds):
            return
        if self._parent_is_multibranch():
            branch = unquote(self.segments[-1])
            self.job = JobInfo(self.job.project, self.job.display, self.job.pipeline, branch)

    def _parent_is_multibranch(self) -> bool:
        try:
            parent = self._get_json(f"{job_url(self.segments[:-1])}/api/json", {"tree": "_class"})
        except NotFoundError:
            return False
        return "MultiBranch" in str(parent.get("_class") or "")

    def _describe(self, build: Mapping[str, Any]) -> object:
        """The build's wfapi describe (with stage flow nodes), None without Stage View, or
        _GONE when the build was deleted meanwhile."""
        if not self.job.pipeline or self._stage_view is False:
            return None
        try:
            response = self._get(
                f"{self.base}/{int(build['number'])}/wfapi/describe", {"fullStages": "true"}
            )
        except NotFoundError:
            return _GONE if self._has_stage_view() else None
        return response.data if isinstance(response.data, Mapping) else None

    def _has_stage_view(self) -> bool:
        """Ask the job-level wfapi once: a 404 there means the plugin is not installed."""
        with self._lock:
            if self._stage_view is None:
                try:
                    self._get(f"{self.base}/wfapi/describe")
                    self._stage_view = True
                except NotFoundError:
                    self._stage_view = False
            available = self._stage_view
        if not available:
            self._warn(
                "Jenkins has no Pipeline Stage View plugin (pipeline-rest-api; wfapi answered "
                "404): stored build-level timing only, one job per build and no steps"
            )
        return available

    def _check_root(self) -> None:
        """After a 404: is this Jenkins at all? A wrong --url deserves its own message."""
        try:
            response = self._get("/api/json", {"tree": "_class"}, json_body=False)
        except NotFoundError:
            response = None
        data = _json_or_none(response.body) if response is not None else None
        if not isinstance(data, Mapping) or "_class" not in data:
            raise ProviderError(
                "Jenkins: no Jenkins API at this URL (/api/json answered "
                f"{'404' if response is None else 'without JSON'}); is --url (or JENKINS_URL) the "
                "Jenkins root URL, such as https://ci.example.com or https://example.com/jenkins?"
            )

    def _get_json(self, path: str, params: Mapping[str, str]) -> Mapping[str, Any]:
        response = self._get(path, params, json_body=False)
        data = _json_or_none(response.body)
        if not isinstance(data, Mapping):
            raise ProviderError(
                f"Jenkins: {response.url.split('?', 1)[0]} did not answer with JSON; is --url "
                "(or JENKINS_URL) the Jenkins root URL?"
            )
        return data

    def _get(
        self, path: str, params: Mapping[str, str] | None = None, *, json_body: bool = True
    ) -> Response:
        try:
            return self.http.get(path, params, json_body=json_body)
        except AuthError as exc:
            if "HTTP 401" in str(exc):
                raise AuthError(
                    "Jenkins rejected the credentials (HTTP 401); set JENKINS_USER to the user "
                    "and JENKINS_TOKEN to one of its API tokens"
                ) from None
            who = (
                "the user"
                if self.authenticated
                else "anonymous access (no JENKINS_USER/JENKINS_TOKEN set)"
            )
            raise AuthError(
                f"Jenkins rejected the credentials (HTTP 403): {who} lacks Overall/Read or "
                f"Job/Read on {self.requested}"
            ) from None

    def _warn(self, message: str) -> None:
        with self._lock:
            if message in self._warned:
                return
            self._warned.add(message)
        self.result.warnings.append(message)


def _running(build: Mapping[str, Any]) -> bool:
    return bool(build.get("building") or build.get("inProgress")) or build.get("result") is None


def _prefix_cursor(in_scope: Sequence[int], done: set[int], floor: int) -> int:
    """The highest listed build number up to which every listed build is stored finished."""
    cursor = floor
    for number in in_scope:
        if number not in done:
            break
        cursor = number
    return cursor


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None
