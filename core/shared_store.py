"""Sharing one database between processes: what collectors need of a store, and a store that
holds the file only while it reads or writes (so a dashboard or ``analyze`` can read between a
collection's batches)."""

from __future__ import annotations

import fcntl
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Protocol

from ci_profile.core.errors import StoreLockedError
from ci_profile.core.records import Batch
from ci_profile.core.store import Store, StoredRun, open_when_free


class CollectionStore(Protocol):
    """What a collector needs from the store."""

    def write(self, batch: Batch) -> None: ...

    def cursor(self, provider: str, project: str, scope: str) -> str | None: ...

    def etag(self, request_key: str) -> tuple[str, str | None] | None: ...

    def finished_runs(
        self, provider: str, project: str
    ) -> dict[str, tuple[int, datetime | None]]: ...

    def known_pipeline_files(self, provider: str, project: str) -> set[tuple[str, str]]: ...

    def unfetched_pipeline_files(self, provider: str, project: str) -> list[tuple[str, str]]: ...

    def stored_runs(self, provider: str, project: str) -> list[StoredRun]: ...

    def stored_jobs(
        self, provider: str, project: str
    ) -> dict[str, tuple[str | None, datetime | None]]: ...

    def pipeline_file(self, provider: str, project: str, path: str, sha: str) -> str | None: ...


class SharedStore:
    """A store that holds the database file only while it reads or writes.

    DuckDB lets one process write a file, and while it has the file open no other process can
    open it at all. A long collection through this class opens the file for each read and each
    batch, so the dashboard or ``analyze`` can read between batches; when a reader holds the
    file, it waits (up to ``lock_timeout_s``) instead of failing.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        lock_timeout_s: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = str(path)
        self.lock_timeout_s = lock_timeout_s
        self._sleep = sleep
        self._clock = clock
        # One writer: collections of several projects in this process take turns.
        self._turn = threading.RLock()
        with self._session():
            pass  # create or migrate now, so a bad file fails before any network work

    @contextmanager
    def _session(self) -> Iterator[Store]:
        with self._turn:
            store = open_when_free(
                self.path, timeout_s=self.lock_timeout_s, sleep=self._sleep, clock=self._clock
            )
            try:
                yield store
            finally:
                store.close()

    @contextmanager
    def claim(self, provider: str, project: str) -> Iterator[None]:
        """Hold the right to collect ``project`` into this database, or fail at once.

        Two processes collecting the same project into one database would fetch everything
        twice; collecting different projects side by side is fine. The claim is an advisory
        lock on one byte (chosen by the project) of ``<db>.lock``, which the kernel drops when
        the process ends however it ends, so a killed collection never leaves a stale claim.
        """
        offset = zlib.crc32(f"{provider}\0{project.lower()}".encode())
        with open(f"{self.path}.lock", "a+b") as handle:
            try:
                fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, offset)
            except OSError:
                raise StoreLockedError(
                    f"{provider} {project} is already being collected into {self.path} by "
                    "another ci-profile process; wait for it to finish"
                ) from None
            try:
                yield
            finally:
                fcntl.lockf(handle, fcntl.LOCK_UN, 1, offset)

    def write(self, batch: Batch) -> None:
        with self._session() as store:
            store.write(batch)

    def cursor(self, provider: str, project: str, scope: str) -> str | None:
        with self._session() as store:
            return store.cursor(provider, project, scope)

    def etag(self, request_key: str) -> tuple[str, str | None] | None:
        with self._session() as store:
            return store.etag(request_key)

    def finished_runs(self, provider: str, project: str) -> dict[str, tuple[int, datetime | None]]:
        with self._session() as store:
            return store.finished_runs(provider, project)

    def known_pipeline_files(self, provider: str, project: str) -> set[tuple[str, str]]:
        with self._session() as store:
            return store.known_pipeline_files(provider, project)

    def unfetched_pipeline_files(self, provider: str, project: str) -> list[tuple[str, str]]:
        with self._session() as store:
            return store.unfetched_pipeline_files(provider, project)

    def stored_runs(self, provider: str, project: str) -> list[StoredRun]:
        with self._session() as store:
            return store.stored_runs(provider, project)

    def stored_jobs(
        self, provider: str, project: str
    ) -> dict[str, tuple[str | None, datetime | None]]:
        with self._session() as store:
            return store.stored_jobs(provider, project)

    def pipeline_file(self, provider: str, project: str, path: str, sha: str) -> str | None:
        with self._session() as store:
            return store.pipeline_file(provider, project, path, sha)
