"""Workflow configs sent as YAML (`Content-Type: text/vnd.yaml` and friends).

A YAML body must mean the same as the JSON it stands for, so the loader keeps to JSON's data
model and to YAML 1.2's core schema rather than PyYAML's YAML 1.1 defaults:

* only `true`/`false` (any of their three spellings) are booleans: `on`, `yes`, `no`, `off`,
  `y`, `n` stay strings (Norway's `NO` country code, an event named `on`);
* dates stay strings (`2024-01-02T03:04:05Z`): the stages parse them themselves;
* integers are decimal, `0o…` or `0x…` (`0123` is 123, not octal; `1_000` and `1:30` are strings),
  and no larger than a JSON body may hold (about 4,300 decimal digits);
  `.inf` and `.nan` stay strings, since JSON has no such numbers;
* anchors and aliases are rejected (they make one value appear in many places and can blow up in
  size), as are mapping keys that are not strings, duplicate keys (Go's yaml.v3 rejects them too)
  and tags outside JSON's types (`!!binary`, `!!set`, `!!python/…`).
"""

from __future__ import annotations

import math
import re
import sys
from typing import TYPE_CHECKING, Any

from yaml import MarkedYAMLError, YAMLError
from yaml.composer import Composer
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.events import AliasEvent, CollectionStartEvent, Event, ScalarEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

from flows.stages import ConfigError

_PREFIX = "unmarshalling yaml"

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"
_JSON_TAGS = frozenset({_STR, _INT, _FLOAT, _BOOL, _NULL, _SEQ, _MAP})

# Integers JSON can carry here: Python prints at most this many decimal digits (as json.loads reads).
_MAX_INT_BITS = int((sys.get_int_max_str_digits() - 1) * math.log2(10))
_INT_PATTERN = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
_FLOAT_PATTERN = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")


class _CoreResolver(BaseResolver):
    """Plain scalars resolved by YAML 1.2's core schema, minus infinities and NaN."""


_CoreResolver.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_CoreResolver.add_implicit_resolver(_NULL, re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
# Integers before floats: the float pattern matches integers too, and the first match wins.
_CoreResolver.add_implicit_resolver(_INT, re.compile(rf"^(?:{_INT_PATTERN.pattern})$"), list("-+0123456789"))
_CoreResolver.add_implicit_resolver(_FLOAT, re.compile(rf"^(?:{_FLOAT_PATTERN.pattern})$"), list("-+.0123456789"))


class _JsonComposer(Composer):
    if TYPE_CHECKING:  # provided by Parser in the assembled loader

        def peek_event(self) -> Event: ...

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()
        if isinstance(event, AliasEvent) or (isinstance(event, ScalarEvent | CollectionStartEvent) and event.anchor is not None):
            raise ConfigError(f"{_PREFIX}: {_where(event)}anchors and aliases are not supported")
        node = super().compose_node(parent, index)
        if node is not None and node.tag not in _JSON_TAGS:
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            raise ConfigError(f"{_PREFIX}: {_where(event)}unsupported tag {tag}")
        return node


class _JsonConstructor(SafeConstructor):
    def construct_json_map(self, node: Node) -> dict[str, Any]:
        if not isinstance(node, MappingNode):
            raise ConstructorError(None, None, "expected a mapping", node.start_mark)
        mapping: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                raise ConfigError(f"{_PREFIX}: {_where(key_node)}mapping keys must be strings, got {key!r}")
            if key in mapping:
                raise ConfigError(f"{_PREFIX}: {_where(key_node)}duplicate key {key!r}")
            mapping[key] = self.construct_object(value_node, deep=True)
        return mapping

    def construct_json_seq(self, node: Node) -> list[Any]:
        if not isinstance(node, SequenceNode):
            raise ConstructorError(None, None, "expected a sequence", node.start_mark)
        return [self.construct_object(child, deep=True) for child in node.value]

    def construct_json_int(self, node: Node) -> int:
        text = self._scalar_text(node)
        if _INT_PATTERN.fullmatch(text) is None:
            raise ConstructorError(None, None, f"invalid integer {text!r}", node.start_mark)
        try:
            if text.startswith(("0o", "0x")):
                value = int(text[2:], 8 if text[1] == "o" else 16)
            else:
                value = int(text)  # ValueError beyond Python's limit on decimal digits
        except ValueError:
            value = None
        if value is None or value.bit_length() > _MAX_INT_BITS:
            raise ConstructorError(None, None, "integer too large", node.start_mark)
        return value

    def construct_json_float(self, node: Node) -> float:
        text = self._scalar_text(node)
        if _FLOAT_PATTERN.fullmatch(text) is None:
            raise ConstructorError(None, None, f"invalid number {text!r}", node.start_mark)
        value = float(text)
        if value in (float("inf"), float("-inf")):
            raise ConstructorError(None, None, f"number out of range {text!r}", node.start_mark)
        return value

    def construct_json_bool(self, node: Node) -> bool:
        text = self._scalar_text(node).lower()
        if text not in ("true", "false"):
            raise ConstructorError(None, None, f"invalid boolean {text!r}", node.start_mark)
        return text == "true"

    @staticmethod
    def _scalar_text(node: Node) -> str:
        if not isinstance(node, ScalarNode):
            raise ConstructorError(None, None, "expected a scalar", node.start_mark)
        return str(node.value)


# Our own table, so SafeConstructor's (shared by every yaml.safe_load) stays as it is.
_JsonConstructor.yaml_constructors = {
    **SafeConstructor.yaml_constructors,
    _MAP: _JsonConstructor.construct_json_map,
    _SEQ: _JsonConstructor.construct_json_seq,
    _INT: _JsonConstructor.construct_json_int,
    _FLOAT: _JsonConstructor.construct_json_float,
    _BOOL: _JsonConstructor.construct_json_bool,
}


class _JsonLoader(Reader, Scanner, Parser, _JsonComposer, _JsonConstructor, _CoreResolver):
    def __init__(self, stream: bytes) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        _JsonComposer.__init__(self)
        _JsonConstructor.__init__(self)
        _CoreResolver.__init__(self)


def load_yaml(body: bytes) -> Any:
    """The JSON-like value of a YAML document; ConfigError("unmarshalling yaml: …") if invalid."""
    try:
        loader = _JsonLoader(body)  # reading starts here: bad encodings fail already
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except MarkedYAMLError as error:
        raise ConfigError(f"{_PREFIX}: {_describe(error)}") from error
    except YAMLError as error:  # e.g. bytes that are not UTF-8/16
        raise ConfigError(f"{_PREFIX}: {' '.join(str(error).split())}") from error
    except RecursionError as error:
        raise ConfigError(f"{_PREFIX}: the document is nested too deeply") from error


def _where(item: Event | Node) -> str:
    mark = item.start_mark
    return f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""


def _describe(error: MarkedYAMLError) -> str:
    """One line: where, what, and the construct being read when it went wrong."""
    mark = error.problem_mark or error.context_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    problem = error.problem or error.context or "invalid YAML"
    context = f" ({error.context})" if error.problem and error.context else ""
    return f"{where}{problem}{context}"
