"""The wheel's build hook: the engine compiled with mypyc, or pure Python.

A wheel of sofrito carries the compiled engine by default: it is the same
source, and 1.5-2.7x faster on every benchmark (docs/concepts.md, "A compiled
engine"). hatch-mypyc does the compiling; this hook decides when, because
its own rules would hurt a user in three places:

- **No compiler.** hatch-mypyc fails the install when there is no C compiler
  or no Python headers. Here the build warns and falls back to the
  pure-Python wheel, which behaves the same, only slower.
- **Editable installs.** A compiled module beside its ``.py`` file would be
  imported instead of the source being edited, so an editable install never
  compiles.
- **The working tree.** hatch-mypyc compiles into ``src/`` and leaves the
  modules there, where they would shadow the ``.py`` files of an editable
  install made from the same clone. This hook removes them once the wheel
  holds them.

``SOFRITO_BUILD`` chooses: ``auto`` (the default) compiles when it can,
``compiled`` fails rather than fall back (the test suite's compiled run uses
it, so that it cannot silently test pure Python), ``pure`` does not compile.
"""

from __future__ import annotations

import os
from typing import Any

from hatch_mypyc import plugin as mypyc  # type: ignore[import-untyped]
from hatchling.builders.hooks.plugin.interface import BuildHookInterface

MODES = ("auto", "compiled", "pure")


def build_mode() -> str:
    mode = os.environ.get("SOFRITO_BUILD", "auto").strip().lower() or "auto"
    if mode not in MODES:
        raise ValueError(f"SOFRITO_BUILD={mode!r}: expected one of {', '.join(MODES)}")
    return mode


class EngineBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        mode = build_mode()
        if self.target_name != "wheel" or version == "editable" or mode == "pure":
            return
        compiler = self._mypyc()
        try:
            compiler.initialize(version, build_data)
        except Exception as error:
            compiler.clean([version])
            if mode == "compiled":
                raise
            self.app.display_warning(
                "sofrito: could not compile the engine with mypyc (it needs a C compiler and "
                "the Python headers); building the pure-Python wheel instead, which works the "
                f"same, only slower. Set SOFRITO_BUILD=compiled to make this an error.\n{error}"
            )

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        if self.target_name == "wheel" and version != "editable":
            self._mypyc().clean([version])

    def _mypyc(self) -> Any:
        return mypyc.MypycBuildHook(
            self.root,
            self.config,
            self.build_config,
            self.metadata,
            self.directory,
            self.target_name,
            self.app,
        )
