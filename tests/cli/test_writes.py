"""``OutputWriter``: outputs written atomically through one spare file, on real files.

Each test writes real files under ``tmp_path`` and looks at what is on disk
(the outputs, the spare, a reader's open file) between writes.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sofrito.cli.writes import OutputWriter

linux = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the exchange is Linux's renameat2"
)


def spares(top: Path) -> list[Path]:
    return sorted(top.glob(".sofrito-*.tmp"))


def outputs(top: Path, *names: str) -> list[Path]:
    paths = [top / name for name in names]
    for at, path in enumerate(paths):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"old {at}".encode())
    return paths


@linux
def test_rewritten_outputs_go_through_one_spare_that_holds_the_old_bytes(tmp_path: Path) -> None:
    a, b = outputs(tmp_path, "a.html", "sub/b.html")
    with OutputWriter(tmp_path) as writer:
        writer.write(a, b"new a")
        [spare] = spares(tmp_path)
        assert spare.read_bytes() == b"old 0"  # a's old file, swapped out
        writer.write(b, b"new b")
        assert spares(tmp_path) == [spare]  # the same spare, now holding b's old bytes
        assert spare.read_bytes() == b"old 1"
    assert (a.read_bytes(), b.read_bytes()) == (b"new a", b"new b")
    assert spares(tmp_path) == []


def test_what_write_returns_is_the_file_now(tmp_path: Path) -> None:
    [a] = outputs(tmp_path, "a.html")
    with OutputWriter(tmp_path) as writer:
        size, mtime_ns = writer.write(a, b"twelve bytes")
        made = writer.write(tmp_path / "new" / "c.html", b"c")
    assert (size, mtime_ns) == (a.stat().st_size, a.stat().st_mtime_ns) == (12, mtime_ns)
    assert made == (1, (tmp_path / "new" / "c.html").stat().st_mtime_ns)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.html", "c.html", "new"]


def test_a_reader_of_an_old_output_reads_its_old_bytes_to_the_end(tmp_path: Path) -> None:
    """As with a rename: the file a reader opened is never written again, even
    when it has become the spare (its write lease is refused)."""
    a, b, c = outputs(tmp_path, "a.html", "b.html", "c.html")
    with a.open("rb") as reading, OutputWriter(tmp_path) as writer:
        writer.write(a, b"new a")
        writer.write(b, b"new b")
        writer.write(c, b"new c")
        assert reading.read() == b"old 0"
    assert [p.read_bytes() for p in (a, b, c)] == [b"new a", b"new b", b"new c"]
    assert spares(tmp_path) == []


def test_a_hard_linked_output_is_replaced_and_its_other_name_keeps_its_bytes(
    tmp_path: Path,
) -> None:
    a, b = outputs(tmp_path, "a.html", "b.html")
    os.link(a, tmp_path / "elsewhere")
    with OutputWriter(tmp_path) as writer:
        writer.write(a, b"new a")
        writer.write(b, b"new b")
    assert (tmp_path / "elsewhere").read_bytes() == b"old 0"
    assert (a.read_bytes(), b.read_bytes()) == (b"new a", b"new b")


def test_a_symbolic_link_is_replaced_not_followed(tmp_path: Path) -> None:
    kept, b = outputs(tmp_path, "kept.txt", "b.html")
    a = tmp_path / "a.html"
    a.symlink_to(kept)
    with OutputWriter(tmp_path) as writer:
        writer.write(a, b"new a")
        writer.write(b, b"new b")
    assert not a.is_symlink()
    assert a.read_bytes() == b"new a"
    assert kept.read_bytes() == b"old 0"


def test_a_folder_where_an_output_goes_is_an_error_and_stays(tmp_path: Path) -> None:
    (tmp_path / "a.html").mkdir()
    with OutputWriter(tmp_path) as writer, pytest.raises(IsADirectoryError):
        writer.write(tmp_path / "a.html", b"new a")
    assert (tmp_path / "a.html").is_dir()
    assert spares(tmp_path) == []


def test_an_output_shorter_than_the_spare_holds_only_its_own_bytes(tmp_path: Path) -> None:
    a, b, c = outputs(tmp_path, "a.html", "b.html", "c.html")
    a.write_bytes(b"a long old page " * 100)
    with OutputWriter(tmp_path) as writer:
        writer.write(a, b"new a")
        writer.write(b, b"b")  # written over the spare that held a's 1,600 bytes
        writer.write(c, b"a new page, longer than the old one")
    assert [p.read_bytes() for p in (a, b, c)] == [
        b"new a",
        b"b",
        b"a new page, longer than the old one",
    ]


@pytest.fixture
def umask_022() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.usefixtures("umask_022")
@pytest.mark.parametrize("exchange", [True, False], ids=["exchanged", "replaced"])
def test_outputs_are_readable_by_others_as_any_new_file_and_keep_a_mode_given_them(
    tmp_path: Path, exchange: bool
) -> None:
    """A web server running as another user must read the site: a new output
    has the mode ``open`` would give it (0o666 less the umask), not a temporary
    file's 0o600; an output whose mode someone set keeps it when rewritten."""
    kept, plain = outputs(tmp_path, "kept.html", "plain.html")
    kept.chmod(0o640)
    with OutputWriter(tmp_path) as writer:
        if not exchange:
            writer.exchange = None  # the path taken where renameat2 is not available
        writer.write(tmp_path / "new.html", b"new")
        writer.write(kept, b"kept, rewritten")
        writer.write(plain, b"plain, rewritten")
        writer.write(tmp_path / "sub" / "other.html", b"another new one")
    modes = {
        path.relative_to(tmp_path).as_posix(): stat.S_IMODE(path.stat().st_mode)
        for path in tmp_path.rglob("*.html")
    }
    assert modes == {
        "new.html": 0o644, "kept.html": 0o640, "plain.html": 0o644, "sub/other.html": 0o644,
    }  # fmt: skip
