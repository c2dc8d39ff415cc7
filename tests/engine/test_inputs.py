"""Input cells: keys, writes, no-op writes, batches, removal, names."""

from __future__ import annotations

import pytest

import sofrito as sf


def test_key_reference_forms() -> None:
    cell = sf.Input("cell")
    assert cell["a"].key == ("a",)
    assert cell[1, 2].key == (1, 2)
    assert cell[(1, 2),].key == ((1, 2),)
    assert cell["a"] == cell["a"]
    assert hash(cell["a"]) == hash(cell["a"])
    assert cell["a"] != cell["b"]
    assert cell["a"].input is cell


def test_set_then_get_each_key_form() -> None:
    cell = sf.Input("cell")
    rt = sf.Runtime()
    rt.set(cell["a"], 1)
    rt.set(cell[1, 2], 12)
    rt.set(cell, "unit")
    assert rt.get(cell["a"]) == 1
    assert rt.get(cell[1, 2]) == 12
    assert rt.get(cell) == "unit"
    assert rt.get(cell[()]) == "unit"


def test_query_reads_cells_by_positional_key() -> None:
    cell = sf.Input("cell")

    @sf.query
    def pair(db: object) -> tuple[int, str]:
        return cell(db, 1, 2), cell(db)

    rt = sf.Runtime()
    rt.set(cell[1, 2], 12)
    rt.set(cell, "unit")
    assert pair(rt) == (12, "unit")


def test_each_effective_write_bumps_the_revision_by_one() -> None:
    cell = sf.Input("cell")
    rt = sf.Runtime()
    assert rt.revision == 0
    rt.set(cell["a"], 1)
    assert rt.revision == 1
    rt.set(cell["a"], 2)
    assert rt.revision == 2


def test_equal_write_is_a_no_op() -> None:
    cell = sf.Input("cell")
    rt = sf.Runtime()
    rt.set(cell["a"], [1, 2])
    rt.set(cell["a"], [1, 2])
    assert rt.revision == 1


def test_equal_value_with_other_durability_is_a_write() -> None:
    cell = sf.Input("cell")
    runs: list[str] = []

    @sf.query
    def read(db: object) -> int:
        runs.append("read")
        return cell(db, "a")  # type: ignore[no-any-return]

    rt = sf.Runtime()
    rt.set(cell["a"], 1)
    read(rt)
    rt.set(cell["a"], 1, durability=sf.Durability.STABLE)
    assert rt.revision == 2
    assert read(rt) == 1
    assert runs == ["read", "read"]


def test_batch_bumps_once() -> None:
    cell = sf.Input("cell")
    rt = sf.Runtime()
    with rt.batch():
        rt.set(cell["a"], 1)
        rt.set(cell["b"], 2)
        with rt.batch():
            rt.set(cell["c"], 3)
    assert rt.revision == 1
    assert [rt.get(cell[k]) for k in "abc"] == [1, 2, 3]


def test_batch_of_no_op_writes_does_not_bump() -> None:
    cell = sf.Input("cell")
    rt = sf.Runtime()
    rt.set(cell["a"], 1)
    with rt.batch():
        rt.set(cell["a"], 1)
    assert rt.revision == 1


def test_reading_a_query_inside_a_batch_that_wrote_is_refused() -> None:
    cell = sf.Input("cell")

    @sf.query
    def read(db: object) -> int:
        return cell(db, "a")  # type: ignore[no-any-return]

    rt = sf.Runtime()
    with rt.batch():
        rt.set(cell["a"], 1)
        with pytest.raises(RuntimeError, match=r"inside rt\.batch"):
            read(rt)
    assert read(rt) == 1


def test_get_of_never_set_cell_suspends_naming_it() -> None:
    cell = sf.Input("cell")
    rt = sf.Runtime()
    with pytest.raises(sf.Suspend) as info:
        rt.get(cell["missing"])
    assert info.value.pending == [cell["missing"]]
    assert "cell['missing']" in str(info.value)


def test_remove_makes_readers_suspend() -> None:
    cell = sf.Input("cell")

    @sf.query
    def read(db: object) -> int:
        return cell(db, "a")  # type: ignore[no-any-return]

    rt = sf.Runtime()
    rt.set(cell["a"], 1)
    assert read(rt) == 1
    rt.remove(cell["a"])
    assert rt.revision == 2
    with pytest.raises(sf.Suspend) as info:
        read(rt)
    assert info.value.pending == [cell["a"]]
    rt.set(cell["a"], 5)
    assert read(rt) == 5


def test_removing_absent_cells_is_silent_no_op() -> None:
    cell = sf.Input("cell")
    rt = sf.Runtime()
    rt.remove(cell["never"])
    rt.set(cell["a"], 1)
    rt.remove(cell["a"])
    rt.remove(cell["a"])
    assert rt.revision == 2


def test_default_durability_is_volatile_and_input_default_applies() -> None:
    assert sf.Input("x").durability is sf.Durability.VOLATILE
    assert sf.Input("y", durability=sf.Durability.STABLE).durability is sf.Durability.STABLE


def test_two_inputs_with_one_name_are_refused_naming_both() -> None:
    first, second = sf.Input("dup"), sf.Input("dup")
    rt = sf.Runtime()
    rt.set(first["a"], 1)
    with pytest.raises(ValueError, match=r"'dup'.*Input\('dup'\).*Input\('dup'\)"):
        rt.set(second["a"], 1)


def test_input_and_query_with_one_name_are_refused() -> None:
    cell = sf.Input("shared.name")

    @sf.query(name="shared.name")
    def q(db: object) -> int:
        return 1

    rt = sf.Runtime()
    rt.set(cell, 1)
    with pytest.raises(ValueError, match=r"shared\.name"):
        q(rt)


def test_unhashable_input_key_names_the_input() -> None:
    cell = sf.Input("cell")
    with pytest.raises(TypeError, match=r"input 'cell'.*not hashable"):
        cell[["a"]]


def test_durability_changes_are_ordered() -> None:
    levels = list(sf.Durability)
    assert levels == sorted(levels)
    assert sf.Durability.VOLATILE < sf.Durability.TRANSIENT < sf.Durability.STABLE
    assert sf.Durability.STABLE < sf.Durability.STATIC
