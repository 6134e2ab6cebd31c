"""Real headless Chromium (Debian's) driving the real app on pytest-django's live_server.

Pages log in with a session cookie made by Django's test client. When a test
fails, every page it opened leaves a screenshot and its console log under
$SCARP_TEST_ARTIFACTS (default ./test-artifacts).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

# Playwright's sync API keeps an event loop in this thread; Django's ORM would
# otherwise refuse to run in the test body beside it.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402

CHROMIUM = os.environ.get("SCARP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--headless",
]
ARTIFACTS = Path(os.environ.get("SCARP_TEST_ARTIFACTS", "test-artifacts"))


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture
def open_page(browser, live_server, request) -> Iterator[Callable[..., Page]]:
    """open_page(user, path) -> a Page logged in as user; page.errors lists its script errors."""
    opened: list[tuple[str, Page, list[str]]] = []

    def open_(user, path: str) -> Page:
        client = Client()
        client.force_login(user)
        context = browser.new_context(
            base_url=live_server.url, viewport={"width": 1280, "height": 820}
        )
        context.add_cookies(
            [
                {
                    "name": settings.SESSION_COOKIE_NAME,
                    "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                    "url": live_server.url,
                }
            ]
        )
        page = context.new_page()
        log: list[str] = []
        page.errors = []
        page.on("console", lambda m: log.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: (page.errors.append(str(e)), log.append(f"error: {e}")))
        opened.append((user.username, page, log))
        page.goto(path)
        return page

    yield open_
    report = getattr(request.node, "report_call", None)
    for index, (username, page, log) in enumerate(opened):
        if report is not None and report.failed:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            stem = ARTIFACTS / f"{request.node.name}-{index}-{username}"
            try:
                page.screenshot(path=f"{stem}.png", full_page=True)
            except Exception as exc:  # noqa: BLE001 - a broken page must not hide the failure
                log.append(f"screenshot failed: {exc}")
            Path(f"{stem}.log").write_text("\n".join(log))
        page.context.close()
