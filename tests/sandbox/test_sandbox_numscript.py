"""The sandbox's Numscript subset, compiled and executed in memory."""

from __future__ import annotations

import pytest

from flows.sandbox.errors import StackError
from flows.sandbox.numscript import Posting, compile_script, execute

ORCHESTRATION = "send [USD/2 100] (\n  source = @users:1 allowing unbounded overdraft\n  destination = @users:2\n)"


def run(script: str, balances: dict[tuple[str, str], int] | None = None, **variables: str) -> list[tuple[str, str, int]]:
    outcome = execute(compile_script(script, variables), balances or {})
    return [(p.source, p.destination, p.amount) for p in outcome.postings]


def failure(script: str, balances: dict[tuple[str, str], int] | None = None, **variables: str) -> str:
    with pytest.raises(StackError) as caught:
        execute(compile_script(script, variables), balances or {})
    assert caught.value.code is not None
    return caught.value.code


def test_the_orchestration_template() -> None:
    program = compile_script(ORCHESTRATION)
    assert program.volumes() == {("users:1", "USD/2"), ("users:2", "USD/2")}
    assert execute(program, {}).postings == [Posting("users:1", "users:2", 100, "USD/2")]


def test_plain_sources_are_balance_checked_except_world() -> None:
    plain = "send [USD/2 100] (\n  source = @a\n  destination = @b\n)"
    assert failure(plain, {("a", "USD/2"): 99}) == "INSUFFICIENT_FUND"
    assert run(plain, {("a", "USD/2"): 100}) == [("a", "b", 100)]
    assert run(plain.replace("@a", "@world")) == [("world", "b", 100)]
    # Destination first is allowed; so are blank lines and comments.
    swapped = "// move\nsend [USD/2 1] (\n\n  destination = @b\n  source = @world\n)\n"
    assert run(swapped) == [("world", "b", 1)]


@pytest.mark.parametrize(
    "script",
    [
        "send [USD/2 1] (\n  source = @world allowing unbounded overdraft\n  destination = @b\n)",
        "send [USD/2 1] ( source = @a\n  destination = @b\n)",
        "send [USD/2 1] (\n  source = @a destination = @b\n)",
        "send [USD/2 1] (\n  source = @a\n  destination = @b )",
        "send [USD/2 -1] (\n  source = @a\n  destination = @b\n)",
        "send [usd 1] (\n  source = @a\n  destination = @b\n)",
        "send [USD/2 1] (\n  source = @a:\n  destination = @b\n)",
        "send [USD/2 1] (\n  source = @a allowing overdraft up to [EUR 5]\n  destination = @b\n)",
        "print [USD/2 1]",
        "",
    ],
)
def test_compilation_failures(script: str) -> None:
    with pytest.raises(StackError) as caught:
        compile_script(script)
    assert caught.value.code == "COMPILATION_FAILED"


def test_variables() -> None:
    script = "vars {\n  monetary $amount\n  account $dest\n  string $why\n}\nsend $amount (\n  source = @world\n  destination = $dest\n)\nset_tx_meta(\"why\", $why)\nset_account_meta($dest, \"amount\", $amount)"
    outcome = execute(compile_script(script, {"amount": "EUR_CENT/2 5", "dest": "users:9", "why": "gift"}), {})
    assert outcome.postings == [Posting("world", "users:9", 5, "EUR_CENT/2")]
    assert outcome.transaction_metadata == {"why": "gift"}
    assert outcome.account_metadata == {"users:9": {"amount": "EUR_CENT/2 5"}}
    for bad in ({"amount": "EUR 5"}, {"amount": "EUR x", "dest": "a", "why": ""}, {"amount": "EUR 5", "dest": "a b", "why": ""}):
        with pytest.raises(StackError) as caught:
            compile_script(script, bad)
        assert caught.value.code == "COMPILATION_FAILED"


def test_in_order_sources_and_destinations() -> None:
    script = (
        "send [COIN 100] (\n  source = {\n    @a\n    max [COIN 10] from @b\n    @c allowing overdraft up to [COIN 50]\n  }\n"
        "  destination = {\n    max [COIN 70] to @x\n    remaining to @y\n  }\n)"
    )
    balances = {("a", "COIN"): 30, ("b", "COIN"): 500, ("c", "COIN"): 20}
    assert run(script, balances) == [("a", "x", 30), ("b", "x", 10), ("c", "x", 30), ("c", "y", 30)]
    assert failure(script, {("a", "COIN"): 5}) == "INSUFFICIENT_FUND"


def test_kept_send_all_and_allotments() -> None:
    kept = "send [COIN 100] (\n  source = @world\n  destination = {\n    max [COIN 30] to @x\n    remaining kept\n  }\n)"
    assert run(kept) == [("world", "x", 30)]
    everything = "send [COIN *] (\n  source = {\n    @a\n    @b\n  }\n  destination = @z\n)"
    assert run(everything, {("a", "COIN"): 3, ("b", "COIN"): 4}) == [("a", "z", 3), ("b", "z", 4)]
    assert failure("send [COIN *] (\n  source = @world\n  destination = @z\n)") == "COMPILATION_FAILED"
    split = "send [COIN 10] (\n  source = @world\n  destination = {\n    1/3 to @x\n    remaining to @y\n  }\n)"
    assert run(split) == [("world", "x", 4), ("world", "y", 6)]
    shared = "send [COIN 10] (\n  source = {\n    50% from @a\n    remaining from @world\n  }\n  destination = @z\n)"
    assert run(shared, {("a", "COIN"): 5}) == [("a", "z", 5), ("world", "z", 5)]
    assert failure(shared, {("a", "COIN"): 4}) == "INSUFFICIENT_FUND"


def test_funds_received_earlier_in_the_script_can_be_spent() -> None:
    script = "send [COIN 5] (\n  source = @world\n  destination = @a\n)\nsend [COIN 5] (\n  source = @a\n  destination = @b\n)"
    assert run(script) == [("world", "a", 5), ("a", "b", 5)]
