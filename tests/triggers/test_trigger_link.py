"""`link(obj, rel)` in trigger expressions (docs/triggers.md, issue 4), end to end on a real
`flows serve` whose sandbox serves the linked payments accounts."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from flows.stack.client import StackClient
from flows.triggers import expr, link
from tests.api.helpers import create_workflow, history
from tests.api.test_trigger_test_endpoint import create_trigger as create_v2_trigger
from tests.api.test_trigger_test_endpoint import test_trigger as run_test_endpoint
from tests.conftest import Api
from tests.support.polling import eventually
from tests.triggers.test_trigger_firing import (
    WAIT_DEST,
    create_trigger,
    envelope,
    ingest,
    occurrences,
)


def stripe_connector(api: Api) -> str:
    connectors = httpx.get(f"{api.url}/api/payments/connectors", timeout=30).json()["data"]
    return next(c["connectorID"] for c in connectors if c["provider"] == "STRIPE")


def create_account(api: Api, connector: str, name: str) -> dict[str, Any]:
    body = {
        "reference": "acc_" + uuid.uuid4().hex[:12],
        "connectorID": connector,
        "createdAt": "2025-03-01T10:00:00Z",
        "type": "INTERNAL",
        "accountName": name,
    }
    response = httpx.post(f"{api.url}/api/payments/accounts", json=body, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["data"]  # type: ignore[no-any-return]


def create_payment(api: Api, connector: str, reference: str, source_account: str) -> dict[str, Any]:
    body = {
        "reference": reference,
        "connectorID": connector,
        "createdAt": "2025-03-01T10:00:00Z",
        "type": "PAY-IN",
        "amount": 1000,
        "asset": "USD/2",
        "scheme": "visa",
        "status": "SUCCEEDED",
        "sourceAccountID": source_account,
    }
    response = httpx.post(f"{api.url}/api/payments/payments", json=body, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["data"]  # type: ignore[no-any-return]


def test_link_fetches_the_linked_account_from_the_stack(sqlite_api: Api) -> None:
    api = sqlite_api
    connector = stripe_connector(api)
    name = "acct-" + uuid.uuid4().hex[:8]
    account = create_account(api, connector, name)
    reference = "py_" + uuid.uuid4().hex[:12]
    workflow_id = create_workflow(api, WAIT_DEST)
    trigger_id = create_trigger(
        api,
        workflow_id,
        "SAVED_PAYMENT",
        filter=f'event.reference == "{reference}" && link(event, "source_account").accountName == "{name}"',
        vars={"dest": 'link(event, "source_account").accountName'},
    )
    failing = create_trigger(
        api,
        create_workflow(api, WAIT_DEST),
        "SAVED_PAYMENT",
        filter=f'event.reference == "{reference}"',
        vars={"dest": 'link(event, "nope")'},
    )
    create_payment(api, connector, reference, account["id"])

    [occurrence] = eventually(lambda: occurrences(api, trigger_id))
    assert occurrence.error is None
    [wait] = eventually(lambda: history(api, occurrence.workflow_instance_id))
    assert wait["input"] == {"event": name}

    [failed] = eventually(lambda: occurrences(api, failing))
    assert failed.error == "link 'nope' not defined for object"
    assert failed.workflow_instance_id is None


def test_a_filter_whose_link_fails_skips_the_trigger(sqlite_api: Api) -> None:
    api = sqlite_api
    connector = stripe_connector(api)
    account = create_account(api, connector, "x")
    reference = "py_" + uuid.uuid4().hex[:12]
    skipped = create_trigger(
        api,
        create_workflow(api, WAIT_DEST),
        "SAVED_PAYMENT",
        filter=f'event.reference == "{reference}" && link(event, "destination_account") != nil',
        vars={"dest": "event.reference"},
    )
    witness = create_trigger(
        api,
        create_workflow(api, WAIT_DEST),
        "SAVED_PAYMENT",
        filter=f'event.reference == "{reference}"',
        vars={"dest": "event.reference"},
    )
    create_payment(api, connector, reference, account["id"])
    eventually(lambda: occurrences(api, witness))
    assert occurrences(api, skipped) == []


@contextmanager
def recording_server(answer: Callable[[str], bytes]) -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server answering `answer(path)` to every GET; the paths it was asked for."""
    requested: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requested.append(self.path)
            body = answer(self.path)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requested
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def outside_server() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server that is not the stack."""
    with recording_server(lambda _path: b'{"data": {"secret": "leaked"}}') as server:
        yield server


def test_the_test_endpoint_resolves_links_on_the_stack_only(
    sqlite_api: Api, outside_server: tuple[str, list[str]]
) -> None:
    api = sqlite_api
    outside, requested = outside_server
    account = create_account(api, stripe_connector(api), "named")
    trigger_id = create_v2_trigger(
        api,
        vars={
            "name": 'link(event, "source_account").accountName',
            "outside": 'link(event, "elsewhere").secret',
            "invalid": 'link(event, "invalid")',
            "missing": 'link(event, "nope")',
            "twice": 'link(event, "twice")',
            "arity": "link(event)",
            "rel": "link(event, 1)",
            "gone": 'link(event, "gone")',
        },
    )
    stack_accounts = f"{api.url}/api/payments/accounts"
    payload = {
        "links": [
            {"name": "source_account", "uri": f"{stack_accounts}/{account['id']}"},
            {"name": "elsewhere", "uri": f"{outside}/x"},
            {"name": "invalid", "uri": "http://example.invalid/x"},
            {"name": "twice", "uri": f"{stack_accounts}/a"},
            {"name": "twice", "uri": f"{stack_accounts}/b"},
            {"name": "gone", "uri": f"{stack_accounts}/unknown"},
        ]
    }
    variables = run_test_endpoint(api, trigger_id, payload)["data"]["variables"]
    assert variables == {
        "name": {"value": "named"},
        "outside": {"error": f"link 'elsewhere' points outside the stack: {outside}/x"},
        "invalid": {"error": "link 'invalid' points outside the stack: http://example.invalid/x"},
        "missing": {"error": "link 'nope' not defined for object"},
        "twice": {"error": "multiple link 'twice' found for object"},
        "arity": {"error": "expect two arguments, got 1"},
        "rel": {"error": "second parameter must be a string"},
        "gone": {"error": variables["gone"]["error"]},
    }
    assert variables["gone"]["error"].startswith("unexpected status code when reading resource: 4")
    assert requested == []

    filtered = create_v2_trigger(api, filter='link(event, "elsewhere") != nil')
    assert run_test_endpoint(api, filtered, payload)["data"]["filter"] == {
        "match": False,
        "error": f"link 'elsewhere' points outside the stack: {outside}/x",
    }
    assert requested == []


# -- link() scoped to the event's service (issue 8) ----------------------------------------------


@pytest.fixture
def stack_server() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server standing for the stack, answering with the path it was asked for."""
    with recording_server(lambda path: json.dumps({"data": {"path": path}}).encode()) as server:
        yield server


async def follow(stack_url: str, uri: str, app: str | None) -> Any:
    """`link(event, "target").path` for an event whose link `target` is `uri`."""
    source = 'link(event, "target").path'
    stack = StackClient(stack_url)
    try:
        payload = {"links": [{"name": "target", "uri": uri}]}
        return await link.run(expr.compile(source), source, payload, stack, services=None if app is None else (app,))
    finally:
        await stack.close()


async def test_with_an_app_link_reads_only_that_services_paths(stack_server: tuple[str, list[str]]) -> None:
    stack_url, requested = stack_server
    assert await follow(stack_url, f"{stack_url}/api/payments/accounts/a1", "payments") == "/api/payments/accounts/a1"
    assert await follow(stack_url, f"{stack_url}/api/ledger/v2/default/accounts/world", None) == (
        "/api/ledger/v2/default/accounts/world"
    )
    requested.clear()
    for uri in [
        f"{stack_url}/api/ledger/v2/default/accounts/world",
        f"{stack_url}/api/payments/../ledger/v2/default/accounts/world",
        f"{stack_url}/api/payments/%2e%2e/ledger/v2/default/accounts/world",
        f"{stack_url}/api/payments%2f..%2fledger/v2/default/accounts/world",
        f"{stack_url}/api/paymentsx/accounts/a1",
        f"{stack_url}/api/payments",
        f"{stack_url}/other/api/payments/accounts/a1",
    ]:
        with pytest.raises(expr.ExprError) as caught:
            await follow(stack_url, uri, "payments")
        assert str(caught.value) == f"link 'target' points outside the stack services it may read (payments): {uri}"
    with pytest.raises(expr.ExprError):
        await follow(stack_url, f"{stack_url}/api/payments/accounts/a1", "../payments")
    assert requested == []


async def test_link_fetches_at_most_a_few_resources_per_evaluation(stack_server: tuple[str, list[str]]) -> None:
    stack_url, requested = stack_server
    source = 'all(1..100, {link(event, "target") != nil})'
    stack = StackClient(stack_url)
    try:
        payload = {"links": [{"name": "target", "uri": f"{stack_url}/api/ledger/x"}]}
        with pytest.raises(expr.ExprError) as caught:
            await link.run(expr.compile(source), source, payload, stack, services=("ledger",))
    finally:
        await stack.close()
    assert str(caught.value) == f"too many link() calls: at most {link.MAX_LINKS} per expression"
    assert len(requested) == link.MAX_LINKS


def test_an_event_cannot_link_to_another_services_data(sqlite_api: Api) -> None:
    api = sqlite_api
    reference = "py_" + uuid.uuid4().hex[:12]
    ledger_uri = f"{api.url}/api/ledger/default/accounts/world"
    payload = {"reference": reference, "links": [{"name": "ledger_account", "uri": ledger_uri}]}
    # The stack serves it: the test endpoint, with no event (no app), reads it.
    readable = create_v2_trigger(api, vars={"address": 'link(event, "ledger_account").address'})
    assert run_test_endpoint(api, readable, payload)["data"]["variables"] == {"address": {"value": "world"}}

    trigger_id = create_trigger(
        api,
        create_workflow(api, WAIT_DEST),
        "SAVED_PAYMENT",
        filter=f'event.reference == "{reference}"',
        vars={"dest": 'string(link(event, "ledger_account"))'},
    )
    assert ingest(api, envelope("SAVED_PAYMENT", payload, app="payments")).status_code == 204
    [occurrence] = eventually(lambda: occurrences(api, trigger_id))
    assert occurrence.error == (
        f"link 'ledger_account' points outside the stack services it may read (payments): {ledger_uri}"
    )
    assert occurrence.workflow_instance_id is None
