"""The signal libraries (reaktiv, nervio, signified): one computed per node.

Signals have no keyed families, so each node is its own computed object,
built in layer order, reading the signals or computeds it depends on. Their
memo hit is a read of a computed's value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from benchmarks import graph


class SignalAdapter:
    supports_cutoff = True

    def __init__(
        self,
        name: str,
        package: str,
        signal: Callable[[int], Any],
        computed: Callable[[Callable[[], int]], Any],
        read: Callable[[Any], int],
        write: Callable[[Any, int], None],
    ) -> None:
        self.name, self.package = name, package
        self._signal, self._computed, self._read, self._write = signal, computed, read, write
        self.executions = 0

    def _node(self, body: Callable[[], int]) -> Any:
        def counted() -> int:
            self.executions += 1
            return body()

        return self._computed(counted)

    def build(self) -> None:
        read = self._read
        self.leaves = [self._signal(graph.initial(i)) for i in range(graph.LEAVES)]
        below = self.leaves
        for layer in range(graph.LAYERS):
            current = []
            for k in range(graph.WIDTH):
                (_, ka), (_, kb) = graph.deps(layer, k)
                a, b = below[ka], below[kb]
                current.append(
                    self._node(lambda a=a, b=b, layer=layer: graph.combine(layer, read(a), read(b)))
                )
            below = current
        top = below
        self.root = self._node(lambda: sum(read(n) for n in top))

    def read_root(self) -> int:
        return self._read(self.root)

    def set_leaf(self, i: int, value: int) -> None:
        self._write(self.leaves[i], value)

    def build_fanout(self) -> None:
        self.fan_input = self._signal(0)
        source, read = self.fan_input, self._read
        self.fan = [
            self._node(lambda i=i: graph.fanout_value(read(source), i)) for i in range(graph.FANOUT)
        ]

    def set_fanout(self, value: int) -> None:
        self._write(self.fan_input, value)

    def read_fanout(self) -> list[int]:
        read = self._read
        return [read(node) for node in self.fan]

    def build_hit(self) -> None:
        self.trivial = self._computed(lambda: 1)
        self._read(self.trivial)

    def hit(self) -> int:
        return self._read(self.trivial)


def reaktiv() -> SignalAdapter:
    from reaktiv import Computed, Signal

    def write(signal: Any, value: int) -> None:
        signal.set(value)

    return SignalAdapter("reaktiv", "reaktiv", Signal, Computed, lambda n: n(), write)


def nervio() -> SignalAdapter:
    import nervio as nv

    def write(signal: Any, value: int) -> None:
        signal.value = value

    return SignalAdapter("nervio", "nervio", nv.signal, nv.computed, lambda n: n.value, write)


def signified() -> SignalAdapter:
    from signified import Computed, Signal

    def write(signal: Any, value: int) -> None:
        signal.value = value

    return SignalAdapter("signified", "signified", Signal, Computed, lambda n: n.value, write)
