"""``benchmarks.flow_edit``: the edit it makes, and a run on a small site. It times nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from benchmarks.flow_edit import measure, with_version

FLOW = """@sf.query
def body(db, path):
    return path


@sf.query
def parsed(db, path):
    return body(db, path)
"""


def test_the_edit_gives_only_the_named_query_a_version() -> None:
    edited = with_version(FLOW, "parsed")
    assert '@sf.query(version="2")\ndef parsed(' in edited
    assert "@sf.query\ndef body(" in edited


def test_a_query_the_flow_does_not_define_bare_is_an_error() -> None:
    with pytest.raises(ValueError, match="def render"):
        with_version(FLOW, "render")


def test_an_edit_of_parsed_re_executes_every_page_and_writes_nothing(tmp_path: Path) -> None:
    """New code with the same output: each page's parsed executes again, and no
    output's bytes change (the example's main job, at 20 pages)."""
    cold, edit = measure(20, ["parsed"], tmp_path)
    assert cold.written >= 20  # every page, and the listings
    assert edit.name == "edit of parsed"
    assert edit.executed >= 20
    assert edit.written == 0
    assert edit.run.returncode == 0
