"""expr-lang (v1.17) for trigger filters and variables, in Python.

Public API:

* `compile(source) -> Program` parses and checks an expression; a syntax error (or an operation
  on literals that can never succeed, or a wrong number of arguments to a builtin) raises
  `ExprError`. Compilation needs no environment: unknown identifiers are accepted and evaluate to
  nil, and unknown function names (such as `link`) are looked up in the environment at run time.
* `Program.run(env, budget=None) -> Any` evaluates it against `env` (a dict; triggers pass
  `{"event": payload}`) and raises `ExprError` on run-time errors, including running out of its
  `Budget` (flows.triggers.expr.budget: memory as expr-lang counts it, and time). Compilation is
  bounded too: source length, node count (expr-lang's MaxNodes) and nesting depth.
* `matches` uses RE2 (Go's regexp syntax, linear time).
* `evaluate(source, env) -> Any` is `compile(source).run(env)`; triggers should compile once and
  reuse the program.
* `ExprError`: `str()` is expr-lang's text, `<message> (line:col)\\n | <source line>\\n | <pointer>`,
  e.g. `invalid operation: <nil> + <nil> (1:3)\\n | a + b\\n | ..^`. An error raised by an
  environment function is passed through bare (no position), with the original as `__cause__`.
* `to_variable_string(value, budget=None) -> str`: a value as a workflow variable
  (docs/triggers.md); `ExprError` when rendering it goes over the budget or the value is nested too deeply.

Values follow Go: JSON numbers are floats (float64), integer literals ints, `/` and `**` give
floats, `%` takes ints, a missing map key is nil, and type errors name Go types (`float64`,
`string`, `map[string]interface {}`, `[]interface {}`, `<nil>`). `now()`, `date()`, `duration()`
and `timezone()` give Go's time values (flows.triggers.expr.times), without their Go methods.
"""

from __future__ import annotations

from typing import Any

from flows.triggers.expr.budget import Budget
from flows.triggers.expr.compiler import Program, compile_source
from flows.triggers.expr.errors import ExprError
from flows.triggers.expr.gostrings import to_variable_string

__all__ = ["Budget", "ExprError", "Program", "compile", "evaluate", "to_variable_string"]


def compile(source: str) -> Program:
    """Parse and check `source`; raises `ExprError` on errors."""
    return compile_source(source)


def evaluate(source: str, env: dict[str, Any]) -> Any:
    """Compile and run `source` against `env`."""
    return compile_source(source).run(env)
