"""The web page in a real headless Chromium (Debian's `chromium`, driven by Playwright): it loads with no
external resources, a posted event appears live, a fuzzy search finds it, the detail shows its crop."""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator

import httpx
import pytest

from ovr_alpr.serve.settings import ServeSettings
from service_fixtures import AUTH, JPEG, TOKEN, plate_event

pytestmark = pytest.mark.browser

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """One Chromium per module (it takes seconds to start); Playwright gives it a fresh user-data-dir."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (python) not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser_page(browser) -> Iterator[object]:
    """A page in a fresh browser context (no cookies or storage from another test)."""
    context = browser.new_context()
    try:
        yield context.new_page()
    finally:
        context.close()


def test_page_live_event_fuzzy_search_and_detail(tmp_path, live_server, browser_page) -> None:
    page = browser_page
    server = live_server(ServeSettings(db=str(tmp_path / "e.db"), token=TOKEN))
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(server.url) else outside.append(r.url))
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    page.goto(server.url + "/")
    page.wait_for_selector("#conn.on", timeout=10_000)  # the live stream is connected

    event = plate_event("AB123CD", camera_id="gate-7")
    body = {**event.to_dict(), "crops": {"plate": base64.b64encode(JPEG).decode()}}
    assert httpx.post(f"{server.url}/api/events", json=body, headers=AUTH).status_code == 201
    live_row = page.locator(f'#live tr[data-event-id="{event.event_id}"]')
    live_row.wait_for(timeout=10_000)
    assert "AB123CD" in live_row.inner_text() and "gate-7" in live_row.inner_text()
    assert live_row.locator("img.crop").get_attribute("src").startswith("/api/crops/")
    page.locator('#cameras tr[data-camera="gate-7"]').wait_for(timeout=5_000)

    page.fill("#q", "AB123CO")  # one character wrong
    page.select_option("#match", "fuzzy")
    page.click("#search button[type=submit]")
    result = page.locator(f'#results tr[data-event-id="{event.event_id}"]')
    result.wait_for(timeout=10_000)
    assert "AB123CD" in result.inner_text()

    result.click()
    page.wait_for_selector("#detail[open] #detail-body img", timeout=5_000)
    assert page.locator("#detail-body").inner_text().count(event.event_id) == 1
    loaded = page.evaluate("() => document.querySelector('#detail-body img').naturalWidth")
    assert loaded is not None
    assert outside == [] and errors == []


def test_watchlist_edited_from_the_page(tmp_path, live_server, browser_page) -> None:
    page = browser_page
    server = live_server(ServeSettings(db=str(tmp_path / "e.db"), token=TOKEN))
    page.goto(server.url + "/")
    page.fill("#token", TOKEN)
    page.dispatch_event("#token", "change")
    page.fill("#wl-name", "stolen")
    page.select_option("#wl-label", "deny")
    page.select_option("#wl-tolerance", "1")
    page.fill("#wl-entries", "AB123CD, XY*")
    page.click("#watch-form button[type=submit]")
    page.wait_for_selector("#watch-info:has-text('saved stolen')", timeout=5_000)
    (wl,) = httpx.get(f"{server.url}/api/watchlists").json()
    assert (wl["label"], wl["tolerance"], [e["pattern"] for e in wl["entries"]]) == (
        "deny",
        1,
        ["AB123CD", "XY*"],
    )

    event = plate_event("AB123CO")
    httpx.post(f"{server.url}/api/events", json=event.to_dict(), headers=AUTH)
    page.wait_for_selector("#alerts .alert.deny", timeout=10_000)
    assert "AB123CO" in page.inner_text("#alerts")
