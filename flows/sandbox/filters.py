"""The ledger's list filters (`{"$match": …}`, `$and`, `$or`, `$not`, `$exists`, `$lt`…), evaluated
in Python over the candidate rows: a sandbox's lists are small, and one evaluator serves both
databases."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from flows.sandbox.errors import validation
from flows.sandbox.rendering import parse_json, parse_time

Predicate = Callable[[Mapping[str, Any]], bool]

_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "$lt": lambda a, b: a < b,
    "$lte": lambda a, b: a <= b,
    "$gt": lambda a, b: a > b,
    "$gte": lambda a, b: a >= b,
}


def parse_filter(raw: Any) -> Predicate | None:
    """A predicate over records built by `account_record` / `transaction_record`; None matches
    everything. `raw` is the decoded JSON body or `?query=` of a list request."""
    if raw is None or raw == {}:
        return None
    if isinstance(raw, str):
        raw = parse_json(raw, "query")
    if not isinstance(raw, dict):
        raise validation("invalid query: expected an object")
    return _node(raw)


def _node(node: Any) -> Predicate:
    if not isinstance(node, dict) or len(node) != 1:
        raise validation("invalid query: each clause is an object with one operator")
    [(operator, argument)] = node.items()
    if operator in ("$and", "$or"):
        if not isinstance(argument, list):
            raise validation(f"invalid query: {operator} expects a list")
        children = [_node(child) for child in argument]
        if operator == "$and":
            return lambda record: all(child(record) for child in children)
        return lambda record: any(child(record) for child in children)
    if operator == "$not":
        child = _node(argument)
        return lambda record: not child(record)
    if operator == "$exists":
        if not isinstance(argument, dict) or list(argument) != ["metadata"] or not isinstance(argument["metadata"], str):
            raise validation('invalid query: $exists expects {"metadata": "<key>"}')
        key = argument["metadata"]
        return lambda record: key in record.get("metadata", {})
    if operator == "$match":
        return _match(argument)
    if operator in _COMPARISONS:
        return _comparison(operator, argument)
    raise validation(f"invalid query: unknown operator {operator}")


def _single(argument: Any, operator: str) -> tuple[str, Any]:
    if not isinstance(argument, dict) or len(argument) != 1:
        raise validation(f"invalid query: {operator} expects one field")
    [(name, value)] = argument.items()
    return str(name), value


def _match(argument: Any) -> Predicate:
    name, value = _single(argument, "$match")
    if name.startswith("metadata[") and name.endswith("]"):
        key = name[len("metadata[") : -1]
        return lambda record: record.get("metadata", {}).get(key) == value
    if name in ("address", "account", "source", "destination") and not isinstance(value, str):
        raise validation(f"invalid query: {name} matches a string")
    if name == "address":
        # Only accounts have an address: a transaction never matches one.
        return lambda record: isinstance(record.get("address"), str) and _address_matches(value, record["address"])
    if name in ("account", "source", "destination"):
        roles = ("source", "destination") if name == "account" else (name,)
        return lambda record: any(_address_matches(value, posting[role]) for posting in record.get("postings", []) for role in roles)
    if name in ("reference", "id", "reverted"):
        return lambda record: record.get(name) == value
    raise validation(f"invalid query: unknown field {name!r} in $match")


def _comparison(operator: str, argument: Any) -> Predicate:
    name, value = _single(argument, operator)
    compare = _COMPARISONS[operator]
    if name.startswith("balance") or name == "id":
        if not isinstance(value, int) or isinstance(value, bool):
            raise validation(f"invalid query: {name} compares with integers")
    if name.startswith("balance[") and name.endswith("]"):
        asset = name[len("balance[") : -1]
        return lambda record: compare(record.get("balances", {}).get(asset, 0), value)
    if name == "balance":
        return lambda record: any(compare(b, value) for b in record.get("balances", {}).values())
    if name in ("timestamp", "insertedAt", "updatedAt", "firstUsage"):
        when = parse_time(value, name)
        if when is None:
            raise validation(f"invalid query: {name} needs a date")
        field = {"insertedAt": "inserted_at", "updatedAt": "updated_at", "firstUsage": "first_usage"}.get(name, name)

        def dated(record: Mapping[str, Any]) -> bool:
            found = record.get(field)
            return isinstance(found, datetime) and compare(found, when)

        return dated
    if name == "id":
        return lambda record: isinstance(record.get("id"), int) and compare(record["id"], value)
    raise validation(f"invalid query: unknown field {name!r} in {operator}")


def _address_matches(pattern: str, address: str) -> bool:
    """Ledger address filters: empty segments are wildcards (`users:` matches `users:1`)."""
    segments = pattern.split(":")
    if all(segments):
        return pattern == address
    parts = address.split(":")
    if len(parts) != len(segments):
        return False
    return all(not wanted or wanted == part for wanted, part in zip(segments, parts, strict=True))
