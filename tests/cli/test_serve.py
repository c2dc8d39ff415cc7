"""``sofrito serve`` in a real headless browser: live reload per page, the failure overlay.

The server runs as a real child process (``running.Command``) and the pages
are opened in Debian's Chromium (``browser.chromium``). Every wait polls
the browser or the disk with a bound; nothing sleeps to synchronize.
"""

from __future__ import annotations

import signal
import urllib.request
from pathlib import Path

from tests.cli.browser import chromium
from tests.cli.flows import make_site
from tests.cli.running import Command, wait_for

SUMMARY = r"^\d+ executed, "
URL = r"serving .* at (http://127\.0\.0\.1:\d+/)$"


def script(driver: object, code: str) -> object:
    """Run ``code`` in the page; None while the page is between two loads."""
    from selenium.common.exceptions import WebDriverException

    try:
        return driver.execute_script(code)  # type: ignore[attr-defined]
    except WebDriverException:
        return None


def body_text(driver: object) -> str:
    return str(script(driver, "return document.body ? document.body.innerText : '';") or "")


def overlay_text(driver: object) -> str | None:
    """The overlay's text, or None when the page shows none."""
    text = script(
        driver, "var o = document.getElementById('sofrito-overlay'); return o ? o.innerText : null;"
    )
    return None if text is None else str(text)


def marker(driver: object) -> object:
    """``window.__marker``: set by the test, gone only if the page reloaded."""
    return driver.execute_script("return window.__marker;")  # type: ignore[attr-defined]


def test_live_reload_per_page_and_the_failure_overlay(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    raise_line = next(
        number
        for number, line in enumerate(site.flow.read_text().splitlines(), 1)
        if "raise ValueError" in line
    )
    with Command("serve", str(site.flow), "--port", "0") as serve, chromium() as driver:
        url = serve.out.expect(URL).group(1)
        serve.out.expect(SUMMARY)
        driver.get(url + "a.html")
        assert "first page" in body_text(driver)
        page_a = driver.current_window_handle
        driver.switch_to.new_window("tab")
        driver.get(url + "b.html")
        page_b = driver.current_window_handle
        driver.execute_script("window.__marker = 'b';")
        driver.switch_to.window(page_a)
        driver.execute_script("window.__marker = 'a';")

        # an edit of a.md: its tab shows the new text, without a reload by the test
        site.page("a.md", "Alpha\nfirst page, edited\n")
        wait_for(lambda: "edited" in body_text(driver), "the edit in the open page a.html")
        assert marker(driver) is None  # it reloaded
        driver.execute_script("window.__marker = 'a';")

        # an edit of b.md reloads b's tab, and not a's (both get the same message)
        site.page("b.md", "Beta\nsecond page, edited\n")
        driver.switch_to.window(page_b)
        wait_for(lambda: "second page, edited" in body_text(driver), "the edit in tab b.html")
        driver.switch_to.window(page_a)
        assert marker(driver) == "a"
        assert "first page, edited" in body_text(driver)

        # a broken page: an overlay naming the source and the flow's file:line
        site.page("a.md", "Alpha\nBOOM\n")
        shown = wait_for(lambda: overlay_text(driver), "the failure overlay on a.html")
        assert "ValueError: broken front matter" in shown
        assert f"source content/a.md, at flow.py:{raise_line}" in shown
        driver.switch_to.window(page_b)
        assert overlay_text(driver) is None  # b is not failing
        driver.switch_to.window(page_a)

        # fixed back to the same text: the output is unchanged, and the overlay goes anyway
        site.page("a.md", "Alpha\nfirst page, edited\n")
        wait_for(lambda: overlay_text(driver) is None or None, "the overlay to go")
        assert marker(driver) == "a"  # no reload was needed

        # the script is served, never written into the outputs
        assert "sofrito" not in (site.out / "a.html").read_text()
        with urllib.request.urlopen(url + "a.html", timeout=30) as response:
            assert b"/__sofrito/reload.js" in response.read()
        assert serve.interrupt(signal.SIGINT) == 0, serve.err.text()
    assert "Traceback" not in serve.err.text()
