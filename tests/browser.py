"""Headless Chromium for the tests that need a real browser: selenium (pip install selenium),
Chromium and its driver (Debian: apt-get install chromium chromium-driver). missing() says what
is absent, for a skip; problems() is what a page must not have caused: a dialog, a console error."""
from __future__ import annotations

import shutil
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Dialogs are recorded, never shown (an alert would block the page): whatever calls them is found.
HOOK = "window.__dialogs = []; for (const f of ['alert', 'confirm', 'prompt']) window[f] = (m) => { " \
       "window.__dialogs.push(f + ': ' + m); };"


def _binary() -> str | None:
    return next(filter(None, map(shutil.which, BROWSERS)), None)


def missing() -> str:
    """Why no browser test can run here ("" when one can)."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install selenium)"
    if not _binary():
        return "no Chromium or Chrome on PATH (Debian: apt-get install chromium chromium-driver)"
    if not shutil.which("chromedriver"):
        return "no chromedriver on PATH (Debian: apt-get install chromium-driver)"
    return ""


def chrome():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = _binary()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": HOOK})
    return driver


def load(driver, path, drawn: bool = True) -> None:
    """Open a page from disk; a report: wait until it has drawn itself."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(Path(path).resolve().as_uri())
    ready = "return window.reportRenderMs !== undefined" if drawn else "return document.readyState === 'complete'"
    WebDriverWait(driver, 30).until(lambda d: d.execute_script(ready))


def problems(driver) -> list[str]:
    """Dialogs opened and console errors or warnings since the last call."""
    from selenium.common.exceptions import NoAlertPresentException

    found = []
    try:
        alert = driver.switch_to.alert
        found.append(f"dialog: {alert.text}")
        alert.dismiss()
    except NoAlertPresentException:
        pass
    found += driver.execute_script("return window.__dialogs || []")
    logs = driver.get_log("browser")
    return found + [f"{e['level']}: {e['message']}" for e in logs if e["level"] in ("SEVERE", "WARNING")]


def screenshot(driver, path: str, width: int = 1280) -> None:
    """The whole page at this width."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, min(height + 100, 16000))
    driver.save_screenshot(path)
    driver.set_window_size(width, 900)
