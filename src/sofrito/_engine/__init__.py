"""The incremental engine, one algorithm step per module.

- ``memo``      the records: ``Memo`` (a query's node) and ``Cell`` (an input's node)
- ``spec``      ``QuerySpec``: what the runtime knows about one query
- ``family``    ``Input`` (a family of cells) and ``InputRef`` (one cell)
- ``revision``  the revision counter and the last change per durability level
- ``state``     ``Engine``: the tables and shared state one runtime owns
- ``frames``    ``Frame`` (one execution in progress, and the ``db`` it sees) and ``Task``
- ``fetch``     the cold path of a read: verify, wait, or execute
- ``verify``    deep verification in read order
- ``execute``   run a query body and record what it read
- ``backdate``  early cutoff: keep the old value when the new one is equal
- ``inputs``    reading input cells, and asking their locators
- ``write``     writes: change cells, bump the revision, push dirty marks
- ``rdeps``     reverse dependencies and dirty marks pushed on write
- ``sync``      single-flight claims and cycle detection across threads
- ``cancel``    the write gate: cancel, unwind, then write
- ``reader``    one thread's record in a runtime, held by the gate
- ``lifetime``  weakly referenced marks: a thread's end, an input's
- ``stack``     running deep computations on fresh thread stacks
- ``lru``       eviction of values beyond a query's capacity
- ``refs``      the event-facing names of nodes
- ``suspense``  async locators and ``rt.aquery``

The memo-hit path itself is not here: it is the body of the function that
``@sf.query`` generates (``sofrito._queries``), so that a hit costs one call.

A build may compile these modules with mypyc, all but ``suspense`` and
``lifetime`` (``docs/concepts.md``, "A compiled engine"); ``COMPILED`` says
whether this one did.
"""

COMPILED: bool = not __file__.endswith(".py")
"""Whether this engine is the mypyc-compiled build (its modules are extensions)."""
