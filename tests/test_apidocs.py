"""The API reference builds from the docstrings, and fails on an undocumented name.

``scripts/apidocs.py`` (docs/README.md, "The API reference is generated")
runs in a child process with this interpreter, on the source tree (``src/``
first on the path), which is what ``scripts/apidocs.sh`` documents. Not on
an installed compiled build: mypyc drops the docstrings of the classes it
compiles (``sf.Input.__doc__`` is None there), so the reference is made from
the source, where they are written.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent
SCRIPT = ROOT / "scripts" / "apidocs.py"
PUBLIC = ("sofrito", "sofrito.stores", "sofrito.subscriptions")


def _build(out: Path, *modules: str, path: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    first = [str(path)] if path is not None else []
    paths = [*first, str(ROOT / "src"), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(entry for entry in paths if entry)
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(out), *modules],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_the_reference_has_a_page_per_public_module_naming_every_public_name(
    tmp_path: Path,
) -> None:
    done = _build(tmp_path / "api")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "api" / "index.html").is_file()
    for name in PUBLIC:
        page = (tmp_path / "api" / (name.replace(".", "/") + ".html")).read_text()
        for public in importlib.import_module(name).__all__:
            assert f'id="{public}"' in page, f"{name}.{public}"
    # A constant defined in a private module shows the docstring it has there.
    top = (tmp_path / "api" / "sofrito.html").read_text()
    assert "Return this from a locator to say the value is not available yet." in top


def test_a_public_name_without_a_docstring_fails_the_build_naming_it(tmp_path: Path) -> None:
    (tmp_path / "shop.py").write_text(
        '"""A shop."""\n'
        '__all__ = ["Basket", "Bare", "checkout", "TAX", "RATE"]\n'
        "class Basket:\n"
        '    """Holds what you buy."""\n'
        "class Bare(Basket):\n"
        "    pass\n"  # inherits Basket's docstring: not its own
        "def checkout():\n"
        "    pass\n"
        "TAX = 0.2\n"
        '"""The tax rate."""\n'
        "RATE = 3\n"
    )
    done = _build(tmp_path / "api", "shop", path=tmp_path)
    assert done.returncode == 1
    named = sorted(line.split(":")[0] for line in done.stderr.splitlines() if "docstring" in line)
    assert named == ["shop.Bare", "shop.RATE", "shop.checkout"]
    assert "API reference: 3 problem(s)" in done.stderr


def test_a_module_that_cannot_be_imported_fails_the_build(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text('"""Broken."""\nraise ImportError("no such thing")\n')
    done = _build(tmp_path / "api", "broken", path=tmp_path)
    assert done.returncode == 1
    assert "broken" in done.stderr
