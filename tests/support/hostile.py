"""Hypothesis strategies for hostile HTTP input: what a careless client or an attacker sends.

Bodies are bytes, so they can hold what `json.dumps` never writes: numbers out of every range
(`1e400`, `2^64`, `-0`, `NaN`), nesting thousands of levels deep, lone surrogates spelled as JSON
escapes (`"\\ud800"`), NUL, and bytes that are not UTF-8. Path segments and query values come
percent-encoded, for the same reason (`%00`, `%ED%A0%80`, `%2E%2E`).
"""

from __future__ import annotations

import base64
import copy
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

LONG = 100_000
"""A long string's length: well past any sane field, well under the API's 1 MiB body cap."""

DEEP = (65, 500, 1_000, 5_000, 100_000)
"""Nesting depths: past the API's cap (64), past Python's recursion limit, far past it."""

URL_DEEP = DEEP[:-1]
"""Depths that still fit in a URL once base64-encoded."""


@dataclass(frozen=True)
class RawJson:
    """JSON text inserted as is, for what `json.dumps` cannot write."""

    text: str


def json_text(value: Any) -> str:
    """`value` as JSON text, `RawJson` parts verbatim; a lone surrogate in a `str` becomes the
    escape `"\\ud800"` (json.dumps escapes every non-ASCII character)."""
    if isinstance(value, RawJson):
        return value.text
    if isinstance(value, dict):
        members = (f"{json.dumps(str(key))}:{json_text(item)}" for key, item in value.items())
        return "{" + ",".join(members) + "}"
    if isinstance(value, list):
        return "[" + ",".join(json_text(item) for item in value) + "]"
    return json.dumps(value)


def json_bytes(value: Any) -> bytes:
    # `surrogatepass`: a raw (unescaped) surrogate in a RawJson becomes bytes that are not UTF-8.
    return json_text(value).encode("utf-8", "surrogatepass")


def deeply_nested_arrays(depth: int) -> RawJson:
    return RawJson("[" * depth + "]" * depth)


def deeply_nested_objects(depth: int) -> RawJson:
    return RawJson('{"a":' * depth + "0" + "}" * depth)


# -- values ----------------------------------------------------------------------------------

ODD_NUMBERS = [
    RawJson(text)
    for text in (
        str(2**64), str(-(2**64) - 1), str(2**63), str(2**53 + 1), "1" + "0" * 5_000,
        "1e400", "-1e400", "1e-400", "1E308", "-0", "-0.0", "0.5", "1.5", "1e3", "1.0",
        "123456789012345678901234567890.5", "NaN", "Infinity", "-Infinity",
    )
]  # fmt: skip

ODD_STRINGS = [
    "\ud800", "\udfff", "a\udc00b", "\x00", "nul\x00inside", "\u202e", "\ufeff", "",
    " ", "\n\t", "..", "../../etc/passwd", "${", "${unknown}", "%00", "²", "١٢٣", "１２",
    "-1", "1e400", "true", "null", "\U0001f642" * 1_000, "a" * LONG, "é" * (LONG // 4),
    '"\\ud800"', "[" * 5_000,
]  # fmt: skip
"""Lone surrogates, NUL, bidi and BOM marks, templates, digits `int()` refuses but `isdigit()`
accepts (`²`), very long text, and JSON texts of a lone surrogate and of deep nesting (for
whatever parses strings as JSON)."""

ODD_EXPRESSIONS = [
    "!" * 10_000, "[" * 5_000, "(" * 5_000 + "1" + ")" * 5_000, "-" * 10_000 + "1",
    "1" + " + 1" * 20_000, 'event.who matches "("', 'event.who matches "\\p{Nope}"',
    "event.", "1 +", '"\\ud800"', "event[" + "0" * 5_000 + "]", "9" * 5_000,
]  # fmt: skip
"""Trigger filters and variables that must be refused at compile time: nesting past the parser's
stack, 20,000 operators, invalid regular expressions, syntax errors."""

WRONG_TYPES: list[Any] = [True, False, None, [], {}, 0, -1, "", [None], {"": None}]


def odd_numbers() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(ODD_NUMBERS),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False, allow_infinity=False),
    )


def odd_strings() -> st.SearchStrategy[str]:
    # `exclude_categories=()` lets surrogates (category Cs) in.
    any_character = st.characters(exclude_categories=())
    return st.one_of(st.sampled_from(ODD_STRINGS), st.text(any_character, max_size=20))


def deep_nesting(depths: tuple[int, ...] = DEEP) -> st.SearchStrategy[RawJson]:
    return st.builds(
        lambda nest, depth: nest(depth),
        st.sampled_from([deeply_nested_arrays, deeply_nested_objects]),
        st.sampled_from(depths),
    )


def hostile_values(depths: tuple[int, ...] = DEEP) -> st.SearchStrategy[Any]:
    """One JSON value a field should refuse (or take, if it really is valid)."""
    leaves = st.one_of(odd_numbers(), odd_strings(), st.sampled_from(WRONG_TYPES), deep_nesting(depths))
    return st.recursive(
        leaves,
        lambda children: st.lists(children, max_size=3)
        | st.dictionaries(odd_strings(), children, max_size=3),
        max_leaves=4,
    )


# -- whole bodies ----------------------------------------------------------------------------

MALFORMED_BODIES = [
    b"", b" ", b"{", b'{"a":', b"[1,]", b"{'a': 1}", b'{"a": 1} trailing', b'{"a": 1, "a": 2}',
    b"\xef\xbb\xbf{}", b"\xff\xfe{\x00}\x00", b'{"x": "\xff"}', b'{"x": "\xc0\xaf"}',
    b'{"x": "\xed\xa0\x80"}', b'"\\ud800"', b'{"\\ud800": 1}', b'{"x": "\\u0000"}',
    b"\x00" * 8, b"a: b", b"NaN", b"1e400", b"null", b"[]", b'"text"',
    b"[" + b"0," * 600_000 + b"0]",
]  # fmt: skip
"""Broken JSON, BOMs, invalid UTF-8 (a raw byte 0xff, an overlong `/`, an encoded surrogate),
escaped surrogates and NUL, JSON that is not an object, and a body over the 1 MiB cap."""


def hostile_documents() -> st.SearchStrategy[bytes]:
    """A whole body that is no valid request of any endpoint."""
    return st.one_of(
        st.sampled_from(MALFORMED_BODIES),
        st.builds(json_bytes, hostile_values()),
    )


Path = tuple[str | int, ...]


def _locations(document: Any, here: Path = ()) -> list[Path]:
    """Every place in `document` a value sits, the document itself first."""
    found = [here]
    if isinstance(document, dict):
        for key, item in document.items():
            found += _locations(item, (*here, key))
    elif isinstance(document, list):
        for index, item in enumerate(document):
            found += _locations(item, (*here, index))
    return found


def _at(document: Any, path: Path) -> Any:
    for step in path:
        document = document[step]
    return document


def _replaced(document: Any, path: Path, value: Any) -> Any:
    if not path:
        return value
    copied = copy.deepcopy(document)
    _at(copied, path[:-1])[path[-1]] = value
    return copied


def _removed(document: Any, path: Path) -> Any:
    if not path:
        return None
    copied = copy.deepcopy(document)
    del _at(copied, path[:-1])[path[-1]]
    return copied


@st.composite
def mutated_documents(draw: st.DrawFn, valid: Any) -> bytes:
    """`valid` (a good body of the endpoint) with one place broken: a value replaced by a hostile
    one, a field removed, or an unknown field added; so that validation is reached in depth."""
    path = draw(st.sampled_from(_locations(valid)))
    change = draw(st.sampled_from(["replace", "remove", "add"]))
    if change == "remove":
        return json_bytes(_removed(valid, path))
    target = _at(valid, path)
    if change == "add" and isinstance(target, dict):
        grown = {**target, draw(odd_strings()): draw(hostile_values())}
        return json_bytes(_replaced(valid, path, grown))
    return json_bytes(_replaced(valid, path, draw(hostile_values())))


@st.composite
def documents_with(
    draw: st.DrawFn, valid: Any, paths: tuple[Path, ...], values: st.SearchStrategy[Any]
) -> bytes:
    """`valid` with the value at one of `paths` drawn from `values` (an expression in a trigger's
    filter, say), for hostile input only some fields care about."""
    return json_bytes(_replaced(valid, draw(st.sampled_from(paths)), draw(values)))


def hostile_bodies(valid: Any) -> st.SearchStrategy[bytes]:
    """Bodies for an endpoint whose good body is `valid`: mostly near-misses, some wreckage."""
    return st.one_of(mutated_documents(valid), mutated_documents(valid), hostile_documents())


def hostile_expressions() -> st.SearchStrategy[str]:
    return st.sampled_from(ODD_EXPRESSIONS)


HOSTILE_YAML = [
    b"a: &x [1]\nb: *x",
    b"a: &a [x, x]\nb: &b [*a, *a]\nc: &c [*b, *b]\nd: [*c, *c, *c]",
    b"!!python/object/apply:os.system [echo]",
    b"? [1, 2]\n: complex key",
    b"1: integer key",
    b"stages: !!binary aGVsbG8=",
    b"stages: [{noop: {}}]\nstages: []",
    b"name: \"\\ud800\"\nstages: [{noop: {}}]",
    b"name: \"\\0\"\nstages: [{noop: {}}]",
    b"stages: [{delay: {duration: 1e400}}]",
    b"stages: [{delay: {duration: 0x" + b"f" * 5_000 + b"}}]",
    b"stages: [{delay: {duration: 1" + b"0" * 5_000 + b"}}]",
    b"--- a\n--- b",
    b"[" * 10_000,
    b"- " * 10_000 + b"x",
    b"\t\x00",
]
"""YAML a workflow body must refuse: aliases (and their billion laughs), Python tags, keys that
are not strings, duplicate keys, escaped surrogates and NUL, huge numbers, several documents,
nesting past the parser's stack."""


def hostile_yaml() -> st.SearchStrategy[bytes]:
    return st.sampled_from(HOSTILE_YAML)


# -- URLs and headers ------------------------------------------------------------------------

ODD_SEGMENTS = [
    "%00", "a%00b", "%2E%2E", "%2E", "%ff", "%ED%A0%80", "%C0%AF", "%2F", "%5C", "%20",
    "%C2%B2", "%D9%A3", "%EF%BC%91", "-1", "0", "1e3", "1.5", str(2**64), "9" * 30, "null",
    "00000000-0000-0000-0000-000000000000", "x" * 5_000, "%F0%9F%99%82" * 300,
]  # fmt: skip
"""Percent-encoded path segments: NUL, dot segments, invalid UTF-8, an encoded slash, digits
`int()` refuses (`²`, `٣`, `１`), numbers out of range, the nil UUID, very long ones."""


def percent_encoded(text: str) -> str:
    """`text` as one path segment or query value; a lone surrogate becomes invalid UTF-8."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="").replace(".", "%2E")


def url_sized_values() -> st.SearchStrategy[Any]:
    """Hostile values small enough to travel base64-encoded in a URL (httpx caps URLs at 64 KB)."""
    return hostile_values(URL_DEEP).filter(lambda value: len(json_text(value)) < 20_000)


def percent_encoded_strings() -> st.SearchStrategy[str]:
    """Odd strings, percent-encoded, short enough for a URL."""
    return st.builds(percent_encoded, odd_strings()).filter(lambda text: len(text) < 20_000)


def hostile_segments() -> st.SearchStrategy[str]:
    """One percent-encoded path segment (hardly ever the id of something that exists)."""
    return st.one_of(
        st.sampled_from(ODD_SEGMENTS),
        percent_encoded_strings().filter(bool),
        st.builds(percent_encoded, st.builds(_base64url, st.builds(json_bytes, url_sized_values()))),
    )


ODD_PAGE_SIZES = [
    "-5", "-1", "0", "1e3", "1.5", "NaN", str(2**64), str(2**32 + 1), "٣", "²", " 5", "+5",
    "0x10", "1_0", "", "%00",
]  # fmt: skip

CURSOR_KEYS = [
    "offset", "pageSize", "order", "filters", "before", "after", "filter", "expand", "name",
    "metadata", "walletID",
]  # fmt: skip
"""Every key a cursor of the API or of the sandbox carries."""


def _base64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def hostile_cursors() -> st.SearchStrategy[str]:
    """Cursors as a client could forge them: base64 of JSON with hostile values or of
    something that is not JSON, standard base64, and plain garbage."""
    forged_state = st.dictionaries(st.sampled_from(CURSOR_KEYS), url_sized_values(), max_size=4)
    encoded = st.one_of(
        st.builds(json_bytes, forged_state).filter(lambda raw: len(raw) < 20_000),
        st.builds(json_bytes, url_sized_values()),
        st.binary(max_size=30),
    )
    return st.one_of(
        st.builds(_base64url, encoded),
        st.builds(lambda raw: base64.b64encode(raw).decode(), encoded),
        percent_encoded_strings().filter(bool),
        st.sampled_from(["!!!", "====", "a", "%ff", "_" * 5_000]),
    )


def hostile_query_values() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(ODD_PAGE_SIZES), percent_encoded_strings())


def hostile_header_values() -> st.SearchStrategy[bytes]:
    """Header values a client may legally send: visible ASCII, spaces inside, and obs-text
    bytes 0x80-0xff that are no valid UTF-8; up to 8 KB."""
    byte = st.one_of(st.integers(0x21, 0x7E), st.integers(0x80, 0xFF), st.just(0x20))
    values = st.lists(byte, min_size=1, max_size=40).map(bytes)
    return st.one_of(
        values.map(lambda value: value.strip() or b"x"),
        st.sampled_from([b"\xed\xa0\x80", b"\xff" * 200, b"k" * 8_000, b"%00", b"0"]),
    )


ODD_CONTENT_TYPES = [
    b"application/json", b"application/json; charset=utf-16", b"text/plain",
    b"application/x-www-form-urlencoded", b"multipart/form-data; boundary=x", b"application/yaml",
    b"text/vnd.yaml", b"application/xml", b"*/*", b"application/json\xff",
]  # fmt: skip


def hostile_content_types() -> st.SearchStrategy[bytes | None]:
    return st.one_of(st.none(), st.sampled_from(ODD_CONTENT_TYPES))
