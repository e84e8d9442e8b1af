"""Variable interpolation in stage parameters (docs/stages.md, variables).

`${name}` anywhere in a string, any number of times, is replaced by the run variable `name`; a
variable that was not given becomes the empty string. There is no escaping, no nesting and no
expression: `${}` is left as it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

# `${` then one or more characters other than `}` then `}`: the reference's pattern, which is why
# `${}` never matches and stays untouched.
VARIABLE = re.compile(r"\$\{([^}]+)\}")


def interpolate(text: str, variables: Mapping[str, str]) -> str:
    """Replace every `${name}` in `text` with its variable's value, or "" when it is missing."""
    return VARIABLE.sub(lambda match: variables.get(match.group(1), ""), text)


def has_variables(text: str) -> bool:
    """Whether `text` refers to a variable, so that its value is only known at run time."""
    return VARIABLE.search(text) is not None


def referenced_variables(raw: Any) -> Iterator[str]:
    """The names of the variables the strings of a raw config (objects, lists, strings) refer to."""
    pending = [raw]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            yield from VARIABLE.findall(value)
        elif isinstance(value, Mapping):
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
