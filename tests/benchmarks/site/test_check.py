"""The site benchmark's correctness checker, on output folders written by hand.

The correctness column is the part of the site table a reader trusts most:
a checker that passed a stale page would call a wrong tool correct, and one
that failed a right page would slander it. Each scenario here builds a tiny
output folder, takes the snapshots the harness takes, changes the folder as
a tool would (right, then stale) and reads the verdict. Nothing is timed.
"""

from __future__ import annotations

import os
from pathlib import Path

from benchmarks.site.check import Expect, Writes, check, listings, writes
from benchmarks.site.measure import snapshot

NOTHING: frozenset[str] = frozenset()


def put(folder: Path, files: dict[str, str]) -> None:
    for relpath, text in files.items():
        path = folder / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_a_title_edit_is_correct_only_once_every_file_that_showed_the_old_title_shows_the_new(
    tmp_path: Path,
) -> None:
    put(
        tmp_path,
        {
            "a.html": "<h1>Old (1)</h1>",
            "index.html": "<li>Old (1)</li><li>Other (2)</li>",
            "b.html": '<a rel="prev">Old (1)</a>',
            "c.html": "<h1>Other (2)</h1>",
        },
    )
    expect = Expect(shows={"a.html": "New (1)"}, follows=("Old (1)", "New (1)"))
    before = snapshot(tmp_path, expect.before_probes())
    put(tmp_path, {"a.html": "<h1>New (1)</h1>", "index.html": "<li>New (1)</li>"})

    stale = check(before, snapshot(tmp_path, expect.after_probes()), expect, NOTHING)
    assert not stale.correct
    assert stale.reasons == ("1 of 3 files showing the old title are stale (e.g. b.html)",)
    assert stale.covered == ("the old title was in 3 files",)

    put(tmp_path, {"b.html": '<a rel="prev">New (1)</a>'})
    assert check(before, snapshot(tmp_path, expect.after_probes()), expect, NOTHING).correct


def test_a_file_showing_both_titles_is_stale(tmp_path: Path) -> None:
    put(tmp_path, {"a.html": "Old (1)", "search.json": '["Old (1)"]'})
    expect = Expect(follows=("Old (1)", "New (1)"))
    before = snapshot(tmp_path, expect.before_probes())
    put(tmp_path, {"a.html": "New (1)", "search.json": '["Old (1)", "New (1)"]'})

    verdict = check(before, snapshot(tmp_path, expect.after_probes()), expect, NOTHING)
    assert verdict.reasons == ("1 of 2 files showing the old title are stale (e.g. search.json)",)


def test_the_edited_page_must_exist_and_show_the_edit(tmp_path: Path) -> None:
    put(tmp_path, {"a.html": "body"})
    expect = Expect(shows={"a.html": "zqbody", "gone.html": "zqbody"})
    before = snapshot(tmp_path)

    verdict = check(before, snapshot(tmp_path, expect.after_probes()), expect, NOTHING)
    assert verdict.reasons == ("a.html does not show 'zqbody' (stale)", "gone.html is missing")


def test_a_template_edit_must_reach_every_html_file_and_only_html_files(tmp_path: Path) -> None:
    put(tmp_path, {"a.html": "zqtemplate", "b/c.html": "old footer", "feed.xml": "no footer"})
    expect = Expect(everywhere="zqtemplate")
    before = snapshot(tmp_path)

    verdict = check(before, snapshot(tmp_path, expect.after_probes()), expect, NOTHING)
    assert verdict.reasons == (
        "the template edit is missing from 1 of 2 HTML files (e.g. b/c.html)",
    )
    put(tmp_path, {"b/c.html": "zqtemplate"})
    assert check(before, snapshot(tmp_path, expect.after_probes()), expect, NOTHING).correct


def test_listings_are_the_files_showing_every_sampled_title_and_must_list_an_added_page(
    tmp_path: Path,
) -> None:
    sample = ["One (1)", "Two (2)"]
    put(
        tmp_path,
        {
            "index.html": "One (1) Two (2)",
            "search.json": "One (1), Two (2)",
            "tag.html": "One (1)",
        },
    )
    cold = snapshot(tmp_path, sample)
    listed_in = listings(cold, sample)
    assert listed_in == {"index.html", "search.json"}

    expect = Expect(shows={"new.html": "zqadded"}, listed="Added (3)")
    put(tmp_path, {"new.html": "zqadded", "index.html": "Added (3) One (1) Two (2)"})
    verdict = check(cold, snapshot(tmp_path, expect.after_probes()), expect, listed_in)
    assert verdict.reasons == ("1 of 2 listings do not list the added page (e.g. search.json)",)
    assert verdict.covered == ("2 listings",)


def test_a_deleted_page_must_leave_no_output_and_no_mention(tmp_path: Path) -> None:
    put(tmp_path, {"d.html": "Gone (4)", "index.html": "Gone (4)", "e.html": "Kept (5)"})
    expect = Expect(gone=("d.html",), vanishes="Gone (4)")
    before = snapshot(tmp_path)

    verdict = check(before, snapshot(tmp_path, expect.after_probes()), expect, NOTHING)
    assert verdict.reasons == (
        "the deleted page's d.html is still there",
        "2 files still show the deleted page's title (e.g. d.html)",
    )
    (tmp_path / "d.html").unlink()
    put(tmp_path, {"index.html": "Kept (5)"})
    assert check(before, snapshot(tmp_path, expect.after_probes()), expect, NOTHING).correct


def test_writes_counts_new_and_rewritten_files_and_the_rewrites_with_the_same_bytes(
    tmp_path: Path,
) -> None:
    put(tmp_path, {"same.html": "s", "touched.html": "t", "changed.html": "c", "gone.html": "g"})
    os.utime(tmp_path / "touched.html", ns=(1, 1))
    before = snapshot(tmp_path)
    put(tmp_path, {"touched.html": "t", "changed.html": "c2", "new.html": "n"})
    (tmp_path / "gone.html").unlink()

    assert writes(before, snapshot(tmp_path)) == Writes(written=3, same_bytes=1, deleted=1)


def test_a_rewrite_by_rename_with_the_same_mtime_still_counts(tmp_path: Path) -> None:
    put(tmp_path, {"a.html": "same"})
    before = snapshot(tmp_path)
    stat = (tmp_path / "a.html").stat()
    put(tmp_path, {"a.tmp": "same"})
    os.utime(tmp_path / "a.tmp", ns=(stat.st_atime_ns, stat.st_mtime_ns))
    (tmp_path / "a.tmp").replace(tmp_path / "a.html")

    assert writes(before, snapshot(tmp_path)) == Writes(written=1, same_bytes=1, deleted=0)
