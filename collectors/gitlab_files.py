"""Pipeline files of a GitLab project at a commit: ``.gitlab-ci.yml`` and its local includes.

Each (path, sha) is fetched once (``repository/files/:path/raw?ref=sha``) and stored as a
PipelineFile, so rules and migrate see ``script:``. ``include: local`` files are followed
(nested, up to 50 files per commit); wildcard includes (``ci/*.yml``, ``ci/**.yml``) are
expanded from the repository tree, which GitLab paginates by keyset. Remote, template, project
and component includes are not fetched. Thread-safe: workers resolving the same commit wait
for one another instead of fetching twice.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from ci_profile.collectors.http import HttpClient
from ci_profile.core.errors import (
    BudgetExhaustedError,
    NotFoundError,
    PipelineFileError,
    ProviderError,
)
from ci_profile.core.gitlab_ci import GitLabCI, glob_match, parse_gitlab_ci, parse_includes
from ci_profile.core.records import PipelineFile
from ci_profile.core.shared_store import CollectionStore

PROVIDER = "gitlab"
MAX_FILES = 50
MAX_TREE_PAGES = 50


@dataclass(frozen=True, slots=True)
class ConfigInfo:
    """A pipeline's configuration as far as it could be read."""

    ci: GitLabCI | None
    complete: bool  # every include was local and found

    @property
    def may_trigger(self) -> bool:
        """Whether the pipeline can have bridges (trigger jobs) worth asking for."""
        return self.ci is None or not self.complete or self.ci.has_triggers

    def trigger_paths(self, job_name: str) -> tuple[str, ...]:
        job = self.ci.jobs.get(job_name) if self.ci is not None else None
        return job.trigger_include if job is not None else ()


class ConfigFiles:
    def __init__(self, http: HttpClient, store: CollectionStore, project: str, base: str) -> None:
        self.http = http
        self.store = store
        self.project = project
        self.base = base
        self.warnings: list[str] = []
        self._known = store.known_pipeline_files(PROVIDER, project)
        self._texts: dict[tuple[str, str], str | None] = {}
        self._configs: dict[tuple[str, str], ConfigInfo] = {}
        self._pending: list[PipelineFile] = []
        self._lock = threading.RLock()

    def drain(self) -> list[PipelineFile]:
        """The files fetched since the last call (to be written with the runs using them)."""
        with self._lock:
            files, self._pending = self._pending, []
            return files

    def config(self, path: str, sha: str) -> ConfigInfo:
        with self._lock:
            cached = self._configs.get((path, sha))
            if cached is not None:
                return cached
            info = self._resolve(path, sha)
            self._configs[(path, sha)] = info
            return info

    # -- internals -------------------------------------------------------------------------

    def _resolve(self, path: str, sha: str) -> ConfigInfo:
        root = self._text(path, sha)
        if root is None:
            return ConfigInfo(None, False)
        contents: dict[str, str | None] = {}
        complete = True
        queue = [(path, root)]
        while queue:
            current, text = queue.pop(0)
            try:
                includes = parse_includes(text, current)
            except PipelineFileError:
                complete = False
                continue
            for include in includes:
                if not include.is_local or "$" in include.location:
                    complete = False
                    continue
                targets = (
                    self._glob(include.location, sha)
                    if "*" in include.location
                    else [include.location]
                )
                for target in targets:
                    if target in contents or target == path:
                        continue
                    if len(contents) >= MAX_FILES:
                        complete = False
                        break
                    content = self._text(target, sha)
                    contents[target] = content
                    if content is None:
                        complete = False
                    else:
                        queue.append((target, content))
        try:
            return ConfigInfo(parse_gitlab_ci(root, path, includes=contents), complete)
        except PipelineFileError as exc:
            self._warn(f"{path}@{sha[:8]} could not be read: {exc}")
            return ConfigInfo(None, False)

    def _text(self, path: str, sha: str) -> str | None:
        key = (path, sha)
        if key in self._texts:
            return self._texts[key]
        if key in self._known:
            text = self.store.pipeline_file(PROVIDER, self.project, path, sha)
        else:
            text = self._fetch(path, sha)
            self._pending.append(PipelineFile(PROVIDER, self.project, path, sha, text))
            self._known.add(key)
        self._texts[key] = text
        return text

    def _fetch(self, path: str, sha: str) -> str | None:
        url = f"{self.base}/repository/files/{quote(path, safe='')}/raw?ref={quote(sha)}"
        try:
            response = self.http.get(url, json_body=False)
        except NotFoundError:
            return None
        except BudgetExhaustedError:
            # Not a missing file: recorded as missing (None), it would never be fetched again.
            # The pipeline using it is left uncommitted and fetched whole by the next collection.
            raise
        except ProviderError as exc:
            self._warn(f"could not fetch {path}@{sha[:8]}: {exc}")
            return None
        return response.body.decode("utf-8", errors="replace")

    def _glob(self, pattern: str, sha: str) -> list[str]:
        head = pattern.split("*", 1)[0]
        directory = head.rsplit("/", 1)[0] if "/" in head else ""
        params = {"ref": sha, "recursive": "true", "per_page": "100", "pagination": "keyset"}
        if directory:
            params["path"] = directory
        url: str | None = f"{self.base}/repository/tree?{urlencode(params)}"
        found: list[str] = []
        for _ in range(MAX_TREE_PAGES):
            if url is None:
                break
            try:
                response = self.http.get(url)
            except BudgetExhaustedError:
                raise  # a listing cut short would silently drop the includes it did not reach
            except ProviderError:
                break
            for entry in response.data or []:
                if (
                    isinstance(entry, dict)
                    and entry.get("type") == "blob"
                    and isinstance(entry.get("path"), str)
                    and glob_match(pattern, entry["path"])
                ):
                    found.append(entry["path"])
            url = response.links.get("next")
        return sorted(found)

    def _warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)
