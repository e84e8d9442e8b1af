"""Payload encryption (`--temporal-encryption-enabled`): nothing an instance carries — variables,
event names, stack calls and their answers, failure messages — is readable in Temporal's history;
instances started before the key was set still run; a process with another key refuses to start."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from flows.engine.codec import EncryptionCodec, UndecryptablePayload, data_converter, encryption_key, is_sealed
from flows.engine.devserver import read_embedded_address
from tests.support.polling import eventually
from tests.support.service import FlowsProcess

KEY = "0123456789abcdef0123456789abcdef"
OTHER_KEY = "fedcba9876543210fedcba9876543210"


# -- the codec ------------------------------------------------------------------------------------


async def test_a_payload_round_trips_and_is_unreadable_sealed() -> None:
    codec = EncryptionCodec(encryption_key(KEY))
    original = Payload(metadata={"encoding": b"json/plain"}, data=b'{"iban": "FR76 SECRET"}')
    [sealed] = await codec.encode([original])
    assert is_sealed(sealed)
    assert b"SECRET" not in sealed.SerializeToString() and b"json/plain" not in sealed.SerializeToString()
    assert await codec.decode([sealed]) == [original]
    # The same payload twice is sealed twice differently (a fresh nonce each time).
    assert (await codec.encode([original]))[0].data != sealed.data


async def test_payloads_written_without_encryption_pass_through() -> None:
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'"hello"')
    assert await EncryptionCodec(encryption_key(KEY)).decode([plain]) == [plain]


async def test_another_key_fails_naming_both_keys() -> None:
    [sealed] = await EncryptionCodec(encryption_key(KEY)).encode([Payload(data=b"x")])
    other = EncryptionCodec(encryption_key(OTHER_KEY))
    with pytest.raises(UndecryptablePayload, match=r"was encrypted with key [0-9a-f]{16}, and this process has key"):
        await other.decode([sealed])


async def test_failure_messages_are_encrypted_too() -> None:
    converter = data_converter(EncryptionCodec(encryption_key(KEY)))
    failure = Failure()
    await converter.encode_failure(ApplicationError("account @treasury:SECRET had/have insufficient funds"), failure)
    assert b"SECRET" not in failure.SerializeToString()
    assert str(await converter.decode_failure(failure)) == "account @treasury:SECRET had/have insufficient funds"


@pytest.mark.parametrize("key", ["short", "x" * 33, ""])
def test_a_key_is_16_24_or_32_bytes(key: str) -> None:
    with pytest.raises(ValueError, match="16, 24 or 32 bytes"):
        encryption_key(key)


# -- end to end, on a real `flows serve` -----------------------------------------------------------


def api(service: FlowsProcess, method: str, path: str, body: Any = None) -> Any:
    response = httpx.request(method, f"{service.url}{path}", json=body, timeout=15)
    assert response.status_code < 300, response.text
    return response.json()["data"] if response.content else None


def create_workflow(service: FlowsProcess, stages: list[dict[str, Any]]) -> str:
    return str(api(service, "POST", "/workflows", {"name": "codec", "stages": stages})["id"])


def run(service: FlowsProcess, workflow_id: str, variables: dict[str, str], *, wait: bool = False) -> dict[str, Any]:
    return dict(api(service, "POST", f"/workflows/{workflow_id}/instances{'?wait=true' if wait else ''}", variables))


def send_event(service: FlowsProcess, instance_id: str, name: str) -> None:
    api(service, "POST", f"/instances/{instance_id}/events", {"name": name})


def ended(service: FlowsProcess, instance_id: str) -> dict[str, Any]:
    return dict(eventually(lambda: (found := api(service, "GET", f"/instances/{instance_id}")) and found["terminated"] and found))


def raw_history(service: FlowsProcess, instance_id: str) -> bytes:
    """Every event of the instance's history as Temporal stores it, read without any key."""
    address = read_embedded_address(service.data_dir)
    assert address is not None

    async def fetch() -> bytes:
        client = await Client.connect(address)
        history = await client.get_workflow_handle(instance_id).fetch_history()
        return b"".join(event.SerializeToString() for event in history.events)

    return asyncio.run(fetch())


def pay_then_wait(account: str) -> list[dict[str, Any]]:
    return [
        {
            "send": {
                "source": {"account": {"id": "world"}},
                "destination": {"account": {"id": account}},
                "amount": {"amount": 2500, "asset": "EUR/2"},
            }
        },
        {"wait_event": {"event": "${event}"}},
    ]


@dataclass
class Upgraded:
    """A data dir whose instance `before` started without encryption, now served with the key."""

    service: FlowsProcess
    workflow_id: str
    before: str


@pytest.fixture(scope="module")
def upgraded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upgraded]:
    data = tmp_path_factory.mktemp("codec") / "data"
    plain = FlowsProcess(data).start()
    try:
        workflow_id = create_workflow(plain, [{"wait_event": {"event": "${event}"}}])
        before = run(plain, workflow_id, {"event": "go"})["id"]
    finally:
        plain.stop()
    key_file = data.parent / "temporal.key"
    key_file.write_text(KEY + "\n")
    service = FlowsProcess(data, "--temporal-encryption-enabled", "--temporal-encryption-key-file", str(key_file)).start()
    try:
        yield Upgraded(service, workflow_id, before)
    finally:
        service.stop()


def test_an_instance_started_before_the_key_was_set_runs_on(upgraded: Upgraded) -> None:
    send_event(upgraded.service, upgraded.before, "go")
    assert "error" not in ended(upgraded.service, upgraded.before)


def test_temporal_history_holds_no_variable_event_account_or_failure_in_clear(upgraded: Upgraded) -> None:
    encrypted = upgraded.service
    tag = secrets.token_hex(6)
    account, event, invalid = f"users:iban-{tag}", f"approved-{tag}", f"treasury:{tag}!"
    paid = run(encrypted, create_workflow(encrypted, pay_then_wait("${account}")), {"account": account, "event": event})
    send_event(encrypted, paid["id"], event)
    assert "error" not in ended(encrypted, paid["id"])
    # The ledger refuses the address for good: a failure, whose message the API shows.
    failing = pay_then_wait("${invalid}")[:1]
    failed = run(encrypted, create_workflow(encrypted, failing), {"invalid": invalid}, wait=True)
    error = ended(encrypted, failed["id"])["error"]
    assert "invalid destination address" in error

    paid_history, failed_history = raw_history(encrypted, paid["id"]), raw_history(encrypted, failed["id"])
    for secret in (account, event, tag):
        assert secret.encode() not in paid_history
    assert tag.encode() not in failed_history
    assert b"invalid destination address" not in failed_history and b"Encoded failure" in failed_history
    assert b"binary/encrypted" in paid_history

    # The API reads through the key: the stage history shows the call and the account in clear.
    calls = api(encrypted, "GET", f"/instances/{paid['id']}/stages/0/history")
    assert account in str(calls)


def test_another_key_or_none_refuses_to_start_while_encrypted_instances_run(upgraded: Upgraded) -> None:
    """Last of the module: it stops the service."""
    running = run(upgraded.service, upgraded.workflow_id, {"event": "never"})["id"]
    upgraded.service.stop()
    data = upgraded.service.data_dir
    wrong = FlowsProcess(data, "--temporal-encryption-enabled", env={"TEMPORAL_ENCRYPTION_KEY": OTHER_KEY})
    with pytest.raises(RuntimeError, match=f"running instance {running}: a payload in Temporal was encrypted with key"):
        wrong.start()
    assert OTHER_KEY not in wrong.log_tail() and KEY not in wrong.log_tail()
    with pytest.raises(RuntimeError, match=r"has encrypted payloads in Temporal .*start with --temporal-encryption-enabled"):
        FlowsProcess(data).start()


def test_encryption_without_a_key_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="--temporal-encryption-enabled needs --temporal-encryption-key"):
        FlowsProcess(tmp_path / "data", "--temporal-encryption-enabled").start()
