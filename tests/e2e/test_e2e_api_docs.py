"""End to end: /api/docs in a real headless Chromium with every address but HEP's own blocked.

Swagger UI's files are HEP's (hep/api_docs), so the page lists every operation with no internet, under
its Content-Security-Policy (a violation would show in the console), with HEP's icon as its favicon.
"""

from __future__ import annotations

import json
import urllib.request

import pytest

from tests.conftest import skip_or_fail
from tests.e2e.test_e2e_web import CHROMIUM, CHROMIUM_ARGS
from tests.live_server import production_app, serving

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def base(sqlite_template, tmp_path_factory):
    if not CHROMIUM.exists():
        skip_or_fail(f"{CHROMIUM} is missing: run `python3 tasks.py test`, which installs Debian's chromium")
    with serving(production_app(sqlite_template, tmp_path_factory.mktemp("docs"))) as url:
        yield url


def _operations(base: str) -> int:
    with urllib.request.urlopen(f"{base}/api/openapi.json", timeout=10) as answer:
        paths = json.load(answer)["paths"]
    return sum(1 for item in paths.values() for method in item if method in ("get", "post", "put", "patch", "delete"))


def test_the_api_docs_list_every_operation_with_no_internet(base):
    from playwright.sync_api import expect, sync_playwright

    outside: list[str] = []
    console: list[str] = []

    def only_hep(route):
        if route.request.url.startswith(f"{base}/"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort("internetdisconnected")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context()
        context.route("**/*", only_hep)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.on("console", lambda m: console.append(f"{m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))

        page.goto(f"{base}/api/docs")
        expect(page.locator(".opblock")).to_have_count(_operations(base))
        expect(page.locator(".opblock-summary-path", has_text="/api/v1/patients/{patient_id}/today")).to_be_visible()
        expect(page.locator(".opblock-summary-operation-id", has_text="getTodayPlan")).to_be_visible()
        icon = page.locator("link[rel=icon]").get_attribute("href")
        icon_status = page.evaluate("async (href) => (await fetch(href)).status", icon)
        browser.close()

    assert outside == []
    assert console == []
    assert icon_status == 200
