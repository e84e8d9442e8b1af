"""Workflow configs and instance times in words: "send 100 USD/2 from users:001 to wallet alice"."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import yaml

from flows.storage.records import InstanceRecord

VARIABLE = re.compile(r"\$\{([^}]*)\}")


def instance_status(record: InstanceRecord) -> str:
    """running, failed or succeeded: the instance's badge."""
    if not record.terminated:
        return "running"
    return "failed" if record.error else "succeeded"


def stage_kind(entry: Any) -> str:
    if isinstance(entry, Mapping) and len(entry) == 1:
        return str(next(iter(entry)))
    return "?"


def stage_summary(entry: Any) -> str:
    """One line saying what a stage of a (validated) config does."""
    kind = stage_kind(entry)
    raw = entry.get(kind) if isinstance(entry, Mapping) else None
    parameters: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    if kind == "send":
        return _send(parameters)
    if kind == "wait_event":
        return f"wait for the event “{parameters.get('event', '')}”"
    if kind == "delay":
        if "until" in parameters:
            return f"wait until {parameters['until']}"
        return f"wait {parameters.get('duration', '')}"
    if kind == "update":
        account = parameters.get("account") or {}
        keys = ", ".join(sorted(str(key) for key in (account.get("metadata") or {})))
        return f"set metadata {keys or '(none)'} on account {account.get('id', '')} of ledger {account.get('ledger', 'main')}"
    if kind == "noop":
        return "do nothing"
    return kind


def _send(parameters: Mapping[str, Any]) -> str:
    amount = parameters.get("amount")
    if isinstance(amount, Mapping):
        what = f"{amount.get('amount', '')} {amount.get('asset', '')}"
    else:
        what = "the payment's amount"
    return f"send {what} from {_party(parameters.get('source'))} to {_party(parameters.get('destination'))}"


def _party(party: Any) -> str:
    if not isinstance(party, Mapping) or len(party) != 1:
        return "?"
    kind, raw = next(iter(party.items()))
    details: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    if kind == "account":
        ledger = details.get("ledger")
        return f"{details.get('id', '')}" + (f" (ledger {ledger})" if ledger else "")
    if kind == "wallet":
        named = details.get("name") or details.get("id") or ""
        balance = details.get("balance")
        return f"wallet {named}" + (f" (balance {balance})" if balance and balance != "main" else "")
    if kind == "payment":
        if "psp" in details:
            return f"a {str(details.get('type') or 'transfer').lower()} via {details['psp']}"
        return f"payment {details.get('id', '')}"
    return str(kind)


def variables(config: Any) -> list[str]:
    """The run variables a config's stages name (`${name}`), in order of appearance."""
    found: dict[str, None] = {}
    for name in VARIABLE.findall(json.dumps(config.get("stages") if isinstance(config, Mapping) else None)):
        found.setdefault(name, None)
    return list(found)


def as_json(document: Any) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False)


def as_yaml(document: Any) -> str:
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


def duration(started: datetime | None, ended: datetime | None) -> str:
    """`1.25 s`, `3 min 4 s`: how long something ran (until now when it has not ended)."""
    if started is None or ended is None:
        return ""
    seconds = max((ended - started).total_seconds(), 0.0)
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def moment(at: datetime | None) -> str:
    """UTC to the second, as a person reads a time; the exact value is in the element's title."""
    return at.strftime("%Y-%m-%d %H:%M:%S UTC") if at is not None else ""


ERROR_PATH = re.compile(r"^((?:stages|name)[\w\[\]\.]*): (.+)$", re.DOTALL)


def error_at(message: str) -> tuple[str | None, str]:
    """The config path a validation message names (`stages[0].send.amount`), and the rest."""
    match = ERROR_PATH.match(message)
    if match is None:
        return None, message
    return match.group(1), match.group(2)
