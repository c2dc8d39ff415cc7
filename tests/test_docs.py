"""The Python blocks of the docs run as written (docs/README.md, "Code blocks").

Every fenced ```python block of ``docs/*.md`` and of ``README.md`` is a test,
named by its page and the line of its opening fence (``concepts.md:10``), so
a failure says where to look, and a traceback points at the page's own line
numbers.

The convention, which docs/README.md states for writers:

- **A page runs like a tutorial.** Its blocks run in order, in one namespace,
  so a later block may use what an earlier one defined (``rt``, ``source``).
  The test of a block first runs the page's earlier blocks, then the block;
  a block that needs nothing before it is still fine.
- **A fragment is marked.** A block whose opening fence is preceded by the
  line ``<!-- fragment -->`` is not run: a signature, a sketch with ``...``,
  a shape to copy. Everything else must run, and a block that raises fails
  its test.
- **Each page starts fresh**: a new module (registered in ``sys.modules``
  while it runs, so that pickling a class the page defines works), in a new
  empty directory as the working directory, so a page that makes files makes
  them there.
- **No top-level ``await``.** A block that shows async code defines ``async
  def main()`` and calls ``asyncio.run(main())``, so that a reader can paste
  it as it is.

Why one namespace per page rather than one per block: the pages are
tutorials, and repeating ``import sofrito as sf`` and the runtime's set-up
in each block would bury the line the block is about. Why not one test per
page: a test per block names the block that failed.
"""

from __future__ import annotations

import re
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FRAGMENT = "<!-- fragment -->"
_OPEN = re.compile(r"^```python\s*$")
_CLOSE = re.compile(r"^```\s*$")


@dataclass(frozen=True)
class Block:
    """One fenced ```python block: where it is, its code, whether it runs."""

    page: Path
    line: int  # the line of the opening fence, from 1
    code: str
    fragment: bool

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks_of(page: Path) -> list[Block]:
    """The page's ```python blocks, in order; an unclosed one is an error."""
    lines = page.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        if not _OPEN.match(lines[i]):
            i += 1
            continue
        start = i
        fragment = start > 0 and lines[start - 1].strip() == FRAGMENT
        i += 1
        while i < len(lines) and not _CLOSE.match(lines[i]):
            i += 1
        if i == len(lines):
            raise AssertionError(f"{page.name}:{start + 1}: a ```python block is never closed")
        found.append(Block(page, start + 1, "\n".join(lines[start + 1 : i]) + "\n", fragment))
        i += 1
    return found


ALL_BLOCKS = [block for page in PAGES for block in blocks_of(page)]
RUNNABLE = [block for block in ALL_BLOCKS if not block.fragment]


def _run(block: Block, namespace: dict[str, object]) -> None:
    # Padded with newlines, so that a traceback's line numbers are the page's.
    code = compile("\n" * block.line + block.code, str(block.page), "exec")
    exec(code, namespace)


@pytest.mark.parametrize("block", RUNNABLE, ids=[block.name for block in RUNNABLE])
def test_doc_block_runs(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    module = types.ModuleType(f"sofrito_docs_{block.page.stem.lower()}")
    module.__file__ = str(block.page)
    monkeypatch.setitem(sys.modules, module.__name__, module)
    namespace = module.__dict__
    for earlier in RUNNABLE:
        if earlier.page == block.page and earlier.line < block.line:
            try:
                _run(earlier, namespace)
            except BaseException as exc:
                raise AssertionError(
                    f"{earlier.name}, which {block.name} builds on, failed: {exc!r}"
                ) from exc
    _run(block, namespace)


def test_the_docs_have_blocks_to_run() -> None:
    """The collector finds the pages' blocks: a broken pattern would pass vacuously."""
    assert len(RUNNABLE) >= 10
    assert any(block.page.name == "README.md" for block in RUNNABLE)


def test_a_fragment_marker_is_just_before_a_fence(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "intro\n\n<!-- fragment -->\n```python\nundefined_name\n```\n\n```python\nx = 1\n```\n"
    )
    first, second = blocks_of(page)
    assert (first.line, first.fragment, first.code) == (4, True, "undefined_name\n")
    assert (second.line, second.fragment, second.code) == (8, False, "x = 1\n")


def test_a_failing_block_reports_the_page_line(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("text\n\n```python\nx = 1\nraise ValueError('boom')\n```\n")
    (block,) = blocks_of(page)
    with pytest.raises(ValueError, match="boom") as info:
        _run(block, {})
    assert info.traceback[-1].lineno + 1 == 5  # pytest's line numbers count from 0
    assert info.traceback[-1].path == page
