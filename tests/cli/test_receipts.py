"""``sofrito receipts``: committed runs, newest first."""

from __future__ import annotations

import re
from pathlib import Path

from tests.cli.flows import make_site, sofrito
from tests.cli.running import Command
from tests.cli.test_watch import SUMMARY


def test_receipts_are_listed_newest_first(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    for text in ("one", "two", "three"):
        site.page("a.md", f"Alpha\n{text}\n")
        assert site.run().code == 0
    result = sofrito("receipts", str(site.flow))
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert [int(re.match(r"#(\d+) ", line).group(1)) for line in lines] == [3, 2, 1]  # type: ignore[union-attr]
    assert all(re.search(r"run \d{4}-\d\d-\d\dT", line) for line in lines)
    assert all(re.search(r"inputs \d+  digest [0-9a-f]{12}$", line) for line in lines)


def test_receipts_of_a_flow_never_run(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    result = sofrito("receipts", str(site.flow))
    assert result.code == 0
    assert "no runs committed yet" in result.out
    assert not (tmp_path / ".sofrito").exists()


def test_each_receipt_names_the_command_that_committed_it(tmp_path: Path) -> None:
    """Runs of ``watch`` and ``serve`` were all labelled "run"."""
    site = make_site(tmp_path)
    assert site.run().code == 0
    with Command("watch", str(site.flow)) as watch:
        watch.out.expect(SUMMARY)
        site.page("a.md", "Alpha\nedited while watching\n")
        watch.out.expect(SUMMARY)
        assert watch.interrupt() == 0, watch.err.text()
    with Command("serve", str(site.flow), "--port", "0") as serve:
        serve.out.expect(SUMMARY)
        assert serve.interrupt() == 0, serve.err.text()
    result = sofrito("receipts", str(site.flow))
    assert result.code == 0, result.err
    shown = [re.match(r"#(\d+)  (\w+) \d{4}-", line) for line in result.out.splitlines()]
    assert [(m.group(1), m.group(2)) for m in shown if m] == [
        ("4", "serve"), ("3", "watch"), ("2", "watch"), ("1", "run"),
    ]  # fmt: skip
