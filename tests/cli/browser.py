"""A real headless browser for the ``serve`` tests: Debian's ``chromium``, driven by Selenium.

Debian's ``chromium`` and ``chromium-driver`` packages give ``/usr/bin/chromium``
and ``/usr/bin/chromedriver``; Selenium is told both paths, so it never
tries to download a browser or a driver. When either is missing the tests
FAIL with what to install: CI installs them (``.ci/run``), and a skipped
browser test would pass a broken live reload unseen.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
INSTALL = (
    "apt-get install -y --no-install-recommends chromium chromium-driver "
    "(as root; .ci/run does it on CI)"
)


@contextmanager
def chromium() -> Iterator[WebDriver]:
    """A headless Chromium session; quit (with its chromedriver) whatever happens."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        pytest.fail(f"the browser tests need {' and '.join(missing)}: {INSTALL}", pytrace=False)
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail("the browser tests need selenium: pip install -e '.[test]'", pytrace=False)
    options = Options()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-timer-throttling",  # a background tab still handles its events
        "--disable-renderer-backgrounding",
        "--disable-backgrounding-occluded-windows",
    ):
        options.add_argument(argument)
    assert shutil.which(str(CHROMEDRIVER))
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        driver.set_page_load_timeout(30)
        driver.set_script_timeout(30)
        yield driver
    finally:
        driver.quit()
