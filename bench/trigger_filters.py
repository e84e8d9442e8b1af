"""Benchmark of trigger filters: compiled expr-lang programs evaluated in process.

    .venv/bin/python bench/trigger_filters.py

Prints filter evaluations/s for 100 triggers with filters over a stream of ledger-like events
(the matching step of issue 4's benchmark; event→instance timing comes with event ingestion):
the compiled programs run directly, then through `flows.triggers.link.run` as the event handler
runs them (each within its budget, inline on the event loop unless it outgrows its time slice).
"""

from __future__ import annotations

import asyncio
import random
import time

from flows.triggers import link
from flows.triggers.expr import Program, compile

FILTERS = [
    'event.amount > {n} && event.asset == "USD/2"',
    'event.metadata.kind == "payout" && event.amount >= {n}',
    'any(event.postings, .destination startsWith "users:" && .amount > {n})',
    '(event.reference ?? "") contains "{n}"',
]


def events(count: int) -> list[dict]:
    generator = random.Random(7)
    return [
        {
            "event": {
                "amount": float(generator.randint(1, 1000)),
                "asset": generator.choice(["USD/2", "EUR/2"]),
                "metadata": {"kind": generator.choice(["payout", "payin"])},
                "reference": f"ref-{generator.randint(1, 100)}",
                "postings": [{"destination": f"users:{n}", "amount": float(generator.randint(1, 1000))} for n in range(3)],
            }
        }
        for _ in range(count)
    ]


def report(label: str, evaluations: int, events: int, elapsed: float, matches: int) -> None:
    print(
        f"{label}: {evaluations} filter evaluations (100 triggers x {events} events) in {elapsed:.2f} s: "
        f"{evaluations / elapsed:,.0f} evaluations/s, {events / elapsed:,.0f} events/s, {matches} matches"
    )


async def through_link_run(programs: list[tuple[str, Program]], stream: list[dict]) -> int:
    matched = 0
    for env in stream:
        for source, program in programs:
            matched += await link.run(program, source, env["event"], None, services=("ledger",)) is True
    return matched


def main() -> None:
    sources = [FILTERS[n % len(FILTERS)].format(n=n * 7) for n in range(100)]
    programs = [(source, compile(source)) for source in sources]
    stream = events(500)
    evaluations = len(stream) * len(programs)

    started = time.perf_counter()
    matches = sum(1 for env in stream for _, program in programs if program.run(env) is True)
    report("Program.run", evaluations, len(stream), time.perf_counter() - started, matches)

    started = time.perf_counter()
    matches = asyncio.run(through_link_run(programs, stream))
    report("link.run   ", evaluations, len(stream), time.perf_counter() - started, matches)


if __name__ == "__main__":
    main()
