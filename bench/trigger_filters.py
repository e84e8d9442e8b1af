"""Benchmark of trigger filters: compiled expr-lang programs evaluated in process.

    .venv/bin/python bench/trigger_filters.py

Prints filter evaluations/s for 100 triggers with filters over a stream of ledger-like events
(the matching step of issue 4's benchmark; event→instance timing comes with event ingestion).
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from flows.triggers.expr import compile  # noqa: E402

FILTERS = [
    'event.amount > {n} && event.asset == "USD/2"',
    'event.metadata.kind == "payout" && event.amount >= {n}',
    'any(event.postings, .destination startsWith "users:" && .amount > {n})',
    'event.reference ?? "" contains "{n}"',
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
                "postings": [
                    {"destination": f"users:{n}", "amount": float(generator.randint(1, 1000))}
                    for n in range(3)
                ],
            }
        }
        for _ in range(count)
    ]


def main() -> None:
    programs = [compile(FILTERS[n % len(FILTERS)].format(n=n * 7)) for n in range(100)]
    stream = events(500)
    started = time.perf_counter()
    matches = sum(1 for env in stream for program in programs if program.run(env) is True)
    elapsed = time.perf_counter() - started
    evaluations = len(stream) * len(programs)
    print(
        f"{evaluations} filter evaluations (100 triggers x {len(stream)} events) in {elapsed:.2f} s: "
        f"{evaluations / elapsed:,.0f} evaluations/s, {len(stream) / elapsed:,.0f} events/s, "
        f"{matches} matches"
    )


if __name__ == "__main__":
    main()
