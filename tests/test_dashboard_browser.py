"""`ci-profile dashboard` for real: the server on the sample data, every page in headless Chromium.

Uses Debian's chromium (``apt-get install chromium``) through playwright for Python, never a
browser that playwright downloads. Screenshots go to ``test-artifacts/dashboard/``. Without
chromium the browser test skips, unless ``CI_PROFILE_REQUIRE_BROWSER=1`` (set by ``.ci/run``),
where it fails instead.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from dashboard_support import REPO_ROOT, shared_sample_db

ARTIFACTS = Path(os.environ.get("CI_PROFILE_ARTIFACTS", REPO_ROOT / "test-artifacts")) / "dashboard"
REQUIRED = os.environ.get("CI_PROFILE_REQUIRE_BROWSER", "") not in ("", "0", "false")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
# Page title in the navigation -> (its heading, plotly charts it draws on the sample data).
PAGES = {
    "Overview": ("Where the CI time goes", 2),
    "Breakdown": ("Breakdown", 4),
    "Run timeline": ("Run timeline", 1),
    "Bottlenecks": ("Bottlenecks", 1),  # the Steps tab draws its chart when opened
    "Opportunities": ("Opportunities", 1),
    "Data": ("Data", 0),
}
READY = """() => document.querySelector('[data-testid="stApp"]')
        ?.getAttribute('data-test-script-state') === 'notRunning'
    && !document.querySelector('[data-testid="stSkeleton"]')
    && document.querySelectorAll('[data-testid="stPlotlyChart"]').length
       === document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot').length
    && !!document.querySelector('[data-testid="stMain"] h1')"""


def _chromium() -> str | None:
    return (
        os.environ.get("CI_PROFILE_CHROMIUM")
        or shutil.which("chromium")
        or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """`ci-profile dashboard` on the sample database; yields (url, what it printed)."""
    db = shared_sample_db(tmp_path_factory)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "CI_PROFILE_DB"}
    process = subprocess.Popen(
        [sys.executable, "-m", "ci_profile", "dashboard", "--db", str(db), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise AssertionError(
                    f"dashboard exited: {process.stdout.read() if process.stdout else ''}"
                )
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                    if answer.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("dashboard did not become healthy within 60 s")
            time.sleep(0.3)
        first_line = process.stdout.readline() if process.stdout else ""
        yield url, first_line
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        if process.stdout:
            process.stdout.close()


def test_dashboard_command_says_its_url(server: tuple[str, str]) -> None:
    url, printed = server
    assert printed.startswith("ci-profile dashboard on ") and printed.rstrip().endswith(
        f"{url}  (Ctrl-C to stop)"
    )


def test_dashboard_command_refuses_a_missing_database(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ci_profile", "dashboard", "--db", str(tmp_path / "none.duckdb")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 3 and "Traceback" not in result.stderr
    assert result.stderr.startswith("ci-profile: error: no database at ")
    assert "ci-profile demo --db" in result.stderr


def test_every_page_in_a_real_browser(server: tuple[str, str]) -> None:
    chromium = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None  # type: ignore[assignment]
    missing = (
        "chromium not found: install it with `apt-get install chromium` (Debian)"
        if chromium is None
        else "playwright not installed: pip install -e '.[test]'"
        if sync_playwright is None
        else None
    )
    if missing:
        if REQUIRED:
            pytest.fail(f"CI_PROFILE_REQUIRE_BROWSER is set, but {missing}")
        pytest.skip(missing)
    assert chromium is not None and sync_playwright is not None
    url, _ = server
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 2000})
            page.goto(url)
            for title, (heading, charts) in PAGES.items():
                nav = page.locator('[data-testid="stSidebarNav"] a', has_text=title)
                nav.first.click()
                page.locator('[data-testid="stMain"] h1', has_text=heading).wait_for(timeout=60_000)
                page.wait_for_function(READY, timeout=60_000)
                page.wait_for_timeout(300)
                page.wait_for_function(READY, timeout=60_000)
                slug = title.lower().replace(" ", "-")
                page.screenshot(path=str(ARTIFACTS / f"{slug}.png"))
                assert page.locator('[data-testid="stException"]').count() == 0, title
                drawn = page.locator('[data-testid="stPlotlyChart"] .js-plotly-plot')
                assert drawn.count() >= charts, (title, drawn.count())
                for index in range(drawn.count()):
                    assert drawn.nth(index).locator(".main-svg").count() > 0, (title, index)
        finally:
            browser.close()
    assert sorted(p.name for p in ARTIFACTS.glob("*.png")) >= sorted(
        f"{t.lower().replace(' ', '-')}.png" for t in PAGES
    )
