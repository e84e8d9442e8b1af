"""Auth over real HTTP: the built-in OAuth2 issuer and the bearer middleware of `flows serve`.

`auth_service` runs with `--auth-clients tester:tester-secret,reader:reader-secret`; the `api`
servers run with auth off. The SDK caches tokens in a class-level dict keyed by client id and
secret, so every server here gets client ids of its own.
"""

from __future__ import annotations

import base64
import json
import time
import uuid

import httpx
import jwt
import pytest
from formance_sdk_python import SDK
from formance_sdk_python.models.orchestration import Error

from tests.conftest import Api, sdk_with_credentials
from tests.support.service import FlowsProcess

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
        ),  # fmt: skip
        "Bearer " + jwt.encode(
            {"iss": "flows", "sub": "tester", "scope": "orchestration:write",
             "iat": int(time.time()), "exp": int(time.time()) + 3600, "jti": "x"},
            None,
            algorithm="none",
        ),  # fmt: skip
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
