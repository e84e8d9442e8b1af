"""Routing, the error envelope and hostile input, on SQLite and PostgreSQL.

Every error must come back as `{"errorCode", "errorMessage"}` with `Content-Type: application/json`
and a code the SDKs know (VALIDATION, NOT_FOUND, INTERNAL), and no input may produce a 5xx.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Api

MIB = 1024 * 1024
NOOP = {"stages": [{"noop": {}}]}
ERROR_CODES = {"VALIDATION", "NOT_FOUND", "INTERNAL"}
PREFIXES = ["", "/api/orchestration"]
V1_MOUNTS = ["", "/api/orchestration"]
V2_MOUNTS = ["/v2", "/api/orchestration/v2"]
WAIT_TIMEOUT_MS = 15_000


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, (response.request.method, response.request.url, response.text)
    assert response.headers["content-type"].split(";")[0].strip() == "application/json"
    body = response.json()
    assert set(body) >= {"errorCode", "errorMessage"}
    assert body["errorCode"] in ERROR_CODES
    assert isinstance(body["errorMessage"], str) and body["errorMessage"]
    if code is not None:
        assert body["errorCode"] == code
    return body


def assert_no_server_error(response: httpx.Response) -> None:
    request = response.request
    assert response.status_code < 500, (request.method, str(request.url), response.status_code, response.text)
    if response.status_code >= 400:
        assert_error(response, response.status_code)


def create_workflow(api: Api) -> str:
    return api.sdk.orchestration.v1.create_workflow(request=NOOP).create_workflow_response.data.id


def workflow_count(api: Api) -> int:
    return len(api.sdk.orchestration.v1.list_workflows().list_workflows_response.data)


def trigger_count(api: Api) -> int:
    return len(api.sdk.orchestration.v1.list_triggers(request={}).list_triggers_response.data)


def instance_count(api: Api, workflow_id: str) -> int:
    listed = api.sdk.orchestration.v1.list_instances(request={"workflow_id": workflow_id})
    return len(listed.list_runs_response.data)


# -- routing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/nope"),
        ("GET", "/api/orchestration/nope"),
        ("GET", "/v2/nope"),
        ("GET", "/api/orchestration/v2/nope"),
        # `/` is the web console's (tests/console/), unless `--console=false`.
        ("GET", "/v2"),
        ("GET", "/v3/workflows"),
        ("GET", "/api/orchestration/v3/workflows"),
        ("GET", "/v1/workflows"),
        ("GET", "/workflows/a/b/c"),
        ("GET", "/v2/v2/workflows"),
        ("POST", "/nope"),
        ("DELETE", "/api/orchestration/nothing/here"),
        ("GET", "/instances/x/stages"),
        ("GET", "/api/auth/oauth"),
    ],
)
def test_unknown_routes_are_404_in_the_envelope(api: Api, method: str, path: str) -> None:
    assert_error(httpx.request(method, f"{api.url}{path}"), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/workflows", {"GET", "POST"}),
        ("PUT", "/workflows", {"GET", "POST"}),
        ("PATCH", "/workflows/{id}", {"GET", "DELETE"}),
        ("POST", "/instances", {"GET"}),
        ("GET", "/instances/{id}/abort", {"PUT"}),
        ("POST", "/instances/{id}/abort", {"PUT"}),
        ("GET", "/instances/{id}/events", {"POST"}),
        ("PUT", "/triggers", {"GET", "POST"}),
        ("POST", "/triggers/{id}", {"GET", "DELETE"}),
        ("DELETE", "/triggers/{id}/occurrences", {"GET"}),
        ("POST", "/_info", {"GET"}),
        ("DELETE", "/_healthcheck", {"GET"}),
        ("GET", "/api/auth/oauth/token", {"POST"}),
    ],
)
def test_wrong_methods_are_405_in_the_envelope(api: Api, method: str, path: str, allowed: set[str]) -> None:
    path = path.replace("{id}", str(uuid.uuid4()))
    mounts = ["", "/api/orchestration", "/v2", "/api/orchestration/v2"]
    if path.startswith(("/_", "/api/auth")):
        mounts = [""]
    for mount in mounts:
        response = httpx.request(method, f"{api.url}{mount}{path}")
        assert_error(response, 405)
        # RFC 9110 §15.5.6: a 405 lists the methods the route does support.
        listed = {item.strip() for item in response.headers.get("allow", "").split(",") if item.strip()}
        assert allowed <= listed, (mount + path, response.headers.get("allow"))
        assert method not in listed


@pytest.mark.parametrize("mount", V1_MOUNTS)
def test_v1_is_served_at_both_mounts(api: Api, mount: str) -> None:
    created = httpx.post(f"{api.url}{mount}/workflows", json=NOOP)
    assert created.status_code == 201, created.text
    workflow_id = created.json()["data"]["id"]
    for other in V1_MOUNTS:
        listed = httpx.get(f"{api.url}{other}/workflows")
        assert listed.status_code == 200
        assert set(listed.json()) == {"data"}
        assert workflow_id in [w["id"] for w in listed.json()["data"]]
        read = httpx.get(f"{api.url}{other}/workflows/{workflow_id}")
        assert read.status_code == 200 and read.json()["data"]["id"] == workflow_id


@pytest.mark.parametrize("mount", V2_MOUNTS)
def test_v2_is_served_at_both_mounts(api: Api, mount: str) -> None:
    created = httpx.post(f"{api.url}{mount}/workflows", json=NOOP)
    assert created.status_code == 201, created.text
    workflow_id = created.json()["data"]["id"]
    for other in V2_MOUNTS:
        listed = httpx.get(f"{api.url}{other}/workflows", params={"pageSize": 100})
        assert listed.status_code == 200
        assert set(listed.json()) == {"cursor"}
        read = httpx.get(f"{api.url}{other}/workflows/{workflow_id}")
        assert read.status_code == 200 and read.json()["data"]["id"] == workflow_id


@pytest.mark.parametrize("mount", V1_MOUNTS + V2_MOUNTS)
def test_trailing_slashes_are_accepted(api: Api, mount: str) -> None:
    base = f"{api.url}{mount}"
    created = httpx.post(f"{base}/workflows/", json=NOOP)
    assert created.status_code == 201, created.text
    workflow_id = created.json()["data"]["id"]
    assert httpx.get(f"{base}/workflows/").status_code == 200
    assert httpx.get(f"{base}/workflows/{workflow_id}/").status_code == 200
    trigger = httpx.post(f"{base}/triggers/", json={"event": "E", "workflowID": workflow_id})
    assert trigger.status_code == 201, trigger.text
    trigger_id = trigger.json()["data"]["id"]
    assert httpx.get(f"{base}/triggers/").status_code == 200
    assert httpx.get(f"{base}/triggers/{trigger_id}/").status_code == 200
    assert httpx.get(f"{base}/triggers/{trigger_id}/occurrences/").status_code == 200
    assert httpx.get(f"{base}/instances/").status_code == 200
    run = httpx.post(f"{base}/workflows/{workflow_id}/instances/", params={"wait": "true"}, timeout=15)
    assert run.status_code == 201, run.text
    instance_id = run.json()["data"]["id"]
    assert httpx.get(f"{base}/instances/{instance_id}/").status_code == 200
    assert httpx.get(f"{base}/instances/{instance_id}/history/").status_code == 200
    assert httpx.get(f"{base}/instances/{instance_id}/stages/0/history/").status_code == 200
    assert httpx.delete(f"{base}/triggers/{trigger_id}/").status_code == 204
    assert httpx.delete(f"{base}/workflows/{workflow_id}/").status_code == 204


@pytest.mark.parametrize(
    "path", ["/_info", "/v2/_info", "/api/orchestration/_info", "/api/orchestration/v2/_info", "/_info/"]
)
def test_info_is_the_bare_version(api: Api, path: str) -> None:
    response = httpx.get(f"{api.url}{path}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"version"}
    assert isinstance(body["version"], str) and body["version"]


def test_info_through_both_sdk_versions(api: Api) -> None:
    v1 = api.sdk.orchestration.v1.get_server_info_orchestration().server_info
    v2 = api.sdk.orchestration.v2.get_server_info().v2_server_info
    assert v1.version == v2.version


def test_healthcheck(api: Api) -> None:
    response = httpx.get(f"{api.url}/_healthcheck")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")


# -- body size ---------------------------------------------------------------------------------


def padded(document: Any, size: int) -> bytes:
    """`document` as JSON followed by whitespace, `size` bytes in all (still valid JSON)."""
    raw = json.dumps(document).encode()
    assert len(raw) <= size
    return raw + b" " * (size - len(raw))


def chunks(body: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def post_large(url: str, body: bytes, *, streamed: bool) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    content: bytes | Iterator[bytes] = chunks(body) if streamed else body
    return httpx.post(url, content=content, headers=headers, timeout=30)


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
def test_bodies_over_a_mebibyte_are_413_and_create_nothing(api: Api, streamed: bool) -> None:
    workflow_id = create_workflow(api)
    workflows, triggers = workflow_count(api), trigger_count(api)
    too_big = MIB + 1
    for url, document in (
        (f"{api.url}/api/orchestration/workflows", NOOP),
        (f"{api.url}/api/orchestration/v2/workflows", NOOP),
        (f"{api.url}/api/orchestration/triggers", {"event": "E", "workflowID": workflow_id}),
        (f"{api.url}/api/orchestration/workflows/{workflow_id}/instances", {"a": "b"}),
    ):
        response = post_large(url, padded(document, too_big), streamed=streamed)
        assert_error(response, 413)
    yaml = httpx.post(
        f"{api.url}/api/orchestration/workflows",
        content=b"stages:\n  - noop: {}\n" + b"#" * MIB,
        headers={"Content-Type": "application/yaml"},
    )
    assert_error(yaml, 413)
    assert (workflow_count(api), trigger_count(api)) == (workflows, triggers)
    assert instance_count(api, workflow_id) == 0


def test_a_body_of_exactly_a_mebibyte_is_accepted(api: Api) -> None:
    response = post_large(f"{api.url}/api/orchestration/workflows", padded(NOOP, MIB), streamed=False)
    assert response.status_code == 201, response.text


def rss(pid: int) -> int:
    """Resident set size of a process, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.mark.parametrize("declared", [False, True], ids=["chunked", "content-length"])
def test_a_300_mb_event_is_413_without_being_read(api: Api, declared: bool) -> None:
    size = 300 * MIB
    sent = 0

    def body() -> Iterator[bytes]:
        # Generated as it is sent: the test holds one mebibyte of it at a time.
        nonlocal sent
        chunk = b"a" * MIB
        yield b'{"type": "E", "payload": "'
        for _ in range(size // MIB):
            sent += len(chunk)
            yield chunk
        yield b'"}'

    assert api.service.process is not None
    pid = api.service.process.pid
    before = rss(pid)
    message_id = str(uuid.uuid4())
    headers = {"Content-Type": "application/json", "Message-Uuid": message_id}
    if declared:
        headers["Content-Length"] = str(size + len(b'{"type": "E", "payload": "') + 2)
    response = httpx.post(f"{api.url}/api/orchestration/events", content=body(), headers=headers, timeout=60)
    assert_error(response, 413)
    # The server stopped reading at its cap: what got through is what the sockets buffered.
    assert sent < 64 * MIB, sent
    assert rss(pid) - before < 64 * MIB
    letters = httpx.get(f"{api.url}/api/orchestration/v2/events/dead-letters", params={"pageSize": 100}).json()
    [letter] = [item for item in letters["cursor"]["data"] if item["messageID"] == message_id]
    assert "larger than" in letter["reason"]


NUL_BODIES = {
    "workflow name": ("/workflows", {"name": "a\x00b", "stages": [{"noop": {}}]}),
    "stage field": ("/v2/workflows", {"stages": [{"wait_event": {"event": "a\x00"}}]}),
    "workflow key": ("/workflows", {"stages": [{"delay": {"duration": "1s"}}], "x\x00": 1}),
    "trigger": ("/triggers", {"event": "E", "workflowID": "{workflow}", "vars": {"a": "event.b"}, "x": ["\x00"]}),
    "run variable": ("/workflows/{workflow}/instances", {"a": "b\x00"}),
    "instance event": ("/instances/{instance}/events", {"name": "go\x00"}),
}


@pytest.mark.parametrize(("path", "document"), list(NUL_BODIES.values()), ids=list(NUL_BODIES))
def test_nul_in_any_body_is_400_and_writes_nothing(api: Api, path: str, document: dict[str, Any]) -> None:
    # PostgreSQL's text columns and JSONB cannot hold NUL: refused before anything is written, on
    # every backend alike.
    workflow_id = api.sdk.orchestration.v1.create_workflow(
        request={"stages": [{"wait_event": {"event": "go"}}]}
    ).create_workflow_response.data.id
    instance = httpx.post(f"{api.url}/api/orchestration/workflows/{workflow_id}/instances", json={})
    assert instance.status_code == 201, instance.text
    instance_id = instance.json()["data"]["id"]
    workflows, triggers = workflow_count(api), trigger_count(api)
    path = path.replace("{workflow}", workflow_id).replace("{instance}", instance_id)
    raw = json.dumps(document).replace("{workflow}", workflow_id)  # NUL as a JSON escape
    response = httpx.post(
        f"{api.url}/api/orchestration{path}", content=raw, headers={"Content-Type": "application/json"}
    )
    body = assert_error(response, 400, "VALIDATION")
    assert "NUL" in body["errorMessage"]
    assert (workflow_count(api), trigger_count(api)) == (workflows, triggers)
    assert instance_count(api, workflow_id) == 1
    assert httpx.get(f"{api.url}/api/orchestration/instances/{instance_id}").json()["data"]["terminated"] is False


# -- hostile input never yields a 5xx ----------------------------------------------------------

NUL = "%00"
ODD_IDS = [
    NUL,
    f"abc{NUL}def",
    "%C3%A9t%C3%A9",  # été
    "%F0%9F%92%B8",  # an emoji
    "%FF",  # not UTF-8
    "a" * 4000,
    "%2E%2E",
    "%20",
    "'%20OR%20'1'='1",
    "%25",
    "_",
]


@pytest.mark.parametrize("odd", ODD_IDS, ids=lambda odd: odd[:12])
def test_odd_ids_in_paths_are_4xx(api: Api, odd: str) -> None:
    requests = [
        ("GET", f"/workflows/{odd}"),
        ("DELETE", f"/workflows/{odd}"),
        ("POST", f"/workflows/{odd}/instances"),
        ("GET", f"/triggers/{odd}"),
        ("DELETE", f"/triggers/{odd}"),
        ("GET", f"/triggers/{odd}/occurrences"),
        ("GET", f"/v2/triggers/{odd}/occurrences"),
    ]
    for method, path in requests:
        response = httpx.request(method, f"{api.url}/api/orchestration{path}")
        assert_no_server_error(response)
        if method != "GET" or "occurrences" not in path:
            assert response.status_code in (400, 404), (method, path, response.text)


@pytest.mark.parametrize("odd", ODD_IDS, ids=lambda odd: odd[:12])
def test_odd_instance_ids_in_paths_are_4xx(api: Api, odd: str) -> None:
    requests = [
        ("GET", f"/instances/{odd}"),
        ("GET", f"/instances/{odd}/history"),
        ("GET", f"/instances/{odd}/stages/0/history"),
        ("PUT", f"/instances/{odd}/abort"),
        ("POST", f"/instances/{odd}/events"),
    ]
    for method, path in requests:
        kwargs: dict[str, Any] = {"json": {"name": "go"}} if method == "POST" else {}
        response = httpx.request(method, f"{api.url}/api/orchestration{path}", **kwargs)
        assert_no_server_error(response)
        assert response.status_code in (400, 404), (method, path, response.text)


@pytest.mark.parametrize(
    "query",
    [
        {"name": "\x00"},
        {"name": "a\x00b"},
        {"name": "%"},
        {"name": "\\"},
        {"name": "x" * 4000},
        {"workflowID": "\x00"},
        {"workflowID": "'; DROP TABLE workflows; --"},
        {"running": "maybe"},
        {"running": "\x00"},
        {"pageSize": "\x00"},
        {"cursor": "\x00"},
        {"wait": "maybe"},
    ],
    ids=repr,
)
def test_odd_query_parameters_are_no_server_error(api: Api, query: dict[str, str]) -> None:
    for mount in ("/api/orchestration", "/api/orchestration/v2"):
        for path in ("/workflows", "/instances", "/triggers"):
            assert_no_server_error(httpx.get(f"{api.url}{mount}{path}", params=query))


DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/workflows", DEEP),
        ("/workflows", '{"stages": ' + DEEP + "}"),
        ("/triggers", DEEP),
        ("/triggers", '{"event": "E", "workflowID": "x", "extra": ' + DEEP + "}"),
        ("/triggers", '{"event": "E\x00", "workflowID": "{workflow}"}'),
        ("/triggers", '{"event": "E", "workflowID": "{workflow}", "name": "a\\u0000b"}'),
        ("/triggers", '{"event": "E", "workflowID": "{workflow}", "vars": {"a\x00": "b"}}'),
        ("/triggers", '{"event": "E", "workflowID": "{workflow}", "vars": {"a": "b\x00"}}'),
        ("/triggers", '{"event": "E", "workflowID": "{workflow}", "filter": "\x00"}'),
        ("/triggers", '{"event": "E", "workflowID": "{workflow}\x00"}'),
        ("/triggers", '{"event": "\\ud800", "workflowID": "{workflow}"}'),
        ("/triggers", '{"event": 1e999, "workflowID": "{workflow}"}'),
        ("/triggers", '{"event": NaN, "workflowID": "{workflow}"}'),
        ("/triggers", '{"event": "E", "event": 5, "workflowID": "{workflow}"}'),
        ("/workflows", '{"stages": [{"noop": {}}], "extra": NaN}'),
        ("/workflows", '{"stages": [{"noop": {}}], "extra": -Infinity}'),
        ("/workflows", '{"stages": [{"noop": {}}], "extra": 1e999}'),
        ("/workflows", '{"stages": [{"noop": {}}], "extra": 1' + "0" * 5000 + "}"),
        ("/workflows", '{"stages": [{"noop": {}}], "name": "\\ud83d"}'),
        ("/workflows", '{"stages": [{"noop": {}}], "extra": ' + "[" * 900 + "]" * 900 + "}"),
        ("/workflows/{workflow}/instances", DEEP),
        ("/workflows/{workflow}/instances", '{"a": "\x00"}'),
        ("/workflows/{workflow}/instances", '{"a": 1e999}'),
        ("/workflows/{workflow}/instances", "[]"),
    ],
    ids=lambda value: value[:40],
)
def test_odd_bodies_are_no_server_error(api: Api, path: str, body: str) -> None:
    workflow_id = create_workflow(api)
    path = path.replace("{workflow}", workflow_id)
    body = body.replace("{workflow}", workflow_id)
    for mount in ("/api/orchestration", "/api/orchestration/v2"):
        response = httpx.post(
            f"{api.url}{mount}{path}",
            content=body.encode("utf-8", "surrogatepass"),
            headers={"Content-Type": "application/json"},
            params={"wait": "true"} if path.endswith("/instances") else None,
            timeout=15,
        )
        assert_no_server_error(response)


def test_deep_yaml_is_no_server_error(api: Api) -> None:
    for body in ("stages: " + "[" * 50_000 + "]" * 50_000, "stages:\n" + "".join("  " * n + "- \n" for n in range(600))):
        response = httpx.post(
            f"{api.url}/api/orchestration/workflows",
            content=body,
            headers={"Content-Type": "application/yaml"},
            timeout=30,
        )
        assert_no_server_error(response)
        assert response.status_code == 400


def test_a_reasonably_nested_body_is_still_accepted(api: Api) -> None:
    workflow_id = create_workflow(api)
    nested: dict[str, Any] = {}
    current = nested
    for level in range(30):
        current[f"level{level}"] = current = {}
    # Unknown keys of a trigger body are ignored, however deep.
    body = {"event": "E", "workflowID": workflow_id, "extra": nested}
    response = httpx.post(f"{api.url}/api/orchestration/triggers", json=body)
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json; charset=latin-1",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/yaml; charset=utf-8",
        "",
    ],
)
def test_odd_content_types_are_no_server_error(api: Api, content_type: str) -> None:
    workflow_id = create_workflow(api)
    headers = {"Content-Type": content_type}
    for path, body in (
        ("/workflows", json.dumps(NOOP)),
        ("/triggers", json.dumps({"event": "E", "workflowID": workflow_id})),
    ):
        response = httpx.post(f"{api.url}/api/orchestration{path}", content=body, headers=headers)
        assert_no_server_error(response)


def test_error_statuses_of_the_sdk_contract(api: Api) -> None:
    """404 for NOT_FOUND and 400 for VALIDATION, with JSON whatever the client accepts."""
    unknown = str(uuid.uuid4())
    for accept in ("application/json", "text/html", "*/*"):
        headers = {"Accept": accept}
        assert_error(httpx.get(f"{api.url}/api/orchestration/workflows/{unknown}", headers=headers), 404, "NOT_FOUND")
        invalid = httpx.post(f"{api.url}/api/orchestration/workflows", content=b"{", headers=headers)
        assert_error(invalid, 400, "VALIDATION")
