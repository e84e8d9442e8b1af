"""Auth over real HTTP: the built-in OAuth2 issuer and the bearer middleware of `flows serve`.

`auth_service` runs with `--auth-clients tester:tester-secret,reader:reader-secret`, clients with
every scope; `scoped_service` with clients limited to some scopes, read from a file and from the
environment, and a signing key from a file, so tests can forge tokens with it; the `api` servers
run with auth off. The SDK caches tokens in a class-level dict keyed by client id and
secret, so every server here gets client ids of its own.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from formance_sdk_python import SDK
from formance_sdk_python.models.orchestration import Error

from tests.conftest import Api, sdk_with_credentials
from tests.support.service import FlowsProcess, free_port

TOKEN_PATH = "/api/auth/oauth/token"
ORCHESTRATION = "/api/orchestration"
NOOP = {"name": "auth", "stages": [{"noop": {}}]}
WAIT_TIMEOUT_MS = 15_000


def request_token(url: str, client_id: str, secret: str, scope: str | None = None) -> httpx.Response:
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    if scope is not None:
        form["scope"] = scope
    return httpx.post(f"{url}{TOKEN_PATH}", data=form)


def token(url: str, client_id: str, secret: str, scope: str | None = None) -> str:
    response = request_token(url, client_id, secret, scope)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def assert_rejected(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["www-authenticate"].startswith("Bearer")
    body = response.json()
    assert body["errorCode"] == "VALIDATION"
    assert isinstance(body["errorMessage"], str) and body["errorMessage"]


def workflow_count(url: str) -> int:
    headers = bearer(token(url, "tester", "tester-secret", "orchestration:read"))
    response = httpx.get(f"{url}{ORCHESTRATION}/workflows", headers=headers)
    assert response.status_code == 200
    return len(response.json()["data"])


# -- with auth on ------------------------------------------------------------------------------


def test_sdk_with_good_credentials_runs_a_full_cycle(auth_service: FlowsProcess) -> None:
    sdk = sdk_with_credentials(auth_service.url, "tester", "tester-secret")
    v1 = sdk.orchestration.v1
    assert v1.get_server_info_orchestration().server_info.version
    created = v1.create_workflow(request=NOOP)
    assert created.status_code == 201
    workflow_id = created.create_workflow_response.data.id
    assert workflow_id in [w.id for w in v1.list_workflows().list_workflows_response.data]
    assert v1.get_workflow(request={"flow_id": workflow_id}).get_workflow_response.data.id == workflow_id

    run = v1.run_workflow(request={"workflow_id": workflow_id, "wait": True}, timeout_ms=WAIT_TIMEOUT_MS)
    instance = run.run_workflow_response.data
    assert instance.terminated and instance.error is None
    read = v1.get_instance(request={"instance_id": instance.id}).get_workflow_instance_response.data
    assert read.terminated and read.workflow_id == workflow_id
    assert instance.id in [
        i.id for i in v1.list_instances(request={"workflow_id": workflow_id}).list_runs_response.data
    ]
    history = v1.get_instance_history(request={"instance_id": instance.id})
    assert [stage.name for stage in history.get_workflow_instance_history_response.data] == ["RunNoop"]

    trigger = v1.create_trigger(request={"event": "SAVED_PAYMENT", "workflow_id": workflow_id})
    trigger_id = trigger.create_trigger_response.data.id
    assert trigger_id in [t.id for t in v1.list_triggers(request={}).list_triggers_response.data]
    assert v1.delete_trigger(request={"trigger_id": trigger_id}).status_code == 204
    assert v1.delete_workflow(request={"flow_id": workflow_id}).status_code == 204

    v2 = sdk.orchestration.v2
    assert v2.get_server_info().v2_server_info.version
    assert v2.list_workflows(request={}).v2_list_workflows_response.cursor.page_size == 15


def test_wrong_secret_is_refused_by_the_token_endpoint(auth_service: FlowsProcess) -> None:
    for client_id, secret in (("tester", "guessed-s3cret"), ("reader", ""), ("nobody", "tester-secret")):
        response = request_token(auth_service.url, client_id, secret, "orchestration:read")
        assert response.status_code == 401, response.text
        assert response.headers["content-type"].startswith("application/json")
        body = response.json()
        assert body["error"] == "invalid_client"
        assert "access_token" not in body
        assert secret == "" or secret not in response.text


def test_sdk_with_a_wrong_secret_raises_and_sends_no_request(auth_service: FlowsProcess) -> None:
    before = workflow_count(auth_service.url)
    sdk = sdk_with_credentials(auth_service.url, "tester", "not-the-secret")
    with pytest.raises(Exception, match="Unexpected status code 401 from token endpoint"):
        sdk.orchestration.v1.list_workflows()
    with pytest.raises(Exception, match="Unexpected status code 401 from token endpoint"):
        sdk.orchestration.v1.create_workflow(request=NOOP)
    assert workflow_count(auth_service.url) == before


def test_token_endpoint_without_credentials_is_refused(auth_service: FlowsProcess) -> None:
    response = httpx.post(f"{auth_service.url}{TOKEN_PATH}", data={"grant_type": "client_credentials"})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_token_endpoint_accepts_http_basic(auth_service: FlowsProcess) -> None:
    credentials = base64.b64encode(b"reader:reader-secret").decode()
    response = httpx.post(
        f"{auth_service.url}{TOKEN_PATH}",
        data={"grant_type": "client_credentials", "scope": "orchestration:read"},
        headers={"Authorization": f"Basic {credentials}"},
    )
    assert response.status_code == 200, response.text
    listed = httpx.get(f"{auth_service.url}{ORCHESTRATION}/workflows", headers=bearer(response.json()["access_token"]))
    assert listed.status_code == 200


def test_token_response_shape(auth_service: FlowsProcess) -> None:
    response = request_token(auth_service.url, "tester", "tester-secret", "orchestration:read")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert "no-store" in response.headers["cache-control"]
    body = response.json()
    assert body["token_type"].lower() == "bearer"
    assert isinstance(body["access_token"], str) and body["access_token"]
    assert isinstance(body["expires_in"], int) and body["expires_in"] > 60
    assert body["scope"] == "orchestration:read"
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["sub"] == "tester"
    assert claims["scope"] == "orchestration:read"
    assert claims["exp"] > time.time()


def test_granted_scopes_are_the_requested_ones_that_exist(auth_service: FlowsProcess) -> None:
    both = request_token(auth_service.url, "tester", "tester-secret", "orchestration:read orchestration:write")
    assert set(both.json()["scope"].split()) == {"orchestration:read", "orchestration:write"}
    mixed = request_token(auth_service.url, "tester", "tester-secret", "orchestration:write admin:everything")
    assert mixed.status_code == 200
    assert mixed.json()["scope"].split() == ["orchestration:write"]
    everything = request_token(auth_service.url, "tester", "tester-secret")
    assert {"orchestration:read", "orchestration:write"} <= set(everything.json()["scope"].split())
    unknown = request_token(auth_service.url, "tester", "tester-secret", "admin:everything")
    assert unknown.status_code == 400
    assert unknown.json()["error"] == "invalid_scope"


def test_no_token_is_401_in_the_error_envelope(auth_service: FlowsProcess) -> None:
    before = workflow_count(auth_service.url)
    for method, path in (
        ("GET", "/workflows"),
        ("GET", "/v2/workflows"),
        ("GET", "/triggers"),
        ("GET", "/instances"),
        ("POST", "/workflows"),
        ("DELETE", f"/triggers/{uuid.uuid4()}"),
    ):
        for prefix in ("", ORCHESTRATION):
            kwargs = {"json": NOOP} if method == "POST" else {}
            response = httpx.request(method, f"{auth_service.url}{prefix}{path}", **kwargs)
            assert_rejected(response, 401)
    assert workflow_count(auth_service.url) == before


def test_sdk_without_credentials_gets_a_typed_401(auth_service: FlowsProcess) -> None:
    sdk = SDK(server_url=auth_service.url)
    with pytest.raises(Error) as failure:
        sdk.orchestration.v1.list_workflows()
    assert failure.value.status_code == 401
    assert failure.value.data.error_code == "VALIDATION"


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer garbage",
        "Bearer a.b.c",
        "Bearer",
        "Basic dGVzdGVyOnRlc3Rlci1zZWNyZXQ=",
        "garbage",
        "Bearer " + jwt.encode(
            {"iss": "flows", "sub": "tester", "scope": "orchestration:write",
             "iat": int(time.time()), "exp": int(time.time()) + 3600, "jti": "x"},
            "a-key-that-is-not-the-servers-key-at-all",
            algorithm="HS256",
        ),
        "Bearer " + jwt.encode(
            {"iss": "flows", "sub": "tester", "scope": "orchestration:write",
             "iat": int(time.time()), "exp": int(time.time()) + 3600, "jti": "x"},
            None,
            algorithm="none",
        ),
    ],
)
def test_bad_tokens_are_401(auth_service: FlowsProcess, authorization: str) -> None:
    before = workflow_count(auth_service.url)
    headers = {"Authorization": authorization}
    assert_rejected(httpx.get(f"{auth_service.url}{ORCHESTRATION}/workflows", headers=headers), 401)
    assert_rejected(httpx.post(f"{auth_service.url}{ORCHESTRATION}/workflows", json=NOOP, headers=headers), 401)
    assert workflow_count(auth_service.url) == before


def test_sdk_with_a_garbage_bearer_header_gets_a_typed_401(auth_service: FlowsProcess) -> None:
    sdk = SDK(server_url=auth_service.url)
    with pytest.raises(Error) as failure:
        sdk.orchestration.v1.list_triggers(request={}, http_headers=bearer("garbage"))
    assert failure.value.status_code == 401
    assert failure.value.data.error_code == "VALIDATION"


def test_a_tampered_token_is_401(auth_service: FlowsProcess) -> None:
    read_only = token(auth_service.url, "reader", "reader-secret", "orchestration:read")
    header, _payload, signature = read_only.split(".")
    claims = jwt.decode(read_only, options={"verify_signature": False})
    claims["scope"] = "orchestration:write"
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    forged = f"{header}.{forged_payload}.{signature}"
    response = httpx.post(f"{auth_service.url}{ORCHESTRATION}/workflows", json=NOOP, headers=bearer(forged))
    assert_rejected(response, 401)


def test_read_scope_can_read_but_not_write(auth_service: FlowsProcess) -> None:
    response = request_token(auth_service.url, "reader", "reader-secret", "orchestration:read")
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "orchestration:read"
    headers = bearer(response.json()["access_token"])
    url = auth_service.url

    writer = bearer(token(url, "tester", "tester-secret", "orchestration:write"))
    created = httpx.post(f"{url}{ORCHESTRATION}/workflows", json=NOOP, headers=writer)
    assert created.status_code == 201
    workflow_id = created.json()["data"]["id"]

    for path in ("/_info", "/workflows", f"/workflows/{workflow_id}", "/instances", "/triggers", "/v2/workflows"):
        read = httpx.get(f"{url}{ORCHESTRATION}{path}", headers=headers)
        assert read.status_code == 200, (path, read.text)

    before = workflow_count(url)
    for method, path, body in (
        ("POST", "/workflows", NOOP),
        ("POST", "/v2/workflows", NOOP),
        ("POST", f"/workflows/{workflow_id}/instances", {}),
        ("DELETE", f"/workflows/{workflow_id}", None),
        ("POST", "/triggers", {"event": "E", "workflowID": workflow_id}),
        ("PUT", f"/instances/{uuid.uuid4()}/abort", None),
    ):
        denied = httpx.request(method, f"{url}{ORCHESTRATION}{path}", json=body, headers=headers)
        assert_rejected(denied, 403)
        assert "insufficient_scope" in denied.headers["www-authenticate"]
    assert workflow_count(url) == before
    still_there = httpx.get(f"{url}{ORCHESTRATION}/workflows/{workflow_id}", headers=headers)
    assert still_there.status_code == 200


def test_read_scope_through_the_sdk_is_a_typed_403(auth_service: FlowsProcess) -> None:
    read_only = token(auth_service.url, "reader", "reader-secret", "orchestration:read")
    sdk = SDK(server_url=auth_service.url)
    listed = sdk.orchestration.v1.list_workflows(http_headers=bearer(read_only))
    assert listed.status_code == 200
    with pytest.raises(Error) as failure:
        sdk.orchestration.v1.create_workflow(request=NOOP, http_headers=bearer(read_only))
    assert failure.value.status_code == 403
    assert failure.value.data.error_code == "VALIDATION"


def test_write_scope_can_read_too(auth_service: FlowsProcess) -> None:
    write_only = token(auth_service.url, "tester", "tester-secret", "orchestration:write")
    response = httpx.get(f"{auth_service.url}{ORCHESTRATION}/workflows", headers=bearer(write_only))
    assert response.status_code == 200


def test_a_token_with_only_other_scopes_is_403(auth_service: FlowsProcess) -> None:
    ledger_only = token(auth_service.url, "tester", "tester-secret", "ledger:read")
    response = httpx.get(f"{auth_service.url}{ORCHESTRATION}/workflows", headers=bearer(ledger_only))
    assert_rejected(response, 403)


@pytest.mark.parametrize(
    "path",
    [
        "/_info",
        "/_info/",
        "/api/orchestration/_info",
        "/v2/_info",
        "/api/orchestration/v2/_info",
        "/_healthcheck",
        "/api/orchestration/_healthcheck",
    ],
)
def test_info_and_healthcheck_need_no_token(auth_service: FlowsProcess, path: str) -> None:
    response = httpx.get(f"{auth_service.url}{path}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    if "_info" in path:
        assert isinstance(response.json()["version"], str)


def test_sdk_without_credentials_reads_server_info(auth_service: FlowsProcess) -> None:
    sdk = SDK(server_url=auth_service.url)
    assert sdk.orchestration.v1.get_server_info_orchestration().server_info.version
    assert sdk.orchestration.v2.get_server_info().v2_server_info.version


# -- with auth off -----------------------------------------------------------------------------


def test_token_endpoint_answers_when_auth_is_off(api: Api) -> None:
    for client_id, secret in ((f"off-{api.backend}", "anything"), ("tester", "wrong")):
        response = request_token(api.url, client_id, secret, "orchestration:read")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["token_type"].lower() == "bearer"
        assert isinstance(body["access_token"], str) and body["access_token"]
        assert isinstance(body["expires_in"], int)
    bare = httpx.post(f"{api.url}{TOKEN_PATH}", data={"grant_type": "client_credentials"})
    assert bare.status_code == 200, bare.text


def test_sdk_with_credentials_works_when_auth_is_off(api: Api) -> None:
    sdk = sdk_with_credentials(api.url, f"auth-off-{api.backend}", "whatever-secret")
    v1 = sdk.orchestration.v1
    assert v1.get_server_info_orchestration().server_info.version
    workflow_id = v1.create_workflow(request=NOOP).create_workflow_response.data.id
    assert workflow_id in [w.id for w in v1.list_workflows().list_workflows_response.data]
    run = v1.run_workflow(request={"workflow_id": workflow_id, "wait": True}, timeout_ms=WAIT_TIMEOUT_MS)
    assert run.run_workflow_response.data.terminated
    trigger = v1.create_trigger(request={"event": "E", "workflow_id": workflow_id})
    assert trigger.status_code == 201
    assert sdk.orchestration.v2.list_triggers(request={}).status_code == 200


def test_any_authorization_header_is_accepted_when_auth_is_off(api: Api) -> None:
    for authorization in ("Bearer garbage", "Basic eDp5", "nonsense"):
        response = httpx.get(f"{api.url}{ORCHESTRATION}/workflows", headers={"Authorization": authorization})
        assert response.status_code == 200, response.text


# -- per-client scopes, secrets in files and the environment -----------------------------------

SCOPED_SIGNING_KEY = "the-scoped-services-signing-key-long-enough-for-hs512-0123456789abcdef"
# (id, secret, the scopes its tokens get when it asks for none)
SCOPED_CLIENTS = [
    ("envreader", "env-s3cret", "orchestration:read"),  # from AUTH_CLIENTS
    (
        "worker",
        "worker-s3cret",
        (
            "orchestration:read orchestration:write ledger:read ledger:write wallets:read"
            " wallets:write payments:read payments:write sandbox:read sandbox:write"
        ),
    ),
    ("viewer", "viewer-s3cret", "orchestration:read"),
    ("orchestrator", "orch-s3cret", "orchestration:read orchestration:write"),
    ("bookkeeper", "book-s3cret", "ledger:read"),
]
SCOPED_CLIENTS_FILE = """\
# The clients of the scoped service, one per line: id:secret[:scope+scope...]
worker:worker-s3cret

viewer:viewer-s3cret:orchestration:read
orchestrator:orch-s3cret:orchestration:write+orchestration:read
bookkeeper:book-s3cret:ledger:read
"""


@pytest.fixture(scope="module")
def scoped_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlowsProcess]:
    directory = tmp_path_factory.mktemp("scoped")
    clients = directory / "clients"
    clients.write_text(SCOPED_CLIENTS_FILE)
    key = directory / "signing-key"
    key.write_text(SCOPED_SIGNING_KEY + "\n")
    for secrets in (clients, key):
        secrets.chmod(0o600)
    service = FlowsProcess(
        directory / "data",
        "--auth-clients-file", str(clients),
        "--auth-signing-key-file", str(key),
        env={"AUTH_CLIENTS": "envreader:env-s3cret:orchestration:read"},
    ).start()  # fmt: skip
    try:
        yield service
    finally:
        service.stop()


def client_token(url: str, client_id: str, scope: str | None = None) -> str:
    secret = next(secret for id_, secret, _ in SCOPED_CLIENTS if id_ == client_id)
    return token(url, client_id, secret, scope)


@pytest.mark.parametrize(("client_id", "secret", "scopes"), SCOPED_CLIENTS)
def test_clients_from_a_file_and_the_environment_get_their_own_scopes(
    scoped_service: FlowsProcess, client_id: str, secret: str, scopes: str
) -> None:
    response = request_token(scoped_service.url, client_id, secret)
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == scopes
    claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
    assert claims["scope"] == scopes
    assert claims["aud"] == "flows"
    wrong = request_token(scoped_service.url, client_id, secret + "x")
    assert wrong.status_code == 401


@pytest.mark.parametrize("client_id", ["viewer", "envreader"])
def test_a_read_only_client_can_get_but_gets_403_on_writes(scoped_service: FlowsProcess, client_id: str) -> None:
    url = scoped_service.url
    writer = bearer(client_token(url, "orchestrator"))
    created = httpx.post(f"{url}{ORCHESTRATION}/workflows", json=NOOP, headers=writer)
    assert created.status_code == 201, created.text
    workflow_id = created.json()["data"]["id"]
    reader = bearer(client_token(url, client_id))  # asks for nothing: gets all it may have
    listed = httpx.get(f"{url}{ORCHESTRATION}/workflows", headers=reader)
    assert workflow_id in [w["id"] for w in listed.json()["data"]]
    count = len(listed.json()["data"])
    for method, path, body in (
        ("POST", "/workflows", NOOP),
        ("POST", f"/workflows/{workflow_id}/instances", {}),
        ("DELETE", f"/workflows/{workflow_id}", None),
        ("POST", "/triggers", {"event": "E", "workflowID": workflow_id}),
        ("POST", "/events", {"type": "E", "payload": {}}),
    ):
        denied = httpx.request(method, f"{url}{ORCHESTRATION}{path}", json=body, headers=reader)
        assert_rejected(denied, 403)
    listed = httpx.get(f"{url}{ORCHESTRATION}/workflows", headers=reader)
    assert len(listed.json()["data"]) == count


def test_a_read_only_client_through_the_sdk_reads_and_cannot_write(scoped_service: FlowsProcess) -> None:
    v1 = sdk_with_credentials(scoped_service.url, "viewer", "viewer-s3cret").orchestration.v1
    before = len(v1.list_workflows().list_workflows_response.data)
    # The SDK asks for orchestration:write, which the viewer may not have: no token, no request.
    with pytest.raises(Exception, match="400 from token endpoint"):
        v1.create_workflow(request=NOOP)
    assert len(v1.list_workflows().list_workflows_response.data) == before


@pytest.mark.parametrize(
    ("client_id", "scope", "granted"),
    [
        ("viewer", "orchestration:write ledger:write", None),
        ("viewer", "sandbox:write", None),
        ("viewer", "orchestration:read orchestration:write ledger:write sandbox:write", "orchestration:read"),
        ("orchestrator", "ledger:read ledger:write wallets:write payments:write", None),
        ("orchestrator", "openid orchestration:write ledger:write", "openid orchestration:write"),
        ("bookkeeper", "ledger:read ledger:write orchestration:read", "ledger:read"),
    ],
)
def test_asking_for_more_scopes_than_allowed_never_grants_them(
    scoped_service: FlowsProcess, client_id: str, scope: str, granted: str | None
) -> None:
    secret = next(secret for id_, secret, _ in SCOPED_CLIENTS if id_ == client_id)
    response = request_token(scoped_service.url, client_id, secret, scope)
    if granted is None:
        assert response.status_code == 400, response.text
        assert response.json()["error"] == "invalid_scope"
        assert "access_token" not in response.json()
        return
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == granted
    claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
    assert claims["scope"] == granted


def test_a_client_without_stack_scopes_gets_403_on_the_sandbox(scoped_service: FlowsProcess) -> None:
    url = scoped_service.url
    orchestrator = bearer(client_token(url, "orchestrator"))
    ledger = f"l{uuid.uuid4().hex[:12]}"
    for method, path in (
        ("GET", "/api/ledger/v2/default/accounts"),
        ("GET", "/api/ledger/default/accounts/world"),
        ("POST", f"/api/ledger/v2/{ledger}"),
        ("GET", "/api/wallets/wallets"),
        ("POST", "/api/wallets/wallets"),
        ("GET", "/api/payments/payments"),
        ("GET", "/api/sandbox/requests"),
        ("POST", "/api/sandbox/holds"),
    ):
        assert_rejected(httpx.request(method, f"{url}{path}", headers=orchestrator), 403)
    bookkeeper = bearer(client_token(url, "bookkeeper"))
    assert httpx.get(f"{url}/api/ledger/v2/default/accounts", headers=bookkeeper).status_code == 200
    assert_rejected(httpx.post(f"{url}/api/ledger/v2/{ledger}", headers=bookkeeper), 403)
    assert_rejected(httpx.get(f"{url}/api/sandbox/requests", headers=bookkeeper), 403)
    assert_rejected(httpx.get(f"{url}{ORCHESTRATION}/workflows", headers=bookkeeper), 403)
    assert httpx.get(f"{url}/api/ledger/v2/{ledger}", headers=bookkeeper).status_code == 404


def test_the_worker_moves_money_on_the_sandbox_as_a_client_allowed_to(scoped_service: FlowsProcess) -> None:
    # The first clients (envreader, from AUTH_CLIENTS) may not touch the ledger; `worker` may.
    url = scoped_service.url
    orchestrator = bearer(client_token(url, "orchestrator"))
    account = f"users:{uuid.uuid4().hex[:12]}"
    stage = {"send": {
        "source": {"account": {"id": "world", "ledger": "default"}},
        "destination": {"account": {"id": account, "ledger": "default"}},
        "amount": {"amount": 250, "asset": "USD/2"},
    }}  # fmt: skip
    workflow = httpx.post(f"{url}/workflows", json={"stages": [stage]}, headers=orchestrator)
    assert workflow.status_code == 201, workflow.text
    run = httpx.post(
        f"{url}/workflows/{workflow.json()['data']['id']}/instances?wait=true",
        json={}, headers=orchestrator, timeout=30,
    )  # fmt: skip
    assert run.status_code == 201, run.text
    assert run.json()["data"]["terminated"] is True
    assert "error" not in run.json()["data"], run.json()
    bookkeeper = bearer(client_token(url, "bookkeeper"))
    balance = httpx.get(f"{url}/api/ledger/default/accounts/{account}", headers=bookkeeper)
    assert balance.json()["data"]["balances"] == {"USD/2": 250}


def test_a_trigger_test_links_only_to_what_the_callers_token_may_read(scoped_service: FlowsProcess) -> None:
    # link() fetches with the worker's credentials: the caller's own scopes decide what it reaches.
    url = scoped_service.url
    orchestrator = bearer(client_token(url, "orchestrator"))
    workflow = httpx.post(f"{url}/workflows", json={"stages": [{"noop": {}}]}, headers=orchestrator)
    trigger = httpx.post(
        f"{url}/v2/triggers",
        json={
            "event": "SAVED_PAYMENT", "workflowID": workflow.json()["data"]["id"],
            "vars": {"address": 'link(event, "account").address'},
        },
        headers=orchestrator,
    )  # fmt: skip
    assert trigger.status_code == 201, trigger.text
    uri = f"{url}/api/ledger/default/accounts/world"
    payload = {"links": [{"name": "account", "uri": uri}]}
    test_path = f"{url}/v2/triggers/{trigger.json()['data']['id']}/test"

    denied = httpx.post(test_path, json=payload, headers=orchestrator)
    assert denied.status_code == 200, denied.text
    assert denied.json()["data"]["variables"] == {"address": {"error": (
        f"link 'account' points outside the stack services it may read (orchestration): {uri}"
    )}}  # fmt: skip

    worker = bearer(client_token(url, "worker"))
    allowed = httpx.post(test_path, json=payload, headers=worker)
    assert allowed.json()["data"]["variables"] == {"address": {"value": "world"}}


def forged(drop: tuple[str, ...] = (), algorithm: str = "HS256", **claims: Any) -> str:
    """A token signed with the scoped service's own key, valid but for `claims` and `algorithm`;
    integer `iat`, `exp` and `nbf` are seconds from now (tokens are forged when the test runs)."""
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": "flows", "aud": "flows", "sub": "worker", "scope": "orchestration:read orchestration:write",
        "iat": now, "exp": now + 600, "jti": uuid.uuid4().hex,
    }  # fmt: skip
    for name, value in claims.items():
        payload[name] = now + value if name in ("iat", "exp", "nbf") else value
    for name in drop:
        del payload[name]
    key = None if algorithm == "none" else SCOPED_SIGNING_KEY.encode()
    return jwt.encode(payload, key, algorithm=algorithm)


def test_a_token_forged_with_the_servers_key_is_accepted(scoped_service: FlowsProcess) -> None:
    # The baseline of the next test: each of its tokens differs from this one in one respect.
    response = httpx.get(f"{scoped_service.url}{ORCHESTRATION}/workflows", headers=bearer(forged()))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "forgery",
    [
        {"nbf": 3600},
        {"exp": 10**18},
        {"iat": -(10**6), "exp": 600},
        {"iat": 3600, "exp": 3700},
        {"drop": ("aud",)},
        {"aud": "https://ledger.example.com"},
        {"aud": ["flows", "elsewhere"]},
        {"algorithm": "none"},
        {"algorithm": "HS512"},
        {"sub": "nobody"},
    ],
    ids=[
        "nbf-future", "exp-1e18", "lifetime-too-long", "iat-future", "no-aud", "wrong-aud",
        "aud-list", "alg-none", "alg-HS512", "unknown-client",
    ],
)
def test_forged_tokens_signed_with_the_servers_key_are_401(
    scoped_service: FlowsProcess, forgery: dict[str, Any]
) -> None:
    url = scoped_service.url
    token = forged(**forgery)
    before = len(httpx.get(f"{url}{ORCHESTRATION}/workflows", headers=bearer(forged())).json()["data"])
    assert_rejected(httpx.get(f"{url}{ORCHESTRATION}/workflows", headers=bearer(token)), 401)
    assert_rejected(httpx.post(f"{url}{ORCHESTRATION}/workflows", json=NOOP, headers=bearer(token)), 401)
    assert_rejected(httpx.get(f"{url}/api/ledger/v2/default/accounts", headers=bearer(token)), 401)
    after = len(httpx.get(f"{url}{ORCHESTRATION}/workflows", headers=bearer(forged())).json()["data"])
    assert after == before


# -- configuration mistakes refuse to start ------------------------------------------------------


def serve(tmp_path: Path, *flags: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable, "-m", "flows.cli", "serve",
        "--data-dir", str(tmp_path / "data"), "--listen", f"127.0.0.1:{free_port()}", *flags,
    ]  # fmt: skip
    environment = {**os.environ, **(env or {})}
    return subprocess.run(command, check=False, capture_output=True, text=True, timeout=120, env=environment)


@pytest.mark.parametrize(
    ("flags", "env", "message"),
    [
        (["--auth-clients", "just-a-s3cret"], {}, "--auth-clients entry 1: expected id:secret"),
        (["--auth-clients", "a:s3cret:orchestration:admin"], {}, "scope 1 of client 'a' is not one of"),
        (["--auth-clients", "a:s3cret,b:x,a:other-s3cret"], {}, "entry 3: client 'a' is configured twice"),
        (["--auth-clients", "a:s3cret", "--auth-clients-file", "{clients}"], {}, "line 2: client 'a' is configured twice"),
        (["--auth-clients-file", "{missing}"], {}, "cannot read --auth-clients-file"),
        ([], {"AUTH_CLIENTS": "a:s3cret:ledger:xyzzy"}, "scope 1 of client 'a'"),
        ([], {"AUTH_CLIENTS_FILE": "{missing}"}, "cannot read --auth-clients-file"),
    ],
)
def test_a_malformed_client_configuration_refuses_to_start_in_one_line(
    tmp_path: Path, flags: list[str], env: dict[str, str], message: str
) -> None:
    clients = tmp_path / "clients"
    clients.write_text("# a comment\na:another-s3cret\n")
    clients.chmod(0o600)  # else a warning that it is readable by others precedes the refusal
    paths = {"clients": str(clients), "missing": str(tmp_path / "missing")}
    result = serve(
        tmp_path,
        *(flag.format(**paths) for flag in flags),
        env={name: value.format(**paths) for name, value in env.items()},
    )
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith("flows: ") and message in line, line
    assert "s3cret" not in line and "xyzzy" not in line and "admin" not in line
    assert not (tmp_path / "data").exists()  # refused before anything started


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--auth-clients", "a:x:orchestration:read+orchestration:write"], "no client has them all"),
        (["--auth-signing-key-file", "{missing}"], "cannot read --auth-signing-key-file"),
        (["--auth-signing-key-file", "{short}"], "at least 32 bytes"),
        (["--auth-signing-key", "k" * 32, "--auth-signing-key-file", "{short}"], "not both"),
        (
            ["--stack-url", "http://127.0.0.1:9", "--stack-client-id", "x", "--stack-client-secret-file", "{missing}"],
            "cannot read --stack-client-secret-file",
        ),
    ],
)
def test_unusable_secrets_or_clients_refuse_to_start(tmp_path: Path, flags: list[str], message: str) -> None:
    short = tmp_path / "short"
    short.write_text("a-short-s3cret\n")
    paths = {"missing": str(tmp_path / "missing"), "short": str(short)}
    result = serve(tmp_path, *(flag.format(**paths) for flag in flags))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    last = result.stderr.splitlines()[-1]
    assert last.startswith("flows: ") and message in last, result.stderr
    assert "s3cret" not in result.stderr
