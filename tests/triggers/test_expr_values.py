"""Payload numbers as trigger expressions see them: floats as Go decodes them, except integers a
float64 would round, which reach a variable digit for digit."""

from __future__ import annotations

from typing import Any

import pytest

from flows.triggers import expr
from flows.triggers.expr.values import from_json


def test_numbers_become_floats_as_go_decodes_them() -> None:
    assert from_json({"a": 3, "b": [1, {"c": 2}], "d": 1.5, "e": "7"}) == {
        "a": 3.0, "b": [1.0, {"c": 2.0}], "d": 1.5, "e": "7",
    }  # fmt: skip
    assert type(from_json({"a": 3})["a"]) is float
    assert expr.evaluate("event.a / 2", {"event": from_json({"a": 3})}) == 1.5


@pytest.mark.parametrize("amount", [2**53 + 1, 2**60 + 1, -(2**62) - 3, 2**63 - 1])
def test_an_integer_a_float_would_round_stays_exact(amount: int) -> None:
    payload = from_json({"amount": amount})
    assert payload["amount"] == amount
    value = expr.evaluate("event.amount", {"event": payload})
    assert expr.to_variable_string(value) == str(amount)


def test_beyond_int64_an_integer_is_a_float_and_beyond_a_float_it_is_refused() -> None:
    assert from_json([2**64]) == [float(2**64)]
    with pytest.raises(ValueError, match="beyond the range of a float64"):
        from_json({"n": 10**400})


def test_a_deep_document_is_converted_without_recursion() -> None:
    document: list[object] = [1]
    for _ in range(10_000):
        document = [document]
    converted: Any = from_json(document)
    for _ in range(10_000):
        converted = converted[0]
    assert converted == [1.0]
