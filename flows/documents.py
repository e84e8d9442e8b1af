"""Checks on JSON documents from outside, shared by the API's bodies and event ingestion.

A document Flows accepts must be one it can store and answer with on every backend:

* at most `MAX_DEPTH` levels of objects and arrays: far deeper documents only serve to exhaust
  the stack of whatever walks them next (validation, expressions, storage, rendering);
* only valid Unicode: JSON escapes can spell lone surrogates (`"\\ud800"`), which neither the
  databases' drivers nor the response encoder accept;
* no NUL (`"\\u0000"`): PostgreSQL's text columns and JSONB cannot hold it, and a document's
  strings end up in text columns (names, errors, variables rendered into stage inputs).

The walk is iterative, so that the check itself cannot exhaust the stack.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 64


class DocumentError(ValueError):
    """The document cannot be accepted; the message says why, as a predicate (`nests deeper…`).
    `syntax` tells a text that is not JSON at all from a document that breaks the limits."""

    def __init__(self, message: str, *, syntax: bool = False) -> None:
        super().__init__(message)
        self.syntax = syntax


def parse_json(raw: bytes | str) -> Any:
    """The JSON document in `raw`, checked (`check_document`); `DocumentError` otherwise.

    Stricter than `json.loads`, as Go's decoder is: no NaN or Infinity, no number beyond a float's
    range (`1e999` would otherwise become infinity, which no database's JSON holds).
    """
    try:
        document = json.loads(raw, parse_constant=_no_constant, parse_float=_finite_float)
    except RecursionError:
        raise DocumentError(f"nests deeper than {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise DocumentError(f"is not JSON: {error}", syntax=True) from None
    check_document(document)
    return document


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number {text} is out of range")
    return value


def check_document(document: Any, max_depth: int = MAX_DEPTH) -> None:
    """Raises `DocumentError` unless `document` nests at most `max_depth` levels and holds only
    text that can be stored."""
    pending: list[tuple[Any, int]] = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            check_text(value)
        elif isinstance(value, dict | list):
            if depth > max_depth:
                raise DocumentError(f"nests deeper than {max_depth} levels")
            if isinstance(value, dict):
                for key in value:
                    if isinstance(key, str):
                        check_text(key)
                pending.extend((item, depth + 1) for item in value.values())
            else:
                pending.extend((item, depth + 1) for item in value)


def check_text(text: str) -> None:
    if "\x00" in text:
        raise DocumentError("holds a string with a NUL character (\\u0000), which cannot be stored")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise DocumentError("holds a string that is not valid Unicode (a lone surrogate)") from None


def storable_text(text: str) -> str:
    """`text` with what no text column can hold (NUL, lone surrogates) written as escapes."""
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def storable_bytes(raw: bytes) -> str:
    """`raw` as text any database holds: bytes that are not UTF-8, and NUL, written as `\\xNN`."""
    return storable_text(raw.decode("utf-8", "backslashreplace"))
