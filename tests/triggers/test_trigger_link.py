"""`link(obj, rel)` in trigger expressions (reference §9.5, issue 4), end to end on a real
`flows serve` whose sandbox serves the linked payments accounts."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.api.helpers import create_workflow, history
from tests.api.test_trigger_test_endpoint import create_trigger as create_v2_trigger
from tests.api.test_trigger_test_endpoint import test_trigger as run_test_endpoint
from tests.conftest import Api
from tests.support.polling import eventually
from tests.triggers.test_trigger_firing import WAIT_DEST, create_trigger, occurrences


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


@pytest.fixture
def outside_server() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server that is not the stack; the paths it was asked for."""
    requested: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requested.append(self.path)
            body = b'{"data": {"secret": "leaked"}}'
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
