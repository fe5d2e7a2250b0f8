"""GitHub Actions: fetch workflow runs, their jobs (every attempt) and workflow files.

The payloads become records in ``collectors.github_records``.

Provider facts this relies on are in the README's "How collection works" (pagination, the
1,000-result cap on filtered run lists, where queue time lives, mixed time zone offsets).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from ci_profile.collectors.common import CollectResult, Progress
from ci_profile.collectors.github_records import (
    PROVIDER,
    decode_contents,
    records_for_run,
    workflow_path,
)
from ci_profile.collectors.http import HttpClient, RetryPolicy, WaitHook
from ci_profile.collectors.pacing import Pacer
from ci_profile.core.config import Secret
from ci_profile.core.errors import BudgetExhaustedError, NotFoundError, ProviderError, UsageError
from ci_profile.core.records import Batch, PipelineFile
from ci_profile.core.shared_store import CollectionStore
from ci_profile.core.times import iso_z, parse_iso

PER_PAGE = 100
# Filtered run lists return at most this many results (GitHub's REST reference).
SEARCH_CAP = 1000
BATCH_RUNS = 50
DEFAULT_SINCE = timedelta(days=30)


def make_client(
    api_url: str,
    token: Secret | None,
    *,
    transport: httpx.BaseTransport | None = None,
    timeout_s: float = 30.0,
) -> httpx.Client:
    headers = {
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
        "User-Agent": "ci-profile",
    }
    if token is not None:
        headers["Authorization"] = f"Bearer {token.reveal()}"
    return httpx.Client(
        base_url=api_url,
        headers=headers,
        timeout=timeout_s,
        transport=transport,
        follow_redirects=True,
    )


def make_http(
    client: httpx.Client,
    *,
    concurrency: int = 4,
    max_requests: int | None = None,
    on_wait: WaitHook | None = None,
    policy: RetryPolicy | None = None,
    sleep: Callable[[float], None] | None = None,
    pacer: Pacer | None = None,
) -> HttpClient:
    """The GitHub client, paced per endpoint (by default to GitHub's 900 points a minute)."""
    return HttpClient(
        client,
        provider="GitHub",
        policy=policy,
        concurrency=concurrency,
        max_requests=max_requests,
        on_wait=on_wait,
        sleep=sleep or time.sleep,
        pacer=pacer or Pacer(sleep=sleep or time.sleep, on_wait=on_wait),
    )


# -- normalizers (shared with the sample-data loader) ----------------------------------------


# -- collection ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """A created_at range; ``end`` None means open-ended (up to now)."""

    start: datetime
    end: datetime | None

    def query(self) -> str:
        if self.end is None:
            return f">={iso_z(self.start)}"
        return f"{iso_z(self.start)}..{iso_z(self.end)}"

    def split(self, now: datetime) -> tuple[Window, Window] | None:
        end = self.end or now
        if (end - self.start).total_seconds() < 2:
            return None
        middle = self.start + (end - self.start) / 2
        middle = middle.replace(microsecond=0)
        return Window(self.start, middle), Window(middle + timedelta(seconds=1), self.end)


class Unfetched:
    """A workflow file the request budget ran out before (see ``GitHubCollector._file_at``)."""


UNFETCHED = Unfetched()


class GitHubCollector:
    def __init__(
        self,
        http: HttpClient,
        store: CollectionStore,
        project: str,
        *,
        workflow: str | None = None,
        concurrency: int = 4,
        progress: Progress | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if project.count("/") != 1 or not all(project.split("/")):
            raise UsageError(f"expected OWNER/REPO, got {project!r}")
        self.http = http
        self.store = store
        self.project = project
        self.workflow = workflow
        self.concurrency = max(1, concurrency)
        self.progress = progress
        self.now = now
        self.result = CollectResult(project=project)
        self._scope = f"runs:{workflow}" if workflow else "runs"
        self._finished = store.finished_runs(PROVIDER, project)
        self._known_files = store.known_pipeline_files(PROVIDER, project)
        self._spent: BudgetExhaustedError | None = None

    @property
    def _runs_path(self) -> str:
        owner, repo = self.project.split("/")
        base = f"/repos/{quote(owner)}/{quote(repo)}/actions"
        if self.workflow:
            return f"{base}/workflows/{quote(self.workflow, safe='')}/runs"
        return f"{base}/runs"

    def collect(self, since: datetime | None, until: datetime | None) -> CollectResult:
        start = since or self.now() - DEFAULT_SINCE
        if self.workflow is not None:
            self.workflow = self._workflow_key(self.workflow)
        windows = self._windows(start, until)
        oldest_unfinished: datetime | None = None
        newest: datetime | None = None
        try:
            self._fetch_unfetched_files()
            for window in windows:
                for run in self._list(window):
                    created = parse_iso(run.get("created_at"))
                    if created is not None:
                        newest = created if newest is None else max(newest, created)
                        if run.get("status") != "completed":
                            oldest_unfinished = (
                                created
                                if oldest_unfinished is None
                                else min(oldest_unfinished, created)
                            )
            if until is None:
                self._advance_cursors(start, oldest_unfinished, newest)
        finally:
            self._fill_stats()
        return self.result

    def _windows(self, start: datetime, until: datetime | None) -> list[Window]:
        if until is not None:
            return [Window(start, until)]
        listed_from = parse_iso(self.store.cursor(PROVIDER, self.project, f"{self._scope}:from"))
        watermark = parse_iso(self.store.cursor(PROVIDER, self.project, f"{self._scope}:watermark"))
        if listed_from is None or watermark is None or start >= watermark:
            return [Window(start, None)]
        windows = [Window(max(start, watermark), None)]
        if start < listed_from:
            windows.append(Window(start, listed_from - timedelta(seconds=1)))
        return windows

    def _advance_cursors(
        self, start: datetime, oldest_unfinished: datetime | None, newest: datetime | None
    ) -> None:
        previous_from = parse_iso(self.store.cursor(PROVIDER, self.project, f"{self._scope}:from"))
        previous_mark = parse_iso(
            self.store.cursor(PROVIDER, self.project, f"{self._scope}:watermark")
        )
        mark = oldest_unfinished or newest or previous_mark or start
        listed_from = min(start, previous_from) if previous_from else start
        batch = Batch(
            cursors={
                (PROVIDER, self.project, f"{self._scope}:from"): iso_z(listed_from),
                (PROVIDER, self.project, f"{self._scope}:watermark"): iso_z(mark),
            }
        )
        self.store.write(batch)

    def _workflow_key(self, workflow: str) -> str:
        """A workflow file name or id is used as given; a display name is looked up."""
        if workflow.isdigit() or workflow.endswith((".yml", ".yaml")):
            return workflow.rsplit("/", 1)[-1]
        owner, repo = self.project.split("/")
        url: str | None = f"/repos/{quote(owner)}/{quote(repo)}/actions/workflows?per_page=100"
        while url is not None:
            response = self._get_list(url, None)
            data = response.data if isinstance(response.data, Mapping) else {}
            for item in data.get("workflows") or []:
                if isinstance(item, Mapping) and item.get("name") == workflow and "id" in item:
                    return str(item["id"])
            url = response.links.get("next")
        raise NotFoundError(f"GitHub: {self.project} has no workflow named {workflow!r}")

    def _list(self, window: Window) -> Iterator[Mapping[str, Any]]:
        """Yield the runs created in ``window``, splitting it while it would hit the cap."""
        params = {"created": window.query(), "per_page": str(PER_PAGE)}
        if self.workflow is None:
            params["exclude_pull_requests"] = "true"
        url: str | None = f"{self._runs_path}?{urlencode(params)}"
        received = 0
        first = True
        while url is not None:
            cached = self.store.etag(url)
            response = self._get_list(url, cached[0] if cached else None)
            if response.not_modified:
                # Unchanged since the last collection, which stored everything on it.
                url = cached[1] if cached else None
                first = False
                continue
            data = response.data if isinstance(response.data, Mapping) else {}
            runs = [r for r in data.get("workflow_runs") or [] if isinstance(r, Mapping)]
            total = int(data.get("total_count") or 0)
            if first and total > SEARCH_CAP:
                halves = window.split(self.now())
                if halves is not None:
                    self.result.windows_split += 1
                    for half in halves:
                        yield from self._list(half)
                    return
                self.result.warnings.append(
                    f"more than {SEARCH_CAP} runs created within one second at "
                    f"{iso_z(window.start)}; some may be missing"
                )
            first = False
            received += len(runs)
            next_url = response.links.get("next")
            if next_url is not None and received >= SEARCH_CAP:
                self.result.warnings.append(
                    f"run list for {window.query()} reached GitHub's {SEARCH_CAP}-result cap"
                )
                next_url = None
            self.result.runs_listed += len(runs)
            if self.progress:
                self.progress.listed(len(runs))
            self._process_page(runs, etag_key=url, etag=response.etag, next_url=next_url)
            yield from runs
            url = next_url

    def _get_list(self, url: str, etag: str | None) -> Any:
        try:
            return self.http.get(url, etag=etag)
        except NotFoundError:
            raise NotFoundError(
                f"GitHub: repository {self.project}"
                + (f" or workflow {self.workflow}" if self.workflow else "")
                + " not found, or the token cannot see it"
            ) from None

    def _process_page(
        self,
        runs: Sequence[Mapping[str, Any]],
        *,
        etag_key: str,
        etag: str | None,
        next_url: str | None,
    ) -> None:
        todo = [run for run in runs if self._needs_fetch(run)]
        for start in range(0, len(todo), BATCH_RUNS):
            chunk = todo[start : start + BATCH_RUNS]
            batch = Batch()
            with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
                # Jobs and workflow files share the workers: fetched one after another, the
                # files of a busy repository (a new commit every few runs) would double the
                # wall time of a collection.
                # Jobs first in the queue: when a request budget runs out, it is spent on them.
                fetched = pool.map(self._jobs_of, chunk)
                wanted = self._wanted_files(chunk)
                contents = pool.map(lambda key: self._file_at(*key), wanted)
                for run, jobs in zip(chunk, fetched, strict=True):
                    batch.extend(records_for_run(self.project, run, jobs))
                batch.pipeline_files.extend(self._files(wanted, contents))
            if start + BATCH_RUNS >= len(todo) and etag:
                batch.etags[etag_key] = (etag, next_url)
            self._commit(batch)
            self._stop_if_spent()
            self.result.runs_fetched += len(chunk)
            if self.progress:
                self.progress.fetched(len(chunk))
        if not todo and etag:
            self._commit(Batch(etags={etag_key: (etag, next_url)}))

    def _needs_fetch(self, run: Mapping[str, Any]) -> bool:
        known = self._finished.get(str(run.get("id")))
        if known is None or run.get("status") != "completed":
            return True
        attempt, updated = known
        return attempt != int(run.get("run_attempt") or 1) or updated != parse_iso(
            run.get("updated_at")
        )

    def _jobs_of(self, run: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        owner, repo = self.project.split("/")
        url: str | None = (
            f"/repos/{quote(owner)}/{quote(repo)}/actions/runs/{run['id']}/jobs"
            f"?filter=all&per_page={PER_PAGE}"
        )
        jobs: list[Mapping[str, Any]] = []
        while url is not None:
            try:
                response = self.http.get(url)
            except NotFoundError:
                return jobs  # the run was deleted between listing and fetching
            data = response.data if isinstance(response.data, Mapping) else {}
            jobs.extend(j for j in data.get("jobs") or [] if isinstance(j, Mapping) and "id" in j)
            url = response.links.get("next")
        return jobs

    def _wanted_files(self, runs: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
        """The (workflow file, commit) pairs of ``runs`` not stored yet, each once."""
        wanted: dict[tuple[str, str], None] = {}
        for run in runs:
            path, sha = workflow_path(run.get("path")), run.get("head_sha")
            if (
                path
                and isinstance(sha, str)
                and path.startswith(".github/")
                and (path, sha) not in self._known_files
            ):
                wanted[(path, sha)] = None
        self._known_files.update(wanted)
        return list(wanted)

    def _fetch_unfetched_files(self) -> None:
        """The files of runs stored by a collection whose request budget ran out first."""
        wanted = [
            key
            for key in self.store.unfetched_pipeline_files(PROVIDER, self.project)
            if key[0].startswith(".github/") and key not in self._known_files
        ]
        for start in range(0, len(wanted), BATCH_RUNS):
            chunk = wanted[start : start + BATCH_RUNS]
            with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
                contents = list(pool.map(lambda key: self._file_at(*key), chunk))
            self._commit(Batch(pipeline_files=self._files(chunk, contents)))
            self._known_files.update(chunk)
            self._stop_if_spent()

    def _files(
        self, keys: Sequence[tuple[str, str]], contents: Iterable[str | Unfetched | None]
    ) -> list[PipelineFile]:
        return [
            PipelineFile(PROVIDER, self.project, path, sha, text)
            for (path, sha), text in zip(keys, contents, strict=True)
            if not isinstance(text, Unfetched)
        ]

    def _stop_if_spent(self) -> None:
        """After committing what was fetched: stop if a file fetch ran out of budget."""
        if self._spent is not None:
            raise self._spent

    def _file_at(self, path: str, sha: str) -> str | Unfetched | None:
        owner, repo = self.project.split("/")
        url = f"/repos/{quote(owner)}/{quote(repo)}/contents/{quote(path)}?ref={quote(sha)}"
        try:
            response = self.http.get(url)
        except BudgetExhaustedError as exc:
            # Not a missing file: it is left out of the batch (stored as missing, it would never
            # be fetched again), and the next collection fetches it first.
            self._spent = exc
            return UNFETCHED
        except (NotFoundError, ProviderError) as exc:
            if not isinstance(exc, NotFoundError):
                self.result.warnings.append(f"could not fetch {path}@{sha[:7]}: {exc}")
            return None
        return decode_contents(response.data)

    def _commit(self, batch: Batch) -> None:
        self.store.write(batch)
        self.result.runs += len({(r.run_id, r.attempt) for r in batch.runs})
        self.result.jobs += len(batch.jobs)
        self.result.steps += len(batch.steps)
        self.result.pipeline_files += len(batch.pipeline_files)
        for run in batch.runs:
            if run.status == "completed" and run.updated_at is not None:
                self._finished[run.run_id] = (run.attempt, run.updated_at)

    def _fill_stats(self) -> None:
        stats = self.http.stats
        self.result.requests = stats.requests
        self.result.not_modified = stats.not_modified
        self.result.retries = stats.retries
        self.result.rate_remaining = stats.rate.remaining
        self.result.rate_limit = stats.rate.limit
