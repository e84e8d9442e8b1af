"""Variable interpolation (docs/stages.md, variables)."""

import pytest

from flows.stages.interpolation import has_variables, interpolate


@pytest.mark.parametrize(
    ("text", "variables", "expected"),
    [
        ("${a}", {"a": "1"}, "1"),
        ("test:${a}:x:${b}", {"a": "1", "b": "2"}, "test:1:x:2"),
        ("${a}${a}", {"a": "xy"}, "xyxy"),
        ("no variables", {"a": "1"}, "no variables"),
        ("", {}, ""),
    ],
)
def test_variables_are_replaced_anywhere_any_number_of_times(
    text: str, variables: dict[str, str], expected: str
) -> None:
    assert interpolate(text, variables) == expected


def test_a_missing_variable_becomes_the_empty_string() -> None:
    assert interpolate("merchant:${missing}:main", {}) == "merchant::main"


def test_empty_braces_are_left_untouched() -> None:
    assert interpolate("a${}b", {"": "x"}) == "a${}b"


def test_values_are_not_interpolated_again() -> None:
    assert interpolate("${a}", {"a": "${b}", "b": "no"}) == "${b}"


def test_there_is_no_escaping_nor_expression() -> None:
    assert interpolate("$${a}", {"a": "1"}) == "$1"
    assert interpolate("${a + b}", {"a": "1", "b": "2"}) == ""


def test_a_name_runs_to_the_first_closing_brace() -> None:
    assert interpolate("${a{b}c}", {"a{b": "X"}) == "Xc}"


def test_has_variables_tells_run_time_values_apart() -> None:
    assert has_variables("x${a}")
    assert not has_variables("x${}")
    assert not has_variables("$a {b}")
