"""Triggers fire from events posted to the HTTP ingestion endpoint, on SQLite and PostgreSQL.

The endpoint receives what the stack's HTTP publisher sends: one POST per message, body = the
event envelope, header `Message-Uuid`. Triggers and occurrences are read through the SDK.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import httpx

from tests.api.helpers import create_workflow, history
from tests.conftest import AUTH_CLIENTS, Api
from tests.support.polling import eventually
from tests.support.service import FlowsProcess


def ingest(api: Api, envelope: Any, message_id: str | None = None) -> httpx.Response:
    headers = {"Message-Uuid": message_id or str(uuid.uuid4()), "Message-Metadata": '{"otel-context":"{}"}'}
    return httpx.post(f"{api.url}/api/orchestration/events", json=envelope, headers=headers, timeout=30)


def envelope(event_type: str, payload: Any, version: str = "v2", app: str = "ledger") -> dict[str, Any]:
    return {
        "idempotency_key": "",
        "date": "2025-03-01T10:00:00.123456Z",
        "app": app,
        "version": version,
        "type": event_type,
        "payload": payload,
    }


def committed(amount: int, destination: str = "users:1") -> dict[str, Any]:
    posting = {"source": "world", "destination": destination, "amount": amount, "asset": "USD"}
    transaction = {"id": 0, "postings": [posting], "metadata": {}, "reverted": False}
    return envelope(
        "COMMITTED_TRANSACTIONS",
        {"ledger": "default", "transactions": [transaction], "accountMetadata": {}},
    )


def create_trigger(api: Api, workflow_id: str, event: str, **fields: Any) -> str:
    response = api.sdk.orchestration.v1.create_trigger(
        request={"event": event, "workflow_id": workflow_id, **fields}
    )
    assert response.status_code == 201
    return response.create_trigger_response.data.id


def occurrences(api: Api, trigger_id: str) -> list[Any]:
    response = api.sdk.orchestration.v1.list_triggers_occurrences(request={"trigger_id": trigger_id})
    assert response.status_code == 200
    return list(response.list_triggers_occurrences_response.data)


def instance_ids(api: Api, workflow_id: str) -> list[str]:
    response = api.sdk.orchestration.v1.list_instances(request={"workflow_id": workflow_id})
    assert response.status_code == 200
    return [instance.id for instance in response.list_runs_response.data]


def unique_type() -> str:
    return "TEST_EVENT_" + uuid.uuid4().hex[:8].upper()


WAIT_DEST = [{"wait_event": {"event": "${dest}"}}]


def test_matching_event_starts_the_workflow_with_the_variables(api: Api) -> None:
    workflow_id = create_workflow(api, WAIT_DEST)
    trigger_id = create_trigger(
        api,
        workflow_id,
        "COMMITTED_TRANSACTIONS",
        filter="event.transactions[0].postings[0].amount > 50",
        vars={"dest": "event.transactions[0].postings[0].destination"},
    )
    sent = committed(100, "users:" + uuid.uuid4().hex[:6])
    response = ingest(api, sent)
    assert response.status_code == 204, response.text
    [occurrence] = occurrences(api, trigger_id)
    assert occurrence.trigger_id == trigger_id
    assert occurrence.error is None
    assert occurrence.event == sent
    instance_id = occurrence.workflow_instance_id
    assert instance_ids(api, workflow_id) == [instance_id]
    destination = sent["payload"]["transactions"][0]["postings"][0]["destination"]
    [wait] = eventually(lambda: history(api, instance_id))
    assert wait["name"] == "RunWaitEvent"
    assert wait["input"] == {"event": destination}

    raw = httpx.get(f"{api.url}/api/orchestration/v2/triggers/{trigger_id}/occurrences").json()
    [listed] = raw["cursor"]["data"]
    assert listed["workflowInstanceID"] == instance_id and listed["event"] == sent


def test_non_matching_event_records_nothing(api: Api) -> None:
    workflow_id = create_workflow(api, WAIT_DEST)
    event_type = unique_type()
    trigger_id = create_trigger(
        api, workflow_id, event_type, filter="event.amount > 50", vars={"dest": "event.destination"}
    )
    assert ingest(api, envelope(event_type, {"amount": 10, "destination": "x"})).status_code == 204
    # A filter error (missing field compared with a number) skips the trigger too.
    assert ingest(api, envelope(event_type, {"destination": "x"})).status_code == 204
    assert ingest(api, envelope("OTHER_" + event_type, {"amount": 100})).status_code == 204
    assert occurrences(api, trigger_id) == []
    assert instance_ids(api, workflow_id) == []


def test_a_redelivered_message_is_processed_once(api: Api) -> None:
    workflow_id = create_workflow(api, WAIT_DEST)
    event_type = unique_type()
    trigger_id = create_trigger(api, workflow_id, event_type, vars={"dest": "event.destination"})
    sent = envelope(event_type, {"destination": "d"})
    message_id = str(uuid.uuid4())
    assert ingest(api, sent, message_id).status_code == 204
    assert ingest(api, sent, message_id).status_code == 204
    [occurrence] = occurrences(api, trigger_id)
    assert instance_ids(api, workflow_id) == [occurrence.workflow_instance_id]
    # Another message with the same content fires again.
    assert ingest(api, sent).status_code == 204
    assert len(occurrences(api, trigger_id)) == 2
    assert len(instance_ids(api, workflow_id)) == 2


def test_saved_payment_fires_once_per_payment_id(api: Api) -> None:
    workflow_id = create_workflow(api, WAIT_DEST)
    version = "v-" + uuid.uuid4().hex[:6]
    trigger_id = create_trigger(
        api, workflow_id, "SAVED_PAYMENT", version=version, vars={"dest": "event.reference"}
    )
    payment_id = str(uuid.uuid4())
    first = envelope("SAVED_PAYMENT", {"id": payment_id, "reference": "r", "amount": 100}, version, "payments")
    second = envelope("SAVED_PAYMENT", {"id": payment_id, "reference": "r", "status": "SUCCEEDED"}, version, "payments")
    assert ingest(api, first).status_code == 204
    assert ingest(api, second).status_code == 204
    [occurrence] = occurrences(api, trigger_id)
    assert occurrence.event == first
    assert instance_ids(api, workflow_id) == [occurrence.workflow_instance_id]
    other = envelope("SAVED_PAYMENT", {"id": str(uuid.uuid4()), "reference": "r"}, version, "payments")
    assert ingest(api, other).status_code == 204
    assert len(occurrences(api, trigger_id)) == 2


def test_a_variable_error_records_a_failed_occurrence(api: Api) -> None:
    workflow_id = create_workflow(api, WAIT_DEST)
    event_type = unique_type()
    trigger_id = create_trigger(api, workflow_id, event_type, vars={"dest": "event.missing.deep"})
    sent = envelope(event_type, {"amount": 1})
    assert ingest(api, sent).status_code == 204
    [occurrence] = occurrences(api, trigger_id)
    assert occurrence.workflow_instance_id is None
    assert occurrence.error is not None and "cannot fetch deep from <nil>" in occurrence.error
    assert occurrence.event == sent
    assert instance_ids(api, workflow_id) == []


def test_deleted_triggers_and_workflows_do_not_fire(api: Api) -> None:
    event_type = unique_type()
    workflow_id = create_workflow(api, WAIT_DEST)
    deleted_trigger = create_trigger(api, workflow_id, event_type, vars={"dest": "event.d"})
    assert api.sdk.orchestration.v1.delete_trigger(request={"trigger_id": deleted_trigger}).status_code == 204
    deleted_workflow = create_workflow(api, WAIT_DEST)
    orphan = create_trigger(api, deleted_workflow, event_type, vars={"dest": "event.d"})
    assert api.sdk.orchestration.v1.delete_workflow(request={"flow_id": deleted_workflow}).status_code == 204
    assert ingest(api, envelope(event_type, {"d": "x"})).status_code == 204
    assert occurrences(api, deleted_trigger) == []
    assert occurrences(api, orphan) == []
    assert instance_ids(api, workflow_id) == []


def test_version_matching(api: Api) -> None:
    event_type = unique_type()
    workflow_id = create_workflow(api, WAIT_DEST)
    v2 = create_trigger(api, workflow_id, event_type, version="v2", vars={"dest": "event.d"})
    any_version = create_trigger(api, workflow_id, event_type, vars={"dest": "event.d"})
    assert ingest(api, envelope(event_type, {"d": "x"}, version="v1")).status_code == 204
    assert occurrences(api, v2) == []
    assert len(occurrences(api, any_version)) == 1
    assert ingest(api, envelope(event_type, {"d": "x"}, version="v2")).status_code == 204
    assert len(occurrences(api, v2)) == 1
    assert len(occurrences(api, any_version)) == 2


def test_malformed_bodies_are_rejected(api: Api) -> None:
    url = f"{api.url}/api/orchestration/events"
    bad = [
        b"not json",
        b"[]",
        b'{"payload": {}}',
        b'{"type": "", "payload": {}}',
        b'{"type": 5, "payload": {}}',
        b'{"type": "E"}',
        b'{"type": "E", "payload": {}, "version": 2}',
    ]
    for body in bad:
        response = httpx.post(url, content=body, headers={"Message-Uuid": str(uuid.uuid4())})
        assert response.status_code == 400, body
        assert response.json()["errorCode"] == "VALIDATION"
    # Served without the gateway prefix too.
    ok = httpx.post(f"{api.url}/events", json=envelope(unique_type(), {}), timeout=30)
    assert ok.status_code == 204


def _token(service: FlowsProcess, scope: str) -> str:
    form = {"grant_type": "client_credentials", "client_id": "tester", "client_secret": AUTH_CLIENTS["tester"], "scope": scope}
    response = httpx.post(f"{service.url}/api/auth/oauth/token", data=form)
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def test_ingestion_requires_the_write_scope_when_auth_is_on(auth_service: FlowsProcess) -> None:
    url = f"{auth_service.url}/api/orchestration/events"
    body = envelope(unique_type(), {})
    assert httpx.post(url, json=body).status_code == 401
    read = {"Authorization": f"Bearer {_token(auth_service, 'orchestration:read')}"}
    assert httpx.post(url, json=body, headers=read).status_code == 403
    write = {"Authorization": f"Bearer {_token(auth_service, 'orchestration:write')}"}
    assert httpx.post(url, json=body, headers=write).status_code == 204


def test_a_long_message_id_is_processed_once(api: Api) -> None:
    # Longer than an index entry may be (PostgreSQL: about 2.7 kB): kept as its digest.
    workflow_id = create_workflow(api, WAIT_DEST)
    event_type = unique_type()
    trigger_id = create_trigger(api, workflow_id, event_type, vars={"dest": "event.d"})
    message_id = secrets.token_urlsafe(4000)  # random: no compression brings it under the limit
    for _ in range(2):
        response = ingest(api, envelope(event_type, {"d": "x"}), message_id)
        assert response.status_code == 204, response.text
    [occurrence] = occurrences(api, trigger_id)
    assert instance_ids(api, workflow_id) == [occurrence.workflow_instance_id]
