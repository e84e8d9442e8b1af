"""A real Chromium (Debian's `chromium` and `chromium-driver`) driven by Selenium, for the console's
tests; screenshots of the pages go to $CONSOLE_SCREENSHOTS (default: a temp dir)."""

from __future__ import annotations

import base64
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.wait import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
DESKTOP = (1280, 800)
PHONE = (390, 844)

T = TypeVar("T")
PAGE_STATUS = re.compile(r"^\S+ - Failed to load resource: the server responded with a status of 4(00|01|03|04) ")


def _left_document(element: WebElement) -> bool:
    """Whether the page holding the element was replaced. During a navigation chromedriver may
    say so as "Node with given id does not belong to the document" instead of a stale reference."""
    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as error:
        if "does not belong to the document" in (error.msg or ""):
            return True
        raise
    return False


def _require_chromium() -> None:
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not Path(path).exists()]
    if missing:
        message = f"{' and '.join(missing)} not installed (apt-get install chromium chromium-driver)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)


class Browser:
    """One headless Chromium, and the few gestures the tests make with it."""

    def __init__(self, driver: webdriver.Chrome, base_url: str, screenshots: Path) -> None:
        self.driver = driver
        self.base_url = base_url
        self.screenshots = screenshots

    def open(self, path: str) -> None:
        self.driver.get(self.base_url + path)

    def find(self, css: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def all(self, css: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def text(self, css: str = "main") -> str:
        return self.find(css).text

    def fill(self, css: str, value: str) -> None:
        field = self.find(css)
        field.clear()
        field.send_keys(value)

    def submit(self, form_css: str) -> None:
        """Send the form and wait for the page that answers it."""
        page = self.find("html")
        self.find(f"{form_css} button[type=submit]").click()
        WebDriverWait(self.driver, 20).until(lambda _driver: _left_document(page))

    def eventually(self, check: Callable[[], T | None], timeout: float = 20, what: str = "the page to change") -> T:
        deadline = time.monotonic() + timeout
        while True:
            try:
                found = check()
            except StaleElementReferenceException:
                found = None  # the live timeline was replaced under us: look again
            if found:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; the page says:\n{self.text('body')}")
            time.sleep(0.2)

    def screenshot(self, name: str) -> None:
        """The whole page as a laptop (1280×800) and a phone (390×844) lay it out."""
        for label, (width, height), mobile in (("desktop", DESKTOP, False), ("phone", PHONE, True)):
            metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}
            self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
            full = int(self.driver.execute_script("return document.documentElement.scrollHeight"))
            clip = {"x": 0, "y": 0, "width": width, "height": max(height, min(full, 5000)), "scale": 1}
            shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {"captureBeyondViewport": True, "clip": clip})
            (self.screenshots / f"{name}-{label}.png").write_bytes(base64.b64decode(shot["data"]))
        self.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})

    def console_errors(self) -> list[str]:
        """What the browser's console logged as errors, but the status of a page the test asked
        for (a refused form is a 400, a forged one a 403, on purpose: Chromium logs them)."""
        return [
            entry["message"]
            for entry in self.driver.get_log("browser")
            if entry["level"] == "SEVERE" and not (PAGE_STATUS.search(entry["message"]) and "/console/static/" not in entry["message"])
        ]


@pytest.fixture(scope="session")
def screenshots() -> Path:
    directory = Path(os.environ.get("CONSOLE_SCREENSHOTS") or tempfile.mkdtemp(prefix="flows-console-"))
    directory.mkdir(parents=True, exist_ok=True)
    print(f"\nconsole screenshots: {directory}")
    return directory


def _driver() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    options.add_argument("--headless=new")
    options.add_argument(f"--window-size={DESKTOP[0]},{DESKTOP[1]}")
    options.add_argument("--disable-gpu")
    options.add_argument("--disable-dev-shm-usage")
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def browser_for(url: str, screenshots: Path) -> Iterator[Browser]:
    _require_chromium()
    try:
        driver = _driver()
    except WebDriverException as error:
        pytest.fail(f"chromium did not start: {error.msg}")
    try:
        yield Browser(driver, url, screenshots)
    finally:
        driver.quit()
