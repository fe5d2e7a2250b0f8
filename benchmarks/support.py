"""What the API-cost benchmarks share: the test suite's fake servers, timing, the machine's load."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

# The fake servers and payload builders live with the tests (not a package): put this on sys.path.
TESTS = Path(__file__).resolve().parent.parent / "tests"


def timed(work: Callable[[], object]) -> float:
    """Seconds of wall time ``work`` took."""
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def load_average() -> str:
    """The 1-minute load average: wall times on the shared 2-core machine depend on it."""
    return f"{os.getloadavg()[0]:.2f}"
