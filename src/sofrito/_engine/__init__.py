"""The incremental engine, one algorithm step per module.

- ``memo``      the records: ``Memo`` (a query's node) and ``Cell`` (an input's node)
- ``spec``      ``QuerySpec``: what the runtime knows about one query
- ``family``    ``Input`` (a family of cells) and ``InputRef`` (one cell)
- ``revision``  the revision counter and the last change per durability level
- ``state``     ``Engine``: the tables and shared state one runtime owns
- ``local``     per-thread state: the thread's ``Reader``, its batch, its locators
- ``handle``    ``Db``: what a ``db`` offers, a runtime and a query's frame alike
- ``frames``    ``Frame`` (one execution in progress, and the ``db`` it sees) and ``Task``
- ``fetch``     the cold path of a read: verify, wait, or execute
- ``hits``      the values a top-level call returns without entering the engine
- ``verify``    the shallow check (its one home) and deep verification in read order
- ``frontier``  cut revisions: writes whose change stopped at the first readers
- ``execute``   run a query body and record what it read
- ``backdate``  early cutoff: keep the old value when the new one is equal
- ``inputs``    reading input cells, and asking their locators
- ``listing``   a family's key listing (``source.keys(db)``) as a node
- ``write``     writes: change cells, bump the revision, push dirty marks; lifecycle state
- ``rdeps``     reverse dependencies and dirty marks pushed on write
- ``sync``      single-flight claims and cycle detection across threads
- ``cancel``    the write gate: cancel, unwind, then write
- ``lifetime``  weakly referenced marks: a thread's end, an input's
- ``stack``     running deep computations on fresh thread stacks
- ``lru``       eviction of values beyond a query's capacity
- ``refs``      the event-facing names of nodes
- ``suspense``  async locators and ``rt.aquery``

The boundary. Only these modules write the engine's records. The runtime
facade and the persistence layer change them through declared calls:

- ``restore``   install a stored cell or memo (one call each), discard, catch
  up, set the per-durability revisions, clear the memos, forget everything
- ``journal``   what changed since the last commit, read and acknowledged by
  the persistence layer
- ``release``   drop the memos a write's own walk cannot mark (their reads
  stored ids, or a read of such a memo), after a commit in a session that
  stays open
- ``backing``   ``Backing``: the engine's questions to a store for records not
  in memory (declared for loading on demand; ``Engine.backing`` is None now)

The engine holds no reference to the runtime (a top-level call hands in its
``db``) and imports nothing from ``sofrito.stores`` at run time
(``tests/engine/test_boundary.py`` checks both halves). Its words are defined
in ``docs/glossary.md``.

The memo-hit path itself is not here: it is the body of the function that
``@sf.query`` generates (``sofrito._queries``), so that a hit costs one call.

A build may compile these modules with mypyc, all but ``suspense`` and
``lifetime`` (``docs/concepts.md``, "A compiled engine"); ``COMPILED`` says
whether this one did.
"""

COMPILED: bool = not __file__.endswith(".py")
"""Whether this engine is the mypyc-compiled build (its modules are extensions)."""
