"""The live status page in a real headless Chromium (Debian's chromium and chromium-driver,
driven by selenium): it loads, a binding whose round fails turns red within seconds
without a reload, and its "sync now" button starts a round.

``BRIDGE_STATUS_SCREENSHOT=docs/status-page.png`` saves a screenshot of the page showing
the failing binding (how docs/status-page.png is made)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import caldav
import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.http import vevent
from tests.support.ops import basic, start_ops

#: Every test here opens the store first (start_ops: its first step migrates it): its
#: MariaDB database may come migrated (tests/conftest.py).
pytestmark = pytest.mark.migrated_first

CHROMIUM = "/usr/bin/chromium"
DRIVER = "/usr/bin/chromedriver"


@pytest.fixture
def browser():
    missing = [p for p in (CHROMIUM, DRIVER) if not shutil.which(p)]
    assert not missing, f"install Debian's chromium and chromium-driver (missing {missing})"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1500,420"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd(
            "Network.setExtraHTTPHeaders", {"headers": {"Authorization": basic("alice")}}
        )
        yield driver
    finally:
        driver.quit()


def row(driver) -> dict:
    """The binding's row as the page shows it now (read at once: the page swaps its rows
    every two seconds, so held elements go stale)."""
    return driver.execute_script(
        """var r = document.querySelector('#bindings tr[data-binding]');
        return {state: r.dataset.state, background: getComputedStyle(r).backgroundColor,
                text: r.innerText,
                cells: Array.from(r.cells).map(function (c) { return c.innerText; })};"""
    )


def click_sync_now(driver) -> None:
    """A real click on the button (found again if the page swapped its rows meanwhile)."""
    for _ in range(10):
        try:
            driver.find_element(By.CSS_SELECTOR, "#bindings button[data-binding]").click()
            return
        except StaleElementReferenceException:
            continue
    raise AssertionError("the sync now button kept going stale")


def row_state(driver) -> str:
    return row(driver)["state"]


def test_the_page_goes_red_by_itself_and_sync_now_runs_a_round(
    tmp_path, db_url, google_emulator, browser
):
    ops = start_ops(tmp_path, db_url, google_emulator)
    try:
        first = ops.wait(lambda: ops.binding()["last_success_at"], "no first round")
        browser.get(ops.api_url + "/status")
        assert browser.title.startswith("Sync status")
        shown = row(browser)
        assert shown["cells"][:4] == ["alice", "google", "google", "idle"]
        idle_background = shown["background"]

        # Google starts refusing; a meeting saved on alice's phone makes a round, which fails.
        google_emulator.faults.error(404, "notFound", times=1000)
        client = caldav.DAVClient(url=ops.server.url + "/", username="alice", password="alice")
        meetings = [c for c in client.principal().calendars() if str(c.url).endswith("/meetings/")][
            0
        ]
        meetings.add_event(vevent("phone-1", "Made on the phone"))
        failed_at = ops.wait(
            lambda: ops.binding()["state"] == "failing" and time.monotonic(), "no failed round"
        )
        WebDriverWait(browser, 10, poll_frequency=0.1).until(lambda d: row_state(d) == "failing")
        assert time.monotonic() - failed_at < 5  # within seconds, no reload
        shown = row(browser)
        assert shown["background"] != idle_background
        assert shown["background"] == "rgb(253, 226, 225)"  # the failing red
        assert "The calendar was not found" in shown["text"]
        if shot := os.environ.get("BRIDGE_STATUS_SCREENSHOT"):
            browser.save_screenshot(str(Path(shot).resolve()))

        # Google recovers; "sync now" (the binding backs off for an hour) runs a round now.
        google_emulator.faults.clear()
        before = ops.binding()
        assert before["next_run_at"] > time.time() + 600
        button = browser.find_element(By.CSS_SELECTOR, "#bindings button[data-binding]")
        browser.execute_script("arguments[0].scrollIntoView();", button)
        browser.execute_script("document.querySelector('#bindings button[data-binding]').click();")
        WebDriverWait(browser, 15, poll_frequency=0.1).until(lambda d: row_state(d) == "idle")
        after = ops.binding()
        assert after["last_success_at"] > first and after["failures"] == 0
        assert "Made on the phone" in {
            e.get("summary") for e in google_emulator.events("alice@example.com")
        }

        # a refused "sync now" says why, in the JSON error's words
        browser.execute_script(
            "var b = document.querySelector('#bindings button[data-binding]');"
            "b.dataset.binding = '999999'; b.disabled = false; b.click();"
        )
        WebDriverWait(browser, 10, poll_frequency=0.1).until(
            lambda d: d.find_element(By.ID, "notice").text
        )
        assert browser.find_element(By.ID, "notice").text == (
            "Sync now failed: no such binding, or it is retired"
        )
    finally:
        ops.server.stop()
