"""`POST /v2/triggers/{triggerID}/test` and expression checks at trigger creation (docs/triggers.md)."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest

from tests.conftest import Api

NOOP = {"stages": [{"noop": {}}]}
UNKNOWN_ID = "9d5c1f55-0c4e-4f53-8f5a-3f8f1d3c2b11"
A_PLUS_B = "invalid operation: <nil> + <nil> (1:3)\n | a + b\n | ..^"


def create_workflow(api: Api) -> str:
    created = api.sdk.orchestration.v2.create_workflow(request=NOOP)
    assert created.status_code == 201
    return created.v2_create_workflow_response.data.id


def create_trigger(api: Api, **fields: Any) -> str:
    request = {"event": "SAVED_PAYMENT", "workflow_id": create_workflow(api), **fields}
    created = api.sdk.orchestration.v2.create_trigger(request=request)
    assert created.status_code == 201
    return created.v2_create_trigger_response.data.id


def test_trigger(api: Api, trigger_id: str, payload: dict[str, Any] | None) -> dict[str, Any]:
    response = api.sdk.orchestration.v2.test_trigger(
        request={"trigger_id": trigger_id, "request_body": payload}
    )
    assert response.status_code == 200
    return response.raw_response.json()


test_trigger.__test__ = False  # a helper, not a test


# -- the reference's four cases, exact ---------------------------------------------------------


def test_nominal_without_filter_nor_variables(api: Api) -> None:
    trigger_id = create_trigger(api)
    # The reference answers {"filter": null, "variables": null}; we omit what would be null.
    assert test_trigger(api, trigger_id, {}) == {"data": {}}


def test_filter_and_variable_match(api: Api) -> None:
    trigger_id = create_trigger(
        api, filter='event.user.role == "admin"', vars={"role": "event.user.role"}
    )
    assert test_trigger(api, trigger_id, {"user": {"role": "admin"}}) == {
        "data": {"filter": {"match": True}, "variables": {"role": {"value": "admin"}}}
    }


def test_filter_error(api: Api) -> None:
    trigger_id = create_trigger(api, filter="a + b")
    assert test_trigger(api, trigger_id, {}) == {
        "data": {"filter": {"match": False, "error": A_PLUS_B}}
    }


def test_variable_error(api: Api) -> None:
    trigger_id = create_trigger(api, vars={"test": "a + b"})
    assert test_trigger(api, trigger_id, {}) == {"data": {"variables": {"test": {"error": A_PLUS_B}}}}


# -- more ----------------------------------------------------------------------------------------


def test_sdk_decodes_the_result(api: Api) -> None:
    trigger_id = create_trigger(api, filter="event.amount > 50", vars={"amount": "event.amount"})
    response = api.sdk.orchestration.v2.test_trigger(
        request={"trigger_id": trigger_id, "request_body": {"amount": 100}}
    )
    assert response.status_code == 200
    data = response.v2_test_trigger_response.data
    assert data.filter_.match is True
    assert data.variables["amount"].value == "100"


def test_unmatched_filter_computes_no_variables(api: Api) -> None:
    trigger_id = create_trigger(api, filter="event.amount > 50", vars={"amount": "event.amount"})
    assert test_trigger(api, trigger_id, {"amount": 10}) == {"data": {"filter": {"match": False}}}


def test_non_boolean_filter_does_not_match(api: Api) -> None:
    trigger_id = create_trigger(api, filter="event.amount", vars={"x": "1"})
    assert test_trigger(api, trigger_id, {"amount": 10}) == {"data": {"filter": {"match": False}}}


def test_variables_follow_the_go_string_rules(api: Api) -> None:
    trigger_id = create_trigger(
        api,
        vars={
            "psp": "event.metadata.psp",
            "float": "event.amount",
            "bool": "event.ok",
            "concat": 'event.foo + "-YYY"',
            "count": "len(event.items)",
            "missing": "event.missing",
            "deep": "event.missing.deep",
        },
    )
    payload = {"metadata": {"psp": "stripe"}, "amount": 1200000, "ok": True, "foo": "XXX", "items": [1, 2]}
    assert test_trigger(api, trigger_id, payload)["data"]["variables"] == {
        "psp": {"value": "stripe"},
        "float": {"value": "1200000"},
        "bool": {"value": "true"},
        "concat": {"value": "XXX-YYY"},
        "count": {"value": "2"},
        "missing": {"value": "<nil>"},
        "deep": {"error": "cannot fetch deep from <nil> (1:15)\n | event.missing.deep\n | ..............^"},
    }


def test_payload_numbers_are_floats(api: Api) -> None:
    trigger_id = create_trigger(api, vars={"type": "type(event.n)", "half": "event.n / 2", "mod": "event.n % 2"})
    variables = test_trigger(api, trigger_id, {"n": 3})["data"]["variables"]
    assert variables["type"] == {"value": "float"}
    assert variables["half"] == {"value": "1.5"}
    assert variables["mod"] == {"error": "invalid operation: float64 % int (1:9)\n | event.n % 2\n | ........^"}


def test_an_amount_beyond_2_to_the_53_reaches_a_variable_exactly(api: Api) -> None:
    # A float64 would make it 9007199254740992: a workflow would move one unit less.
    trigger_id = create_trigger(api, vars={"amount": "event.amount"})
    variables = test_trigger(api, trigger_id, {"amount": 2**53 + 1})["data"]["variables"]
    assert variables == {"amount": {"value": "9007199254740993"}}


def test_a_payload_integer_beyond_a_float_is_400(api: Api) -> None:
    trigger_id = create_trigger(api)
    response = httpx.post(
        f"{api.url}/api/orchestration/v2/triggers/{trigger_id}/test",
        content=b'{"n": 1' + b"0" * 400 + b"}",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["errorCode"] == "VALIDATION"


def test_link_without_links_is_not_defined(api: Api) -> None:
    trigger_id = create_trigger(api, vars={"role": 'link(event, "source_account").role'})
    assert test_trigger(api, trigger_id, {})["data"]["variables"] == {
        "role": {"error": "link 'source_account' not defined for object"}
    }


def test_unknown_or_deleted_trigger_is_404(api: Api) -> None:
    response = httpx.post(f"{api.url}/api/orchestration/v2/triggers/{UNKNOWN_ID}/test", json={})
    assert response.status_code == 404
    assert response.json()["errorCode"] == "NOT_FOUND"
    trigger_id = create_trigger(api)
    assert api.sdk.orchestration.v2.delete_trigger(request={"trigger_id": trigger_id}).status_code == 204
    response = httpx.post(f"{api.url}/api/orchestration/v2/triggers/{trigger_id}/test", json={})
    assert response.status_code == 404


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'"text"'])
def test_invalid_body_is_400(api: Api, body: bytes) -> None:
    trigger_id = create_trigger(api)
    response = httpx.post(
        f"{api.url}/api/orchestration/v2/triggers/{trigger_id}/test",
        content=body,
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["errorCode"] == "VALIDATION"


def test_not_routed_in_v1(api: Api) -> None:
    trigger_id = create_trigger(api)
    response = httpx.post(f"{api.url}/api/orchestration/triggers/{trigger_id}/test", json={})
    assert response.status_code in (404, 405)


# -- creation compiles expressions ----------------------------------------------------------------


@pytest.mark.parametrize(
    "fields, source, message",
    [
        ({"filter": "a +"}, "a +", "unexpected token EOF (1:3)\n | a +\n | ..^"),
        ({"vars": {"x": "1 + \"a\""}}, '1 + "a"',
         'invalid operation: + (mismatched types int and string) (1:3)\n | 1 + "a"\n | ..^'),
        ({"vars": {"ok": "event.a", "bad": "len()"}}, "len()",
         "invalid number of arguments (expected 1, got 0) (1:1)\n | len()\n | ^"),
    ],
)
def test_creation_rejects_expressions_that_do_not_compile(api: Api, fields, source, message) -> None:
    body = {"event": "SAVED_PAYMENT", "workflowID": create_workflow(api), **fields}
    response = httpx.post(f"{api.url}/api/orchestration/v2/triggers", json=body)
    assert response.status_code == 400, response.text
    assert response.json() == {
        "errorCode": "VALIDATION",
        "errorMessage": f"validating data: error compiling expression '{source}': {message}",
    }


def test_creation_accepts_unknown_names_and_link(api: Api) -> None:
    create_trigger(api, filter="a + b > 1", vars={"role": 'link(event, "source_account").role'})


# -- hostile expressions (issue 8) ---------------------------------------------------------------

# 28 `a`s froze Python's backtracking regex for 21 s; each `a` more doubles that.
REDOS_PAYLOAD = {"s": "a" * 34 + "!"}


@pytest.mark.parametrize(
    "source, message",
    [
        ("!" * 10_000 + "true", "compilation failed: expression nested deeper than 100 levels (1:101)"),
        ("[" * 5_000 + "]" * 5_000, "compilation failed: expression nested deeper than 100 levels (1:101)"),
        ("(" * 5_000, "unexpected token EOF (1:5000)"),
        ("a+" * 50_000 + "a", "expression longer than 16384 characters"),
        ('event.s matches "a**"', "error parsing regexp: invalid nested repetition operator: `**` (1:9)"),
    ],
)
def test_creation_rejects_hostile_expressions(api: Api, source: str, message: str) -> None:
    body = {"event": "SAVED_PAYMENT", "workflowID": create_workflow(api), "filter": source}
    response = httpx.post(f"{api.url}/api/orchestration/v2/triggers", json=body, timeout=30)
    assert response.status_code == 400, response.text
    answer = response.json()
    assert answer["errorCode"] == "VALIDATION"
    assert answer["errorMessage"].startswith("validating data: error compiling expression '")
    assert message in answer["errorMessage"]
    assert len(answer["errorMessage"]) < 2 * len(source) + 1_000  # the source is not echoed whole


def test_a_catastrophic_regex_is_answered_at_once(api: Api) -> None:
    trigger_id = create_trigger(api, filter='event.s matches "^(a+)+$"', vars={"x": "1"})
    # The timeout is generous.
    response = httpx.post(
        f"{api.url}/api/orchestration/v2/triggers/{trigger_id}/test", json=REDOS_PAYLOAD, timeout=10
    )
    assert response.json() == {"data": {"filter": {"match": False}}}


@pytest.mark.parametrize(
    "fields",
    [
        {"vars": {"ok": "event.s", "bomb": 'repeat(repeat("a", 1000000), 1000)'}},
        {"filter": "len(map(1..10000, {len(map(1..10000, #))})) > 0"},
        {"vars": {"range": "len(1..1000000000)"}},
    ],
)
def test_an_expression_over_its_budget_is_a_400(api: Api, fields: dict[str, Any]) -> None:
    trigger_id = create_trigger(api, **fields)
    response = httpx.post(f"{api.url}/api/orchestration/v2/triggers/{trigger_id}/test", json={}, timeout=30)
    assert response.status_code == 400, response.text
    answer = response.json()
    assert answer["errorCode"] == "VALIDATION"
    assert "budget exceeded" in answer["errorMessage"]


def test_the_server_keeps_answering_while_a_slow_trigger_test_runs(sqlite_api: Api) -> None:
    api = sqlite_api
    # Each variable runs for a few milliseconds, well within its budget; together, for seconds.
    slow = "count(0..4999, {# % 7 == 0})"
    trigger_id = create_trigger(api, vars={f"v{n}": slow for n in range(200)})
    outcome: dict[str, httpx.Response] = {}

    def hostile() -> None:
        outcome["test"] = httpx.post(
            f"{api.url}/api/orchestration/v2/triggers/{trigger_id}/test", json={}, timeout=120
        )

    worker = threading.Thread(target=hostile)
    worker.start()
    answered_meanwhile = 0
    with httpx.Client(base_url=api.url, timeout=5) as client:
        while worker.is_alive():
            assert client.get("/_info").status_code == 200  # within 5 s
            if worker.is_alive():
                answered_meanwhile += 1
            time.sleep(0.05)
    worker.join()
    response = outcome["test"]
    assert response.status_code == 200, response.text
    assert response.json()["data"]["variables"]["v199"] == {"value": "715"}
    assert answered_meanwhile >= 3
