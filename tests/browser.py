"""What the browser tests share: Debian's Chromium through Playwright, and tabs that record what went wrong."""
import contextlib
import os
from collections.abc import Iterator

import pytest

from tests.live_server import live_server
from tests.services import require

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@contextlib.contextmanager
def chromium() -> Iterator:
    """Debian's Chromium, never a downloaded one; skipped here, failed in CI, when it or Playwright is missing."""
    require(os.access(CHROMIUM, os.X_OK), f"Chromium at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "Playwright (pip install playwright)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextlib.contextmanager
def watched_page(browser, base_url: str, **context_options) -> Iterator:
    """A fresh tab in its own context; broken resources and console errors collect in `page.problems`."""
    context = browser.new_context(base_url=base_url, **context_options)
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.problems = []

    def on_console(message):
        # Chromium asks for /favicon.ico on its own; the app has none, which nobody notices.
        if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
            page.problems.append(f"console: {message.text} ({message.location.get('url')})")

    page.on("response", lambda r: r.status >= 400 and page.problems.append(f"{r.status} {r.url}"))
    page.on("console", on_console)
    try:
        yield page
    finally:
        context.close()


PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3, "is_mobile": True, "has_touch": True}


@pytest.fixture(scope="module")
def browser():
    """One Chromium per test module."""
    with chromium() as browser:
        yield browser


@pytest.fixture
def base_url(app):
    """The session's app served on a free localhost port for this test."""
    with live_server(app) as url:
        yield url


@pytest.fixture
def phone(browser, base_url):
    """A phone-sized touch tab whose browser speaks English: a page's language must come from the member."""
    with watched_page(browser, base_url, locale="en-US", **PHONE) as page:
        yield page
