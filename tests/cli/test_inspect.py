"""``sofrito inspect`` end to end, in real processes: the graph's size, and ``--why``.

The ``--why`` scenarios run on the example site (examples/site/, a generated
corpus of 30 pages) through ``sofrito run``, then ask why an output
re-rendered: the chain from the edited source file to the render, each query
marked executed, cut off early or verified.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.cli.flows import Result, make_site, one_error_line, sofrito
from tests.cli.running import Command
from tests.cli.test_run import counts
from tests.cli.test_watch import SUMMARY
from tests.examples.test_site import Site, a_page, built, html_of


def why(site: Site, output: str, *options: str) -> Result:
    return sofrito("inspect", str(site.root / "flow.py"), "--why", output, *options)


def outcomes(text: str) -> dict[str, str]:
    """The "queries on the way" of ``--why``'s text: query -> outcome."""
    shown = text.partition("queries on the way:\n")[2]
    outcome = r"executed \(new\)|executed|cut off early|verified"
    pairs = re.findall(rf"^  ({outcome}) +(\S.*)$", shown, re.M)
    return {query: outcome for outcome, query in pairs}


def chains(text: str) -> list[list[str]]:
    shown = text.partition("chains (")[2].partition("\nqueries on the way:")[0]
    return [line.strip().split(" -> ") for line in shown.splitlines()[1:]]


def test_why_a_body_edit_names_the_source_and_the_chain_to_the_render(tmp_path: Path) -> None:
    site = built(tmp_path)
    page = a_page(site, 3)
    site.edit(page, "\n## ", "\nA new paragraph, only in the body.\n\n## ")
    assert site.run().code == 0
    result = why(site, html_of(page))
    assert result.code == 0, result.err
    file, body, parsed, render = (
        f"sofrito.fs.file('{page}')",
        f"flow.body('{page}')",
        f"flow.parsed('{page}')",
        f"flow.render('{page}')",
    )
    assert result.out.startswith(f"{html_of(page)} re-rendered in the last run: {render} executed")
    assert f"input changes that reached it:\n  {file}\n" in result.out
    assert chains(result.out) == [[file, body, parsed, render]]
    on_the_way = outcomes(result.out)
    assert {q: on_the_way[q] for q in (body, parsed, render)} == dict.fromkeys(
        (body, parsed, render), "executed"
    )
    # the summary came out equal: cut off early, and its readers were proved unchanged
    # without being loaded (sofrito._settle), so neither ran nor was verified
    assert on_the_way[f"flow.summary('{page}')"] == "cut off early"
    assert on_the_way[f"flow.meta('{page}')"] == "cut off early"
    assert "flow.order()" not in on_the_way
    assert on_the_way.get(f"flow.links('{page}')", "verified") == "verified"

    as_json = why(site, html_of(page), "--json")
    assert as_json.code == 0, as_json.err
    answer = json.loads(as_json.out)
    assert answer["re_rendered"] is True
    assert answer["render"]["name"] == render
    assert [node["name"] for node in answer["changed_inputs"]] == [file]
    assert [[node["name"] for node in chain] for chain in answer["chains"]] == chains(result.out)
    assert {q["name"]: _shown(q["outcome"]) for q in answer["queries"]} == on_the_way
    summary = next(q for q in answer["queries"] if q["name"] == f"flow.summary('{page}')")
    assert summary["reads"] == [f"flow.meta('{page}')", parsed]

    index = why(site, "index.html")
    assert index.code == 0, index.err
    assert index.out.startswith("index.html did not re-render in the last run")
    assert json.loads(why(site, "index.html", "--json").out)["re_rendered"] is False


def _shown(outcome: str) -> str:
    return {"new": "executed (new)", "cut off": "cut off early"}.get(outcome, outcome)


def test_why_after_a_title_edit_the_index_names_the_pages_summary(tmp_path: Path) -> None:
    site = built(tmp_path)
    page = a_page(site, 5)
    title = re.search(r"title: '(.*)'", (site.root / page).read_text())
    assert title is not None
    site.edit(page, f"title: '{title.group(1)}'", "title: 'A renamed page'")
    assert site.run().code == 0
    result = why(site, "index.html")
    assert result.code == 0, result.err
    file, meta, summary = (
        f"sofrito.fs.file('{page}')",
        f"flow.meta('{page}')",
        f"flow.summary('{page}')",
    )
    assert chains(result.out) == [[file, meta, summary, "flow.index()"]]
    on_the_way = outcomes(result.out)
    assert on_the_way[summary] == "executed"
    # the body was cut off, so its reader was proved unchanged unloaded (sofrito._settle):
    # neither is on the loaded way to the index
    assert f"flow.parsed('{page}')" not in on_the_way
    assert f"flow.body('{page}')" not in on_the_way
    assert on_the_way["flow.order()"] == "cut off early"  # the dates did not move


def test_graph_size_counts_what_the_runs_stored(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    first = site.run()
    assert first.code == 0, first.err
    result = sofrito("inspect", str(site.flow))
    assert result.code == 0, result.err
    shown = re.findall(r"^ +(\d+)  (flow\.\w+|sofrito\.fs\.glob)$", result.out, re.M)
    memos = {query: count for count, query in shown}
    assert memos == {
        "flow.render": "2",
        "flow.title": "2",
        "flow.index": "1",
        "flow.main": "1",
        "sofrito.fs.glob": "1",
    }
    answer = json.loads(sofrito("inspect", str(site.flow), "--json").out)
    assert answer["memos_total"] == counts(first.out)["executed"] == 7
    assert answer["inputs"]["sofrito.fs.file"] == 2
    # the record of outputs is a cell per folder: a.html, b.html, index.html in one
    assert answer["inputs"]["sofrito.run.outputs"] == 1
    site.page("c.md", "Gamma\nthird page\n")
    assert site.run().code == 0
    answer = json.loads(sofrito("inspect", str(site.flow), "--json").out)
    assert answer["memos"]["flow.render"] == answer["memos"]["flow.title"] == 3
    assert answer["inputs"]["sofrito.fs.file"] == 3


def test_why_a_new_page_is_a_first_computation_reached_through_the_listing(
    tmp_path: Path,
) -> None:
    site = make_site(tmp_path)
    assert site.run().code == 0
    site.page("c.md", "Gamma\nthird page\n")
    assert site.run().code == 0
    answer: dict[str, Any] = json.loads(
        sofrito("inspect", str(site.flow), "--why", "index.html", "--json").out
    )
    names = [[node["name"] for node in chain] for chain in answer["chains"]]
    assert ["sofrito.fs.file.keys()", "sofrito.fs.glob('content/*.md')", "flow.index()"] in names
    assert [
        "sofrito.fs.file('content/c.md')",
        "flow.title('content/c.md')",
        "flow.index()",
    ] in names
    title = next(q for q in answer["queries"] if q["name"] == "flow.title('content/c.md')")
    assert title["outcome"] == "new"


def test_why_after_a_code_edit_is_not_called_a_first_build(tmp_path: Path) -> None:
    """An edit of code every query reaches (here ``log``) makes every execution of
    the next run new, as a cold cache does; the cache had runs, so --why says
    the code changed instead of "the last run was a first build"."""
    site = make_site(tmp_path)
    assert site.run().code == 0
    first = sofrito("inspect", str(site.flow), "--why", "a.html")
    assert "the last run was a first build" in first.out
    site.flow.write_text(site.flow.read_text().replace('"\\n")', '"\\n" + "")'))
    assert counts(site.run().out)["executed"] == 6  # every query of the flow: all new
    answer = sofrito("inspect", str(site.flow), "--why", "a.html")
    assert answer.code == 0, answer.err
    assert "first build" not in answer.out
    assert "the flow's code (or the code of a query it reads) changed" in answer.out
    as_json = sofrito("inspect", str(site.flow), "--why", "a.html", "--json")
    assert json.loads(as_json.out)["first_build"] is False
    # a run that only executes again a render that failed before looks the same
    site.page("b.md", "Beta\nBOOM\n")
    assert site.run().code == 1
    assert site.run().code == 1  # nothing changed: only the failing render runs, anew
    failed = sofrito("inspect", str(site.flow), "--why", "b.html")
    assert "first build" not in failed.out
    assert "its execution before failed (a failure is not stored)" in failed.out


def test_why_an_output_whose_render_failed_says_so_with_the_error(tmp_path: Path) -> None:
    """b.html's render fails on the first run, so b.html is never written; a
    watch keeps the error in its session and does not execute it again, and
    after another edit --why answered "flow.py has no output 'b.html'" (exit 2)."""
    site = make_site(tmp_path)
    site.page("b.md", "Beta\nBOOM\n")
    with Command("watch", str(site.flow)) as watch:
        assert counts(watch.out.expect(SUMMARY).string)["failed"] == 1
        site.page("a.md", "Alpha\nedited\n")
        assert counts(watch.out.expect(SUMMARY).string)["written"] == 1
        assert watch.interrupt() == 0, watch.err.text()
    assert not (site.out / "b.html").exists()
    answer = sofrito("inspect", str(site.flow), "--why", "b.html")
    assert answer.code == 0, answer.err
    assert answer.out.splitlines() == [
        "b.html: its render failed in the last run: ValueError: broken front matter "
        "(source content/b.md, at flow.py:26); it was not written (its file, if any, "
        "holds the last good render)"
    ]
    as_json = json.loads(sofrito("inspect", str(site.flow), "--why", "b.html", "--json").out)
    assert as_json["failed"].startswith("ValueError: broken front matter")
    assert as_json["re_rendered"] is False
    # a run that executes it again says both: it failed, and what made it execute
    again = site.run()
    assert again.code == 1
    lines = sofrito("inspect", str(site.flow), "--why", "b.html").out.splitlines()
    assert lines[0].startswith("b.html: its render failed in the last run: ValueError")
    assert lines[1].startswith("b.html re-rendered in the last run: flow.render(")
    fine = json.loads(sofrito("inspect", str(site.flow), "--why", "a.html", "--json").out)
    assert fine["failed"] is None


def test_an_unknown_output_is_one_line_naming_it_and_close_ones(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    assert site.run().code == 0
    result = sofrito("inspect", str(site.flow), "--why", "a.htm")
    assert result.code == 2
    line = one_error_line(result)
    assert "flow.py has no output 'a.htm'" in line
    assert "did you mean 'a.html'" in line


def test_a_flow_never_run_and_a_missing_store_say_to_run_it_first(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    for args in ((), ("--why", "a.html")):
        result = sofrito("inspect", str(site.flow), *args)
        assert result.code == 8
        line = one_error_line(result)
        assert "no cache at" in line
        assert "run `sofrito run flow.py` first" in line
    assert not (tmp_path / ".sofrito").exists()  # inspecting created nothing
    memory = sofrito("inspect", str(site.flow), "--store", "memory:")
    assert memory.code == 8
    assert "flow.py has not been run with the cache memory:" in one_error_line(memory)
    other, elsewhere = tmp_path / "other.db", tmp_path / "elsewhere"
    elsewhere.mkdir()
    blog = make_site(elsewhere).flow.rename(elsewhere / "blog.py")  # runtime id "blog"
    assert sofrito("run", str(blog), "--store", f"sqlite:{other}").code == 0
    never = sofrito("inspect", str(site.flow), "--store", f"sqlite:{other}", "--why", "a.html")
    assert never.code == 8  # the cache holds another flow's runs, not this one's
    assert "flow.py has not been run with the cache" in one_error_line(never)


def test_inspect_has_help() -> None:
    result = sofrito("inspect", "--help")
    assert result.code == 0
    assert "--why OUTPUT" in result.out
    assert "--json" in result.out
