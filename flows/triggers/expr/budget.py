"""Limits that keep any expression cheap: source size and node count at compile, memory and time
at run time.

expr-lang bounds compilation with `MaxNodes` (10,000 AST nodes) and evaluation with a
`MemoryBudget` (1,000,000 units: one per element of a range, array or map it builds, one per byte
of a string `repeat` builds); over it, "memory budget exceeded". Go has growable stacks and runs
about 50 times faster than this interpreter, so Flows adds what Python needs on top: a cap on the
source length (parsing costs ~8 µs per character), on the nesting depth (the compiler and the
compiled closures recurse once per level), memory counted for every string, array or map an
operation builds (`+`, builtins, predicates), and a time budget checked as evaluation goes, so
that every evaluation ends within `TIME_BUDGET` seconds of its thread's CPU time. CPU time rather
than the wall clock: the same expression must pass or fail the same way on a busy machine, where
its thread waits for a core (or for the GIL) for longer than it runs.

The budget of the evaluation running on this thread is reachable with `current()`, for the
helpers (builtins, deep equality) that loop over values without a compiled node around them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from flows.triggers.expr.errors import MEMORY_EXCEEDED, TIME_EXCEEDED, Fail

MAX_SOURCE_LENGTH = 16_384  # characters; parsing this much takes ~0.15 s on an idle core
MAX_NODES = 10_000  # expr-lang's conf.DefaultMaxNodes
MAX_DEPTH = 100  # nesting levels of the syntax tree
MEMORY_BUDGET = 1_000_000  # expr-lang's conf.DefaultMemoryBudget
TIME_BUDGET = 0.05  # seconds of the evaluating thread's CPU time; link() fetches excluded
CHECK_EVERY = 32  # steps between two looks at the clock


class Budget:
    """What one evaluation may still spend. Not shared between evaluations, and made on the
    thread that runs the evaluation (its clock is that thread's CPU time)."""

    __slots__ = ("countdown", "deadline", "memory", "seconds", "timed_out")

    def __init__(self, seconds: float = TIME_BUDGET, memory: int = MEMORY_BUDGET):
        self.seconds = seconds
        self.memory = memory
        self.deadline = time.thread_time() + seconds
        self.countdown = CHECK_EVERY
        self.timed_out = False

    def allocate(self, units: int) -> None:
        """Count `units` of memory (elements or characters) an operation builds."""
        self.memory -= units
        if self.memory <= 0:
            raise Fail(MEMORY_EXCEEDED)

    def require(self, units: int) -> None:
        """Refuse, before building it, a value larger than what is left (counted once built)."""
        if units >= self.memory:
            raise Fail(MEMORY_EXCEEDED)

    def step(self) -> None:
        """One unit of work (a loop iteration, a call); looks at the clock now and then."""
        self.countdown -= 1
        if self.countdown <= 0:
            self.countdown = CHECK_EVERY
            self.check_time()

    def check_time(self) -> None:
        if time.thread_time() > self.deadline:
            self.timed_out = True
            raise Fail(f"{TIME_EXCEEDED} ({self.seconds * 1000:g} ms)")

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Time spent inside the block (waiting on a link() fetch) is not counted."""
        started = time.thread_time()
        try:
            yield
        finally:
            self.deadline += time.thread_time() - started


_local = threading.local()


def current() -> Budget:
    """The budget of the evaluation running on this thread (an unlimited one outside of any)."""
    budget: Budget | None = getattr(_local, "budget", None)
    return budget if budget is not None else _UNBOUNDED


def install(budget: Budget | None) -> Budget | None:
    """Make `budget` this thread's current one; returns the previous one, to install back."""
    previous: Budget | None = getattr(_local, "budget", None)
    _local.budget = budget
    return previous


# Outside of an evaluation (constant folding at compile time, rendering a variable's value).
_UNBOUNDED = Budget(seconds=float("inf"), memory=2**62)
