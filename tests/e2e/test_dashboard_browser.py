"""The dashboard in a real browser (Playwright driving Debian's chromium) against the
in-process stack served on a loopback port: a recording appears without a reload, "Stop now"
stops it at the sandbox, the read-only login has no working button, and a phone-width screen
needs no horizontal scroll. Saves the README's screenshots to docs/screenshots/."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final

import pytest
import uvicorn
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.support.e2e.inprocess import InProcessStack, StackFactory
from tests.support.waiting import eventually
from worker.dev.redis_server import free_port

SCREENSHOTS: Final = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
READ_TOKEN: Final = "dashboard-read-token-0123456789abcdef"
#: The page refreshes every second; a recording starts within a few.
SEEN_TIMEOUT_MS: Final = 20_000
DESKTOP: Final = {"width": 1280, "height": 900}
PHONE: Final = {"width": 375, "height": 800}

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")


def chromium_path() -> str:
    """Debian's chromium (installed by .ci/run); Playwright never downloads a browser here."""
    found = shutil.which("chromium")
    if found is None:
        pytest.fail("chromium is not installed: apt-get install -y chromium (as .ci/run does)")
    return found


@contextlib.asynccontextmanager
async def served(s: InProcessStack) -> AsyncIterator[str]:
    """The stack's webhook service (its lifespan already running) on a loopback port."""
    assert s.webhooks is not None
    port = free_port()
    config = uvicorn.Config(
        s.webhooks, host="127.0.0.1", port=port, lifespan="off", log_level="warning"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(), name="dashboard-uvicorn")
    try:
        await eventually(lambda: server.started, what="uvicorn to listen", timeout_s=10)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Chromium, headless."""
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium_path(), args=["--no-sandbox"]
        )
        try:
            yield launched
        finally:
            await launched.close()


def watch_errors(page: Page) -> list[str]:
    """Script errors and console errors (a CSP violation among them) seen by the page."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    return errors


async def log_in(page: Page, base: str, token: str) -> None:
    await page.goto(f"{base}/dashboard/login")
    await page.fill("#token", token)
    await page.click(".login button[type=submit]")
    await page.wait_for_url(f"{base}/dashboard")


def running_at_sandbox(s: InProcessStack, channel: str) -> bool:
    world = s.sandbox.world
    world.tick()
    return any(
        task.phase.value == "running" and task.cname == channel for task in world.tasks.values()
    )


async def no_horizontal_scroll(page: Page) -> bool:
    overflow = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    return int(overflow) <= 0


async def test_a_recording_appears_without_reload_and_stop_now_stops_it(
    stack: StackFactory, browser: Browser
) -> None:
    async with stack() as s, served(s) as base:
        context = await browser.new_context(viewport=DESKTOP)
        page = await context.new_page()
        errors = watch_errors(page)
        await log_in(page, base, s.env["AUTOREC_API_TOKEN"])
        await page.evaluate("window.noReloadMarker = true")

        await s.admin.join("room-1", 101)

        row = page.locator('#running tr[data-channel="room-1"]')
        await expect(row.locator(".state")).to_have_text("recording", timeout=SEEN_TIMEOUT_MS)
        assert await page.evaluate("window.noReloadMarker === true"), "the page was reloaded"
        await expect(row.locator("td[data-label=SID]")).to_have_text(re.compile(r"\w{8,}"))
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=SCREENSHOTS / "dashboard-overview-desktop.png", full_page=True)

        phone = await browser.new_context(
            viewport=PHONE, storage_state=await context.storage_state()
        )
        small = await phone.new_page()
        await small.goto(f"{base}/dashboard")
        await expect(small.locator('#running tr[data-channel="room-1"]')).to_be_visible()
        assert await no_horizontal_scroll(small), "the overview scrolls sideways at 375 px"
        await small.screenshot(path=SCREENSHOTS / "dashboard-overview-phone.png", full_page=True)
        await small.goto(f"{base}/dashboard/channels/room-1")
        assert await no_horizontal_scroll(small), "the channel page scrolls sideways at 375 px"
        await phone.close()

        await row.get_by_role("button", name="Stop now").click()

        await page.wait_for_url(f"{base}/dashboard?done=stop")
        await expect(page.locator('#running tr[data-channel="room-1"]')).to_have_count(
            0, timeout=SEEN_TIMEOUT_MS
        )
        await eventually(lambda: not running_at_sandbox(s, "room-1"), what="the stop at Agora")
        assert errors == []
        await context.close()


async def test_the_read_only_login_has_no_working_button(
    stack: StackFactory, browser: Browser
) -> None:
    async with stack(env={"AUTOREC_API_READ_TOKEN": READ_TOKEN}) as s, served(s) as base:
        await s.admin.join("room-1", 101)
        page = await browser.new_page(viewport=DESKTOP)
        errors = watch_errors(page)
        await log_in(page, base, READ_TOKEN)
        row = page.locator('#running tr[data-channel="room-1"]')
        await expect(row.locator(".state")).to_have_text("recording", timeout=SEEN_TIMEOUT_MS)

        buttons = page.locator("button[data-action]")
        assert await buttons.count() > 0
        for n in range(await buttons.count()):
            await expect(buttons.nth(n)).to_be_disabled()
        assert await page.locator("form.act").count() == 0
        await page.goto(f"{base}/dashboard/channels/room-1")
        assert await page.locator("button[data-action]:not([disabled])").count() == 0
        # A forged POST from the page, with the session's own CSRF token (the logout form's).
        token = await page.locator("form.logout input[name=csrf]").get_attribute("value")
        status = await page.evaluate(
            """async (token) => (await fetch("/dashboard/channels/room-1/stop", {
                method: "POST",
                headers: {"Content-Type": "application/x-www-form-urlencoded"},
                body: "csrf=" + encodeURIComponent(token),
            })).status""",
            token,
        )

        assert status == 403
        assert running_at_sandbox(s, "room-1")
        assert [e for e in errors if "403" not in e] == []
