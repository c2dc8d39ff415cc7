"""The wheel's build hook (hatch_build.py): compiled by default, pure as the fallback.

Each test builds a real wheel with hatchling from a copy of the project, in a
child process, and looks inside it. The compiles are narrowed to two small
engine modules so that a test takes seconds, not the minute the whole engine
takes. Two, not one: mypyc puts the runtime that several modules share in a
library of its own at the top of the tree, as it does for the whole engine.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
TWO_MODULES = '"/src/sofrito/_engine/refs.py", "/src/sofrito/_engine/revision.py"'


def project_copy(tmp_path: Path) -> Path:
    tree = tmp_path / "project"
    tree.mkdir()
    for name in ("pyproject.toml", "README.md", "hatch_build.py", ".gitignore"):
        shutil.copy(PROJECT / name, tree / name)
    shutil.copytree(PROJECT / "src", tree / "src", ignore=shutil.ignore_patterns("__pycache__"))
    pyproject = tree / "pyproject.toml"
    text = pyproject.read_text()
    narrowed = re.sub(
        r'include = \[\s*"/src/sofrito/_engine",[^\]]*\]', f"include = [{TWO_MODULES}]", text
    )
    assert narrowed != text, "the hook's include list moved; update this test"
    pyproject.write_text(narrowed)
    return tree


def build(
    tree: Path, kind: str = "wheel", **env: str
) -> tuple[subprocess.CompletedProcess[str], Path | None]:
    """Run hatchling's ``build_<kind>`` in ``tree``: (the process, the wheel it made)."""
    script = (
        "import sys, hatchling.build as backend; "
        f"print('WHEEL=' + backend.build_{kind}(sys.argv[1]))"
    )
    environment = {k: v for k, v in os.environ.items() if k != "SOFRITO_BUILD"} | env
    process = subprocess.run(
        [sys.executable, "-c", script, str(tree / "dist")],
        cwd=tree,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    found = re.search(r"^WHEEL=(.+)$", process.stdout, re.MULTILINE)
    return process, (tree / "dist" / found.group(1)) if found else None


def members(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


def extensions(names: list[str]) -> list[str]:
    return [name for name in names if name.endswith((".so", ".pyd"))]


def left_in_tree(tree: Path) -> list[Path]:
    return [*tree.joinpath("src").rglob("*.so"), *tree.glob("pyproject.toml.*")]


def test_a_wheel_carries_the_compiled_engine_and_leaves_no_module_in_the_tree(
    tmp_path: Path,
) -> None:
    tree = project_copy(tmp_path)
    process, wheel = build(tree)
    assert wheel is not None, process.stderr
    assert not wheel.name.endswith("-py3-none-any.whl"), wheel.name  # a platform wheel
    compiled = extensions(members(wheel))
    assert any(name.startswith("sofrito/_engine/refs.") for name in compiled), compiled
    assert any("__mypyc." in name for name in compiled), compiled  # the shared runtime
    assert "sofrito/_engine/refs.py" in members(wheel)  # the source ships too
    assert left_in_tree(tree) == []  # nothing to shadow an editable install's .py files


def test_without_a_c_compiler_the_wheel_falls_back_to_pure_python(tmp_path: Path) -> None:
    tree = project_copy(tmp_path)
    process, wheel = build(tree, CC="false")
    assert wheel is not None, process.stderr
    assert wheel.name.endswith("-py3-none-any.whl")
    assert extensions(members(wheel)) == []
    assert "sofrito/_engine/refs.py" in members(wheel)
    assert "could not compile the engine" in process.stdout + process.stderr
    assert left_in_tree(tree) == []


def test_sofrito_build_compiled_fails_rather_than_fall_back(tmp_path: Path) -> None:
    tree = project_copy(tmp_path)
    process, wheel = build(tree, CC="false", SOFRITO_BUILD="compiled")
    assert process.returncode != 0
    assert wheel is None
    assert "Mypyc" in process.stderr
    assert left_in_tree(tree) == []
    assert (tree / "pyproject.toml").is_file()  # hatch-mypyc hides it while it compiles


@pytest.mark.parametrize(
    ("kind", "env"),
    [("editable", {}), ("wheel", {"SOFRITO_BUILD": "pure"})],
    ids=["an editable install", "SOFRITO_BUILD=pure"],
)
def test_builds_that_must_stay_python_do_not_run_the_compiler(
    tmp_path: Path, kind: str, env: dict[str, str]
) -> None:
    tree = project_copy(tmp_path)
    # A compiler that records being run, so the test sees an attempt, not only its result.
    witness = tmp_path / "compiler-ran"
    compiler = tmp_path / "cc"
    compiler.write_text(f"#!/bin/sh\ntouch {witness}\nexit 1\n")
    compiler.chmod(0o755)
    process, wheel = build(tree, kind, CC=str(compiler), **env)
    assert wheel is not None, process.stderr
    assert extensions(members(wheel)) == []
    assert not witness.exists()
    assert "could not compile" not in process.stdout + process.stderr


def test_an_unknown_sofrito_build_is_an_error_that_names_the_choices(tmp_path: Path) -> None:
    tree = project_copy(tmp_path)
    process, wheel = build(tree, SOFRITO_BUILD="fast")
    assert wheel is None
    assert "SOFRITO_BUILD='fast': expected one of auto, compiled, pure" in process.stderr
