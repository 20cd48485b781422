import shutil

import pytest

from tests.system import require

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="package")
def browser():
    """Debian's Chromium driven by Playwright (no browser download). Closed after the browser
    tests: Playwright's sync API keeps an event loop running in the main thread while it lives,
    which would break every later test that calls asyncio.run."""
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    require(executable is not None, "chromium")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser, stack):
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="vi-VN")  # a phone
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()
