"""``sofrito.fs``: tracked file inputs, the listing ``glob`` reads, and the scan."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sofrito as sf
from sofrito._fs.patterns import _match, _normalized, compile_pattern, normalize
from sofrito.fs import ScanReport, scan


class Log:
    """Which query bodies ran, in order."""

    def __init__(self) -> None:
        self.ran: list[str] = []

    def take(self) -> list[str]:
        ran, self.ran = self.ran, []
        return ran


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "posts").mkdir()
    (tmp_path / "posts" / "a.md").write_text("A")
    (tmp_path / "posts" / "b.md").write_text("B")
    (tmp_path / "notes.txt").write_text("N")
    return tmp_path


def test_glob_re_runs_on_add_and_remove_not_on_edit(tree: Path) -> None:
    log = Log()

    @sf.query
    def listing(db) -> tuple[str, ...]:
        log.ran.append("listing")
        return tuple(sf.fs.glob(db, "posts/*.md"))

    rt = sf.Runtime()
    scan(rt, tree, ["posts/*.md"])
    assert listing(rt) == ("posts/a.md", "posts/b.md")
    assert log.take() == ["listing"]

    (tree / "posts" / "a.md").write_text("A, edited")
    report = scan(rt, tree, ["posts/*.md"])
    assert report.changed == ("posts/a.md",)
    assert listing(rt) == ("posts/a.md", "posts/b.md")
    assert log.take() == []  # an edit is not a change of the listing

    (tree / "posts" / "c.md").write_text("C")
    assert scan(rt, tree, ["posts/*.md"]).added == ("posts/c.md",)
    assert listing(rt) == ("posts/a.md", "posts/b.md", "posts/c.md")
    assert log.take() == ["listing"]

    (tree / "posts" / "b.md").unlink()
    assert scan(rt, tree, ["posts/*.md"]).removed == ("posts/b.md",)
    assert listing(rt) == ("posts/a.md", "posts/c.md")
    assert log.take() == ["listing"]


def test_a_file_change_re_runs_only_its_readers(tree: Path) -> None:
    log = Log()

    @sf.query
    def shout(db, path: str) -> str:
        log.ran.append(path)
        return sf.fs.file(db, path).decode().upper()

    rt = sf.Runtime()
    scan(rt, tree, ["posts/*.md"])
    assert [shout(rt, "posts/a.md"), shout(rt, "posts/b.md")] == ["A", "B"]
    log.take()
    (tree / "posts" / "b.md").write_text("b2")
    scan(rt, tree, ["posts/*.md"])
    assert [shout(rt, "posts/a.md"), shout(rt, "posts/b.md")] == ["A", "B2"]
    assert log.take() == ["posts/b.md"]


def test_a_touched_file_with_the_same_bytes_changes_nothing(tree: Path) -> None:
    rt = sf.Runtime()
    scan(rt, tree, ["posts/*.md"])
    revision = rt.revision
    page = tree / "posts" / "a.md"
    stat = page.stat()
    os.utime(page, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    report = scan(rt, tree, ["posts/*.md"])
    assert report.touched == ("posts/a.md",)
    assert not report.any
    assert sf.fs.file(rt, "posts/a.md") == b"A"
    assert rt.revision == revision + 1  # the manifest entry moved; no file cell did
    assert scan(rt, tree, ["posts/*.md"]).touched == ()  # and the next scan reads nothing


def test_a_scan_writes_in_one_revision(tree: Path) -> None:
    rt = sf.Runtime()
    scan(rt, tree, ["**/*"])
    assert rt.revision == 1
    assert sf.fs.glob(rt, "**/*") == ["notes.txt", "posts/a.md", "posts/b.md"]


def test_a_scan_that_finds_as_many_files_as_it_knew_still_sees_a_rename(tree: Path) -> None:
    """The scan asks which known files went only when fewer were found than it
    knew (plus those added): a rename keeps the count, and is a removal and an
    addition, in folders of their own."""
    rt = sf.Runtime()
    scan(rt, tree, ["**/*"])
    revision = rt.revision
    assert scan(rt, tree, ["**/*"]) == ScanReport((), (), (), (), 3)
    assert rt.revision == revision  # a no-op writes nothing
    (tree / "drafts").mkdir()
    (tree / "posts" / "a.md").rename(tree / "drafts" / "a.md")
    report = scan(rt, tree, ["**/*"])
    assert (report.added, report.removed, report.seen) == (("drafts/a.md",), ("posts/a.md",), 3)
    assert sf.fs.glob(rt, "**/*") == ["drafts/a.md", "notes.txt", "posts/b.md"]
    assert sf.fs.file(rt, "drafts/a.md") == b"A"


def test_a_file_outside_sources_suspends_naming_it(tree: Path) -> None:
    rt = sf.Runtime()
    scan(rt, tree, ["posts/*.md"])
    with pytest.raises(sf.Suspend) as caught:
        sf.fs.file(rt, "notes.txt")
    assert "notes.txt" in str(caught.value)


def test_paths_are_relative_and_slash_separated(tree: Path) -> None:
    rt = sf.Runtime()
    scan(rt, tree, ["posts/*.md"])
    assert sf.fs.file(rt, "./posts//a.md") == b"A"
    assert sf.fs.file(rt, "posts\\a.md") == b"A"
    with pytest.raises(ValueError, match="leaves the flow's folder"):
        sf.fs.file(rt, "../x")
    with pytest.raises(ValueError, match="absolute"):
        sf.fs.file(rt, "/etc/passwd")


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("*.md", "a.md", True),
        ("*.md", "posts/a.md", False),
        ("**/*.md", "a.md", True),
        ("**/*.md", "posts/2024/a.md", True),
        ("posts/**", "posts/2024/a.md", True),
        ("**/*.md", ".git/a.md", False),
        ("*", ".hidden", False),
        (".*", ".hidden", True),
        ("posts/[ab].md", "posts/b.md", True),
        ("posts/?.md", "posts/ab.md", False),
        ("*.MD", "a.md", False),
    ],
)
def test_glob_patterns(pattern: str, path: str, matches: bool) -> None:
    assert compile_pattern(pattern).matches(path) is matches


def test_the_walk_skips_hidden_and_excluded_folders(tree: Path) -> None:
    (tree / ".git").mkdir()
    (tree / ".git" / "x.md").write_text("no")
    (tree / "_site").mkdir()
    (tree / "_site" / "y.md").write_text("no")
    rt = sf.Runtime()
    scan(rt, tree, ["**/*.md"], exclude=[tree / "_site"])
    assert sf.fs.glob(rt, "**/*.md") == ["posts/a.md", "posts/b.md"]


def test_normalize() -> None:
    assert normalize("a/./b/../c") == "a/c"
    with pytest.raises(ValueError, match="names no file"):
        normalize(".")


_NAMES = st.sampled_from(["a", "b", "b.md", ".git", ".x.md", "ab", "[a]", "a*b", "!"])
_SEGMENTS = st.sampled_from(
    ["**", "*", "*.md", "?", "a", ".git", ".*", "[ab]", "[!a]*", "[a-c]?", "[!]", "[", "a*b", "*b*"]
)


@given(st.lists(_SEGMENTS, min_size=1, max_size=4), st.lists(_NAMES, min_size=1, max_size=5))
@settings(max_examples=2000, deadline=None)
def test_a_pattern_matches_as_one_regex_what_the_segment_walk_matches(
    segments: list[str], names: list[str]
) -> None:
    pattern = compile_pattern("/".join(segments))
    relpath = "/".join(names)
    expected = _match(pattern.segments, pattern.regexes, tuple(names), 0, 0)
    assert pattern.matches(relpath) == expected, (pattern.whole.pattern, relpath)


@given(st.lists(_SEGMENTS, min_size=1, max_size=4), st.lists(_NAMES, min_size=1, max_size=5))
@settings(max_examples=2000, deadline=None)
def test_a_pattern_matches_a_folder_then_a_name_as_it_matches_the_whole_path(
    segments: list[str], names: list[str]
) -> None:
    """The scan matches each folder once and each file by its name
    (``Pattern.name_matcher``); the answer is ``matches``' on the whole path."""
    pattern = compile_pattern("/".join(segments))
    folder, name = "/".join(names[:-1]), names[-1]
    matcher = pattern.name_matcher(folder)
    cut = matcher is not None and matcher(name) is not None
    assert cut == pattern.matches("/".join(names)), (pattern.whole.pattern, names)


@given(st.text(alphabet="ab./\\:C \n", max_size=8))
@settings(max_examples=3000, deadline=None)
def test_normalize_takes_a_normal_path_as_it_is_and_any_other_part_by_part(text: str) -> None:
    def outcome(call: Any) -> str:
        try:
            return f"ok {call()}"
        except ValueError as error:
            return f"ValueError {error}"

    assert outcome(lambda: normalize(text)) == outcome(lambda: _normalized(text, "path"))


@sf.query
def _page(db: Any, path: str) -> str:
    return path


def test_an_output_reference_decodes_as_a_call_not_a_state_per_object() -> None:
    """``main``'s mapping holds one ``sf.output`` per page and every run decodes it:
    each reference pickles as a call of its class (no ``BUILD`` of a state), and
    a row pickled as a slotted dataclass's state (before) still loads equal."""
    import pickle
    import pickletools

    ref = sf.output(_page, "a.md")
    data = pickle.dumps({"a.html": ref}, protocol=pickle.HIGHEST_PROTOCOL)
    assert "BUILD" not in {op.name for op, _, _ in pickletools.genops(data)}
    assert pickle.loads(data) == {"a.html": ref}
    before = (  # sf.output(_page, "a.md") pickled by the dataclass: NEWOBJ, then BUILD
        b"\x80\x05\x95D\x00\x00\x00\x00\x00\x00\x00\x8c\nsofrito.fs\x94\x8c\x06Output"
        b"\x94\x93\x94)\x81\x94]\x94(\x8c\rtests.test_fs\x94\x8c\x05_page\x94\x93\x94"
        b"\x8c\x04a.md\x94\x85\x94eb."
    )
    assert pickle.loads(before) == ref
