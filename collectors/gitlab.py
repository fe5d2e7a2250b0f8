"""GitLab CI: fetch pipelines (and their child pipelines), jobs (retried ones too), job logs and
``.gitlab-ci.yml`` files; normalize them into runs, jobs and section steps.

Provider facts relied on (GitLab REST v4; see the README's "Collecting from GitLab CI"):
the pipeline list is slim, so each pipeline's timings come from its own detail request; the list
is offset-paginated only (keyset answers 405), so it is walked by *seeking*: ordered by
``updated_at`` ascending, each page asks for ``updated_after`` = the last ``updated_at`` seen,
which never goes deep into offsets (no 10,000-record or max-offset limit applies, and a pipeline
updated during the walk cannot shift another out of view). Per-pipeline job and bridge lists
follow ``x-next-page`` (and ``Link: rel="next"`` / a full page when the headers are missing;
``x-total`` is never needed, as GitLab drops it past 10,000 records). Child pipelines are not in
the project list: they are found through the parent's bridges. Queue time is the job's
``queued_duration`` (time in ``pending``, not waiting for earlier stages).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from ci_profile.collectors.common import CollectResult, Progress
from ci_profile.collectors.gitlab_files import ConfigFiles
from ci_profile.collectors.gitlab_http import (
    MAX_PAGES,
    GitLabHttp,
    has_more,
    make_client,
    make_http,
    offset_pages,
)
from ci_profile.collectors.gitlab_records import (
    ACTIVE,
    BLOCKED,
    PROVIDER,
    needs_trace,
    normalize_job,
    normalize_pipeline,
    steps_from_sections,
)
from ci_profile.collectors.gitlab_sections import SectionParser
from ci_profile.collectors.http import _redact
from ci_profile.core.errors import AuthError, NotFoundError, ProviderError, UsageError
from ci_profile.core.records import Batch, Job, Run, Step
from ci_profile.core.shared_store import CollectionStore
from ci_profile.core.times import parse_iso

__all__ = ["PROVIDER", "GitLabCollectResult", "GitLabCollector", "make_client", "make_http"]

PER_PAGE = 100
DEFAULT_SINCE = timedelta(days=30)
# Commit order is not updated_at order: re-list this much before the watermark (cheap: the
# pipelines seen again are unchanged and skipped).
OVERLAP = timedelta(minutes=5)
# Unfinished pipelines stored by an earlier collection are revisited by id for this long.
REVISIT = timedelta(days=3)
MAX_CHILD_DEPTH = 5

FINISHED = frozenset({"success", "failed", "canceled", "skipped"})


@dataclass
class GitLabCollectResult(CollectResult):
    traces: int = 0
    trace_bytes: int = 0
    child_pipelines: int = 0


@dataclass(frozen=True, slots=True)
class _StoredRun:
    status: str | None
    updated_at: datetime | None
    created_at: datetime | None
    parent_run_id: str | None
    pipeline: str | None
    pipeline_path: str | None


@dataclass(frozen=True, slots=True)
class _Window:
    start: datetime
    end: datetime | None


@dataclass
class _Context:
    """What a pipeline inherits from where it was found."""

    parent_run_id: str | None = None
    trigger_job: str | None = None
    parent_sha: str | None = None
    parent_path: str | None = None
    stored: _StoredRun | None = None
    depth: int = 0


@dataclass
class _Work:
    batch: Batch = field(default_factory=Batch)
    warnings: list[str] = field(default_factory=list)
    traces: int = 0
    trace_bytes: int = 0
    children: int = 0

    def absorb(self, other: _Work) -> None:
        self.batch.extend(other.batch)
        self.warnings += other.warnings
        self.traces += other.traces
        self.trace_bytes += other.trace_bytes
        self.children += other.children


def iso_ms(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def check_project_path(project: str) -> str:
    parts = project.strip().strip("/").split("/")
    if len(parts) < 2 or not all(parts) or any(p.strip() != p for p in parts):
        raise UsageError(f"expected GROUP/PROJECT (e.g. group/sub/project), got {project!r}")
    return "/".join(parts)


class GitLabCollector:
    def __init__(
        self,
        http: GitLabHttp,
        store: CollectionStore,
        project: str,
        *,
        concurrency: int = 4,
        per_page: int = PER_PAGE,
        progress: Progress | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.http = http
        self.store = store
        self.project = check_project_path(project)
        self.concurrency = max(1, concurrency)
        self.per_page = max(1, min(per_page, PER_PAGE))
        self.progress = progress
        self.now = now
        self.result = GitLabCollectResult(project=self.project)
        self._project_id = ""
        self._config_path = ".gitlab-ci.yml"
        self._runs: dict[str, _StoredRun] = {}
        self._jobs: dict[str, tuple[str | None, datetime | None]] = {}
        self._done: dict[str, datetime | None] = {}
        self._listed: set[tuple[object, object]] = set()
        self._files: ConfigFiles | None = None

    @property
    def _base(self) -> str:
        return f"/projects/{self._project_id}"

    # -- the run ---------------------------------------------------------------------------

    def collect(self, since: datetime | None, until: datetime | None) -> GitLabCollectResult:
        start = since or self.now() - DEFAULT_SINCE
        try:
            self._lookup_project()
            self._load_state()
            if until is None:
                self._revisit()
            for window, backfill in self._windows(start, until):
                self._list(window, advance=until is None and not backfill)
            if until is None:
                self._finish_cursors(start)
        finally:
            self._fill_stats()
        return self.result

    def _lookup_project(self) -> None:
        url = f"/projects/{quote(self.project, safe='')}"
        try:
            response = self.http.get(url, json_body=False)
        except NotFoundError:
            raise NotFoundError(
                f"GitLab: project {self.project} not found, or the token cannot see it"
            ) from None
        try:
            data = json.loads(response.body)
        except ValueError:
            data = None
        if not isinstance(data, Mapping) or "id" not in data:
            kind = response.headers.get("content-type", "no content type").split(";")[0]
            raise ProviderError(
                f"GitLab: {_redact(response.url)} answered {kind}, not a GitLab project; "
                "check --url / GITLAB_URL"
            )
        self._project_id = str(data["id"])
        canonical = data.get("path_with_namespace")
        if isinstance(canonical, str) and canonical.lower() == self.project.lower():
            self.project = canonical
            self.result.project = canonical
        path = data.get("ci_config_path")
        if isinstance(path, str) and path and "@" not in path and "://" not in path:
            self._config_path = path.lstrip("/")
        self._files = ConfigFiles(self.http, self.store, self.project, self._base)

    def _load_state(self) -> None:
        self._runs = {
            r.run_id: _StoredRun(
                r.status, r.updated_at, r.created_at, r.parent_run_id, r.pipeline, r.pipeline_path
            )
            for r in self.store.stored_runs(PROVIDER, self.project)
        }
        self._jobs = self.store.stored_jobs(PROVIDER, self.project)

    def _windows(self, start: datetime, until: datetime | None) -> list[tuple[_Window, bool]]:
        if until is not None:
            return [(_Window(start, until), True)]
        listed_from = parse_iso(self.store.cursor(PROVIDER, self.project, "pipelines:from"))
        mark = parse_iso(self.store.cursor(PROVIDER, self.project, "pipelines:watermark"))
        if listed_from is None or mark is None or start >= mark:
            return [(_Window(start, None), False)]
        windows = [(_Window(max(start, mark - OVERLAP), None), False)]
        if start < listed_from:
            windows.append((_Window(start, listed_from), True))
        return windows

    def _finish_cursors(self, start: datetime) -> None:
        previous = parse_iso(self.store.cursor(PROVIDER, self.project, "pipelines:from"))
        listed_from = min(start, previous) if previous else start
        mark = self.store.cursor(PROVIDER, self.project, "pipelines:watermark")
        cursors = {(PROVIDER, self.project, "pipelines:from"): iso_ms(listed_from)}
        if mark is None:
            cursors[(PROVIDER, self.project, "pipelines:watermark")] = iso_ms(start)
        self.store.write(Batch(cursors=cursors))

    # -- listing ---------------------------------------------------------------------------

    def _list(self, window: _Window, *, advance: bool) -> None:
        after = window.start
        page = 1
        for _ in range(MAX_PAGES):
            params: dict[str, str] = {
                "updated_after": iso_ms(after),
                "order_by": "updated_at",
                "sort": "asc",
                "per_page": str(self.per_page),
            }
            if window.end is not None:
                params["updated_before"] = iso_ms(window.end)
            if page > 1:
                params["page"] = str(page)
            response = self.http.get(f"{self._base}/pipelines?{urlencode(params)}")
            items = [p for p in response.data or [] if isinstance(p, Mapping) and "id" in p]
            fresh = [p for p in items if (p["id"], p.get("updated_at")) not in self._listed]
            self._listed.update((p["id"], p.get("updated_at")) for p in fresh)
            self.result.runs_listed += len(fresh)
            if self.progress:
                self.progress.listed(len(fresh))
            self._process_page(items, advance=advance)
            if not has_more(response, len(items), self.per_page):
                return
            last = parse_iso(items[-1].get("updated_at")) if items else None
            if last is not None and last > after:
                after, page = last, 1  # seek: the next page starts where this one ended
            else:
                page += 1  # a page of pipelines all updated in the same millisecond

    def _process_page(self, items: Sequence[Mapping[str, Any]], *, advance: bool) -> None:
        todo = [p for p in items if self._needs_fetch(p)]
        work = self._run_all(
            [(str(p["id"]), _Context(stored=self._runs.get(str(p["id"])))) for p in todo]
        )
        if advance:
            marks = [m for m in (parse_iso(p.get("updated_at")) for p in items) if m is not None]
            if marks:
                work.batch.cursors[(PROVIDER, self.project, "pipelines:watermark")] = iso_ms(
                    max(marks)
                )
        self._commit(work)

    def _needs_fetch(self, item: Mapping[str, Any]) -> bool:
        if item.get("source") == "parent_pipeline":
            return False  # children are collected through their parent's bridges
        run_id = str(item["id"])
        updated = parse_iso(item.get("updated_at"))
        if run_id in self._done and self._done[run_id] == updated:
            return False
        stored = self._runs.get(run_id)
        if stored is None or stored.updated_at != updated:
            return True
        return stored.status in ACTIVE

    def _revisit(self) -> None:
        cutoff = self.now() - REVISIT
        due = [
            (run_id, _Context(parent_run_id=s.parent_run_id, stored=s))
            for run_id, s in sorted(self._runs.items())
            if s.status in ACTIVE | BLOCKED and (s.created_at is None or s.created_at >= cutoff)
        ]
        if due:
            self._commit(self._run_all(due, revisit=True))

    def _run_all(self, todo: Sequence[tuple[str, _Context]], *, revisit: bool = False) -> _Work:
        total = _Work()
        if not todo:
            return total
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            for work in pool.map(lambda item: self._pipeline(*item, revisit=revisit), todo):
                total.absorb(work)
        return total

    def _commit(self, work: _Work) -> None:
        assert self._files is not None
        work.batch.pipeline_files.extend(self._files.drain())
        self.store.write(work.batch)
        for run in work.batch.runs:
            self._runs[run.run_id] = _StoredRun(
                run.status, run.updated_at, run.created_at, run.parent_run_id,
                run.pipeline, run.pipeline_path,
            )  # fmt: skip
        for job in work.batch.jobs:
            self._jobs[job.job_id] = (job.status, job.finished_at)
        self.result.runs += len(work.batch.runs)
        self.result.jobs += len(work.batch.jobs)
        self.result.steps += len(work.batch.steps)
        self.result.pipeline_files += len(work.batch.pipeline_files)
        self.result.traces += work.traces
        self.result.trace_bytes += work.trace_bytes
        self.result.child_pipelines += work.children
        fetched = len(work.batch.runs) - work.children
        self.result.runs_fetched += fetched
        for warning in [*work.warnings, *self._files.warnings]:
            if warning not in self.result.warnings:
                self.result.warnings.append(warning)
        if self.progress and fetched:
            self.progress.fetched(fetched)

    # -- one pipeline ----------------------------------------------------------------------

    def _pipeline(self, run_id: str, ctx: _Context, *, revisit: bool = False) -> _Work:
        work = _Work()
        try:
            detail = self.http.get(f"{self._base}/pipelines/{run_id}").data
        except NotFoundError:
            return work  # deleted since it was listed
        if not isinstance(detail, Mapping) or "id" not in detail:
            return work
        updated = parse_iso(detail.get("updated_at"))
        stored = ctx.stored
        if (
            revisit
            and stored is not None
            and stored.updated_at == updated
            and detail.get("status") not in ACTIVE
        ):
            return work
        self._done[run_id] = updated
        assert self._files is not None
        sha = detail.get("sha") if isinstance(detail.get("sha"), str) else None
        path, fallback = self._config_of(ctx, sha)
        config = self._files.config(path, sha) if path and sha else None
        parent = ctx.parent_run_id
        run = normalize_pipeline(
            self.project, detail, pipeline_path=path, parent_run_id=parent, fallback_name=fallback
        )
        work.batch.runs.append(run)
        jobs = list(self._pages(f"{self._base}/pipelines/{run_id}/jobs", include_retried="true"))
        for raw in jobs:
            if "id" not in raw:
                continue
            job = normalize_job(self.project, run_id, raw)
            known = self._jobs.get(job.job_id)
            if (
                known is not None
                and known == (job.status, job.finished_at)
                and job.status in FINISHED
            ):
                continue  # stored complete with its steps; rewriting would only repeat it
            work.batch.jobs.append(job)
            if needs_trace(raw):
                work.batch.steps.extend(self._trace(job, work))
        if config is None or config.may_trigger:
            for bridge in self._pages(f"{self._base}/pipelines/{run_id}/bridges"):
                self._downstream(bridge, run, path, ctx, work)
        return work

    def _config_of(self, ctx: _Context, sha: str | None) -> tuple[str | None, str | None]:
        """(pipeline_path, fallback name) of a pipeline."""
        if ctx.stored is not None and ctx.parent_run_id is not None and ctx.trigger_job is None:
            return ctx.stored.pipeline_path, ctx.stored.pipeline
        if ctx.trigger_job is None:
            return self._config_path, None
        assert self._files is not None
        parent = (
            self._files.config(ctx.parent_path, ctx.parent_sha)
            if ctx.parent_path and ctx.parent_sha
            else None
        )
        trigger = parent.trigger_paths(ctx.trigger_job) if parent is not None else ()
        return (trigger[0] if trigger else None), f"child of {ctx.trigger_job}"

    def _downstream(
        self, bridge: Mapping[str, Any], run: Run, path: str | None, ctx: _Context, work: _Work
    ) -> None:
        child = bridge.get("downstream_pipeline")
        if not isinstance(child, Mapping) or "id" not in child:
            return
        if str(child.get("project_id", self._project_id)) != self._project_id:
            work.warnings.append(
                "downstream pipelines in other projects are not collected here; "
                "collect those projects themselves"
            )
            return
        child_id = str(child["id"])
        stored = self._runs.get(child_id)
        updated = parse_iso(child.get("updated_at"))
        if child_id in self._done and self._done[child_id] == updated:
            return
        if (
            stored is not None
            and stored.updated_at == updated
            and stored.status in FINISHED
            and updated is not None
        ):
            return
        if ctx.depth >= MAX_CHILD_DEPTH:
            work.warnings.append(f"child pipelines nested deeper than {MAX_CHILD_DEPTH} skipped")
            return
        nested = self._pipeline(
            child_id,
            _Context(
                parent_run_id=run.run_id,
                trigger_job=str(bridge.get("name") or ""),
                parent_sha=run.sha,
                parent_path=path,
                stored=stored,
                depth=ctx.depth + 1,
            ),
        )
        work.children += 1 if nested.batch.runs else 0
        work.absorb(nested)

    def _trace(self, job: Job, work: _Work) -> list[Step]:
        parser = [SectionParser()]
        try:
            outcome = self.http.stream(
                f"{self._base}/jobs/{job.job_id}/trace",
                sink=lambda chunk: parser[0].feed(chunk),
                restart=lambda: parser.__setitem__(0, SectionParser()),
            )
        except AuthError:
            work.warnings.append(
                "the token may not read job logs (needs read_api and Reporter access); "
                "those jobs have job-level timing only"
            )
            return []
        if outcome is None:
            return []  # no log (erased, or never written)
        if outcome == "truncated":
            work.warnings.append(
                "a job log ended early after retries; its open sections are recorded as NULL"
            )
        work.traces += 1
        work.trace_bytes += parser[0].bytes_read
        return steps_from_sections(self.project, job.job_id, parser[0].close())

    def _pages(self, url: str, **params: str) -> Iterator[Mapping[str, Any]]:
        try:
            yield from offset_pages(self.http, url, params, self.per_page)
        except NotFoundError:
            return  # the pipeline was deleted meanwhile

    def _fill_stats(self) -> None:
        stats = self.http.stats
        self.result.requests = stats.requests
        self.result.not_modified = stats.not_modified
        self.result.retries = stats.retries
        self.result.rate_remaining = stats.rate.remaining
        self.result.rate_limit = stats.rate.limit
