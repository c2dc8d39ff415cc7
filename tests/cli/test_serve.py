"""``sofrito serve`` in a real headless browser: live reload per page, the failure overlay.

The server runs as a real child process (``running.Command``) and the pages
are opened in Debian's Chromium (``browser.chromium``). Every wait polls
the browser or the disk with a bound; nothing sleeps to synchronize.
"""

from __future__ import annotations

import signal
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from sofrito._fs.scan import ScanReport
from sofrito.cli.runner import RunSummary
from sofrito.cli.serve import Reloads, inject
from sofrito.cli.watch import Outcome
from tests.cli import browser
from tests.cli.flows import make_site, one_error_line, sofrito
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
    with Command("serve", str(site.flow), "--port", "0") as serve, browser.chromium() as driver:
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


def test_watch_and_serve_have_help() -> None:
    for command in ("watch", "serve"):
        helped = sofrito(command, "--help")
        assert helped.code == 0, helped.err
        assert f"usage: sofrito {command}" in helped.out
    assert "--port" in sofrito("serve", "--help").out


def test_a_port_in_use_is_one_line_and_exit_2(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = sofrito("serve", str(site.flow), "--port", str(port))
    assert result.code == 2
    line = one_error_line(result)
    assert f"cannot listen on 127.0.0.1:{port}" in line
    assert "--port" in line


def test_the_script_goes_before_the_last_body_end_tag() -> None:
    tag = b'<script src="/__sofrito/reload.js" data-sofrito-run="3"></script>'
    page = b"<html><body><pre></body></pre></BODY ></html>"
    assert inject(page, 3) == b"<html><body><pre></body></pre>" + tag + b"</BODY ></html>"
    assert inject(b"just text", 3) == b"just text" + tag


def test_a_stream_that_connects_late_gets_the_changes_it_missed(tmp_path: Path) -> None:
    reloads = Reloads()
    written = RunSummary(
        executed=1, reused=0, written=1, unchanged=0, deleted=0, failed=0, elapsed=0.0,
        scan=ScanReport((), ("content/a.md",), (), (), 1), written_paths=("a.html",),
    )  # fmt: skip
    reloads.publish(Outcome(("content/a.md",), summary=written))  # run 1
    late = reloads.connect(since=0)  # served before run 1, connected after it
    current = reloads.connect(since=1)
    assert 'event: changed\ndata: ["a.html"]' in str(late.get_nowait())
    assert "event: changed\ndata: []" in str(current.get_nowait())
    reloads.close()
    assert late.get_nowait() is None


def test_without_chromium_the_browser_tests_fail_saying_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(browser, "CHROMIUM", tmp_path / "no-chromium")
    expected = r"no-chromium: apt-get install .*chromium chromium-driver"
    with pytest.raises(pytest.fail.Exception, match=expected), browser.chromium():
        pass


def test_head_answers_as_get_does_without_a_body(tmp_path: Path) -> None:
    """A link checker's HEAD: the length of the page as served (script included,
    not the file's), ``no-store``, and a failed page's 500."""
    site = make_site(tmp_path)
    with Command("serve", str(site.flow), "--port", "0") as serve:
        url = serve.out.expect(URL).group(1)
        serve.out.expect(SUMMARY)
        site.page("c.md", "Gamma\nBOOM\n")  # fails before it was ever built
        serve.out.expect(SUMMARY)
        for path, status in (("a.html", 200), ("", 200), ("c.html", 500), ("style.css", 404)):
            got = head = None
            try:
                with urllib.request.urlopen(url + path, timeout=30) as response:
                    got = (response.status, response.read())
            except urllib.error.HTTPError as error:
                got = (error.code, error.read())
            request = urllib.request.Request(url + path, method="HEAD")
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    head = (response.status, response.headers, response.read())
            except urllib.error.HTTPError as error:
                head = (error.code, error.headers, error.read())
            assert got[0] == head[0] == status, (path, got, head)
            assert head[2] == b"", path
            assert head[1]["Cache-Control"] == "no-store", path
            if status != 404:
                assert int(head[1]["Content-Length"]) == len(got[1]), path
        assert serve.interrupt(signal.SIGINT) == 0, serve.err.text()
