"""Typed reading of a stage's raw parameters, shared by creation checks and run-time resolution.

A stage reads its parameters once, with one `Reader`, in one of two modes:

* checking (`Reader.for_creation()`), when a workflow is created: there are no variables yet, so a
  string that refers to one (`"${amount}"`) cannot be judged and is read as `DEFERRED`; every
  literal is checked for real. Failures raise `ConfigError` with the path inside the config
  (`stages[0].send.source.account.id: required`).
* resolving (`Reader.for_run(variables)`), when the stage is reached: strings are interpolated,
  defaults applied, values parsed; failures raise `StageFailure` with the path inside the stage
  (`send.amount.amount: ...`).

Writing each stage's reading code once for both moments keeps creation and run time from
disagreeing about what a valid stage is.

Rules kept from the Go implementation (docs/stages.md, variables): a string field that is missing, null, or interpolates to ""
takes its default. Deliberate differences (docs/differences.md#4, #11, #12): unknown keys are errors (a typo must not reach money
movement); any scalar (bool, date, duration) that interpolates to "" is absent, so a missing
variable gives the field's default (bools) or a clear "required"/exactly-one-of error rather than a
zero date; amounts are integers taken exactly or refused, never rounded (flows/stages/amounts.py),
and an amount whose variables interpolate to "" is an error naming them.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, NoReturn, Self, TypeVar, cast

from flows.gocompat.durations import DurationError, parse_duration
from flows.gocompat.timestamps import parse_rfc3339
from flows.stages.amounts import AmountError, amount_from_json, amount_from_text
from flows.stages.base import ConfigError, Stage, StageFailure
from flows.stages.interpolation import has_variables, interpolate

T = TypeVar("T")


class _Deferred:
    """The value of a field that depends on run variables, while a workflow is being created."""

    def __repr__(self) -> str:
        return "DEFERRED"


# Typed as Any so the shared reading code can store it in typed fields while checking; it never
# survives into a resolved stage.
DEFERRED: Final[Any] = _Deferred()

_SHOWN_LENGTH = 40
"""How much of a bad value an error message quotes."""


@dataclass(frozen=True)
class RawObject:
    """A JSON object of a stage's parameters, with its path, after its keys were checked."""

    path: str
    values: Mapping[str, Any]

    def get(self, name: str) -> Any:
        return self.values.get(name)

    def path_of(self, name: str) -> str:
        return f"{self.path}.{name}"


class Reader:
    def __init__(self, variables: Mapping[str, str] | None) -> None:
        self._variables = variables

    @classmethod
    def for_creation(cls) -> Reader:
        return cls(None)

    @classmethod
    def for_run(cls, variables: Mapping[str, str]) -> Reader:
        return cls(variables)

    @property
    def checking(self) -> bool:
        return self._variables is None

    def fail(self, path: str, message: str) -> NoReturn:
        if self.checking:
            raise ConfigError(f"{path}: {message}")
        raise StageFailure(f"{path}: {message}")

    @staticmethod
    def known(value: Any) -> bool:
        """Whether a value read from the config is known now (not waiting for run variables)."""
        return value is not DEFERRED

    # --- objects -------------------------------------------------------------------------------

    def params(self, raw: Any, path: str, fields: Collection[str]) -> RawObject:
        """A stage's own parameter object; null stands for {} (the reference accepts both)."""
        return self.child_object(raw, path, fields) or RawObject(path, {})

    def object(
        self,
        parent: RawObject,
        name: str,
        fields: Collection[str],
        aliases: Mapping[str, str] | None = None,
    ) -> RawObject | None:
        """A nested object, or None when its key is missing or null."""
        return self.child_object(parent.get(name), parent.path_of(name), fields, aliases)

    def child_object(
        self,
        raw: Any,
        path: str,
        fields: Collection[str],
        aliases: Mapping[str, str] | None = None,
    ) -> RawObject | None:
        if raw is None:
            return None
        if not isinstance(raw, Mapping):
            self.fail(path, "expected an object")
        aliases = aliases or {}
        values: dict[str, Any] = {}
        for key, value in raw.items():
            name = aliases.get(key, key)
            if name not in fields:
                self.fail(f"{path}.{key}", "unknown field")
            if name in values:
                spellings = " and ".join(f"'{k}'" for k in raw if aliases.get(k, k) == name)
                self.fail(path, f"{spellings} are the same field; give only one")
            values[name] = value
        return RawObject(path, values)

    # --- scalars -------------------------------------------------------------------------------

    def _text(self, raw: str) -> str:
        """Interpolate run variables; while checking, a string that refers to one is DEFERRED."""
        if self._variables is None:
            return cast(str, DEFERRED) if has_variables(raw) else raw
        return interpolate(raw, self._variables)

    @staticmethod
    def _shown(raw: str, text: str) -> str:
        """How a bad value is quoted in an error: with the template it came from, if any, both
        cut short (a variable may be long, and the error is stored with the instance)."""
        quoted = _clipped(text)
        return quoted if text == raw else f"{quoted} (from {_clipped(raw)})"

    def string(self, obj: RawObject, name: str, default: str = "") -> str:
        raw, path = obj.get(name), obj.path_of(name)
        if raw is None:
            return default
        if not isinstance(raw, str):
            self.fail(path, "expected a string")
        return self._text(raw) or default

    def amount(self, obj: RawObject, name: str) -> int | None:
        """An amount (flows/stages/amounts.py): a JSON integer, or a string of digits, often
        `"${amount}"`. Never rounded: a fraction, an exponent or a sign is refused."""
        raw, path = obj.get(name), obj.path_of(name)
        if raw is None:
            return None
        if not isinstance(raw, str):
            if isinstance(raw, bool) or not isinstance(raw, int | float):
                self.fail(path, "expected an integer or a string")
            try:
                return amount_from_json(raw)
            except AmountError as error:
                self.fail(path, str(error))
        text = self._text(raw)
        if not self.known(text):
            return cast(int, DEFERRED)
        if text == "":
            if text == raw:
                return None
            self.fail(path, f"required, but {_clipped(raw)} is empty")
        try:
            return amount_from_text(text)
        except AmountError as error:
            self.fail(path, f"{self._shown(raw, text)} {error}")

    def boolean(self, obj: RawObject, name: str, default: bool = False) -> bool:
        """A JSON bool, or "true"/"false" in any case (also from a variable)."""
        raw, path = obj.get(name), obj.path_of(name)
        if raw is None or isinstance(raw, bool):
            return default if raw is None else raw
        if not isinstance(raw, str):
            self.fail(path, "expected a boolean")
        text = self._text(raw)
        if not self.known(text):
            return cast(bool, DEFERRED)
        if text == "":
            return default
        if text.lower() not in ("true", "false"):
            self.fail(path, f"expected true or false, got {self._shown(raw, text)}")
        return text.lower() == "true"

    def date(self, obj: RawObject, name: str) -> datetime | None:
        """An RFC 3339 date with a time zone, as UTC with microseconds."""
        expected = "an RFC 3339 date with a time zone (like 2024-01-02T15:04:05Z)"
        return self._parsed(obj, name, parse_rfc3339, ValueError, expected)

    def duration(self, obj: RawObject, name: str) -> int | None:
        """A Go duration string (`30s`, `1h30m`, `1.5h`), as nanoseconds."""
        expected = "a duration with units ns, us, ms, s, m or h (like 30s or 1h30m)"
        return self._parsed(obj, name, parse_duration, DurationError, expected)

    def _parsed(
        self,
        obj: RawObject,
        name: str,
        parse: Callable[[str], T],
        error: type[Exception],
        expected: str,
    ) -> T | None:
        """A string field holding a value of another type; "" (after interpolation) is unset."""
        raw, path = obj.get(name), obj.path_of(name)
        if raw is None:
            return None
        if not isinstance(raw, str):
            self.fail(path, "expected a string")
        text = self._text(raw)
        if not self.known(text):
            return cast(T, DEFERRED)
        if text == "":
            return None
        try:
            return parse(text)
        except error:
            self.fail(path, f"expected {expected}, got {self._shown(raw, text)}")

    def string_map(self, obj: RawObject, name: str) -> dict[str, str] | None:
        """An object of strings (metadata). Values are interpolated, keys are not."""
        raw, path = obj.get(name), obj.path_of(name)
        if raw is None:
            return None
        if not isinstance(raw, Mapping):
            self.fail(path, "expected an object of strings")
        values: dict[str, str] = {}
        for key, value in raw.items():
            if not isinstance(value, str):
                self.fail(f"{path}.{key}", "expected a string")
            values[key] = self._text(value)
        return values

    # --- rules ---------------------------------------------------------------------------------

    def require(self, value: Any, path: str) -> None:
        """A required value: not missing, not empty. A DEFERRED value may still turn out fine."""
        if value is None or value == "":
            self.fail(path, "required")

    def exactly_one(self, path: str, options: Mapping[str, Any]) -> None:
        """Exactly one of the options must be set (None and "" are unset).

        While checking, a DEFERRED option may turn out set or empty, so only what is already
        certain is rejected: two options surely set, or none that could be.
        """
        names = " or ".join(f"'{name}'" for name in options)
        given = [name for name, value in options.items() if value not in (None, "") and self.known(value)]
        maybe = [name for name, value in options.items() if not self.known(value)]
        if len(given) > 1:
            listed = " and ".join(f"'{name}'" for name in given)
            self.fail(path, f"only one of {names} may be given, got {listed}")
        if not given and not maybe:
            self.fail(path, f"exactly one of {names} is required")


def _clipped(text: str) -> str:
    return f"'{text}'" if len(text) <= _SHOWN_LENGTH else f"'{text[:_SHOWN_LENGTH]}…'"


class ReadStage(Stage):
    """A stage whose creation check and run-time resolution are the same `read`, in two modes."""

    @classmethod
    @abstractmethod
    def read(cls, reader: Reader, raw: Any, path: str) -> Self:
        """Read the raw parameters found at `path`; fail through `reader`."""

    @classmethod
    def check(cls, raw: Any, path: str) -> None:
        cls.read(Reader.for_creation(), raw, path)

    @classmethod
    def resolve(cls, raw: Any, variables: Mapping[str, str]) -> Self:
        # At run time paths start at the stage kind: "send.source.account.id: required".
        return cls.read(Reader.for_run(variables), raw, cls.kind)
