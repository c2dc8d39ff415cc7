"""sofrito._interpreted: what compiled modules hand to Python, in either build."""

from __future__ import annotations

import traceback
import warnings

import pytest

from sofrito._interpreted import warn_at_caller, without_context

SOFRITO_MODULE = """
def inner():
    warn_at_caller("a value was left out", UserWarning)

def outer():
    inner()
"""


def test_a_warning_names_the_first_frame_outside_sofrito() -> None:
    """Two frames of a module named ``sofrito.*`` between this test and the
    warning: the warning names this file, however many frames that is."""
    namespace = {"__name__": "sofrito._pretend", "warn_at_caller": warn_at_caller}
    exec(compile(SOFRITO_MODULE, "pretend.py", "exec"), namespace)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        namespace["outer"]()  # type: ignore[operator]
    assert [warning.filename for warning in caught] == [__file__]


def test_a_warning_from_outside_sofrito_names_its_own_caller() -> None:
    with pytest.warns(UserWarning, match="direct") as caught:
        warn_at_caller("direct", UserWarning)
    assert caught[0].filename == __file__


def test_an_error_raised_without_context_shows_none() -> None:
    def fail() -> None:
        try:
            raise KeyError("the codec's own error")
        except KeyError:
            raise without_context(ValueError("what the user is told"))  # noqa: B904

    with pytest.raises(ValueError, match="what the user is told") as raised:
        fail()
    assert raised.value.__suppress_context__
    assert raised.value.__cause__ is None
    assert "the codec's own error" not in "".join(traceback.format_exception(raised.value))
