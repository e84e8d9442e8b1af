"""Payload encryption (`--temporal-encryption-enabled`, docs/deploy.md): what Flows hands to Temporal
— workflow inputs, events, activity inputs and results, local activity results, failure messages —
is sealed with AES-GCM before it leaves the process, so Temporal's history holds no money data in
clear.

The key is the `--temporal-encryption-key` text itself, 16, 24 or 32 bytes of it (AES-128/192/256),
as the reference implementation takes it. Each sealed payload is the original payload (data and
metadata) serialized, encrypted under a fresh 96-bit nonce, and marked with its encoding and a key
id (a fingerprint, not the key). Payloads without that mark pass through unchanged: instances
started before encryption was switched on carry on. A payload sealed under another key raises
`UndecryptablePayload`, naming both key ids; `check_running_instances` finds that at startup.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import time
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload, WorkflowExecution
from temporalio.api.failure.v1 import Failure
from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes, PayloadCodec
from temporalio.service import RPCError, RPCStatusCode

logger = logging.getLogger("flows.engine")

ENCODING = b"binary/encrypted"
CIPHER = b"AES-GCM"
KEY_ID = "encryption-key-id"
KEY_SIZES = (16, 24, 32)
NONCE_BYTES = 12
LOG_EVERY_S = 60.0
"""A key problem is logged at most this often: the worker retries what fails to decode."""

CHECKED_INSTANCES = 5
"""How many running instances `check_running_instances` looks at: a sample, one history read each."""


class UndecryptablePayload(Exception):
    """A payload from Temporal that this process cannot decrypt: another key, or no key."""


def key_id(key: bytes) -> str:
    """A short public fingerprint of the key, stored with each payload to name it in errors."""
    return hashlib.sha256(b"flows temporal payload key\0" + key).hexdigest()[:16]


def encryption_key(text: str) -> bytes:
    """The AES key of `--temporal-encryption-key`: its UTF-8 bytes, 16, 24 or 32 of them."""
    key = text.encode()
    if len(key) not in KEY_SIZES:
        raise ValueError(
            f"--temporal-encryption-key must be 16, 24 or 32 bytes (AES-128, -192, -256), not {len(key)};"
            " e.g. the 32 characters of `openssl rand -hex 16`"
        )
    return key


def is_sealed(payload: Payload) -> bool:
    return payload.metadata.get("encoding") == ENCODING


class EncryptionCodec(PayloadCodec):
    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)
        self.key_id = key_id(key)
        self._key_id_bytes = self.key_id.encode()
        self._last_logged = -LOG_EVERY_S

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._seal(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        try:
            return [self.open(payload) if is_sealed(payload) else payload for payload in payloads]
        except UndecryptablePayload as error:
            self._log(error)
            raise

    def _seal(self, payload: Payload) -> Payload:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, payload.SerializeToString(), None)
        return Payload(
            metadata={"encoding": ENCODING, "encryption-cipher": CIPHER, KEY_ID: self._key_id_bytes},
            data=nonce + sealed,
        )

    def open(self, payload: Payload) -> Payload:
        """The payload `payload` sealed; `UndecryptablePayload` if this key cannot open it."""
        data = payload.data
        try:
            plain = self._aead.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], None)
        except InvalidTag:
            raise self._cannot_open(payload.metadata.get(KEY_ID, b"").decode(errors="replace")) from None
        opened = Payload()
        opened.ParseFromString(plain)
        return opened

    def _cannot_open(self, sealed_with: str) -> UndecryptablePayload:
        if sealed_with != self.key_id:
            return UndecryptablePayload(
                f"a payload in Temporal was encrypted with key {sealed_with or '?'}, and this process has key"
                f" {self.key_id}: start every Flows process with the --temporal-encryption-key it was written with"
            )
        return UndecryptablePayload(f"a payload in Temporal encrypted with key {self.key_id} does not decrypt: it was altered")

    def _log(self, error: UndecryptablePayload) -> None:
        now = time.monotonic()
        if now - self._last_logged >= LOG_EVERY_S:
            self._last_logged = now
            logger.error("cannot decrypt a Temporal payload: %s; what needs it is retried until then", error)


def data_converter(codec: EncryptionCodec | None) -> DataConverter:
    """The data converter of the Temporal client (its workers use the client's): pydantic's, and
    with `codec`, failure messages and stack traces moved into an encrypted payload too."""
    if codec is None:
        return pydantic_data_converter
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


async def failure_message(converter: DataConverter, failure: Failure) -> str:
    """A failure's message as it was raised, whether or not it was encrypted."""
    if not failure.HasField("encoded_attributes"):
        return failure.message
    copy = Failure()
    copy.CopyFrom(failure)
    try:
        return str(await converter.decode_failure(copy))
    except Exception:  # noqa: BLE001 (no key, wrong key: say so rather than fail the read)
        return "(encrypted failure)"


async def check_running_instances(client: Client, instance_ids: Sequence[str], codec: EncryptionCodec | None) -> None:
    """Refuse to go on (`UndecryptablePayload`) if one of a few running instances was started with
    encrypted input this process cannot decrypt: without the key, or with another one. Its
    workflow tasks would otherwise fail and be retried until the right key is back."""
    for instance_id in list(instance_ids)[-CHECKED_INSTANCES:]:
        payloads = await _started_input(client, instance_id)
        for payload in payloads:
            if not is_sealed(payload):
                continue
            if codec is None:
                sealed_with = payload.metadata.get(KEY_ID, b"").decode(errors="replace")
                raise UndecryptablePayload(
                    f"running instance {instance_id} has encrypted payloads in Temporal (key {sealed_with or '?'}):"
                    " start with --temporal-encryption-enabled and its --temporal-encryption-key"
                )
            try:
                codec.open(payload)
            except UndecryptablePayload as error:
                raise UndecryptablePayload(f"running instance {instance_id}: {error}") from None


async def _started_input(client: Client, instance_id: str) -> list[Payload]:
    try:
        response = await client.workflow_service.get_workflow_execution_history(
            GetWorkflowExecutionHistoryRequest(
                namespace=client.namespace,
                execution=WorkflowExecution(workflow_id=instance_id),
                maximum_page_size=1,
            )
        )
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return []
        raise
    for event in response.history.events:
        if event.HasField("workflow_execution_started_event_attributes"):
            return list(event.workflow_execution_started_event_attributes.input.payloads)
    return []
